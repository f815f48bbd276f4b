"""EDDE: seeds by the paper's rule, k new samples per seed that keep the structure, verified like seed data,
deterministic, every rejection counted; ablations that use no EDDE write nothing; bad input is one line."""
import json
from collections import Counter
import pytest
from looptool_nb.core import load_config, read_samples, write_samples, parse_tool_calls
from looptool_nb.seed import seed_stage, FOCUSES
from looptool_nb.judge import mock_probe_rows, judge_stage
from looptool_nb.probe import write_rows, read_rows
from looptool_nb.expand import expand_stage, error_seeds
from looptool_nb.cli import main as cli

SETS = ["n_dialogues=80", "n_test=5", "n_apis=50"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("edde")
    cfg = load_config("cpu-tiny", SETS)
    seed_stage(cfg, d/"seed", progress=False)
    data = read_samples(d/"seed"/"train.jsonl")
    write_samples(d/"data.jsonl", data)
    write_rows(d/"probe.jsonl", mock_probe_rows(data, 0.4, seed=2))
    judge_stage(cfg, d/"data.jsonl", d/"probe.jsonl", d/"judge.jsonl", iteration=1)
    return d


def test_structure_kept_and_accounting(run):
    cfg = load_config("cpu-tiny", SETS + ["edde_k=3"])
    st = expand_stage(cfg, run/"data.jsonl", run/"judge.jsonl", run/"e.jsonl", run/"seed"/"apis.json", iteration=1)
    new = read_samples(run/"e.jsonl")
    data = {s.id: s for s in read_samples(run/"data.jsonl")}
    seeds = error_seeds(list(data.values()), read_rows(run/"judge.jsonl"))
    assert st["seeds"] == len(seeds) > 0 and st["attempted"] == 3 * len(seeds)
    assert st["kept"] == len(new) > 0 and st["kept"] + sum(st["rejected"].values()) == st["attempted"]
    assert 0.4 < st["yield"] <= 1.0
    assert len({s.id for s in new}) == len(new) and not set(s.id for s in new) & set(data)
    per_parent = Counter(s.meta["parent"] for s in new)
    assert max(per_parent.values()) <= 3 and set(per_parent) <= {s.id for s, _ in seeds}
    for s in new:
        p = data[s.meta["parent"]]
        assert s.meta["source"] == "edde" and s.meta["iteration"] == 1 and s.meta["focus"] in FOCUSES
        assert s.meta["structure"]["plan"] == p.meta["structure"]["plan"] and s.meta["structure"]["turn"] == p.meta["structure"]["turn"]
        assert s.messages[1:] != p.messages[1:]                       # a new context, not a copy
        # the same functions (the complexity focus may add one more to a parallel request)
        assert {c[0] for c in p.meta["structure"]["calls"]} <= {c[0] for c in s.meta["structure"]["calls"]}
    assert set(st["kept_by_focus"]) == set(FOCUSES)


def test_deterministic(run):
    cfg = load_config("cpu-tiny", SETS)
    expand_stage(cfg, run/"data.jsonl", run/"judge.jsonl", run/"a.jsonl", run/"seed"/"apis.json", iteration=2)
    expand_stage(cfg, run/"data.jsonl", run/"judge.jsonl", run/"b.jsonl", run/"seed"/"apis.json", iteration=2)
    assert (run/"a.jsonl").read_text() == (run/"b.jsonl").read_text()


@pytest.mark.parametrize("ablation", ["static"])
def test_ablations_without_edde(run, ablation):
    st = expand_stage(load_config("cpu-tiny", SETS + [f"ablation={ablation}"]), run/"data.jsonl", run/"judge.jsonl",
                      run/"x.jsonl", run/"seed"/"apis.json")
    assert st["kept"] == 0 and read_samples(run/"x.jsonl") == []


def test_cli_and_bad_input(run, capsys):
    args = ["expand", "--data", str(run/"data.jsonl"), "--judge", str(run/"judge.jsonl"), "--out", str(run/"c.jsonl")]
    assert cli(args + ["--world", str(run/"nope.json")] + sum([["--set", s] for s in SETS], [])) == 2
    assert "no such world file" in capsys.readouterr().err
    assert cli(args + sum([["--set", s] for s in SETS], [])) == 2          # simulated mode needs the world
    assert "seed world" in capsys.readouterr().err
    assert cli(args + ["--world", str(run/"seed"/"apis.json")] + sum([["--set", s] for s in SETS], [])) == 0
    assert json.loads(capsys.readouterr().out)["kept"] > 0


def test_edde_error_rate_sets_the_kept_noise(run):
    clean = expand_stage(load_config("cpu-tiny", SETS + ["edde_error_rate=0.0"]), run/"data.jsonl", run/"judge.jsonl",
                         run/"clean.jsonl", run/"seed"/"apis.json", iteration=1)
    assert clean["label_noise"] == 0.0 and clean["kept"] > 0
    noisy = expand_stage(load_config("cpu-tiny", SETS + ["edde_error_rate=0.4"]), run/"data.jsonl", run/"judge.jsonl",
                         run/"noisy.jsonl", run/"seed"/"apis.json", iteration=1)
    assert noisy["label_noise"] > 0.2
