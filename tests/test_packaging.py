"The project's own metadata: the `gpu` extra must be installable together with the base dependencies."
import tomllib
from pathlib import Path
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]

def _reqs(lines): return {(r := Requirement(s)).name.lower().replace("_", "-"): r for s in lines}
def _project(): return tomllib.loads((ROOT/"pyproject.toml").read_text())["project"]

def test_gpu_extra_pins_fit_the_base_dependencies():
    # `pip install -e '.[gpu]'` needs both sets at once: an extra pinning a version the base excludes (trl==1.15.0
    # against trl==1.16.0, as before session 12) makes the resolver give up with ResolutionImpossible
    meta = _project()
    base, gpu = _reqs(meta["dependencies"]), _reqs(meta["optional-dependencies"]["gpu"])
    shared = sorted(set(base) & set(gpu))
    assert "trl" in shared
    for name in shared:
        pins = [s.version for s in gpu[name].specifier if s.operator == "=="]
        assert all(base[name].specifier.contains(v) for v in pins), \
            f"the gpu extra pins {gpu[name]} but the base requires {base[name]}"

def test_cpu_install_keeps_the_trl_that_trains_on_cpu():
    # TRL 1.15's log-prob kernel needs triton (no CPU): the base range must admit 1.16.0, the newest, which pip picks
    base = _reqs(_project()["dependencies"])
    assert base["trl"].specifier.contains("1.16.0") and not base["trl"].specifier.contains("1.17.0")
