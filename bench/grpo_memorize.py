"""Does the GRPO machinery learn at all? GRPO on a handful of training prompts that the warm start gets wrong
greedily but sometimes right when sampling, each repeated, then greedy again on those prompts and on the held-out split.

    nice -n 10 .venv/bin/python bench/grpo_memorize.py [MODEL_DIR] [--m 16] [--copies 16] [--set learning_rate=2e-4 ...]

A working trainer makes most of the picked prompts right within a few dozen steps (each is seen about
steps × grpo_batch_size / m times); the held-out line shows what that concentrated training does to everything else
(paired flips and McNemar's exact p against the warm start). Prints one JSON line. Seed data as bench/calibrate.py
makes it (cached by the world settings).
"""
import argparse, dataclasses, itertools, json, os, sys, tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import torch

sys.path.insert(0, os.path.dirname(__file__))
from calibrate import bench_student, greedy_hits, sampled_answers, student_args
from looptool_nb.core import has_tool_call_tag, mcnemar_p, paired_flips, tool_call_reward
from looptool_nb.train import grpo


def main(argv=None):
    p = student_args(argparse.ArgumentParser())
    p.add_argument("--m", type=int, default=16, help="prompts to train on")
    p.add_argument("--copies", type=int, default=16, help="copies of each in the GRPO data set")
    p.add_argument("--k", type=int, default=8, help="samples that must include a right one for a prompt to be picked")
    a = p.parse_args(argv)
    cfg, train, test, model, tok = bench_student(a)
    torch.manual_seed(0)
    def greedy(S, truth=False): return greedy_hits(model, tok, S, cfg.max_completion_length, truth)
    def some_sample_right(s):
        return any(tool_call_reward(t, s.output) for t in sampled_answers(model, tok, s, a.k, cfg.temperature, cfg.max_completion_length))
    cand = train[:400]
    pick = [s for s, r in zip(cand, greedy(cand)) if not r and has_tool_call_tag(s.output)]
    pick = list(itertools.islice(filter(some_sample_right, pick), a.m))   # lazily: sampling is the slow part
    held = test[:cfg.n_test]; before = greedy(held, truth=True)
    rows = [dataclasses.replace(s, id=f"{s.id}~{c}") for c in range(a.copies) for s in pick]
    _, summ = grpo(model, tok, rows, cfg, Path(tempfile.mkdtemp()), save=False)
    after = greedy(held, truth=True); up, down = paired_flips(before, after)
    print(json.dumps({"picked": len(pick), "picked_greedy_right_before": 0, "picked_greedy_right_after": int(sum(greedy(pick))),
                      "steps": summ.get("steps"), "lr": cfg.learning_rate,
                      "reward_first_quarter": summ.get("reward_first_quarter"), "reward_last_quarter": summ.get("reward_last_quarter"),
                      "heldout_before": round(sum(before) / len(before), 4), "heldout_after": round(sum(after) / len(after), 4),
                      "heldout_up": up, "heldout_down": down, "heldout_p": round(mcnemar_p(up, down), 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
