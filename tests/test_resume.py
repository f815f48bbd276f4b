"""`looptool run` with the REAL stage notebooks, killed with SIGKILL at a random moment and resumed.

Protects the loop's crash-safety: a run killed at any point and re-run with the same command ends with exactly the
measurements (and data files) of an uninterrupted run with the same seed; a finished run re-run does nothing; a run
folder made with another config is refused in one line.

Settings are shrunk so that every stage does real work in seconds (the cost of a run is mostly each stage kernel
importing torch and transformers). The default test runs the real loop once, then copies the finished folder,
forgets every stage from a random one on, runs it again and kills it (kill -9 of the runner) at a random moment of
that tail, and resumes: each stage of the tail is thus re-run from its inputs after a kill, at the cost of about one
extra run. The slow test (`make bench`) does it the long way: two iterations from scratch, killed twice.
Set LOOPTOOL_KILL_SEED to replay a failing draw.
"""
import json, os, random, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from looptool_nb.loop import without_timings, plan, marker_path, read_marker, IDENTITY_LATER_KEYS
from looptool_nb.core import config_hash

TINY = ["n_apis=40", "n_dialogues=40", "n_test=10", "warmstart_steps=2", "budget=12", "max_steps_per_iteration=1",
        "grpo_batch_size=4", "edde_k=1"]


def env(cache):
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "LOOPTOOL_CACHE": str(cache),
            "LOOPTOOL_GRPO_CACHE": "0"}  # every re-run stage trains again from its inputs: that is what is tested


def cmd(run_dir, iterations, sets=TINY):
    return [sys.executable, "-c", "import sys; from looptool_nb.cli import main; sys.exit(main())", "run", "--preset", "cpu-tiny",
            "--run-dir", str(run_dir), "--iterations", str(iterations), "--progress-every", "60",
            *[a for s in sets for a in ("--set", s)]]


def looptool(run_dir, iterations, cache, sets=TINY):
    return subprocess.run(cmd(run_dir, iterations, sets), capture_output=True, text=True, cwd=ROOT, env=env(cache), timeout=1800)


def measured(run_dir, iterations, copied_from=None):
    "Everything a run measured and every data file it wrote, timing- and path-free (`copied_from`: the folder it was copied from)."
    run = Path(run_dir)
    clean = lambda o: without_timings(without_timings(o, run), copied_from) if copied_from else without_timings(o, run)
    out = {f"iter_{K}/metrics.json": clean(json.loads((run/f"iter_{K}/metrics.json").read_text())) for K in range(iterations + 1)}
    summ = json.loads((run/"summary.json").read_text())
    out["summary"] = clean({k: summ[k] for k in ("models", "data", "loop")})
    for p in sorted(run.rglob("*.jsonl")): out[str(p.relative_to(run))] = p.read_text()
    return out


