"""Stand-in stage notebooks for testing the runner's own logic (resume, refusal, metrics) in seconds.

Each stand-in is a real notebook with a "Run this stage" section, a papermill parameters cell and one call, like the
real stages; the call goes to a function below that reads and writes the same files as the real stage (a simulated
world with hidden truth), with a random sleep so that a kill lands at a random point. Randomness comes only from
`random`, which the runner's stage prelude seeds: a resumed run must reproduce an uninterrupted one exactly.
Used by tests/test_run_standin.py: `python tests/standin_loop.py NBS_DIR` writes the notebooks, then
`looptool run --nbs NBS_DIR ...` runs the loop on them with the real stage table.
"""
import json, random, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from looptool_nb.core import Sample, atomic_write_json, make_call, read_samples, render_calls, write_samples, calls_match

_PAUSE = (0.05, 0.4)   # seconds each stand-in stage sleeps (uniform): room for a kill to land inside a stage


def _nap(): time.sleep(random.uniform(*_PAUSE))
def _call(v): return render_calls([make_call("get_value", {"x": v})])
def _rows(p): return [json.loads(l) for l in Path(p).read_text().splitlines() if l.strip()]
def _write_rows(p, rows):
    from looptool_nb.core import atomic_write_text
    atomic_write_text(p, "".join(json.dumps(r) + "\n" for r in rows))


def _sample(i, noisy: bool, source="seed"):
    truth = _call(i)
    return Sample(f"{source}-{i}", [{"role": "system", "content": "s"}, {"role": "user", "content": f"value {i}?"}], [],
                  _call(i + 1000) if noisy else truth, {"truth": truth, "source": source, "situation": "single"})


def seed(out_dir):
    out = Path(out_dir); _nap()
    write_samples(out/"train.jsonl", [_sample(i, random.random() < 0.2) for i in range(300)])
    write_samples(out/"test.jsonl", [_sample(10_000 + i, False) for i in range(60)])
    atomic_write_json(out/"card.json", {"train": {"samples": 300}})


def student(data_path, out_dir):
    _nap(); atomic_write_json(Path(out_dir)/"pointer.json", {"skill": 0.3, "samples": len(read_samples(data_path))})


def _skill(run, K):
    p = Path(run)/("warmstart/pointer.json" if K == 0 else f"iter_{K}/checkpoint/model.json")
    return json.loads(p.read_text())["skill"]


def train(data_path, init_model_dir, out_dir):
    _nap()
    data = read_samples(data_path)
    clean = sum(calls_match(s.output, s.meta["truth"]) for s in data) / len(data)
    init = Path(init_model_dir)
    start = json.loads(((init/"pointer.json") if (init/"pointer.json").exists() else (init/"model.json")).read_text())["skill"]
    skill = min(0.95, start + 0.2 * clean - 0.1 + random.uniform(0, 0.05))
    atomic_write_json(Path(out_dir)/"checkpoint/model.json", {"skill": skill})
    atomic_write_json(Path(out_dir)/"train.json", {"reward_mean": skill, "steps": 3, "step_time_s": time.time()})


def _predict(s, skill): return s.meta["truth"] if random.random() < skill else _call(-1 - random.randrange(5))


def evaluate(run_dir, iteration):
    run, K = Path(run_dir), int(iteration); _nap()
    test, skill = read_samples(run/"seed/test.jsonl"), _skill(run, K)
    hits = [calls_match(_predict(s, skill), s.meta["truth"]) for s in test]
    atomic_write_json(run/f"iter_{K}/eval.json", {"benchmark": "synthetic", "accuracy": sum(hits)/len(hits), "n": len(hits), "seconds": 0.1})


def probe(run_dir, iteration):
    run, K = Path(run_dir), int(iteration); _nap()
    skill, rows = _skill(run, K), []
    for s in read_samples(run/f"iter_{K}/data.jsonl"):
        p = _predict(s, skill)
        rows.append({"id": s.id, "prediction": p, "ppl": random.uniform(1, 3), "status": "mastered" if calls_match(p, s.output) else "failed"})
    _write_rows(run/f"iter_{K}/probe.jsonl", rows)


