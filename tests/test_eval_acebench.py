"""ACEBench (English): our checker accepts the ground truth wherever ACEBench is self-consistent, rejects wrong
answers, the Summary uses the published weights, and a missing data folder is a one-line error."""
import subprocess, sys, os
from pathlib import Path
import pytest
from looptool_nb.core import render_calls
from looptool_nb.evaluate import (ACE_UNSATISFIABLE, ace_check_normal, ace_check_special, ace_items, ace_oracle_output,
                                  eval_acebench, expand_ace_categories, _gold_calls)

ROOT = Path(__file__).resolve().parent.parent
ACE = ROOT/".."/"shared"/"benchmarks"/"acebench"
pytestmark = pytest.mark.skipif(not ACE.exists(), reason=f"ACEBench data not at {ACE} (the project's shared benchmark folder)")


def _check(cat, out, it):
    return ace_check_normal(out, it) if cat.startswith("normal") else ace_check_special(out, it, cat)


def test_oracle_passes_every_consistent_item():
    failed, n = [], 0
    for cat in expand_ace_categories(["all"]):
        for it in ace_items(cat, ACE):
            n += 1
            if _check(cat, ace_oracle_output(it, cat), it): failed.append(it["id"])
    assert n == 973 and sorted(failed) == sorted(ACE_UNSATISFIABLE)


def test_wrong_answers_fail():
    for cat in expand_ace_categories(["normal"]):
        for it in ace_items(cat, ACE, 10):
            gold = [{"name": n, "arguments": dict(a)} for n, a in _gold_calls(it["ground_truth"])]
            k = next(iter(gold[0]["arguments"]), None)
            if k is None: gold[0]["name"] += "_x"
            else: gold[0]["arguments"][k] = "a wrong value"
            assert _check(cat, render_calls(gold), it), it["id"]
            assert _check(cat, "Sure, done.", it), it["id"]
    for cat in expand_ace_categories(["special"]):
        for it in ace_items(cat, ACE, 10):
            assert _check(cat, render_calls([{"name": "x", "arguments": {}}]), it), it["id"]


def test_summary_and_multi_turn_end_accuracy():
    oracle = lambda cats: {it["id"]: ace_oracle_output(it, c) for c in cats for it in ace_items(c, ACE)}
    cats = ["normal_multi_turn_user_switch", "special_irrelevant"]
    table = oracle(cats)
    r = eval_acebench(lambda p, k: [table[i] for i in k], cats, data_dir=ACE, progress=False)
    assert r["categories"]["normal_multi_turn_user_switch"]["accuracy"] == 1.0
    assert r["summary"]["summary"] == pytest.approx(0.578 * 1 / 12 + 0.2676 * 1 / 3)
    # one wrong turn fails its whole dialogue (end accuracy), but only one turn of the process accuracy
    first = ace_items("normal_multi_turn_user_switch", ACE)[0]["id"]
    r = eval_acebench(lambda p, k: ["no" if i == first else table[i] for i in k], ["normal_multi_turn_user_switch"], data_dir=ACE, progress=False)
    s = r["categories"]["normal_multi_turn_user_switch"]
    assert s["accuracy"] == pytest.approx(1 - 1 / s["dialogues"]) and s["process_accuracy"] == pytest.approx(1 - 1 / s["total_count"])


def test_missing_data_folder_is_one_line_error(tmp_path):
    r = subprocess.run([sys.executable, "-c", "import sys; from looptool_nb.cli import main; sys.exit(main())", "eval",
                        "--model", "tiny-1m", "--bench", "acebench", "--data-dir", str(tmp_path/"none")],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "chenchen0103/ACEBench" in r.stderr and str(tmp_path/"none") in r.stderr