def kill_at_random(run_dir, iterations, cache, rng, window):
    "Start a run, SIGKILL the runner after a random delay in `window`; whether it was killed."
    p = subprocess.Popen(cmd(run_dir, iterations), cwd=ROOT, env=env(cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(*window))
    killed = p.poll() is None
    if killed: os.kill(p.pid, signal.SIGKILL)
    p.wait()
    return killed


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    "One uninterrupted real run (1 iteration), its cache folder and its wall time."
    base = tmp_path_factory.mktemp("resume")
    t0 = time.time()
    r = looptool(base/"ref", 1, base/"cache")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return base/"ref", base/"cache", time.time() - t0


def test_real_run_kill_9_at_random_moment_then_resume(reference, tmp_path):
    ref, cache, _ = reference
    seed = int(os.environ.get("LOOPTOOL_KILL_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    steps = plan(1)
    start = rng.randrange(len(steps))                     # forget every stage from this one on ...
    run = tmp_path/"run"
    shutil.copytree(ref, run)
    for K, s in steps[start:]: marker_path(run, K, s).unlink()
    (run/"summary.json").unlink()
    tail = sum(read_marker(ref, K, s)["seconds"] for K, s in steps[start:])
    killed = kill_at_random(run, 1, cache, rng, (1.0, max(1.5, 0.9 * tail)))   # ... and kill the re-run of that tail
    r = looptool(run, 1, cache)
    msg = f"kill seed {seed} (from stage {start}: {steps[start][1].name}, killed={killed})"
    assert r.returncode == 0, msg + r.stdout[-3000:] + r.stderr[-3000:]
    assert measured(run, 1, copied_from=ref) == measured(ref, 1), msg
    assert not list(run.rglob(".*.tmp")) and not list(run.rglob(".*.partial.ipynb")), msg


def test_real_finished_run_does_nothing(reference):
    ref, cache, _ = reference
    before = {p: p.stat().st_mtime_ns for p in ref.rglob("*") if p.is_file() and p.name != ".lock"}
    r = looptool(ref, 1, cache)
    assert r.returncode == 0 and "nothing to do" in r.stdout, r.stdout + r.stderr
    assert before == {p: p.stat().st_mtime_ns for p in ref.rglob("*") if p.is_file() and p.name != ".lock"}


def test_real_run_made_before_a_later_config_key_still_continues(reference, tmp_path):
    "A folder whose config.json predates a key added to Config since (IDENTITY_LATER_KEYS) keeps its identity."
    ref, cache, _ = reference
    run = tmp_path/"old"; shutil.copytree(ref, run)
    cfg = json.loads((run/"config.json").read_text())
    for k in IDENTITY_LATER_KEYS: del cfg[k]   # as stamped before these keys existed: the hash of every setting it had but iterations
    cfg["config_hash"] = config_hash({k: v for k, v in cfg.items() if k not in ("iterations", "config_hash", "overrides")})
    (run/"config.json").write_text(json.dumps(cfg))
    r = looptool(run, 1, cache)
    assert r.returncode == 0 and "nothing to do" in r.stdout, r.stdout + r.stderr


def test_real_run_dir_of_another_config_is_refused(reference):
    ref, cache, _ = reference
    r = looptool(ref, 1, cache, TINY + ["seed=5"])
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "made with another config" in r.stderr and "seed=0→5" in r.stderr


def test_real_run_writes_the_run_folder_contract(reference):
    ref, _, _ = reference
    for p in ["config.json", "seed/train.jsonl", "seed/test.jsonl", "warmstart/pointer.json", "iter_0/eval.json",
              "iter_1/data.jsonl", "iter_1/checkpoint", "iter_1/train.json", "iter_1/probe.jsonl", "iter_1/judge.jsonl",
              "iter_1/expand.jsonl", "iter_1/eval.json", "iter_1/metrics.json", "iter_2/data.jsonl", "summary.json", "summary.md"]:
        assert (ref/p).exists(), p
    for K, s in plan(1): assert (ref/f"iter_{K}/notebooks"/s.notebook).exists(), s.notebook
    m = json.loads((ref/"iter_1/metrics.json").read_text())
    assert m["data_noise"]["n_with_truth"] == m["data_noise"]["n"] > 0          # every sample carries its hidden truth
    assert isinstance(m["heldout_accuracy"], float) and m["jglv"] is not None and m["edde"]["stats"] is not None
    assert json.loads((ref/"config.json").read_text())["config_hash"]



def test_real_static_arm_reuses_the_full_loops_iteration_1_through_the_grpo_cache(tmp_path):
    "The static arm trains the full loop's warm start on the same D_1: with the GRPO cache on, `looptool run` copies that result."
    cache = tmp_path/"cache"
    for name, extra in (("full", []), ("static", ["ablation=static"])):
        r = subprocess.run(cmd(tmp_path/name, 1, TINY + extra), capture_output=True, text=True, cwd=ROOT,
                           env={**env(cache), "LOOPTOOL_GRPO_CACHE": "1"}, timeout=1800)
        assert r.returncode == 0, name + r.stdout[-3000:] + r.stderr[-3000:]
    full, static = (json.loads((tmp_path/n/"iter_1/train.json").read_text()) for n in ("full", "static"))
    assert (full["grpo_cache"]["hit"], static["grpo_cache"]["hit"]) == (False, True)
    assert static["trained_in"] == str(tmp_path/"full"/"iter_1") and static["per_step"] == full["per_step"]
    same = lambda rel: (tmp_path/"full"/rel).read_bytes() == (tmp_path/"static"/rel).read_bytes()
    assert same("iter_1/data.jsonl") and same("iter_1/checkpoint/model.safetensors")
    heldout = lambda n: json.loads((tmp_path/n/"iter_1/metrics.json").read_text())["heldout_accuracy"]
    assert heldout("static") == heldout("full")
    assert not same("iter_2/data.jsonl")   # from here on the arms differ: static composes D_2 of fresh seed data

@pytest.mark.slow
def test_real_run_from_scratch_killed_twice_matches_uninterrupted(tmp_path):
    "The long way: two iterations, uninterrupted vs killed at two random moments and resumed."
    seed = int(os.environ.get("LOOPTOOL_KILL_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    cache = tmp_path/"cache"
    t0 = time.time()
    r = looptool(tmp_path/"ref", 2, cache)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    wall = time.time() - t0
    kills = sum(kill_at_random(tmp_path/"run", 2, cache, rng, (1.0, 0.7 * wall)) for _ in range(2))
    r = looptool(tmp_path/"run", 2, cache)
    assert r.returncode == 0, f"kill seed {seed}: " + r.stdout[-3000:] + r.stderr[-3000:]
    assert kills >= 1 and measured(tmp_path/"run", 2) == measured(tmp_path/"ref", 2), f"kill seed {seed}"


def test_long_stage_shows_its_step_counter_on_the_terminal(tmp_path):
    "A warm start long enough for a few heartbeats: the run's terminal lines carry the SFT step counter its kernel reports."
    sets = [s for s in TINY if not s.startswith("warmstart_steps=")] + ["warmstart_steps=20"]
    c = cmd(tmp_path/"run", 0, sets); c[c.index("--progress-every") + 1] = "0.5"
    r = subprocess.run(c, capture_output=True, text=True, cwd=ROOT, env=env(tmp_path/"cache"), timeout=1200)
    assert r.returncode == 0, r.stderr[-2000:]
    counted = [l for l in r.stdout.splitlines() if "03_student" in l and "(SFT step " in l]
    assert counted, r.stdout[-3000:]
    steps = [int(l.split("(SFT step ")[1].split("/")[0]) for l in counted]
    assert all(l.split("(SFT step ")[1].startswith(f"{n}/20)") for l, n in zip(counted, steps))
    assert steps == sorted(steps) and steps[-1] > steps[0], steps   # it moves, forward
    assert not any("(SFT step" in l for l in r.stdout.splitlines() if "09_evaluate" in l)   # a stage never shows an older counter


def test_a_fresh_clone_can_start_make_reproduce(tmp_path):
    "results/reproduce as the repo ships it (its committed files only) is a folder `looptool run` may start in."
    from looptool_nb.loop import check_run_dir
    from looptool_nb.core import load_config
    shipped = subprocess.run(["git", "ls-files", "results/reproduce"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    if not shipped: pytest.skip("not a git checkout")
    run = tmp_path/"reproduce"; run.mkdir()
    for f in shipped: (run/Path(f).name).write_bytes((ROOT/f).read_bytes())
    assert check_run_dir(run, load_config("cpu-tiny")) is None, shipped