def judge(run_dir, iteration):
    run, K = Path(run_dir), int(iteration); _nap()
    from looptool_nb.loop import true_verdict, VERDICTS
    data = {s.id: s for s in read_samples(run/f"iter_{K}/data.jsonl")}
    rows = []
    for r in _rows(run/f"iter_{K}/probe.jsonl"):
        if r["status"] != "failed": continue
        s = data[r["id"]]
        v = true_verdict(s.output, r["prediction"], s.meta["truth"]) if random.random() < 0.9 else random.choice(VERDICTS)
        rows.append({"id": s.id, "verdict": v, "action": {"LABEL_WRONG": "relabel", "BOTH_WRONG": "drop"}.get(v, "keep")})
    _write_rows(run/f"iter_{K}/judge.jsonl", rows)


def expand(run_dir, iteration):
    run, K = Path(run_dir), int(iteration); _nap()
    seeds = [r for r in _rows(run/f"iter_{K}/judge.jsonl") if r["verdict"] in ("PRED_WRONG", "LABEL_WRONG")]
    out = [_sample(100_000 * K + 10 * j + k, random.random() < 0.05, "edde") for j, _ in enumerate(seeds) for k in range(2)]
    write_samples(run/f"iter_{K}/expand.jsonl", out)
    atomic_write_json(run/f"iter_{K}/expand.json", {"seeds": len(seeds), "kept": len(out), "rejected": {"rule": 0}})


def compose(run_dir, iteration, budget=100):
    run, K = Path(run_dir), int(iteration); _nap()
    pool = read_samples(run/"seed/train.jsonl")
    used = {s.id for k in range(1, K + 1) for s in read_samples(run/f"iter_{k}/data.jsonl")}
    fresh = [s for s in pool if s.id not in used]
    if K == 0: out = [_role(s, "seed_new") for s in fresh[:budget]]
    else:
        data = {s.id: s for s in read_samples(run/f"iter_{K}/data.jsonl")}
        preds = {r["id"]: r["prediction"] for r in _rows(run/f"iter_{K}/probe.jsonl")}
        es = []
        for r in _rows(run/f"iter_{K}/judge.jsonl"):
            s = data[r["id"]]
            if r["verdict"] == "LABEL_WRONG": s.output = preds[s.id]
            if r["verdict"] in ("PRED_WRONG", "LABEL_WRONG"): es.append(_role(s, "error_seed"))
        ee = [_role(s, "edde") for s in read_samples(run/f"iter_{K}/expand.jsonl")]
        n_fresh = budget // 2 ** K
        out = (es + ee)[:budget - n_fresh] + [_role(s, "seed_new") for s in fresh[:n_fresh]]
    write_samples(run/f"iter_{K + 1}/data.jsonl", out)


def _role(s, role): s.meta = {**s.meta, "compose_role": role}; return s


_FN = {"02_seed": "seed(out_dir)", "03_student": "student(data_path, out_dir)", "04_train": "train(data_path, init_model_dir, out_dir)",
       "05_probe": "probe(run_dir, iteration)", "06_judge": "judge(run_dir, iteration)", "07_expand": "expand(run_dir, iteration)",
       "08_compose": "compose(run_dir, iteration)", "09_evaluate": "evaluate(run_dir, iteration)"}


def write_notebooks(nbs_dir) -> Path:
    "Write the stand-in stage notebooks into `nbs_dir`."
    import nbformat
    nbs = Path(nbs_dir); nbs.mkdir(parents=True, exist_ok=True)
    from looptool_nb.loop import STAGES
    params = {s.name: s.params for s in STAGES}  # the real stages' parameter names: the runner's table is under test too
    for name, call in _FN.items():
        p = params[name]
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_markdown_cell(f"# Stand-in for {name}\n\nDocumentation and checks would be here."),
            nbformat.v4.new_code_cell("raise RuntimeError('the runner must not execute the cells before Run this stage')"),
            nbformat.v4.new_markdown_cell("## Run this stage"),
            nbformat.v4.new_code_cell("\n".join(f"{k} = {'1' if k == 'iteration' else '[]' if k in ('sets', 'overrides') else repr('')}" for k in p),
                                      metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(f"import sys; sys.path.insert(0, {str(HERE)!r})\nimport standin_loop as S\nS.{call}"),
            nbformat.v4.new_code_cell("raise RuntimeError('the runner must not execute the demo cells after the call')")])
        nb.metadata["kernelspec"] = {"display_name": "python3", "language": "python", "name": "python3"}
        nbformat.write(nb, str(nbs/f"{name}.ipynb"))
    return nbs


if __name__ == "__main__":
    write_notebooks(sys.argv[1])
