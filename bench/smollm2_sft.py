"""Can a short SFT warm start teach SmolLM2-135M-Instruct the call format? N steps of the warm-start recipe (full
fine-tune) on a world's training split, then greedy on its held-out prompts (exact match against the hidden truth).

    nice -n 10 .venv/bin/python bench/smollm2_sft.py [--steps 40] [--n-eval 100] [--threads 2] [--preset cpu-tiny] [--set k=v]

Defaults: the cpu-tiny world with 100 held-out prompts, batch 4, lr 5e-5, answers up to 96 tokens. As shipped the model
never writes a `<tool_call>` (bench/heldout_failures.py smollm2-135m), so this is what `cpu-smol` would need before
GRPO. Prints one JSON line: SFT seconds a step, loss first/last, held-out exact, how many answers make a call.
"""
import argparse, json, os, sys, tempfile, time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import torch

sys.path.insert(0, os.path.dirname(__file__))
from calibrate import greedy_texts, seed_data
from looptool_nb.core import has_tool_call_tag, load_config, tool_call_reward
from looptool_nb.student import fits, load_student, sft

DEFAULTS = ["n_test=100", "max_completion_length=96", "warmstart_batch_size=4", "warmstart_lr=5e-5"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40); p.add_argument("--n-eval", type=int, default=100)
    p.add_argument("--threads", type=int, default=2); p.add_argument("--preset", default="cpu-tiny")
    p.add_argument("--set", action="append", default=[])
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = load_config(a.preset, DEFAULTS + a.set)
    train, test = seed_data(cfg)
    model, tok = load_student("smollm2-135m", cfg)
    t0 = time.time()
    info = sft(model, tok, fits(train, tok, cfg.max_prompt_length + cfg.max_completion_length), cfg, tempfile.mkdtemp(), steps=a.steps)
    t1 = time.time()
    held = test[:a.n_eval]
    answers = greedy_texts(model, tok, held, cfg.max_completion_length, batch_size=8)
    hits = [tool_call_reward(t, s.meta.get("truth") or s.output) for s, t in zip(held, answers)]
    print(json.dumps({"steps": a.steps, "batch": cfg.warmstart_batch_size, "lr": cfg.warmstart_lr, "threads": a.threads,
                      "sft_s_per_step": round((t1 - t0) / max(a.steps, 1), 1), "loss_first": info["loss_first"],
                      "loss_last": info["loss_last"], "eval_s": round(time.time() - t1), "n": len(held),
                      "heldout": round(sum(hits) / len(hits), 4), "answers_with_a_call": sum(has_tool_call_tag(t) for t in answers),
                      "labels_with_a_call": sum(has_tool_call_tag(s.output) for s in held)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
