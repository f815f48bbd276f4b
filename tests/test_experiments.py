"""The experiment grids, their aggregation over seeds (t intervals, paired differences) and the report sections.

Fast: the loop is replaced by a runner that writes the files a finished run leaves (summary.json, iter_K/metrics.json,
data.jsonl + probe.jsonl for error-seed accuracy); the real loop is exercised by tests/test_resume.py.
"""
import json, math, random
from pathlib import Path

import pytest

from looptool_nb.core import ConfigError, Sample, load_config, make_call, render_calls, write_samples, atomic_write_json
from looptool_nb import experiments as X


def _t_cdf(x, df, steps=20000):
    c = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    f = lambda t: c * (1 + t * t / df) ** (-(df + 1) / 2)
    h = x / steps
    return 0.5 + h / 3 * (f(0) + f(x) + sum((4 if i % 2 else 2) * f(i * h) for i in range(1, steps)))


def test_t_quantiles_match_students_distribution():
    for df in range(1, 31):
        assert abs(_t_cdf(X.t975(df), df) - 0.975) < 3e-4, df
    assert X.t975(200) == 1.96
    with pytest.raises(ValueError): X.t975(0)


def test_spread_and_paired_intervals():
    rng = random.Random(0)
    xs = [rng.gauss(0.5, 0.1) for _ in range(5)]
    s = X.spread(xs)
    m, sd = sum(xs) / 5, math.sqrt(sum((x - sum(xs) / 5) ** 2 for x in xs) / 4)
    assert s["n"] == 5 and abs(s["mean"] - m) < 1e-12 and abs(s["std"] - sd) < 1e-12
    assert abs((s["hi"] - s["lo"]) / 2 - 2.776 * sd / math.sqrt(5)) < 1e-12
    assert X.spread([None, None])["mean"] is None and X.spread([0.3])["std"] is None
    # paired: a constant shift with tiny noise is significant, a sign flip is not, unmatched seeds are ignored
    a = {0: 0.50, 1: 0.61, 2: 0.40}
    assert X.paired(a, {0: 0.40, 1: 0.50, 2: 0.31, 7: 0.9})["excludes_zero"]
    assert X.paired(a, {0: 0.60, 1: 0.50, 2: 0.41})["excludes_zero"] is False
    assert X.paired(a, {0: None})["n"] == 0


def test_grid_cells_are_valid_configs_with_one_folder_each():
    for name, e in X.EXPERIMENTS.items():
        cells = X.grid(name, "reduced", root="R")
        assert len(cells) == len(e.arms) * 3
        assert len({c.run_dir for c in cells}) == len(cells)
        for c in cells:
            cfg = load_config(c.preset, list(c.sets))
            assert cfg.seed == c.seed and cfg.iterations == e.iterations
            assert c.command().startswith(f"looptool run --preset {c.preset} --run-dir R/{name}/reduced/")
    # the two arms of iterative vs static differ only in the ablation switch: same GRPO steps per iteration
    lo, st, hp, nc = [load_config(c.preset, list(c.sets)) for c in X.grid("iterative_vs_static", "full", seeds=[0])]
    diff = {k for k, v in lo.to_dict().items() if st.to_dict().get(k) != v}
    assert diff == {"ablation"}, diff
    assert {k for k, v in lo.to_dict().items() if hp.to_dict().get(k) != v} == {"hppl_share"}   # the loop variants
    assert {k for k, v in lo.to_dict().items() if nc.to_dict().get(k) != v} == {"no_call_share"}
    noise = load_config("cpu-tiny", list(X.grid("noise", "full", seeds=[0], arms=["teacher0.30_judge0.7"])[0].sets))
    assert (noise.teacher_error_rate, noise.judge_accuracy) == (0.3, 0.7)
    with pytest.raises(ConfigError, match="unknown experiment"): X.grid("fig9")
    with pytest.raises(ConfigError, match="unknown scale"): X.grid("noise", "huge")


