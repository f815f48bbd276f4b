"""How much GRPO could gain: sample k completions per training prompt from a (warm-started) student and compare them
with the label and with the simulated world's hidden truth.

    nice -n 10 .venv/bin/python bench/grpo_headroom.py [MODEL_DIR] [--n 200] [--k 8] [--temperature 1.0] [--set key=value]

Prints one JSON line: greedy exact match (vs label, vs truth), single-sample accuracy, pass@k vs truth, the share of
groups with reward variance (the only ones GRPO learns from), the share of those whose label is wrong, and the share
of prompts that greedy gets wrong but some sample gets right (what GRPO could flip). Seed data as bench/calibrate.py
makes it (cached by the world settings).
"""
import argparse, json, os, sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import torch

sys.path.insert(0, os.path.dirname(__file__))
from calibrate import bench_student, greedy_texts, sampled_answers, student_args
from looptool_nb.core import tool_call_reward


def main(argv=None):
    p = student_args(argparse.ArgumentParser())
    p.add_argument("--n", type=int, default=200); p.add_argument("--k", type=int, default=8)
    p.add_argument("--temperature", type=float, default=1.0)
    a = p.parse_args(argv)
    cfg, train, _, model, tok = bench_student(a)
    torch.manual_seed(0); model.eval()
    S = train[:a.n]
    greedy = greedy_texts(model, tok, S, cfg.max_completion_length)
    rows = []
    for s, g in zip(S, greedy):
        texts = sampled_answers(model, tok, s, a.k, a.temperature, cfg.max_completion_length)
        rl = [tool_call_reward(t, s.output) for t in texts]
        rt = [tool_call_reward(t, s.meta["truth"]) for t in texts]
        rows.append({"noisy": tool_call_reward(s.output, s.meta["truth"]) == 0.0, "greedy_label": tool_call_reward(g, s.output),
                     "greedy_truth": tool_call_reward(g, s.meta["truth"]), "sample_truth": sum(rt) / a.k,
                     "any_truth": max(rt), "mixed": 0 < sum(rl) < a.k})
    mean = lambda f: round(sum(f(r) for r in rows) / len(rows), 3)
    mixed = [r for r in rows if r["mixed"]]
    print(json.dumps({"n": len(rows), "k": a.k, "temperature": a.temperature, "label_noise": mean(lambda r: r["noisy"]),
                      "greedy_vs_label": mean(lambda r: r["greedy_label"]), "greedy_vs_truth": mean(lambda r: r["greedy_truth"]),
                      "sample_vs_truth": mean(lambda r: r["sample_truth"]), "pass_at_k_vs_truth": mean(lambda r: r["any_truth"]),
                      "groups_with_variance": mean(lambda r: r["mixed"]),
                      "wrong_label_among_those": round(sum(r["noisy"] for r in mixed) / max(len(mixed), 1), 3),
                      "greedy_wrong_some_sample_right": mean(lambda r: not r["greedy_truth"] and r["any_truth"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
