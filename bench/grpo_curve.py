"""GRPO from a warm start with a held-out learning curve, paired by prompt against the warm start.

    nice -n 10 .venv/bin/python bench/grpo_curve.py [MODEL_DIR] [--every 25] [--set learning_rate=1e-4 --set num_generations=8 ...]

Every `--every` steps it decodes the first `--n-test` held-out prompts greedily and prints one `CURVE` JSON line:
held-out exact match (overall and per situation), and how many prompts flipped to right (`up`) and to wrong (`down`)
since the warm start, with McNemar's exact p. `--mix irrelevance=0.5` trains on a mix in which that situation's
training prompts make that share (all of them, and as many others drawn at random) — can GRPO teach one kind of
behaviour when its prompts are plentiful? Seed data as bench/calibrate.py makes it (cached by the world settings).
"""
import argparse, json, os, random, sys, tempfile, time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import torch

sys.path.insert(0, os.path.dirname(__file__))
from calibrate import bench_student, greedy_hits, per_situation, student_args
from looptool_nb.core import mcnemar_p, paired_flips
from looptool_nb.train import grpo


def situation_mix(train: list, mix: str, seed: int = 0) -> list:
    "All training samples of one situation plus others drawn at random, so that the situation makes the given share."
    name, share = mix.split("=", 1); share = float(share)
    if not 0 < share <= 1: raise SystemExit(f"--mix {mix}: the share must be in (0, 1]")
    ours = [s for s in train if s.meta.get("situation") == name]
    if not ours: raise SystemExit(f"--mix {mix}: no training sample of situation {name!r}")
    rest = [s for s in train if s.meta.get("situation") != name]
    rng = random.Random(seed)
    out = ours + rng.sample(rest, min(len(rest), round(len(ours) * (1 - share) / share)))
    rng.shuffle(out)
    print(f"training mix: {len(ours)} {name} + {len(out) - len(ours)} others", flush=True)
    return out


def main(argv=None):
    from transformers import TrainerCallback
    p = student_args(argparse.ArgumentParser())
    p.add_argument("--every", type=int, default=25); p.add_argument("--n-test", type=int, default=400)
    p.add_argument("--mix", default=None, metavar="SITUATION=SHARE", help="train on a mix with this share of one situation")
    a = p.parse_args(argv)
    cfg, train, test, model, tok = bench_student(a)
    test = test[:a.n_test]
    if a.mix: train = situation_mix(train, a.mix)
    def hits(m): return greedy_hits(m, tok, test, cfg.max_completion_length)
    base, t0 = hits(model), time.time()
    def log(step, m, h=None):
        h = h if h is not None else hits(m); up, down = paired_flips(base, h)
        print("CURVE", json.dumps({"step": step, "heldout": round(sum(h) / len(h), 4), "up": up, "down": down,
                                   "p": round(mcnemar_p(up, down), 4), "wall_s": round(time.time() - t0),
                                   "by_situation": per_situation(test, h)}), flush=True)
    class Curve(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kw):
            if state.global_step % a.every == 0: log(state.global_step, model)
    log(0, model, base)  # the warm start's own hits: decoding it twice would give the same
    _, s = grpo(model, tok, train, cfg, Path(tempfile.mkdtemp()), save=False, callbacks=[Curve()])
    print(json.dumps({k: s.get(k) for k in ("steps", "reward_first_quarter", "reward_last_quarter", "frac_zero_std_mean", "cpu_seconds")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
