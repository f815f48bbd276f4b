"""Re-measure finished runs on a large, fresh held-out split: each run's warm start and iteration checkpoints,
greedy, exact call match against the simulated world's hidden truth, paired against the warm start.

    nice -n 10 .venv/bin/python bench/heldout_large.py RUN_DIR [RUN_DIR ...] [--n 4000] [--skip 400] [--out FILE]

A run's own held-out split has 200-400 prompts: a one-point effect is then a handful of flipped prompts, and every
single-run comparison so far was inconclusive. This script regenerates the run's test split from its config (same
world, same seed; the split is a prefix-stable sequence of dialogues), checks that its first prompts are the run's own
held-out prompts, and evaluates on the `n` prompts after the first `skip` — prompts no run, preset choice or notebook
has looked at (every run evaluated at most the first 400). Results are cached per model file (`--out`, JSONL), so a
re-run only evaluates what is new. Prints one line per run and per experiment arm (mean and 95% interval over seeds
of the gain over the warm start; prompts flipped right / wrong pooled over seeds, exact McNemar p).
"""
import argparse, hashlib, json, os, sys, time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import torch

from calibrate import per_situation
from looptool_nb.core import (Config, atomic_write_json, config_hash, load_config, mcnemar_p, paired_flips, read_jsonl, read_samples, tool_call_reward,
                              write_samples)
from looptool_nb.evaluate import model_predictor
from looptool_nb.experiments import spread
from looptool_nb.seed import generate_split, make_world
from looptool_nb.student import cache_dir, resolve_model_dir

WORLD_KEYS = ["seed", "n_apis", "candidate_tools", "history_turns", "value_vocab", "max_params", "n_domains",
              "situation_weights"]   # what the test split depends on (it has no teacher noise)


def run_config(run: Path) -> Config:
    "The resolved config a run folder was made with."
    d = json.loads((run/"config.json").read_text())
    names = set(Config.__dataclass_fields__) - {"preset"}
    return load_config(d["preset"], {k: v for k, v in d.items() if k in names})


def large_test(cfg: Config, run: Path, n: int, skip: int) -> list:
    "Test samples `skip` .. `skip + n` of the run's world (cached by the world settings); checks the run's own prefix."
    key = config_hash({"kind": "heldout-large-v1", **{k: cfg.to_dict().get(k) for k in WORLD_KEYS}, "n": n + skip})
    f = cache_dir("heldout-large", key)/"test.jsonl"
    if not f.exists():
        world, _ = make_world(cfg)
        test, _ = generate_split(world, cfg, "test", n_samples=n + skip)
        write_samples(f, test)
    test = read_samples(f)
    own = read_samples(run/"seed"/"test.jsonl")
    if [s.id for s in own] != [s.id for s in test[:len(own)]] or [s.output for s in own] != [s.output for s in test[:len(own)]]:
        raise SystemExit(f"{run}: the regenerated test split does not start with the run's own held-out prompts")
    if len(own) > skip: raise SystemExit(f"{run}: its held-out split has {len(own)} prompts, more than --skip {skip}")
    return test[skip:skip + n]


def file_hash(model: Path) -> str:
    return hashlib.sha256((model/"model.safetensors").read_bytes()).hexdigest()[:16]


def evaluate_hits(model: Path, cfg: Config, samples: list, cache: dict, out) -> dict:
    "{'accuracy', 'hits', 'seconds'} of `model` on `samples` (cached by model weights and prompt ids)."
    k = f"{file_hash(model)}:{config_hash([s.id for s in samples])}"
    if k not in cache:
        t = time.time()
        predict = model_predictor(str(model), cfg)
        outs = predict([s.prompt_messages() for s in samples], [s.id for s in samples])
        hits = [tool_call_reward(o, s.meta.get("truth") or s.output) for s, o in zip(samples, outs)]
        cache[k] = {"model": str(model), "accuracy": sum(hits) / len(hits), "hits": hits, "seconds": round(time.time() - t, 1)}
        if out:   # one line per model; the hits as a string of 0/1 (4,000 prompts: 4 kB)
            with open(out, "a") as f: f.write(json.dumps({"key": k, **cache[k], "hits": "".join("1" if h else "0" for h in hits)}) + "\n")
    return cache[k]


def acc(hits: list[float]) -> float: return 100 * sum(hits) / len(hits)


