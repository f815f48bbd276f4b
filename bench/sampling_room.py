"""How much room GRPO has on each situation: greedy accuracy, the mean reward of samples, pass@k and the share of
GRPO groups with no reward variance, per situation, on fresh held-out prompts of a run's world.

    nice -n 10 .venv/bin/python bench/sampling_room.py RUN_DIR [--iteration K] [--n 40] [--k 8] [--out FILE]

GRPO learns only from groups whose completions differ in reward; a situation where a group of `num_generations`
samples is all wrong (or all right) most of the time gives it little to learn from. For `n` prompts per situation
(the run's held-out split regenerated as bench/heldout_large.py does, after its first 400 prompts), `k` samples each at
the preset's temperature: the mean reward is a prompt's success probability p, and the chance that a group of
`num_generations` has no variance is p^G + (1 - p)^G, averaged over prompts. Iteration 0 is the run's warm start.
"""
import argparse, json, os, random, sys
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import torch

from calibrate import greedy_hits, sampled_answers
from heldout_large import large_test, run_config
from looptool_nb.core import tool_call_reward
from looptool_nb.student import load_student, resolve_model_dir


def room(ps: list[float], group: int) -> dict:
    "From per-prompt success rates: mean reward, pass@k (some sample right) and the expected zero-variance group share."
    return {"sampled": round(sum(ps) / len(ps), 3), "pass_at_k": round(sum(p > 0 for p in ps) / len(ps), 3),
            "zero_variance_group": round(sum(p ** group + (1 - p) ** group for p in ps) / len(ps), 3)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", nargs="?", type=Path, help="a run folder (default: results/reproduce)")
    p.add_argument("--iteration", type=int, default=0, help="0: the warm start; K: iteration K's checkpoint")
    p.add_argument("--n", type=int, default=40, help="prompts per situation")
    p.add_argument("--k", type=int, default=8, help="samples per prompt")
    p.add_argument("--out", default=None, help="append the JSON lines here")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    run = a.run or Path("results/reproduce")
    if not (run/"config.json").exists(): print(f"sampling_room: no run folder at {run} (run make reproduce first, or name one)"); return 0
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    cfg = run_config(run)
    m = resolve_model_dir(run/"warmstart") if a.iteration == 0 else run/f"iter_{a.iteration}"/"checkpoint"
    if not (m/"model.safetensors").exists(): raise SystemExit(f"sampling_room: no model at {m}")
    model, tok = load_student(str(m), cfg); model.eval()
    by = defaultdict(list)
    for s in large_test(cfg, run, 4000, 400): by[s.meta.get("situation", "?")].append(s)
    rng = random.Random(0)
    truth = lambda s: s.meta.get("truth") or s.output   # the simulated world's hidden truth
    for sit, ss in sorted(by.items()):
        ss = rng.sample(ss, min(a.n, len(ss)))
        g = greedy_hits(model, tok, ss, cfg.max_completion_length)
        ps = [sum(tool_call_reward(o, truth(s)) for o in sampled_answers(model, tok, s, a.k, cfg.temperature, cfg.max_completion_length)) / a.k
              for s in ss]
        rec = {"run": str(run), "iteration": a.iteration, "situation": sit, "n": len(ss), "k": a.k, "group": cfg.num_generations,
               "temperature": cfg.temperature, "greedy": round(sum(g) / len(g), 3), **room(ps, cfg.num_generations)}
        print(json.dumps(rec), flush=True)
        if a.out:
            with open(a.out, "a") as f: f.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
