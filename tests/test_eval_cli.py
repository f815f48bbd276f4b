"""`looptool eval` end to end with a real (tiny, untrained) student: BFCL and the synthetic held-out split write their
result files; bad input is a one-line error with exit status 2."""
import json, os, subprocess, sys
from pathlib import Path
import pytest
from looptool_nb.core import Sample, build_instruction, make_call, make_tool, render_calls, write_samples

ROOT = Path(__file__).resolve().parent.parent


def looptool(*args, timeout=600):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "BFCL_PROJECT_ROOT": os.environ.get("BFCL_PROJECT_ROOT", "/tmp/looptool-bfcl")}
    return subprocess.run([sys.executable, "-c", "import sys; from looptool_nb.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)


def heldout(run: Path) -> list[Sample]:
    tool = make_tool("get_weather", "Weather of a city.", {"city": {"type": "string"}}, ["city"])
    sys_msg = {"role": "system", "content": build_instruction([tool], "2024-05-01")}
    rows = []
    for i, (sit, out) in enumerate([("single", render_calls([make_call("get_weather", {"city": "Oslo"})])),
                                    ("parallel", render_calls([make_call("get_weather", {"city": "Oslo"}), make_call("get_weather", {"city": "Lima"})])),
                                    ("missing_param", "Which city?"), ("irrelevance", "I cannot book flights.")]):
        rows.append(Sample(f"t{i}", [sys_msg, {"role": "user", "content": f"request {i}"}], [tool], out, {"situation": sit, "truth": out}))
    write_samples(run/"seed"/"test.jsonl", rows)
    return rows


def test_eval_synthetic_and_bfcl_with_a_tiny_student(tmp_path):
    run = tmp_path/"run"; heldout(run)
    r = looptool("eval", "--model", "tiny-1m", "--bench", "synthetic", "--data-dir", str(run), "--out", str(run/"iter_0"),
                 "--max-new-tokens", "8")
    assert r.returncode == 0, r.stderr[-2000:]
    ev = json.loads((run/"iter_0"/"eval.json").read_text())
    assert ev["n"] == 4 and set(ev["per_situation"]) == {"single", "parallel", "missing_param", "irrelevance"}
    assert len(json.loads((run/"iter_0"/"eval_items.json").read_text())) == 4
    r = looptool("eval", "--model", "tiny-1m", "--bench", "bfcl", "--categories", "simple", "live_irrelevance", "--limit", "2",
                 "--out", str(run/"iter_0"), "--max-new-tokens", "8")
    assert r.returncode == 0, r.stderr[-2000:]
    b = json.loads((run/"iter_0"/"bfcl.json").read_text())
    assert {c: v["total_count"] for c, v in b["categories"].items()} == {"simple": 2, "live_irrelevance": 2}
    assert "simple" in r.stdout and "overall" in r.stdout


@pytest.mark.parametrize("args,msg", [
    (["--bench", "bfcl", "--categories", "simpel"], "unknown BFCL categories"),
    (["--bench", "synthetic", "--data-dir", "/nonexistent"], "no held-out split"),
    (["--bench", "synthetic"], "needs --data-dir"),
    (["--bench", "bfcl", "--limit", "-1"], "--limit must be >= 0"),
    (["--bench", "acebench", "--categories", "agent"], "not implemented"),
])
def test_bad_input_is_one_line(args, msg):
    r = looptool("eval", "--model", "tiny-1m", *args, timeout=120)
    assert r.returncode == 2, r.stderr[-1000:]
    assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_loop_evaluation_stage_reads_the_run_folder(tmp_path):
    import torch; torch.set_num_threads(1)
    from looptool_nb.core import load_config
    from looptool_nb.student import load_student
    from looptool_nb.evaluate import evaluate_stage
    run = tmp_path/"run"; heldout(run)
    model, tok = load_student("tiny-1m", load_config("cpu-tiny"))
    model.save_pretrained(run/"warmstart"); tok.save_pretrained(run/"warmstart")
    cfg = load_config("cpu-tiny", ["eval_benchmarks=synthetic", "eval_limit=2", "max_completion_length=8"])
    res = evaluate_stage(cfg, run, 0, progress=False)  # (bfcl and acebench go through the same `evaluate`, tested above)
    assert set(res) == {"synthetic"}
    assert json.loads((run/"iter_0"/"eval.json").read_text())["n"] == 4   # eval_limit is for BFCL / ACEBench: the held-out split stays whole
    with pytest.raises(Exception, match="no model to evaluate"): evaluate_stage(cfg, run, 1)


def test_bfcl_in_the_loop_evaluation_reaches_the_experiment_tables(tmp_path):
    "eval_benchmarks=synthetic,bfcl with eval_limit=1: BFCL gets one item per category, the held-out split stays whole, and the cell's record and report table carry BFCL's columns."
    import torch; torch.set_num_threads(1)
    from looptool_nb.core import load_config
    from looptool_nb.student import load_student
    from looptool_nb.evaluate import evaluate_stage, BFCL_CATEGORIES
    from looptool_nb.experiments import Cell, cell_record, benchmarks_section
    run = tmp_path/"run"; heldout(run)
    model, tok = load_student("tiny-1m", load_config("cpu-tiny"))
    model.save_pretrained(run/"warmstart"); tok.save_pretrained(run/"warmstart")
    cfg = load_config("cpu-tiny", ["eval_benchmarks=synthetic,bfcl", "eval_limit=1", "max_completion_length=8"])
    res = evaluate_stage(cfg, run, 0, progress=False)
    assert set(res) == {"synthetic", "bfcl"}
    assert json.loads((run/"iter_0"/"eval.json").read_text())["n"] == 4
    b = json.loads((run/"iter_0"/"bfcl.json").read_text())
    assert b["limit"] == 1 and sorted(b["categories"]) == sorted(BFCL_CATEGORIES)
    assert all(v["total_count"] == 1 for v in b["categories"].values())
    rec = cell_record(Cell("scaling", "demo", "tiny-1m", 0, "cpu-tiny", (), str(run)))
    assert rec["benchmarks"][0]["bfcl"]["categories"] == 17 and "acebench" not in rec["benchmarks"][0]
    md = benchmarks_section([rec])
    assert "| tiny-1m | Original |" in md and "the first 1 item of 17 categories (1 model)" in md, md
