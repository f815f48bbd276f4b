"""GRPO seconds per step for each tiny student and for SmolLM2-135M, and the peak memory of a cpu-tiny training run.

    nice -n 10 .venv/bin/python bench/grpo_speed.py [--steps 3] [--threads 2] [--no-smol]

Every model trains on the same prompts (the cpu-tiny seed world) with the preset's group size and lengths. The
students are untrained (warm start 0 steps), so every completion runs to max_completion_length: the figures are the
upper bound of a step. Ratios to tiny-1m are measured in the same process, so they hold on a busy machine; the
absolute wall seconds depend on the load (say so when quoting them); CPU seconds per step (process time, all threads)
depend on it much less. Peak RSS is the peak resident memory of a child
process that runs `looptool train` on cpu-tiny (warm start + GRPO), read with getrusage.
"""
import argparse, json, os, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import torch

from looptool_nb.core import load_config, read_samples, write_samples
from looptool_nb.student import TINY_LADDER, load_student, n_params, sample_texts
from looptool_nb.train import grpo


def seed(tmp: Path, preset: str):
    from looptool_nb.seed import seed_stage
    seed_stage(load_config(preset, ["n_dialogues=200", "n_test=10"]), tmp / "seed", progress=False)
    return read_samples(tmp / "seed" / "train.jsonl")


def step_seconds(name: str, preset: str, data, steps: int, tmp: Path) -> dict:
    cfg = load_config(preset, [f"student={name}", f"max_steps_per_iteration={steps}"])
    model, tok = load_student(name, cfg, corpus=sample_texts(data), vocab_size=cfg.tokenizer_vocab)
    _, s = grpo(model, tok, data, cfg, tmp / f"grpo-{name}", save=False)
    times = [r["step_time"] for r in s["per_step"]][1:] or [r["step_time"] for r in s["per_step"]]
    return {"student": name, "params_M": round(n_params(model) / 1e6, 2), "prompts_per_step": cfg.grpo_batch_size,
            "cpu_s_per_step": round(s["cpu_seconds"] / max(1, s["steps"]), 2),
            "generations": cfg.num_generations, "max_completion": cfg.max_completion_length,
            "s_per_step": round(statistics.median(times), 2), "completion_len": round(s["completion_length_mean"] or 0, 1)}


def peak_rss_mb(tmp: Path, data_path: Path, preset: str, sets: list[str]) -> float:
    "Peak RSS (MB) of a child `looptool train` run."
    cmd = [sys.executable, "-m", "looptool_nb.train", "--preset", preset, "--data", str(data_path), "--out", str(tmp / "rss")]
    for s in sets: cmd += ["--set", s]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "LOOPTOOL_CACHE": str(tmp / "cache")})
    return max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-smol", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    tmp = Path(tempfile.mkdtemp())
    data = seed(tmp, "cpu-tiny")
    write_samples(tmp / "train.jsonl", data)
    # first, while no other child has run: RUSAGE_CHILDREN keeps the largest child so far (SmolLM2's conversion is one)
    rss = peak_rss_mb(tmp, tmp / "train.jsonl", "cpu-tiny", ["max_steps_per_iteration=3", "warmstart_steps=20"])
    rows = [step_seconds(n, "cpu-tiny", data, a.steps, tmp) for n in TINY_LADDER]
    if not a.no_smol: rows.append(step_seconds("smollm2-135m", "cpu-smol", data, max(2, a.steps - 1), tmp))
    print(f"GRPO step time ({a.threads} threads; load average {os.getloadavg()[0]:.1f} at the end)")
    print("| student | params | prompts x generations | max completion | s/step (wall) | CPU s/step | x tiny-1m (CPU) |")
    print("|---|---|---|---|---|---|---|")
    cbase = rows[0]["cpu_s_per_step"]
    for r in rows:
        print(f"| {r['student']} | {r['params_M']}M | {r['prompts_per_step']} x {r['generations']} | {r['max_completion']} | "
              f"{r['s_per_step']} | {r['cpu_s_per_step']} | {r['cpu_s_per_step'] / cbase:.1f} |")
    print(f"peak RSS of a cpu-tiny `looptool train` run (warm start of 20 steps + 3 GRPO steps): {rss:.0f} MB (bar: < 3000 MB)")
    print(json.dumps({"rows": rows, "peak_rss_mb": round(rss)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
