"""`looptool report RUN_DIR` renders report.md and PNG figures from whatever a run folder holds."""
import json, os, subprocess, sys
from pathlib import Path
from looptool_nb.evaluate import bfcl_oracle_predictor, eval_bfcl
from looptool_nb.report import render_report

ROOT = Path(__file__).resolve().parent.parent


def looptool(*args):
    return subprocess.run([sys.executable, "-c", "import sys; from looptool_nb.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)


def test_report_of_a_run_folder(tmp_path):
    run = tmp_path/"run"
    eval_bfcl(bfcl_oracle_predictor(wrong=True), ["simple", "live_relevance"], limit=2, out=run/"iter_0", progress=False)
    eval_bfcl(bfcl_oracle_predictor(), ["simple", "live_relevance"], limit=2, out=run/"iter_1", progress=False)
    for k in (0, 1):
        (run/f"iter_{k}"/"eval.json").write_text(json.dumps({"benchmark": "synthetic", "n": 2, "accuracy": k / 2,
            "per_situation": {"single": {"accuracy": k, "n": 1}, "irrelevance": {"accuracy": 0.0, "n": 1}}}))
    (run/"iter_1"/"train.json").write_text(json.dumps({"reward_mean": 0.4, "zero_variance_fraction": 0.7, "steps": 40}))
    (run/"config.json").write_text(json.dumps({"preset": "cpu-tiny", "config_hash": "abc", "student": "tiny-1m", "iterations": 1}))
    r = looptool("report", str(run))
    assert r.returncode == 0, r.stderr
    md = (run/"report.md").read_text()
    for s in ["## BFCL v3", "| warm start |", "| iter 1 |", "LoopTool-8B (paper)", "not run:", "## Synthetic held-out split",
              "| iter 1 | 50.00 (n=2) |", "reward_mean", "ACEBench (English)\n\nNot measured", "![bfcl_iterations.png]"]:
        assert s in md, s
    pngs = sorted(p.name for p in run.glob("*.png"))
    assert pngs == ["bfcl_categories.png", "bfcl_iterations.png", "synthetic_iterations.png", "synthetic_situations.png"]
    assert all((run/p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_report_of_an_eval_folder_and_an_empty_run(tmp_path):
    eval_bfcl(bfcl_oracle_predictor(), ["irrelevance"], limit=2, out=tmp_path/"ev", progress=False)
    md = render_report(tmp_path/"ev").read_text()
    assert "| ev | " in md and (tmp_path/"ev"/"bfcl_categories.png").exists()
    (tmp_path/"empty").mkdir()
    assert "none yet" in render_report(tmp_path/"empty").read_text()


def test_missing_run_folder_is_one_line_error(tmp_path):
    r = looptool("report", str(tmp_path/"nope"))
    assert r.returncode == 2 and "no such run folder" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_settings_given_to_report_are_refused_not_ignored(tmp_path):
    (tmp_path/"run").mkdir()
    r = looptool("report", str(tmp_path/"run"), "--set", "budget=8")
    assert r.returncode == 2 and "a report is made from the run folder's own config" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path/"run"/"report.md").exists()
