"""Composition of D_{t}: the fixed budget, the fresh-seed quota of Table 3, all four parts by the documented rule,
fresh seed samples never reused across iterations, resumable (same output twice), every ablation switch."""
import json
import pytest
from looptool_nb.core import load_config, read_samples, write_samples
from looptool_nb.seed import seed_stage
from looptool_nb.judge import mock_probe_rows, judge_stage
from looptool_nb.probe import write_rows, read_rows, iter_dir
from looptool_nb.expand import expand_stage
from looptool_nb.compose import run_compose, fresh_quota, ROLES
from looptool_nb.cli import main as cli

SETS = ["n_dialogues=150", "n_test=5", "n_apis=60", "budget=100", "edde_k=1"]


def _round(run, cfg, K, acc=0.9):
    d = iter_dir(run, K)
    write_rows(d/"probe.jsonl", mock_probe_rows(read_samples(d/"data.jsonl"), acc, seed=K))
    judge_stage(cfg, d/"data.jsonl", d/"probe.jsonl", d/"judge.jsonl", K)
    expand_stage(cfg, d/"data.jsonl", d/"judge.jsonl", d/"expand.jsonl", run/"seed"/"apis.json", K)


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("seed")
    seed_stage(load_config("cpu-tiny", SETS), d/"seed", progress=False)
    return d


def _run(tmp_path, seed_dir, sets=()):
    import shutil
    run = tmp_path/"run"; shutil.copytree(seed_dir/"seed", run/"seed")
    return run, load_config("cpu-tiny", SETS + list(sets))


def test_table3_quota():
    c = load_config("qwen3-8b")
    assert [fresh_quota(c, t) for t in (1, 2, 3, 4)] == [18304, 5632, 2816, 1408]


def test_two_rounds_budget_parts_and_pool(tmp_path, seed_dir):
    run, cfg = _run(tmp_path, seed_dir)
    c1 = run_compose(cfg, run, 0)
    assert c1["total"] == c1["seed_new"] == 100
    _round(run, cfg, 1)
    c2 = run_compose(cfg, run, 1)
    assert c2["total"] == 100 and c2["seed_new"] == fresh_quota(cfg, 2) and c2["shortfall"] == 0
    assert c2["error_seed"] == c2["available"]["error_seed"] and c2["edde"] == c2["available"]["edde"] > 0 and c2["hppl"] > 0
    d2 = read_samples(run/"iter_2"/"data.jsonl")
    assert sum(s.meta["compose_role"] == r for s in d2 for r in ROLES) == 100
    assert len({s.id for s in d2}) == 100
    d1_ids = {s.id for s in read_samples(run/"iter_1"/"data.jsonl")}
    fresh2 = {s.id for s in d2 if s.meta["compose_role"] == "seed_new"}
    assert not fresh2 & d1_ids                                        # fresh means never used before
    pool = json.loads((run/"pool.json").read_text())
    assert set(pool["used"]["1"]) == d1_ids and set(pool["used"]["2"]) == fresh2
    # the high-PPL part holds the highest-PPL candidates
    ppl = {r["id"]: r["ppl"] for r in read_rows(run/"iter_1"/"probe.jsonl")}
    judged = {r["id"]: r for r in read_rows(run/"iter_1"/"judge.jsonl")}
    cands = {i for i, r in ((r["id"], r) for r in read_rows(run/"iter_1"/"probe.jsonl"))
             if r["status"] != "failed" or judged[i]["verdict"] == "BOTH_CORRECT"}
    h = {s.id for s in d2 if s.meta["compose_role"] == "hppl"}
    assert min(ppl[i] for i in h) >= max(ppl[i] for i in cands - h)
    # relabelled error seeds carry the prediction as label
    for s in d2:
        if "relabeled_from" in s.meta: assert s.output == judged[s.id]["prediction"]
    # iteration 2: fresh share halves, still no reuse
    _round(run, cfg, 2)
    c3 = run_compose(cfg, run, 2)
    d3 = read_samples(run/"iter_3"/"data.jsonl")
    fresh3 = {s.id for s in d3 if s.meta["compose_role"] == "seed_new"}
    assert c3["seed_new"] >= fresh_quota(cfg, 3) and not fresh3 & (d1_ids | fresh2)


def test_recompose_is_identical(tmp_path, seed_dir):
    run, cfg = _run(tmp_path, seed_dir)
    run_compose(cfg, run, 0); _round(run, cfg, 1)
    run_compose(cfg, run, 1)
    first = (run/"iter_2"/"data.jsonl").read_text()
    run_compose(cfg, run, 1)                           # a resumed run composes the same D_2 (pool entry recomputed)
    assert (run/"iter_2"/"data.jsonl").read_text() == first


