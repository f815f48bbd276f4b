"""Continue a warm start's SFT (its own recipe, a fresh optimizer) on the training split for N steps, then greedy on the
held-out split, paired against the warm start: what supervised training moves, for comparison with GRPO
(bench/grpo_curve.py).

    nice -n 10 .venv/bin/python bench/sft_continue.py [MODEL_DIR] [--steps 40] [--set warmstart_lr=6e-4]

Give MODEL_DIR when overriding warm-start settings: `warmstart_lr` is part of the warm-start cache key, so without a
folder the script would first train a new warm start with the overridden settings. Prints one JSON line (held-out
before and after, prompts flipped right / wrong, McNemar's exact p). Seed data as bench/calibrate.py makes it.
"""
import argparse, json, os, sys, tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, os.path.dirname(__file__))
from calibrate import bench_student, greedy_hits, student_args
from looptool_nb.core import mcnemar_p, paired_flips
from looptool_nb.student import fits, sft


def main(argv=None):
    p = student_args(argparse.ArgumentParser())
    p.add_argument("--steps", type=int, default=40)
    a = p.parse_args(argv)
    cfg, train, test, model, tok = bench_student(a)
    held = test[:cfg.n_test]
    def hits(): return greedy_hits(model, tok, held, cfg.max_completion_length)
    before = hits()
    info = sft(model, tok, fits(train, tok, cfg.max_prompt_length + cfg.max_completion_length), cfg, tempfile.mkdtemp(), steps=a.steps)
    after = hits(); up, down = paired_flips(before, after)
    print(json.dumps({"steps": a.steps, "lr": cfg.warmstart_lr, "batch": cfg.warmstart_batch_size, "cpu_s": info["cpu_seconds"],
                      "heldout_before": round(sum(before) / len(held), 4), "heldout_after": round(sum(after) / len(held), 4),
                      "up": up, "down": down, "p": round(mcnemar_p(up, down), 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