def _call(v): return render_calls([make_call("f", {"x": v})])


def _fake_run(c, gain):
    """Write what a finished run leaves; the loop arm gains `gain` per iteration; D_K holds 10 error seeds of which
    the model gets min(10, 2K + seed) right."""
    rng = random.Random(c.seed)
    run, n = Path(c.run_dir), X.EXPERIMENTS[c.experiment].iterations
    for K in range(n + 1):
        acc = 0.3 + 0.02 * K + rng.uniform(-0.01, 0.01) + (gain * K if c.arm not in ("static",) else 0)
        atomic_write_json(run / f"iter_{K}" / "metrics.json", {
            "iteration": K, "heldout_accuracy": acc, "seed_train_noise": {"rate": 0.15} if K == 0 else None,
            "data_noise": {"rate": 0.1}, "next_data": {"noise": {"rate": 0.2 - 0.05 * K}},
            "jglv": {"confusion": {"LABEL_WRONG": {"LABEL_WRONG": 4, "BOTH_WRONG": 1}, "PRED_WRONG": {"LABEL_WRONG": 1}}} if K else None})
        if K and c.arm != "static":
            data = [Sample(f"s{i}", [{"role": "user", "content": "q"}], [], _call(i), {"truth": _call(i), "compose_role": "error_seed"})
                    for i in range(10)] + [Sample("n0", [{"role": "user", "content": "q"}], [], _call(0), {"truth": _call(0), "compose_role": "seed_new"})]
            write_samples(run / f"iter_{K}" / "data.jsonl", data)
            right = min(10, 2 * K + c.seed)
            rows = [{"id": f"s{i}", "prediction": _call(i if i < right else -1), "status": "x"} for i in range(10)]
            (run / f"iter_{K}" / "probe.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    atomic_write_json(run / "summary.json", {"iterations": n, "config_hash": "fake", "total_stage_seconds": 2.0})


def test_run_grid_then_report_iterative_vs_static(tmp_path):
    seen = []
    res = X.run_grid(X.grid("iterative_vs_static", "demo", root=tmp_path), runner=lambda c: (seen.append(c.arm), _fake_run(c, 0.05)),
                     out=open("/dev/null", "w"))
    assert [r["ok"] for r in res] == [True] * 12 and seen == ["loop"] * 3 + ["static"] * 3 + ["loop_hppl25"] * 3 + ["loop_nocall20"] * 3
    p = X.experiment_report("iterative_vs_static", tmp_path)
    txt = p.read_text()
    assert "the interval excludes zero" in txt and "loop beats static by 20.0 points" in txt
    assert (tmp_path / "iterative_vs_static" / "demo_iterative_vs_static.png").stat().st_size > 1000
    assert (tmp_path / "iterative_vs_static" / "demo_iterative_vs_static.svg").exists()
    assert txt.count("looptool run --preset cpu-tiny") == 12
    assert "The loop variant `loop_hppl25` (`ablation=full`, `hppl_share=0.25`)" in txt
    assert "The loop variant `loop_nocall20` (`ablation=full`, `no_call_share=0.2`)" in txt
    assert txt.count("| 20.0 ± 0.") >= 3          # loop − static and each variant − static at iteration 4 (the fake gain)
    recs = json.loads((tmp_path / "iterative_vs_static" / "cells.json").read_text())
    assert len(recs) == 12 and recs[0]["heldout"][0] is not None and recs[0]["error_seed_accuracy"][1] == 0.2
    # the committed cells.json alone (run folders gone) gives the same report text
    import shutil; shutil.rmtree(tmp_path / "iterative_vs_static" / "demo")
    assert X.experiment_report("iterative_vs_static", tmp_path).read_text() == txt


def test_report_says_plainly_when_the_interval_includes_zero(tmp_path):
    X.run_grid(X.grid("iterative_vs_static", "demo", root=tmp_path), runner=lambda c: _fake_run(c, 0.0), out=open("/dev/null", "w"))
    txt = X.experiment_report("iterative_vs_static", tmp_path).read_text()
    assert "**the interval does not exclude zero**" in txt


def test_unfinished_and_failed_cells_are_named_not_averaged(tmp_path):
    def runner(c):
        if c.seed == 2: raise RuntimeError("stage 04_train failed")
        _fake_run(c, 0.05)
    res = X.run_grid(X.grid("ablations", "demo", root=tmp_path, arms=["full", "no_edde"]), runner=runner, out=open("/dev/null", "w"))
    assert [r["ok"] for r in res] == [True, True, False] * 2 and res[2]["error"] == "RuntimeError: stage 04_train failed"
    (tmp_path / "ablations" / "demo" / "full" / "seed_2").mkdir(parents=True)  # a started, unfinished run
    txt = X.experiment_report("ablations", tmp_path).read_text()
    assert "Not finished: full seed 2 — such a run contributes only the iterations it completed" in txt
    assert "(n=2)" in txt and "(n=3)" not in txt
    # error-seed accuracy: seeds 0 and 1 get 2K+seed of 10 right -> iteration 2: 40% and 50%
    assert "45.0 ± 7.1" in txt


def test_noise_section_precision_recall(tmp_path):
    X.run_grid(X.grid("noise", "demo", root=tmp_path, seeds=[0, 1], arms=["teacher0.15_judge0.9"]), runner=lambda c: _fake_run(c, 0.0),
               out=open("/dev/null", "w"))
    txt = X.experiment_report("noise", tmp_path).read_text()
    row = next(l for l in txt.splitlines() if l.startswith("| 15% | 90% |"))
    # pooled over iterations 1 and 2: LABEL_WRONG judged 5 per iteration, 4 right -> precision 80%; true 5, found 4 -> 80%
    assert row.count("80.0 ± 0.0") == 2, row
    assert "| 15.0 ± 0.0" in row and "10.0 ± 0.0" in row  # seed label noise, final noise (0.2 − 0.05·2)


def test_experiments_section_for_the_report(tmp_path):
    assert X.experiments_section(tmp_path) == ""
    X.run_grid(X.grid("scaling", "demo", root=tmp_path, seeds=[0]), runner=lambda c: _fake_run(c, 0.0), out=open("/dev/null", "w"))
    X.experiment_report("scaling", tmp_path)
    sec = X.experiments_section(tmp_path)
    assert sec.startswith("## Experiment: Scaling the student") and "### Scale `demo`" in sec
    assert "| smollm2-135m |" in sec and "--preset cpu-smol" in sec


def test_bad_input_is_one_line(capsys):
    assert X.experiments_main(["--only", "fig9", "--report-only"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("looptool experiments: error: unknown experiment fig9") and err.count("\n") == 1
    with pytest.raises(ConfigError, match="unknown experiment"): X.run_experiments(["fig9"])


def test_set_overrides_reach_every_cell_and_the_report(tmp_path, capsys):
    seen = []
    def runner(c):   # what run_loop leaves that the report reads: config.json's overrides, metrics, summary
        seen.append(c.sets); atomic_write_json(Path(c.run_dir) / "config.json", {"overrides": list(c.sets)}); _fake_run(c, 0.0)
    X.run_experiments(["ablations"], "demo", seeds=[0, 1], root=tmp_path, arms=["full"], runner=runner, out=open("/dev/null", "w"),
                      extra=["probe_batch_size=4"])
    n = len(X.SCALES["demo"])
    assert [s[n:] for s in seen] == [("probe_batch_size=4", "ablation=full", f"seed={k}", "iterations=3") for k in (0, 1)]
    txt = (tmp_path / "ablations" / "report.md").read_text()
    assert txt.count("--set probe_batch_size=4 --set ablation=full") == 2
    assert "Further overrides (`--set`): `probe_batch_size=4` (2 of 2 cells)." in txt
    assert all("--set probe_batch_size=4" in r["command"] for r in json.loads((tmp_path / "ablations" / "cells.json").read_text()))
    # refused before anything runs, in one line: a key the grid sets itself, an unknown key, the noise_jglv study
    for argv, says in [(["--only", "ablations", "--set", "ablation=no_edde"], "--set ablation: experiment ablations sets that key itself"),
                       (["--only", "ablations", "--set", "probe_batch=4"], "unknown key 'probe_batch'"),
                       (["--set", "budget=8"], "--set applies to the loop grids, not to noise_jglv"),
                       (["--only", "ablations", "--set", "eval_benchmarks=synthetic,bfc"], "eval_benchmarks: unknown benchmark bfc"),
                       (["--only", "ablations", "--set", "eval_bfcl_categories=simpel"], "unknown BFCL categories ['simpel']"),
                       (["--only", "scaling", "--preset", "cpu-smol"], "--preset cpu-smol: each arm of an experiment names its own preset")]:
        assert X.experiments_main(argv + ["--root", str(tmp_path / "other")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("looptool experiments: error: ") and says in err and err.count("\n") == 1, err
    assert not (tmp_path / "other").exists()
    # --arms picks arms per experiment: one naming none of an experiment's arms runs none of its cells (not all of them)
    seen.clear()
    X.run_experiments(["ablations", "scaling", "noise_jglv"], "demo", seeds=[0], root=tmp_path / "arms", arms=["no_edde"], runner=runner,
                      out=open("/dev/null", "w"))
    assert len(seen) == 1 and "ablation=no_edde" in seen[0]
    assert not list((tmp_path / "arms" / "noise_jglv").glob("*/*/seed_*"))   # the JGLV study has no such arm: not run


def test_partial_runs_count_the_iterations_they_completed(tmp_path):
    cells = X.grid("iterative_vs_static", "demo", root=tmp_path)
    X.run_grid(cells, runner=lambda c: _fake_run(c, 0.05), out=open("/dev/null", "w"))
    for c in cells:  # as if every run had been stopped after iteration 2
        for K in (3, 4): (Path(c.run_dir) / f"iter_{K}" / "metrics.json").unlink()
        (Path(c.run_dir) / "summary.json").unlink()
    txt = X.experiment_report("iterative_vs_static", tmp_path).read_text()
    assert "**iter 4 was not reached** by at least two seed pairs (n=0). At iter 2" in txt
    assert "difference loop − static is 10.0 points" in txt and "Not finished: loop seed 0" in txt


def test_report_says_what_grpo_ran_on(tmp_path):
    "Each cell records the device of its first GRPO iteration; the report counts them (older records: 'not recorded')."
    def run(c):
        _fake_run(c, 0.0)
        if c.seed == 0:   # one cell's training summaries name the device, as train.json does
            for K in (1, 2):
                m = json.loads((Path(c.run_dir) / f"iter_{K}" / "metrics.json").read_text())
                atomic_write_json(Path(c.run_dir) / f"iter_{K}" / "metrics.json", {**m, "train": {"device": "cuda:0", "device_name": "NVIDIA H100 80GB HBM3"}})
    X.run_grid(X.grid("scaling", "demo", root=tmp_path, seeds=[0, 1], arms=["tiny-1m"]), runner=run, out=open("/dev/null", "w"))
    recs = {r["seed"]: r for r in X.collect("scaling", tmp_path)}
    assert recs[0]["device"] == "NVIDIA H100 80GB HBM3" and recs[1]["device"] is None
    txt = X.experiment_report("scaling", tmp_path).read_text()
    assert "GRPO ran on: NVIDIA H100 80GB HBM3 (1 cell), not recorded (1 cell)." in txt
    assert txt.startswith(f"# Experiment: Scaling the student ({tmp_path.name})")   # not the default folder: named
