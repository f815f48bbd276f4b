"""`looptool run` on stand-in stage notebooks (tests/standin_loop.py): the runner's own logic in seconds.

The real stages are exercised by tests/test_resume.py; here the stages are stand-ins that read and write the same
files with the real parameter names, so resume-after-kill, refusal, the finished-run no-op, extension by one more
iteration and the metrics can be checked quickly and many times.
"""
import json, os, random, signal, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from looptool_nb.loop import without_timings, STAGES, plan, read_marker
import standin_loop

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def looptool(*args, **kw):
    return subprocess.run([sys.executable, "-c", "import sys; from looptool_nb.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=600, **kw)


def run_args(run_dir, nbs, *sets, iterations=1):
    return ["run", "--preset", "cpu-tiny", "--run-dir", str(run_dir), "--nbs", str(nbs), "--iterations", str(iterations),
            "--progress-every", "5", *[a for s in sets for a in ("--set", s)]]


def measured(run_dir, iterations=1):
    "Everything a run measured and every data file it wrote, timing- and path-free."
    run = Path(run_dir)
    out = {f"iter_{K}/metrics.json": without_timings(json.loads((run/f"iter_{K}/metrics.json").read_text()), run)
           for K in range(iterations + 1)}
    out["summary"] = without_timings({k: v for k, v in json.loads((run/"summary.json").read_text()).items()
                                      if k not in ("stage_seconds", "total_stage_seconds")}, run)
    for p in sorted(run.rglob("*.jsonl")): out[str(p.relative_to(run))] = p.read_text()
    return out


@pytest.fixture(scope="module")
def nbs(tmp_path_factory):
    return standin_loop.write_notebooks(tmp_path_factory.mktemp("standin_nbs"))


@pytest.fixture(scope="module")
def reference(nbs, tmp_path_factory):
    "An uninterrupted one-iteration run, and how long it took."
    run = tmp_path_factory.mktemp("ref")/"run"
    t0 = time.time()
    r = looptool(*run_args(run, nbs, "seed=3"))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return run, time.time() - t0, r


def test_run_writes_the_contract_and_measures(reference):
    run, _, r = reference
    cfg = json.loads((run/"config.json").read_text())
    assert cfg["seed"] == 3 and cfg["iterations"] == 1 and len(cfg["config_hash"]) == 12
    for K, s in plan(1):
        assert read_marker(run, K, s), (K, s.name)
        nb = run/f"iter_{K}"/"notebooks"/s.notebook
        assert nb.exists() and "Run this stage" in nb.read_text()
    m1 = json.loads((run/"iter_1/metrics.json").read_text())
    # the stand-in seed has ~20% noisy labels; the JGLV confusion is scored against the hidden truth
    assert 0.1 < m1["data_noise"]["rate"] < 0.3
    assert m1["jglv"]["scored"] > 0 and 0.8 < m1["jglv"]["accuracy"] <= 1.0
    assert m1["next_data"]["composition"]["by"] == "compose_role" and m1["next_data"]["composition"]["seed_new"] == 50
    assert m1["edde"]["kept"] == m1["edde"]["stats"]["kept"] > 0
    summ = json.loads((run/"summary.json").read_text())
    assert [d["data"] for d in summ["data"]] == ["seed train split", "D_1", "D_2"]
    assert summ["data"][2]["composition"]["seed_new"] == 50 and summ["data"][2]["composition"]["error_seed"] > 0
    assert [type(m["heldout_accuracy"]) for m in summ["models"]] == [float, float]
    md = (run/"summary.md").read_text()
    assert "| warm start |" in md and "| iteration 1 (GRPO on D_1) |" in md and "| D_2 | 100 |" in md
    # progress on the terminal: stage, iteration, elapsed, ETA
    assert "iteration 1/1 04_train" in r.stdout and "ETA" in r.stdout and "elapsed" in r.stdout


def test_finished_run_does_nothing(reference, nbs):
    run, _, _ = reference
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    r = looptool(*run_args(run, nbs, "seed=3"))
    assert r.returncode == 0 and "nothing to do" in r.stdout, r.stdout + r.stderr
    after = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    assert before == after


def test_other_config_is_refused_in_one_line(reference, nbs):
    run, _, _ = reference
    r = looptool(*run_args(run, nbs, "seed=4"))
    assert r.returncode == 2
    assert "made with another config" in r.stderr and "seed=3→4" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_not_a_run_folder_is_refused(tmp_path, nbs):
    (tmp_path/"notes.txt").write_text("mine")
    r = looptool(*run_args(tmp_path, nbs))
    assert r.returncode == 2 and "not a looptool run folder" in r.stderr
    assert (tmp_path/"notes.txt").read_text() == "mine"


@pytest.mark.slow   # the default suite kills the real loop (tests/test_resume.py); this one draws more kill points cheaply
def test_kill_at_random_moment_then_resume_measures_the_same(reference, nbs, tmp_path):
    ref_run, ref_seconds, _ = reference
    seed = int(os.environ.get("LOOPTOOL_KILL_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    run = tmp_path/"run"
    kills = 0
    for attempt in range(2):   # two kills at random moments (the second may find the run finished), then run to the end
        p = subprocess.Popen([sys.executable, "-c", "import sys; from looptool_nb.cli import main; sys.exit(main())",
                              *run_args(run, nbs, "seed=3")], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(rng.uniform(0.5, 0.8 * ref_seconds))
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL); kills += 1
        p.wait(); p.stdout.close()
    r = looptool(*run_args(run, nbs, "seed=3"))
    assert r.returncode == 0, f"kill seed {seed}: " + r.stdout[-2000:] + r.stderr[-2000:]
    assert kills >= 1, f"kill seed {seed}: the run finished before any kill"
    assert measured(run) == measured(ref_run), f"kill seed {seed}"
    assert not list(run.rglob(".*.tmp")) and not list(run.rglob(".*.partial.ipynb"))


def test_more_iterations_continue_the_same_run(reference, nbs, tmp_path):
    import shutil
    ref_run, _, _ = reference
    run = tmp_path/"run"
    shutil.copytree(ref_run, run)
    r = looptool(*run_args(run, nbs, "seed=3", iterations=2))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "10 already done: continuing" in r.stdout
    assert json.loads((run/"config.json").read_text())["iterations"] == 2
    assert [d["data"] for d in json.loads((run/"summary.json").read_text())["data"]][-1] == "D_3"
    # iteration 1 was not redone
    assert read_marker(run, 1, STAGES[4]) == read_marker(ref_run, 1, STAGES[4])


def test_failing_stage_is_one_line_and_resumable(nbs, tmp_path):
    import shutil, nbformat
    bad = tmp_path/"nbs"; shutil.copytree(nbs, bad)
    nb = nbformat.read(str(bad/"09_evaluate.ipynb"), 4)
    nb.cells[4].source = "raise ValueError('evaluation broke')"
    nbformat.write(nb, str(bad/"09_evaluate.ipynb"))
    r = looptool(*run_args(tmp_path/"run", bad, "seed=3", iterations=0))
    assert r.returncode == 1
    assert "stage 09_evaluate (iteration 0) failed: ValueError: evaluation broke" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path/"run/iter_0/notebooks/09_evaluate.failed.ipynb").exists()
    r = looptool(*run_args(tmp_path/"run", nbs, "seed=3", iterations=0))   # fixed: continues with 09_evaluate only
    assert r.returncode == 0 and "3 already done: continuing" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    assert "step 4/4 started" in r.stdout and "step 3/4 started" not in r.stdout


def test_every_real_stage_notebook_is_runnable_by_the_loop():
    """Each real stage notebook has a Run this stage section whose parameters match the runner's table and that uses
    no name defined only by the notebook's earlier (demo) cells: looptool run executes just that section."""
    from looptool_nb.loop import check_runnable, default_nbs_dir
    check_runnable(default_nbs_dir())


def test_bad_evaluation_settings_are_refused_before_the_first_stage(tmp_path, nbs):
    "A typo in eval_benchmarks or eval_bfcl_categories used to surface at the first evaluation, after the seed stage and the warm start."
    for s, says in [("eval_benchmarks=synthetic,bfc", "eval_benchmarks: unknown benchmark bfc"),
                    ("eval_bfcl_categories=simple,multi_turn_bas", "unknown BFCL categories ['multi_turn_bas']")]:
        run = tmp_path/s.split("=")[0]
        r = looptool(*run_args(run, nbs, s))
        assert r.returncode == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not run.exists() or not any(run.iterdir())   # nothing written
