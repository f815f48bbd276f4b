"""What a (warm-started) student gets wrong on the held-out split, and whether sampling ever gets it right.

    nice -n 10 .venv/bin/python bench/heldout_failures.py [MODEL_DIR] [--k 8] [--temperature 1.0] [--set key=value]

Greedy-decodes the preset's held-out prompts (scored against the simulated world's hidden truth), sorts the wrong
answers by kind (a call where the label makes none, no call where it makes one, unparsable, a wrong number of calls,
a wrong function, wrong argument values) and by situation, then samples k completions at the given temperature for
each wrong one and counts how many have some right sample (the room GRPO could use on those prompts). Prints one JSON
line. Seed data as bench/calibrate.py makes it (cached by the world settings).
"""
import argparse, json, os, sys
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import torch

sys.path.insert(0, os.path.dirname(__file__))
from calibrate import bench_student, greedy_texts, sampled_answers, student_args
from looptool_nb.core import ParseError, has_tool_call_tag, parse_tool_calls, tool_call_reward


def error_kind(pred: str, truth: str) -> str:
    "`right`, or what is wrong with `pred` against `truth` (the first that applies)."
    if tool_call_reward(pred, truth): return "right"
    if not has_tool_call_tag(truth): return "call_on_no_call_label"
    if not has_tool_call_tag(pred): return "no_call_on_call_label"
    P, T = parse_tool_calls(pred), parse_tool_calls(truth)
    if isinstance(P, ParseError): return "unparsable"
    if len(P) != len(T): return "number_of_calls"
    if sorted(c["name"] for c in P) != sorted(c["name"] for c in T): return "function"
    return "argument_values"


def main(argv=None):
    p = student_args(argparse.ArgumentParser())
    p.add_argument("--k", type=int, default=8); p.add_argument("--temperature", type=float, default=1.0)
    a = p.parse_args(argv)
    cfg, train, test, model, tok = bench_student(a)
    torch.manual_seed(0); model.eval()
    held = test[:cfg.n_test]
    greedy = greedy_texts(model, tok, held, cfg.max_completion_length)
    rows = []
    for s, g in zip(held, greedy):
        truth = s.meta.get("truth") or s.output
        r = {"kind": error_kind(g, truth), "situation": s.meta.get("situation", "?")}
        if r["kind"] != "right":
            texts = sampled_answers(model, tok, s, a.k, a.temperature, cfg.max_completion_length)
            r["right_samples"] = int(sum(tool_call_reward(t, truth) for t in texts))
        rows.append(r)
    wrong = [r for r in rows if r["kind"] != "right"]
    print(json.dumps({"n": len(rows), "k": a.k, "temperature": a.temperature, "greedy_right": len(rows) - len(wrong),
                      "wrong_by_kind": Counter(r["kind"] for r in wrong),
                      "wrong_by_situation": Counter(r["situation"] for r in wrong),
                      "right_by_situation": Counter(r["situation"] for r in rows if r["kind"] == "right"),
                      "wrong_with_some_right_sample": sum(r["right_samples"] > 0 for r in wrong),
                      "wrong_with_some_right_sample_by_kind": Counter(r["kind"] for r in wrong if r["right_samples"] > 0),
                      "right_samples_histogram": dict(sorted(Counter(r["right_samples"] for r in wrong).items()))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
