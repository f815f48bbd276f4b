"""CPU step time of a tiny student with TRL's LM head scoring every position (TRL off Triton) vs only the labelled
positions (`compact_lm_head_scoring`, what the library uses), for GRPO and for the SFT warm start.

    nice -n 10 .venv/bin/python bench/lm_head_speed.py [--model DIR] [--steps 4] [--rounds 2]

Both variants run alternately in one process on the same prompts (`--rounds` times each), so the ratio holds on a
busy machine; CPU seconds per step are process time on one thread. The first step's loss and the GRPO reward must
be equal between the variants (the masked positions contribute nothing): the script says so or fails.
`--model` takes a warm-started student (completions of realistic length); without it an untrained tiny-1m is built
(every completion runs to max_completion_length).
"""
import argparse, json, os, statistics, sys, tempfile, time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import torch

from looptool_nb.core import load_config, read_samples
import looptool_nb.student as student_mod, looptool_nb.train as train_mod
from looptool_nb.student import compact_lm_head_scoring, load_student, sample_texts, sft
from looptool_nb.train import grpo


def use_compact(on: bool):
    "Make `sft` and `grpo` (which switch compact scoring on) set it to `on` instead."
    student_mod.compact_lm_head_scoring = train_mod.compact_lm_head_scoring = lambda enable=True: compact_lm_head_scoring(on)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=None)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    from looptool_nb.seed import seed_stage
    cfg = load_config("cpu-tiny", [f"max_steps_per_iteration={a.steps}", "n_dialogues=300", "n_test=10"])
    seed_stage(cfg, tmp/"seed", progress=False)
    data = read_samples(tmp/"seed"/"train.jsonl")
    def student():
        if a.model: return load_student(a.model, cfg)
        torch.manual_seed(0)
        return load_student(cfg.student, cfg, corpus=sample_texts(data), vocab_size=cfg.tokenizer_vocab)
    res = {False: {"grpo": [], "sft": []}, True: {"grpo": [], "sft": []}}
    first = {}
    for _ in range(a.rounds):
        for compact in (False, True):
            use_compact(compact)
            model, tok = student()
            c0 = time.process_time(); _, s = grpo(model, tok, data[:8 * a.steps], cfg, tmp/"g", save=False)
            res[compact]["grpo"].append((time.process_time() - c0) / a.steps)
            model, tok = student()
            c0 = time.process_time(); info = sft(model, tok, data[:200], cfg, tmp/"s", steps=a.steps)
            res[compact]["sft"].append((time.process_time() - c0) / a.steps)
            first.setdefault(compact, (s["reward_mean"], info["loss_first"]))
    use_compact(True)
    same = first[False] == first[True]
    print(f"tiny-1m ({'warm-started' if a.model else 'untrained'}), one thread, {a.steps} steps x {a.rounds} rounds each; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| step | every position (CPU s) | labelled only (CPU s) | speed-up |\n|---|---|---|---|")
    out = {}
    for k in ("grpo", "sft"):
        full, comp = statistics.median(res[False][k]), statistics.median(res[True][k])
        out[k] = {"every_position_cpu_s": round(full, 2), "labelled_only_cpu_s": round(comp, 2), "speedup": round(full / comp, 2)}
        print(f"| {k.upper()} | {full:.2f} | {comp:.2f} | {full / comp:.2f}x |")
    print(f"first-step SFT loss and GRPO reward equal between the variants: {same} {first}")
    print(json.dumps(out))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