@pytest.mark.parametrize("ablation", ["no_hppl", "no_edde", "hppl_replace", "seed_repeat", "static", "no_jglv"])
def test_ablations(tmp_path, seed_dir, ablation):
    run, cfg = _run(tmp_path, seed_dir, [f"ablation={ablation}"])
    run_full, cfg_full = _run(tmp_path/"full", seed_dir)
    for r, c in ((run, cfg), (run_full, cfg_full)):
        run_compose(c, r, 0); _round(r, c, 1)
    a, f = run_compose(cfg, run, 1), run_compose(cfg_full, run_full, 1)
    d = read_samples(run/"iter_2"/"data.jsonl")
    if ablation == "no_hppl":
        assert a["hppl"] == f["hppl"] and a["total"] == 100
        assert {s.id for s in d if s.meta["compose_role"] == "hppl"} != \
               {s.id for s in read_samples(run_full/"iter_2"/"data.jsonl") if s.meta["compose_role"] == "hppl"}
    elif ablation == "no_edde":
        assert a["edde"] == 0 and a["hppl"] == f["hppl"] and a["total"] == 100 - f["edde"]
    elif ablation == "hppl_replace":
        assert a["edde"] == 0 and a["hppl"] == f["hppl"] + f["edde"] and a["total"] == 100
    elif ablation == "seed_repeat":
        assert a["edde"] == 0 and a["seed_repeat"] == f["edde"] > 0 and a["total"] == 100
        es = {s.id for s in d if s.meta["compose_role"] == "error_seed"}
        assert all(s.id.rsplit("#r", 1)[0] in es for s in d if s.meta["compose_role"] == "seed_repeat")
    elif ablation == "static":
        assert a["seed_new"] == a["total"] == 100 and a["error_seed"] == 0
    elif ablation == "no_jglv":
        d1 = {s.id: s for s in read_samples(run/"iter_1"/"data.jsonl")}
        es = [s for s in d if s.meta["compose_role"] == "error_seed"]
        assert es and all(s.output == d1[s.id].output for s in es)       # labels kept, nothing relabelled
        assert a["available"]["relabeled"] == 0 and a["available"]["dropped_both_wrong"] == 0


def test_cli_bad_input(tmp_path, seed_dir, capsys):
    run, cfg = _run(tmp_path, seed_dir)
    sets = sum([["--set", s] for s in SETS], [])
    assert cli(["compose", "--run-dir", str(run), "--iteration", "1"] + sets) == 2     # iter_1 has no data yet
    assert "no such data file" in capsys.readouterr().err
    assert cli(["compose", "--run-dir", str(run), "--iteration", "0"] + sets) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 100
    assert cli(["compose", "--run-dir", str(tmp_path/"nowhere"), "--iteration", "0"]) == 2


def test_dry_pool_is_topped_up_from_edde_then_high_ppl(tmp_path, seed_dir):
    run, cfg = _run(tmp_path, seed_dir, ["budget=2000", "edde_k=4"])   # D_1 takes the whole seed set
    c1 = run_compose(cfg, run, 0)
    assert c1["shortfall"] > 0 and c1["pool_left"] == 0
    _round(run, cfg, 1)
    c2 = run_compose(cfg, run, 1)
    assert c2["seed_new"] == 0
    assert c2["edde"] == c2["available"]["edde"] or c2["hppl"] == 0   # leftover EDDE first, then high-PPL
    assert c2["total"] == min(2000, c2["available"]["error_seed"] + c2["available"]["edde"] + c2["available"]["hppl_candidates"])


def test_weak_student_families_keep_edde_in(tmp_path, seed_dir):
    "When error seeds and EDDE overflow the room, whole families go in: EDDE samples still enter D_2, each with its seed."
    run, cfg = _run(tmp_path, seed_dir, ["edde_k=4"])
    run_compose(cfg, run, 0); _round(run, cfg, 1, acc=0.1)
    c2 = run_compose(cfg, run, 1)
    assert c2["error_seed"] + c2["edde"] == 100 - c2["seed_new"] and c2["hppl"] == 0
    assert c2["edde"] > 2 * c2["error_seed"] > 0
    d2 = read_samples(run/"iter_2"/"data.jsonl")
    es = {s.id for s in d2 if s.meta["compose_role"] == "error_seed"}
    assert all(s.meta["parent"] in es for s in d2 if s.meta["compose_role"] == "edde")
