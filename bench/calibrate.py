"""Calibrate the cpu-tiny student: warm-start accuracy on held-out synthetic data, and whether GRPO moves the reward.

    nice -n 10 .venv/bin/python bench/calibrate.py --set candidate_tools=2 --set warmstart_steps=600 [--grpo-steps 40]

Prints one JSON line: the world and warm-start settings, the warm start's CPU time (single thread, so it reads as an
unloaded single-core time even on a busy machine), greedy exact match (the paper's reward) on the held-out split per
situation, and with --grpo-steps the same after GRPO on training prompts (same held-out prompts, greedy).
Seed data and warm starts are cached ($LOOPTOOL_CACHE), so a repeated setting only re-evaluates.
"""
import argparse, json, os, sys, time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import torch

from looptool_nb.core import config_hash, load_config, read_samples, tool_call_reward
from looptool_nb.student import cache_dir, load_student, warm_start
from looptool_nb.probe import encode_prompt, greedy_decode


def seed_data(cfg):
    "Seed train/test for the world settings of `cfg` (cached by those settings)."
    from looptool_nb.seed import seed_stage
    keys = ["seed", "n_apis", "n_dialogues", "n_test", "candidate_tools", "history_turns", "teacher_error_rate", "value_vocab",
            "max_params", "n_domains", "situation_weights", "teacher_rule_error_rate", "seed_judge_recall",
            "seed_judge_specificity", "assistant_votes"]
    d = cfg.to_dict()
    out = cache_dir("calib-seed", config_hash({k: d.get(k) for k in keys}))
    if not (out / "test.jsonl").exists(): seed_stage(cfg, out, progress=False)
    return read_samples(out / "train.jsonl"), read_samples(out / "test.jsonl")


def student_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    "The arguments of a bench script that studies one student: the student folder, the preset and its overrides."
    p.add_argument("model", nargs="?", help="a student folder (default: the preset's warm start, trained once and cached)")
    p.add_argument("--preset", default="cpu-tiny")
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: two lanes side by side on 2 cores)")
    return p


def bench_student(a):
    "(cfg, train, test, model, tokenizer) for parsed `student_args`, on `a.threads` torch threads."
    torch.set_num_threads(a.threads)
    cfg = load_config(a.preset, a.set)
    train, test = seed_data(cfg)
    model, tok = load_student(a.model or str(warm_start(cfg, train)), cfg)
    return cfg, train, test, model, tok


def greedy_texts(model, tok, samples, max_new_tokens, batch_size: int = 32) -> list[str]:
    "The greedy answer to each sample's prompt (GCP's batched decoder)."
    return [d.text for d in greedy_decode(model, tok, [s.prompt_messages() for s in samples], batch_size=batch_size,
                                          max_new_tokens=max_new_tokens)]


def greedy_hits(model, tok, samples, max_new_tokens, truth: bool = True) -> list[float]:
    "Greedy exact match (the paper's reward) of each sample: against the hidden truth where known (`truth`), else the label."
    answers = greedy_texts(model, tok, samples, max_new_tokens)
    return [tool_call_reward(t, (s.meta.get("truth") or s.output) if truth else s.output) for s, t in zip(samples, answers)]


def sampled_answers(model, tok, sample, k: int, temperature: float, max_new_tokens: int) -> list[str]:
    "`k` answers to `sample`'s prompt sampled at `temperature` (no top-p, no top-k)."
    ids = torch.tensor([encode_prompt(tok, sample.prompt_messages())])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=temperature, top_p=1.0, top_k=0,
                             max_new_tokens=max_new_tokens, num_return_sequences=k, pad_token_id=tok.pad_token_id)
    return [tok.decode(o[ids.shape[1]:], skip_special_tokens=True) for o in out]


def per_situation(samples, hits) -> dict:
    "Mean hit per situation of the samples (3 decimals, situations in order)."
    by = defaultdict(list)
    for s, h in zip(samples, hits): by[s.meta.get("situation", "?")].append(h)
    return {k: round(sum(v) / len(v), 3) for k, v in sorted(by.items())}


def heldout(model, tok, samples, max_new_tokens):
    "Greedy exact match (the paper's reward) per situation, and overall."
    preds = greedy_texts(model, tok, samples, max_new_tokens)
    hits = [tool_call_reward(t, s.output) for s, t in zip(samples, preds)]
    return dict(sorted({**per_situation(samples, hits), "all": round(sum(hits) / len(hits), 3)}.items())), preds[:3]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="cpu-tiny")
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--eval-n", type=int, default=200)
    p.add_argument("--grpo-steps", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--curve", type=int, default=0, help="also evaluate (greedy, --curve-n held-out samples) every N warm-start steps")
    p.add_argument("--curve-n", type=int, default=64)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = load_config(a.preset, a.set)
    t0 = time.time()
    train, test = seed_data(cfg)
    c0 = time.process_time()
    curve, cbs = [], []
    if a.curve:
        from transformers import TrainerCallback
        class Curve(TrainerCallback):
            def on_step_end(self, args, state, control, model=None, processing_class=None, **kw):
                if state.global_step % a.curve == 0:
                    acc, _ = heldout(model, processing_class, test[:a.curve_n], cfg.max_completion_length)
                    curve.append({"step": state.global_step, "cpu_s": round(time.process_time() - c0), "exact": acc["all"]})
                    print("CURVE", json.dumps(curve[-1]), flush=True)
        cbs = [Curve()]
    ws = warm_start(cfg, train, callbacks=cbs)
    info = json.loads((ws / "warmstart.json").read_text())
    model, tok = load_student(str(ws), cfg)
    test = test[:a.eval_n]
    lens = sorted(len(tok(tok.apply_chat_template(s.prompt_messages(), add_generation_prompt=True, tokenize=False))["input_ids"]) for s in train[:300])
    acc0, ex = heldout(model, tok, test, cfg.max_completion_length)
    rec = {"sets": a.set, "student": cfg.student, "train": len(train), "test": len(test), "prompt_tokens_median": lens[len(lens) // 2],
           "prompt_tokens_p90": lens[int(len(lens) * .9)], "warmstart_steps": info["steps"], "warmstart_cpu_s": info.get("cpu_seconds"),
           "loss_last": info.get("loss_last"), "dropped_too_long": info.get("dropped_too_long"), "heldout_warm": acc0, "curve": curve, "examples": ex}
    if a.grpo_steps:
        from looptool_nb.train import grpo
        g = load_config(a.preset, a.set + [f"max_steps_per_iteration={a.grpo_steps}"])
        c1 = time.process_time()
        model, s = grpo(model, tok, train, g, Path(cache_dir("calib-grpo", info["key"])), save=False)
        rec["grpo"] = {k: s[k] for k in ("steps", "reward_first_quarter", "reward_last_quarter", "frac_zero_std_mean",
                                          "completion_length_mean", "peak_rss_mb")}
        rec["grpo"]["cpu_s"] = round(time.process_time() - c1, 1)
        rec["heldout_grpo"], _ = heldout(model, tok, test, cfg.max_completion_length)
    rec["wall_s"] = round(time.time() - t0, 1)
    print(json.dumps(rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