def arm_summary(runs: dict, baseline_arm: str | None = None) -> list[dict]:
    """Per arm (a run's parent folder; its seeds are the runs inside) and iteration: the gain over the warm start, and
    over the same seed and iteration of `baseline_arm` (an arm folder name, e.g. static or full) where given."""
    arms = defaultdict(dict)                        # arm folder -> seed folder name -> {iteration: hits}
    for run, res in runs.items(): arms[run.parent][run.name] = res
    base = {a_: s for a_, s in arms.items() if baseline_arm and a_.name == baseline_arm}
    out = []
    for arm, seeds in arms.items():
        comps = [("warm start", lambda sd, K: seeds[sd][0])]
        for b_arm, b_seeds in base.items():
            if b_arm != arm and b_arm.parent == arm.parent:
                comps.append((b_arm.name, lambda sd, K, b=b_seeds: b.get(sd, {}).get(K)))
        for K in sorted({K for r in seeds.values() for K in r if K}):
            for name, ref in comps:
                pairs = [(ref(sd, K), r[K]) for sd, r in sorted(seeds.items()) if K in r and ref(sd, K) is not None]
                if not pairs: continue
                flips = [paired_flips(a_, b) for a_, b in pairs]
                up, down = sum(f[0] for f in flips), sum(f[1] for f in flips)
                sp = spread([acc(b) - acc(a_) for a_, b in pairs])   # mean and 95% t-interval over seeds (None with one seed)
                out.append({"arm": str(arm), "iteration": K, "vs": name, "seeds": len(pairs),
                            **{k: None if sp[k] is None else round(sp[k], 2) for k in ("mean", "lo", "hi")},
                            "up": up, "down": down, "p": mcnemar_p(up, down)})
    return out


def situation_summary(runs: dict, samples: dict, data: dict, baseline_arm: str | None = None) -> dict:
    """Per arm: how many test prompts of each situation, held-out accuracy per situation and iteration pooled over the
    arm's seeds (iteration 0 = the warm start), the situation shares of the data each iteration trained on (D_K), and
    per situation the prompts flipped right / wrong against the warm start and against `baseline_arm`'s same seed and
    iteration (pooled over seeds)."""
    out = {}
    sit = lambda s: s.meta.get("situation", "?")
    arms = sorted({r.parent for r in runs}, key=str)
    for arm in arms:
        seeds = sorted(r for r in runs if r.parent == arm)
        Ks = sorted({K for r in seeds for K in runs[r]})
        pooled = lambda K: ([s for r in seeds if K in runs[r] for s in samples[r]], [h for r in seeds if K in runs[r] for h in runs[r][K]])
        d = {"n": dict(sorted(Counter(sit(s) for r in seeds for s in samples[r]).items())),
             "accuracy": {f"it{K}": per_situation(*pooled(K)) for K in Ks}, "data": {}, "flips": {}}
        base = next((a for a in arms if a != arm and a.name == baseline_arm and a.parent == arm.parent), None)
        for K in Ks[1:]:
            c = Counter(x for r in seeds for x in data.get(r, {}).get(K, []))
            if c: d["data"][f"it{K}"] = {k: round(v / sum(c.values()), 3) for k, v in sorted(c.items())}
            refs = {"warm start": lambda r: runs[r].get(0)}
            if base: refs[base.name] = lambda r: runs.get(base/r.name, {}).get(K)
            for name, ref in refs.items():
                ud = defaultdict(lambda: [0, 0])
                for r in seeds:
                    if K not in runs[r] or ref(r) is None: continue
                    for s, a_, b in zip(samples[r], ref(r), runs[r][K]):
                        f = ud[sit(s)]                           # [right now, wrong now]; every situation listed
                        if a_ != b: f[b < a_] += 1
                if ud: d["flips"].setdefault(f"it{K}", {})[name] = dict(sorted(ud.items()))
        out[str(arm)] = d
    return out


