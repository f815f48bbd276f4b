"The bench scripts' own logic (their measurements run from `make bench`)."
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent/"bench"))
from heldout_failures import error_kind
from looptool_nb.core import make_call, render_calls

A = render_calls([make_call("get_weather", {"city": "Oslo"})])


def test_error_kind_names_the_first_thing_wrong():
    assert error_kind(A, A) == "right"
    assert error_kind(A, "Sorry, no tool can do that.") == "call_on_no_call_label"
    assert error_kind("It is sunny in Oslo.", A) == "no_call_on_call_label"
    assert error_kind("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\n</tool_call>", A) == "unparsable"
    assert error_kind(render_calls([make_call("get_weather", {"city": "Oslo"})] * 2), A) == "number_of_calls"
    assert error_kind(render_calls([make_call("get_forecast", {"city": "Oslo"})]), A) == "function"
    assert error_kind(render_calls([make_call("get_weather", {"city": "Lima"})]), A) == "argument_values"


def test_arm_summary_pairs_by_seed_and_prompt():
    from heldout_large import arm_summary
    P = Path("exp")
    w = {0: [0., 0., 1., 1.], 1: [1., 1., 0., 0.]}                  # each seed's warm start, 4 prompts
    runs = {P/"loop"/"seed_0": {0: w[0], 1: [1., 1., 1., 1.]}, P/"loop"/"seed_1": {0: w[1], 1: [1., 1., 1., 0.]},
            P/"static"/"seed_0": {0: w[0], 1: [0., 0., 1., 1.]}, P/"static"/"seed_1": {0: w[1], 1: [1., 0., 0., 0.]}}
    rows = {(Path(r["arm"]).name, r["vs"]): r for r in arm_summary(runs, baseline_arm="static")}
    assert set(rows) == {("loop", "warm start"), ("loop", "static"), ("static", "warm start")}   # no arm against itself
    r = rows["loop", "warm start"]
    assert (r["seeds"], r["mean"], r["up"], r["down"]) == (2, 37.5, 3, 0)  # +50 and +25 points; flips pooled over seeds
    r = rows["loop", "static"]
    assert (r["mean"], r["up"], r["down"]) == (50.0, 4, 0)
    r = rows["static", "warm start"]
    assert (r["mean"], r["up"], r["down"]) == (-12.5, 0, 1)


def test_situation_summary_pools_seeds_per_situation():
    from heldout_large import situation_summary
    from looptool_nb.core import Sample
    mk = lambda sits: [Sample(id=f"p{i}", messages=[{"role": "user", "content": "x"}], tools=[], output="y",
                              meta={"situation": t}) for i, t in enumerate(sits)]
    P = Path("exp")/"loop"
    runs = {P/"seed_0": {0: [1., 0., 0.], 1: [1., 1., 0.]}, P/"seed_1": {0: [0., 0., 1.], 1: [0., 1., 1.]}}
    tests = {P/"seed_0": mk(["single", "parallel", "parallel"]), P/"seed_1": mk(["single", "single", "parallel"])}
    data = {P/"seed_0": {1: ["single", "parallel", "parallel"]}, P/"seed_1": {1: ["parallel"]}}
    d = situation_summary(runs, tests, data)[str(P)]
    assert d["n"] == {"parallel": 3, "single": 3}
    assert d["accuracy"]["it0"] == {"parallel": round(1/3, 3), "single": round(1/3, 3)}   # pooled over both seeds
    assert d["accuracy"]["it1"] == {"parallel": round(2/3, 3), "single": round(2/3, 3)}
    assert d["data"] == {"it1": {"parallel": 0.75, "single": 0.25}}                       # D_1 of both seeds together
    assert d["flips"] == {"it1": {"warm start": {"parallel": [1, 0], "single": [1, 0]}}}  # right now / wrong now
    S = Path("exp")/"static"                                    # against a baseline arm: same seed, same iteration
    runs |= {S/"seed_0": {0: [1., 0., 0.], 1: [0., 0., 0.]}, S/"seed_1": {0: [0., 0., 1.], 1: [0., 1., 1.]}}
    tests |= {S/"seed_0": tests[P/"seed_0"], S/"seed_1": tests[P/"seed_1"]}
    d = situation_summary(runs, tests, data, baseline_arm="static")
    assert d[str(P)]["flips"]["it1"]["static"] == {"parallel": [1, 0], "single": [1, 0]}
    assert "static" not in d[str(S)]["flips"]["it1"]                                     # no arm against itself


def test_situation_mix_gives_the_share_asked():
    from grpo_curve import situation_mix
    from looptool_nb.core import Sample
    train = [Sample(id=f"s{i}", messages=[{"role": "user", "content": "x"}], tools=[], output="y",
                    meta={"situation": "irrelevance" if i < 10 else "single"}) for i in range(100)]
    mix = situation_mix(train, "irrelevance=0.25")
    assert len(mix) == 40 and sum(s.meta["situation"] == "irrelevance" for s in mix) == 10
    assert situation_mix(train, "irrelevance=0.25") == mix                       # seeded
    import pytest
    with pytest.raises(SystemExit, match="no training sample"): situation_mix(train, "parallel=0.5")


