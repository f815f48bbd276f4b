"""The JGLV noise study end to end at the demo scale, through the CLI: real seed data, the real (10-step) warm start,
real GCP and JGLV stages; resumable (a second run reads the cells back) and reported from the committed records."""
import json, os, shutil, subprocess, sys
from pathlib import Path

import torch

from looptool_nb import experiments as X

torch.set_num_threads(1)


def test_noise_jglv_cli_runs_resumes_and_reports(tmp_path):
    root = tmp_path/"exp"
    cmd = [sys.executable, "-c", "import sys; from looptool_nb.cli import main; sys.exit(main())", "experiments", "--only", "noise_jglv", "--scale", "demo", "--seeds", "0",
           "--root", str(root)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    base = root/"noise_jglv"
    recs = json.loads((base/"results.json").read_text())
    assert len(recs) == 9 and {r["seed"] for r in recs} == {0}
    for rec in recs:
        if rec["teacher_error_rate"] == 0.0: assert rec["true_lw"] == 0 and rec["noise_before"] == 0.0
        if rec["judge_accuracy"] == 1.0:   # perfect judges only relabel wrong labels and drop both-wrong samples
            assert rec["precision"] in (None, 1.0) and rec["recall"] in (None, 1.0)
            assert rec["noise_after"] <= rec["noise_before"]
    report = (base/"report.md").read_text()
    assert "| 30% | 90% |" in report and (base/"demo_jglv_precision.png").exists()
    # a second run recomputes nothing: every cell's result.json is read back
    mtimes = {p: p.stat().st_mtime_ns for p in base.glob("*/*/seed_*/result.json")}
    r2 = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r2.returncode == 0 and {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    # a fresh clone has only the committed records: the report is rebuilt from results.json alone
    shutil.rmtree(base/"demo")
    X.jglv_noise_report(root)
    assert (base/"report.md").read_text() == report
