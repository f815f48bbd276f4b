"probe_stage / looptool probe: one row per sample, statuses by the reward's rule, atomic output, one-line errors."
import json
import pytest, torch
torch.set_num_threads(1)
from looptool_nb.core import write_samples, render_calls, make_call, DataError
from looptool_nb.probe import probe_stage, read_rows, probe_status
from looptool_nb.student import load_student, toy_samples
from looptool_nb.core import load_config
from looptool_nb.cli import main as cli


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("probe")
    m, t = load_student("tiny-1m"); m.save_pretrained(d/"ckpt"); t.save_pretrained(d/"ckpt")
    write_samples(d/"data.jsonl", toy_samples(6))
    return d


def test_rows_and_summary(run):
    cfg = load_config("cpu-tiny", ["max_completion_length=8", "probe_batch_size=4"])
    s = probe_stage(cfg, run/"ckpt", run/"data.jsonl", run/"probe.jsonl")
    rows = read_rows(run/"probe.jsonl")
    assert [r["id"] for r in rows] == [x.id for x in toy_samples(6)]
    assert s["n"] == 6 and s["mastered"] + s["failed"] + s["not_a_call"] == 6
    for r in rows:
        assert r["status"] == probe_status(r["prediction"], r["label"]) and r["ppl"] >= 1.0 and 1 <= r["n_tokens"] <= 8
    assert not list(run.glob(".probe.jsonl*"))     # no temp file left


def test_cli_and_bad_input(run, capsys):
    assert cli(["probe", "--model", str(run/"ckpt"), "--data", str(run/"data.jsonl"), "--out", str(run/"p2.jsonl"),
                "--set", "max_completion_length=4", "--limit", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 2
    assert cli(["probe", "--model", str(run/"ckpt"), "--data", str(run/"missing.jsonl"), "--out", str(run/"p3.jsonl")]) == 2
    assert "no such data file" in capsys.readouterr().err
    assert not (run/"p3.jsonl").exists()


def test_status_rule_matches_reward():
    A = render_calls([make_call("a", {"x": [1, 2]})])
    assert probe_status(render_calls([make_call("a", {"x": [2, 1]})]), A) == "mastered"
    assert probe_status("I cannot help.", A) == "failed"
    assert probe_status("Hello", "Hi") == "not_a_call"
