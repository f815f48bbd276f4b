"""JGLV: the majority/tie rule yields error seeds with any number of judges, actions follow the paper's table, the
simulated judge errs exactly as documented, LLM replies that cannot be read are retried and counted, bad input is one line."""
import json
from collections import Counter
import pytest
from looptool_nb.core import load_config, write_samples, render_calls, make_call, Sample
from looptool_nb.judge import (judge_stage, majority, ACTIONS, VERDICTS, is_edde_seed, mock_probe_rows, judge_samples,
                               true_verdict)
from looptool_nb.probe import write_rows, read_rows
from looptool_nb.student import toy_samples
from looptool_nb.cli import main as cli


def _data(n=40, noise=0.3, seed=0):
    import random
    rng, out = random.Random(seed), []
    for s in toy_samples(n, seed=seed):
        if s.is_call and rng.random() < noise:   # a teacher error: another city
            s.output = render_calls([make_call("get_weather", {"city": "Nowhere", "days": 1})])
        out.append(s)
    return out


@pytest.fixture
def files(tmp_path):
    data = _data()
    write_samples(tmp_path/"data.jsonl", data)
    write_rows(tmp_path/"probe.jsonl", mock_probe_rows(data, 0.5, seed=3))
    return tmp_path


@pytest.mark.parametrize("n_judges", [1, 2, 3, 5])
def test_error_seeds_with_any_number_of_judges(files, n_judges):
    cfg = load_config("cpu-tiny", [f"n_judges={n_judges}", "judge_accuracy=0.9"])
    s = judge_stage(cfg, files/"data.jsonl", files/"probe.jsonl", files/"j.jsonl", iteration=1)
    assert s["judged"] > 0 and s["edde_seeds"] > 0          # the original code produced none
    assert s["confusion"]["accuracy"] >= 0.6


def test_perfect_and_always_wrong_judges(files):
    perfect = judge_stage(load_config("cpu-tiny", ["judge_accuracy=1.0"]), files/"data.jsonl", files/"probe.jsonl", files/"a.jsonl")
    assert perfect["confusion"]["accuracy"] == 1.0
    wrong = judge_stage(load_config("cpu-tiny", ["judge_accuracy=0.0", "n_judges=1"]), files/"data.jsonl", files/"probe.jsonl", files/"b.jsonl")
    assert wrong["confusion"]["accuracy"] == 0.0


def test_actions_follow_the_table(files):
    judge_stage(load_config("cpu-tiny", ["judge_accuracy=0.7"]), files/"data.jsonl", files/"probe.jsonl", files/"j.jsonl")
    rows = read_rows(files/"j.jsonl")
    assert {r["verdict"] for r in rows} >= {"PRED_WRONG", "LABEL_WRONG"}
    for r in rows:
        assert r["action"] == ("discard" if r["relabel_rejected"] else ACTIONS[r["verdict"]])
        assert (r["relabel_rejected"] is None) or r["verdict"] == "LABEL_WRONG"
        assert r["new_label"] == (r["prediction"] if r["action"] == "relabel" else r["label"])
        assert r["verdict"] == majority([v["verdict"] for v in r["votes"]])[0]
    assert ACTIONS == {"PRED_WRONG": "keep", "LABEL_WRONG": "relabel", "BOTH_CORRECT": "keep_if_high_ppl", "BOTH_WRONG": "discard"}
    # only failed samples are judged
    failed = {r["id"] for r in read_rows(files/"probe.jsonl") if r["status"] == "failed"}
    assert {r["id"] for r in rows} == failed


def test_tie_rule_and_no_vote():
    assert majority(["LABEL_WRONG", "PRED_WRONG"])[0] == "PRED_WRONG"
    assert majority(["LABEL_WRONG", "BOTH_WRONG"])[0] == "BOTH_WRONG"
    assert majority(["LABEL_WRONG", "BOTH_CORRECT"])[0] == "LABEL_WRONG"
    assert majority([None]) == ("PRED_WRONG", "no_valid_vote")


def test_simulated_error_model_is_uniform_over_wrong_verdicts():
    data = _data(200, noise=0.0, seed=5)
    prows = [dict(r, prediction=render_calls([make_call("get_time", {"city": "X"})])) for r in mock_probe_rows(data, 1.0)]
    calls = [(s, p) for s, p in zip(data, prows) if s.is_call]
    cfg = load_config("cpu-tiny", ["n_judges=5", "judge_accuracy=0.7"])
    rows, _ = judge_samples(cfg, [s for s, _ in calls], [p for _, p in calls])
    votes = Counter(v["verdict"] for r in rows for v in r["votes"])
    n = sum(votes.values())
    assert abs(votes["PRED_WRONG"] / n - 0.7) < 0.05
    for v in ("LABEL_WRONG", "BOTH_CORRECT", "BOTH_WRONG"): assert abs(votes[v] / n - 0.1) < 0.04


def test_no_jglv_ablation_keeps_labels(files):
    s = judge_stage(load_config("cpu-tiny", ["ablation=no_jglv"]), files/"data.jsonl", files/"probe.jsonl", files/"j.jsonl")
    rows = read_rows(files/"j.jsonl")
    assert s["n_judges"] == 0 and all(r["verdict"] == "PRED_WRONG" and r["votes"] == [] and r["new_label"] == r["label"] for r in rows)


def test_llm_judge_unparseable_replies_are_counted_not_fatal(files):
    from looptool_nb.helper_llm import HelperLLM, SimulatedBackend
    def judge_model(req, rng):
        body = req["messages"][1]["content"]
        assert "## Response 1" in body and "## Response 2" in body and "The current time is" in body
        return "no idea" if "days\": 1" in body else "Verdict: [RESPONSE1_INCORRECT]\nError Analysis: label has the wrong city."
    cfg = load_config("cpu-tiny", ["helper_backend=openai", "n_judges=1", "helper_max_retries=2"])
    llm = HelperLLM(SimulatedBackend(judge_model), max_concurrency=2, max_retries=2, backoff_s=0.0)
    s = judge_stage(cfg, files/"data.jsonl", files/"probe.jsonl", files/"j.jsonl", llm=llm)
    assert s["voting"]["invalid_votes"] > 0 and s["voting"]["helper:fail:malformed"] == 3 * s["voting"]["invalid_votes"]
    assert s["verdicts"]["LABEL_WRONG"] > 0 and s["voting"]["no_valid_vote"] == s["voting"]["invalid_votes"]


def test_cli_bad_input(files, capsys):
    assert cli(["judge", "--data", str(files/"data.jsonl"), "--probe", str(files/"nope.jsonl"), "--out", str(files/"j.jsonl")]) == 2
    assert "no such probe file" in capsys.readouterr().err
    assert cli(["judge", "--data", str(files/"data.jsonl"), "--probe", str(files/"probe.jsonl"), "--out", str(files/"j.jsonl"),
                "--set", "n_judges=0"]) == 2
    assert cli(["judge", "--data", str(files/"data.jsonl"), "--probe", str(files/"probe.jsonl"), "--out", str(files/"j.jsonl")]) == 0
    assert json.loads(capsys.readouterr().out)["judged"] > 0