def test_sampling_room_from_success_rates():
    from sampling_room import room
    r = room([0.0, 1.0, 0.5, 0.25], group=2)
    assert r["sampled"] == 0.438 and r["pass_at_k"] == 0.75
    assert r["zero_variance_group"] == round((1 + 1 + 0.5 + 0.625) / 4, 3)   # p^2 + (1-p)^2 per prompt


def test_gpu_experiments_script_stops_at_its_deadline_and_packs_without_weights(tmp_path):
    "bench/gpu_experiments.sh (the lent GPU's driver) on the CPU: a demo cell stopped at 20 s, its folder packed in parts."
    import os, subprocess, tarfile
    root, out = tmp_path / "exp", tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "PY": sys.executable, "LOOPTOOL_CACHE": str(tmp_path / "cache"), "SETS": "probe_batch_size=4"}
    script = Path(__file__).resolve().parent.parent / "bench" / "gpu_experiments.sh"
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "ipykernel_launcher"])  # not its kernel
    try:
        r = subprocess.run([str(script), "20", str(root), "scaling", "demo", "tiny-1m", "0"], env=env, capture_output=True,
                           text=True, timeout=300)
        assert bystander.poll() is None, "the script killed a kernel that was not one of its cells'"
    finally: bystander.kill()
    assert r.returncode == 0, r.stderr[-2000:]
    assert "cells stopped after" in r.stdout
    parts = sorted(out.glob("experiments.tgz.part-*"))
    assert parts and all(p.stat().st_size <= 15 * 2**20 for p in parts)
    (tmp_path / "all.tgz").write_bytes(b"".join(p.read_bytes() for p in parts))
    names = tarfile.open(tmp_path / "all.tgz").getnames()
    assert any(n.endswith("logs/scaling-tiny-1m-seed_0.log") for n in names)
    cfg = next(n for n in names if n.endswith("scaling/demo/tiny-1m/seed_0/config.json"))   # the run had started
    import json
    assert json.load(tarfile.open(tmp_path / "all.tgz").extractfile(cfg))["probe_batch_size"] == 4   # SETS reached the cell
    assert not any(n.endswith(".safetensors") for n in names)
    assert subprocess.run([str(script), "20"], capture_output=True).returncode == 2  # wrong arguments: usage, exit 2


def test_gcp_speed_reports_a_speed_up_with_the_same_outputs_and_the_gpu_scripts_skip_without_cuda():
    "bench/gcp_speed.py on a few toy samples (CPU): both decodings agree, it says so and exits 0; decode_profile.py exits 0 without CUDA."
    import os, subprocess
    bench = Path(__file__).resolve().parent.parent / "bench"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, str(bench / "gcp_speed.py"), "--toy", "--n", "4", "--set", "max_completion_length=8"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-1000:] + r.stderr[-2000:]
    assert "device=cpu" in r.stdout and "GCP speed-up (same outputs, PPL within 0.1%)" in r.stdout
    import torch
    if torch.cuda.is_available(): return
    r = subprocess.run([sys.executable, str(bench / "decode_profile.py")], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "no CUDA GPU here" in r.stdout, r.stdout + r.stderr[-1000:]


def test_cpu_decode_floor_prints_both_floors():
    "bench/cpu_decode_floor.py on 4 seed prompts: the split of the batched decode, the loop's speed-up and the three attention ways."
    import os, subprocess
    bench = Path(__file__).resolve().parent.parent / "bench"
    r = subprocess.run([sys.executable, str(bench / "cpu_decode_floor.py"), "--n", "4"], env={**os.environ, "HF_HUB_OFFLINE": "1"},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-1000:] + r.stderr[-2000:]
    for s in ["= prompt pass", "per-sample generate loop:", "at best", "decoding attention: ", "SDPA, additive mask",
              "matmul + softmax by hand", "one core reading memory"]:
        assert s in r.stdout, (s, r.stdout)


def test_student_benchmarks_runs_a_model_against_the_never_calls_predictor(tmp_path):
    "bench/student_benchmarks.py on one item per category: the never-calls row gets BFCL irrelevance right and nothing called."
    import json, os, subprocess
    bench = Path(__file__).resolve().parent.parent / "bench"
    r = subprocess.run([sys.executable, str(bench / "student_benchmarks.py"), "--limit", "1", "--mt-limit", "0", "--ace-limit", "1",
                        "--threads", "1", "--out", str(tmp_path)], env={**os.environ, "HF_HUB_OFFLINE": "1"},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    md = (tmp_path / "summary.md").read_text()
    never = next(l for l in md.splitlines() if l.startswith("| never-calls |")).split(" | ")
    assert never[6] == "100.0" and never[2] == "0.0", never          # irrelevance right by not calling; non-live AST none
    assert "- `tiny-1m-untrained`: " in md
    s = json.loads((tmp_path / "tiny-1m-untrained" / "scores.json").read_text())
    assert s["bfcl"]["limit"] == 1 and all(v["total_count"] == 1 for v in s["bfcl"]["categories"].values())