def print_situations(sit: dict):
    "The situation table: pooled held-out accuracy (%) per iteration, and each situation's share of D_K."
    for arm, d in sit.items():
        its = list(d["accuracy"])
        print(f"SITUATIONS {arm} (pooled over seeds; held-out accuracy % per iteration | share of the training data D_K %)")
        print(f"  {'situation':16s} {'n':>5s}  " + " ".join(f"{k:>6s}" for k in its) + "  |  " + " ".join(f"{'D' + k[2:]:>5s}" for k in d["data"]))
        for sit, n in d["n"].items():
            print(f"  {sit:16s} {n:5d}  " + " ".join(f"{100 * d['accuracy'][k].get(sit, float('nan')):6.1f}" for k in its)
                  + "  |  " + " ".join(f"{100 * d['data'][k].get(sit, 0):5.0f}" for k in d["data"]), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*", type=Path, help="run folders (default: results/reproduce, what make reproduce writes)")
    p.add_argument("--n", type=int, default=4000, help="fresh held-out prompts to evaluate on")
    p.add_argument("--skip", type=int, default=400, help="leave out the first prompts of the test split (the runs' own)")
    p.add_argument("--out", default="results/calibration/heldout_large/models.jsonl", help="cache of per-model results (JSONL)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iterations", type=int, nargs="+", default=None, help="only these iterations' checkpoints (the warm start always)")
    p.add_argument("--baseline-arm", default=None, help="also compare each arm with this arm's same seed (static, full)")
    p.add_argument("--summary", default=None, help="write the per-run accuracies and arm comparisons here (JSON)")
    p.add_argument("--by-situation", action="store_true",
                   help="also per situation: pooled held-out accuracy per iteration, and the situation shares of each D_K")
    a = p.parse_args(argv)
    a.runs = a.runs or [r for r in [Path("results/reproduce")] if (r/"config.json").exists()]
    if not a.runs: print("heldout_large: no run folder given and no results/reproduce (run make reproduce first)"); return 0
    torch.set_num_threads(a.threads)
    cache = {}
    if a.out and Path(a.out).exists():   # a bad line is a one-line DataError naming the file and line
        for r in read_jsonl(a.out, "heldout_large result", lambda r: {**r, "hits": [float(c == "1") for c in r["hits"]]}):
            cache[r.pop("key")] = r
    if a.out: Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    runs, tests, data = {}, {}, {}                  # run folder -> {iteration: hits}; its fresh prompts; D_K's situations
    for run in a.runs:
        if not (run/"config.json").exists(): print(f"skip {run}: no config.json"); continue
        cfg = run_config(run)
        samples = large_test(cfg, run, a.n, a.skip)
        its = sorted((int(d.name.split("_")[1]), d/"checkpoint") for d in run.glob("iter_*") if (d/"checkpoint"/"model.safetensors").exists())
        models = [(0, resolve_model_dir(run/"warmstart"))] + [(K, m) for K, m in its if a.iterations is None or K in a.iterations]
        if not (models[0][1]/"model.safetensors").exists(): print(f"skip {run}: its warm start {models[0][1]} is gone"); continue
        res = runs[run] = {K: evaluate_hits(m, cfg, samples, cache, a.out)["hits"] for K, m in models}
        tests[run] = samples
        if a.by_situation:
            data[run] = {K: [s.meta.get("situation", "?") for s in read_samples(run/f"iter_{K}"/"data.jsonl")]
                         for K, _ in models[1:] if (run/f"iter_{K}"/"data.jsonl").exists()}
        line = [f"{run}: n={len(samples)} warm {acc(res[0]):.2f}%"]
        for K in sorted(res)[1:]:
            up, down = paired_flips(res[0], res[K])
            line.append(f"it{K} {acc(res[K]):.2f}% (+{up}/-{down}, p={mcnemar_p(up, down):.3g})")
        print("  ".join(line), flush=True)
    summary = arm_summary(runs, a.baseline_arm)
    for r in summary:
        ci = f"[{r['lo']:+.2f}, {r['hi']:+.2f}]" if r["lo"] is not None else "(one seed)"
        print(f"ARM {r['arm']} it{r['iteration']} vs {r['vs']}: seeds={r['seeds']} {r['mean']:+.2f} points {ci}  "
              f"pooled +{r['up']}/-{r['down']} p={r['p']:.3g}", flush=True)
    sit = situation_summary(runs, tests, data, a.baseline_arm) if a.by_situation else None
    if sit: print_situations(sit)
    if a.summary:
        atomic_write_json(a.summary, {"n": a.n, "skip": a.skip, "runs": {str(k): {f"it{K}": round(acc(h), 3) for K, h in v.items()}
                                                                      for k, v in runs.items()}, "arms": summary,
                                      **({"situations": sit} if sit else {})})
    return 0


if __name__ == "__main__":
    sys.exit(main())
