"""BFCL v3 harness: the official checkers accept the ground truth everywhere it is satisfiable, reject wrong answers,
our output converter agrees with BFCL's own decoder, scores aggregate as the leaderboard does, runs resume."""
import json
import pytest
from looptool_nb.core import render_calls
from looptool_nb.evaluate import (BFCL_CATEGORIES, BFCL_UNSATISFIABLE, LIVE, MULTI_TURN, SINGLE_TURN, bfcl, bfcl_entries,
                                  bfcl_oracle_output, bfcl_oracle_predictor, bfcl_run_multi_turn, bfcl_multi_turn_oracle,
                                  bfcl_score_single, bfcl_summary, bfcl_wrong_output, eval_bfcl, to_bfcl_ast, to_bfcl_exec)


def test_oracle_passes_every_satisfiable_single_turn_entry():
    failed, n = [], 0
    for cat in SINGLE_TURN:
        for e in bfcl_entries(cat):
            n += 1
            if not bfcl_score_single(e, bfcl_oracle_output(e))["valid"]: failed.append(e["id"])
    assert n == 3641
    assert sorted(failed) == sorted(k for k in BFCL_UNSATISFIABLE if not k.startswith("multi_turn"))


def test_wrong_answers_fail_every_single_turn_entry():
    for cat in SINGLE_TURN:
        ok = [e["id"] for e in bfcl_entries(cat) if bfcl_score_single(e, bfcl_wrong_output(e))["valid"]]
        assert ok == [], (cat, ok[:5])


def test_multi_turn_oracle_and_wrong_answers_in_bfcl_environments():
    es = [e for c in MULTI_TURN for e in bfcl_entries(c)]
    assert len(es) == 800
    verdicts, outputs = bfcl_run_multi_turn(es, bfcl_multi_turn_oracle(es), progress=False)
    assert sorted(v["id"] for v in verdicts if not v["valid"]) == [k for k in BFCL_UNSATISFIABLE if k.startswith("multi_turn")]
    verdicts, _ = bfcl_run_multi_turn(es, lambda p, k: ["I would rather chat."] * len(p), progress=False)
    assert not any(v["valid"] for v in verdicts)


def test_multi_turn_runs_do_not_share_environment_state():
    es = bfcl_entries("multi_turn_base", 5)
    mtu = bfcl().mtu
    before = {k for k in vars(mtu) if k.endswith("_instance")}
    for _ in range(2):  # a second run in the same process must start from the initial state again
        verdicts, _ = bfcl_run_multi_turn(es, bfcl_multi_turn_oracle(es), progress=False)
        assert all(v["valid"] for v in verdicts)
    assert {k for k in vars(mtu) if k.endswith("_instance")} == before


def test_converter_agrees_with_bfcl_qwen_decoder():
    from bfcl_eval.model_handler.local_inference.qwen_fc import QwenFCHandler
    h = object.__new__(QwenFCHandler)
    outs = []
    for cat in ["simple", "multiple", "parallel", "parallel_multiple", "live_simple", "live_multiple", "live_parallel"]:
        for e in bfcl_entries(cat, 40): outs += [bfcl_oracle_output(e), bfcl_wrong_output(e)]
    outs += ["plain text", "<tool_call>\n{oops}\n</tool_call>", "<think>\nx\n</think>\n\n" + outs[0], outs[0] + "\n<tool_call>\n[1]\n</tool_call>"]
    for o in outs:
        assert to_bfcl_ast(o) == h.decode_ast(o), o
        assert to_bfcl_exec(o) == h.decode_execute(o), o


def test_summary_is_the_leaderboards_aggregation():
    acc = {"simple": .9, "java": .6, "javascript": .3, "multiple": .8, "parallel": .7, "parallel_multiple": .6, "irrelevance": .5,
           "live_simple": .4, "live_multiple": .3, "live_parallel": .2, "live_parallel_multiple": .1, "live_irrelevance": .9,
           "live_relevance": 1.0, "multi_turn_base": .4, "multi_turn_miss_func": .3, "multi_turn_miss_param": .2, "multi_turn_long_context": .1}
    n = {c: len(bfcl_entries(c)) for c in BFCL_CATEGORIES}
    s = bfcl_summary({c: {"accuracy": a, "total_count": n[c]} for c, a in acc.items()})
    simple = (.9 + .6 + .3) / 3
    non_live_ast = (simple + .8 + .7 + .6) / 4
    non_live = (simple + .8 + .7 + .6 + .5) / 5
    live = sum(acc[c] * n[c] for c in LIVE) / sum(n[c] for c in LIVE)
    mt = (.4 + .3 + .2 + .1) / 4
    assert s["non_live_ast"] == pytest.approx(non_live_ast) and s["live"] == pytest.approx(live)
    assert s["overall"] == pytest.approx((non_live + live + mt) / 3)
    assert s["relevance"] == 1.0 and s["irrelevance"] == pytest.approx((.5 + .9) / 2)
    # a category not run counts 0, with its full size as weight in Live
    s2 = bfcl_summary({"live_simple": {"accuracy": 1.0, "total_count": n["live_simple"]}})
    assert s2["live"] == pytest.approx(n["live_simple"] / sum(n[c] for c in LIVE)) and "multi_turn_base" in s2["not_run"]


def test_eval_bfcl_writes_results_and_resumes(tmp_path):
    r = eval_bfcl(bfcl_oracle_predictor(), ["simple", "live_relevance", "multi_turn_miss_param"], limit=2, out=tmp_path, progress=False)
    assert {c: v["accuracy"] for c, v in r["categories"].items()} == {"simple": 1.0, "live_relevance": 1.0, "multi_turn_miss_param": 1.0}
    saved = json.loads((tmp_path/"bfcl.json").read_text())
    assert saved["summary"]["run"] == ["simple", "live_relevance", "multi_turn_miss_param"]
    items = json.loads((tmp_path/"bfcl"/"simple.json").read_text())["items"]
    assert len(items) == 2 and all(i["valid"] and "<tool_call>" in i["output"] for i in items)
    def boom(p, k): raise AssertionError("a finished category was decoded again")
    r2 = eval_bfcl(boom, ["simple", "live_relevance", "multi_turn_miss_param"], limit=2, out=tmp_path, progress=False)
    assert r2["categories"] == r["categories"]
    with pytest.raises(AssertionError):  # another limit is another run
        eval_bfcl(boom, ["simple"], limit=3, out=tmp_path, progress=False)
