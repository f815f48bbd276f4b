"""Can a student score on BFCL v3 and ACEBench? Each model against a predictor that never calls a tool.

Issue 7 asks for BFCL/ACEBench columns in the experiments "where a student can score". This script answers that
question with the real harness (`looptool_nb.evaluate`: BFCL's own checkers, ACEBench's scoring): it runs the first
`--limit` entries of every BFCL category (17, multi-turn included, `--mt-limit` for the four multi-turn ones) and of
every ACEBench normal and special category for each model, and for a **never-calls** predictor that answers every
prompt with a plain-text refusal. A student scores only where it beats that predictor: it gets BFCL's irrelevance
categories right by writing no call, so that a model which cannot write a call at all looks perfect there.

Models are `NAME=MODEL[@PRESET]` (a run's `warmstart` or `iter_K/checkpoint` folder, a ladder name, ...; the preset
gives decoding settings, default cpu-tiny). Writes `OUT/NAME/bfcl.json`, `OUT/NAME/acebench.json` (per-item outputs
under them) and `OUT/summary.md`; a model (or BFCL category) already scored with the same limits is read back, not rerun
(NAME is what identifies it: give another model another name).
Usage: python bench/student_benchmarks.py [--model NAME=MODEL[@PRESET] ...] [--limit 10] [--mt-limit 3] [--ace-limit 10]
                                          [--out results/calibration/student_benchmarks] [--threads 2]
With no --model: the untrained cpu-tiny student (`tiny-1m`), a plumbing run, into a temporary folder."""
import argparse, json, os, sys, time
from pathlib import Path
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from looptool_nb.core import atomic_write_json, load_config
from looptool_nb.evaluate import (MULTI_TURN, SINGLE_TURN, ace_data_dir, bfcl_summary, eval_acebench, eval_bfcl,
                                  model_predictor)
from looptool_nb.report import _table

ACE = Path(__file__).resolve().parents[2]/"shared"/"benchmarks"/"acebench"
REFUSAL = "Sorry, I cannot help with that."
BFCL_COLS = ["overall", "non_live_ast", "live", "multi_turn", "relevance", "irrelevance"]
ACE_COLS = ["normal", "special", "summary"]


def never_calls(prompts, keys):
    "The baseline predictor: a plain-text refusal to every prompt, never a call."
    return [REFUSAL] * len(prompts)


def lazy_predictor(model: str, cfg):
    "`model_predictor(model, cfg)`, loaded on its first call: a model read back from its scores.json is never loaded."
    loaded = []
    def predict(prompts, keys):
        if not loaded: loaded.append(model_predictor(model, cfg))
        return loaded[0](prompts, keys)
    return predict


def run_one(name: str, predict, out: Path, limit: int, mt_limit: int, ace_limit: int, ace_dir) -> dict:
    "BFCL (single-turn at `limit`, multi-turn at `mt_limit`) and ACEBench (at `ace_limit`) for one predictor."
    try: done = json.loads((out/"scores.json").read_text())   # scored before with the same limits: read back
    except (OSError, ValueError): done = None
    if done and (done["bfcl"]["limit"], done["bfcl"]["mt_limit"], done["acebench"]["limit"]) == (limit, mt_limit, ace_limit): return done
    t = time.time()
    ident = {"model": name}
    b1 = eval_bfcl(predict, SINGLE_TURN, limit, out/"single", ident, progress=False)
    b2 = eval_bfcl(predict, MULTI_TURN, mt_limit, out/"multi", ident, progress=False) if mt_limit else {"categories": {}}
    per = {**b1["categories"], **b2["categories"]}
    bfcl = {"limit": limit, "mt_limit": mt_limit, "categories": per, "summary": bfcl_summary(per)}
    ace = eval_acebench(predict, None, ace_limit, ace_dir, out, ident, progress=False)
    res = {"name": name, "bfcl": bfcl, "acebench": {"limit": ace_limit, "categories": ace["categories"], "summary": ace["summary"]},
           "seconds": round(time.time() - t, 1)}
    atomic_write_json(out/"scores.json", res)
    return res


def table(results: list[dict]) -> str:
    pct = lambda x: "—" if x is None else f"{100 * x:.1f}"
    return _table(["model"] + [f"BFCL {c}" for c in BFCL_COLS] + [f"ACEBench {c}" for c in ACE_COLS],
                  [[r["name"]] + [pct(r["bfcl"]["summary"].get(c)) for c in BFCL_COLS]
                   + [pct(r["acebench"]["summary"].get(c)) for c in ACE_COLS] for r in results])


def beats(results: list[dict]) -> list[str]:
    "Per model, the categories where it gets more entries right than the never-calls predictor."
    base = next(r for r in results if r["name"] == "never-calls")
    out = []
    for r in results:
        if r is base: continue
        wins = []
        for bench in ("bfcl", "acebench"):
            for c, v in r[bench]["categories"].items():
                k, kb = v["correct_count"], base[bench]["categories"][c]["correct_count"]   # both scored the same categories
                if k > kb: wins.append(f"{c} {k}/{v['total_count']} (never-calls {kb})")
        out.append(f"- `{r['name']}`: " + ("; ".join(wins) if wins else "nowhere"))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", default=[], metavar="NAME=MODEL[@PRESET]")
    p.add_argument("--limit", type=int, default=10); p.add_argument("--mt-limit", type=int, default=3)
    p.add_argument("--ace-limit", type=int, default=10); p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="default results/calibration/student_benchmarks (a temporary folder without --model)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    models = a.model or ["tiny-1m-untrained=tiny-1m@cpu-tiny"]
    ace_dir = ace_data_dir(ACE if ACE.exists() else None)
    if a.out is None:   # the plumbing run (`make bench`) must not overwrite a measurement
        import tempfile
        a.out = "results/calibration/student_benchmarks" if a.model else tempfile.mkdtemp(prefix="student_benchmarks_")
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    results = [run_one("never-calls", never_calls, out/"never-calls", a.limit, a.mt_limit, a.ace_limit, ace_dir)]
    for m in models:
        if "=" not in m: raise SystemExit(f"--model wants NAME=MODEL[@PRESET], got {m!r}")
        name, spec = m.split("=", 1)
        model, preset = spec.rsplit("@", 1) if "@" in spec else (spec, "cpu-tiny")
        cfg = load_config(preset)
        results.append(run_one(name, lazy_predictor(model, cfg), out/name, a.limit, a.mt_limit, a.ace_limit, ace_dir))
        print(f"{name}: {results[-1]['seconds']} s", flush=True)
    md = ["# Can a student score on BFCL v3 and ACEBench?", "",
          f"The first {a.limit} entries of each BFCL single-turn category, "
          + (f"{a.mt_limit} of each multi-turn one, " if a.mt_limit else "not the multi-turn ones (`--mt-limit 0`: they count 0 in "
             "Multi-Turn and Overall, as BFCL's own aggregation counts a category not run), ") + "and "
          f"{a.ace_limit} of each ACEBench normal and special category (the agent group is not built). Percent; BFCL's "
          "leaderboard columns are composed by its own helpers from the categories run. `never-calls` answers every "
          f"prompt with \"{REFUSAL}\".", "", table(results), "",
          "Categories where a model gets more entries right than never-calls:", "", *beats(results), "",
          f"Command: `python bench/student_benchmarks.py {' '.join(sys.argv[1:] if argv is None else argv)}`", ""]
    (out/"summary.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
