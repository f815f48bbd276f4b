"""Seed-stage throughput on one core (bar: >= 2,000 verified samples per minute) and measured vs configured label noise.

Usage: python bench/seed_throughput.py [--dialogues 2000] [--rates 0.05,0.15,0.30]
Pinned to one CPU core with sched_setaffinity. Timings on a shared machine vary with load: the figure is the mean
of the repeats, with min/max shown.
"""
import argparse, os, sys, tempfile, time
from pathlib import Path

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dialogues", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rates", default="0.05,0.15,0.30")
    a = ap.parse_args()
    if hasattr(os, "sched_setaffinity"): os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from looptool_nb.core import load_config
    from looptool_nb.seed import make_world, generate_split, measured_noise, seed_stage
    cfg = load_config("cpu-tiny", [f"n_dialogues={a.dialogues}"])
    world, _ = make_world(cfg)
    rates = []
    for r in range(a.repeats):
        t0 = time.perf_counter()
        train, st = generate_split(world, cfg, "train", n_dialogues=a.dialogues)
        dt = time.perf_counter() - t0
        rates.append(len(train) / dt * 60)
    print(f"generation + verification (train split, {a.dialogues} dialogues, {len(train)} verified samples, 1 core): "
          f"{sum(rates) / len(rates):,.0f} verified samples/min (min {min(rates):,.0f}, max {max(rates):,.0f}); bar 2,000 -> "
          f"{'PASS' if min(rates) >= 2000 else 'FAIL'} ({min(rates) / 2000:.1f}x the bar)")
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        card = seed_stage(cfg, Path(d) / "seed", progress=False)
        dt = time.perf_counter() - t0
    n = card["train"]["samples"] + card["test"]["samples"]
    print(f"whole seed_stage (world, train+test, JSONL, HF save_to_disk, card): {n} samples in {dt:.1f}s = {n / dt * 60:,.0f} samples/min")
    print("label noise, configured vs measured on the delivered train split (hidden truth):")
    for rate in [float(x) for x in a.rates.split(",")]:
        c = load_config("cpu-tiny", [f"n_dialogues={a.dialogues}", f"teacher_error_rate={rate}"])
        tr, st = generate_split(world, c, "train", n_dialogues=a.dialogues)
        m = measured_noise(tr)
        print(f"  configured {100 * rate:5.1f}%  measured {100 * m:5.1f}%  (diff {100 * (m - rate):+.1f} points; raw teacher error "
              f"{100 * st['generated_wrong'] / st['generated']:.1f}% before the judge stage; n={len(tr)})")
    return 0

if __name__ == "__main__":
    sys.exit(main())
