"Seed data (issue 3): the run-folder files, determinism, label noise, splits, resimulation, bad input."
import json, os, subprocess, sys, random
from pathlib import Path
import pytest

from looptool_nb.core import load_config, read_samples, tool_call_reward, parse_tool_calls, ConfigError, DataError
from looptool_nb.seed import (seed_stage, seed_main, make_world, load_world, resimulate, verify_sample, rule_check,
                              SITUATIONS, FOCUSES, measured_noise, synthesize_apis, validate_api)

ROOT = Path(__file__).resolve().parent.parent
META_KEYS = {"situation", "truth", "noise_kind", "domain", "dialogue_id", "source", "structure"}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed") / "seed"
    cfg = load_config("cpu-tiny", ["n_dialogues=400", "n_test=80", "n_apis=120"])
    return cfg, out, seed_stage(cfg, out, progress=False)


def test_seed_folder_has_the_run_folder_contract(small_run):
    cfg, out, card = small_run
    assert sorted(p.name for p in out.iterdir()) == ["apis.json", "card.json", "card.md", "hf", "test.jsonl", "train.jsonl"]
    import datasets
    dd = datasets.load_from_disk(str(out / "hf"))
    train, test = read_samples(out / "train.jsonl"), read_samples(out / "test.jsonl")
    assert len(dd["train"]) == len(train) == card["train"]["samples"] > 300
    assert len(dd["test"]) == len(test) == cfg.n_test
    assert json.loads(dd["train"][0]["meta"]) == train[0].meta
    for s in train + test:
        assert META_KEYS <= set(s.meta), s.meta.keys()
        assert s.meta["situation"] in SITUATIONS
        assert s.messages[0]["role"] == "system" and "The current time is" in s.messages[0]["content"]
        # distractors fill the list up to candidate_tools; a plan that uses more functions shows them all
        assert len(s.tools) <= max(cfg.candidate_tools, len({c[0] for c in s.meta["structure"]["calls"]}))
    assert {s.meta["situation"] for s in train} == set(SITUATIONS)
    assert {s.meta["situation"] for s in test} == set(SITUATIONS)
    assert set(card["train"]["situations"]) == set(SITUATIONS)


def test_test_split_is_clean_and_shares_no_dialogue(small_run):
    _, out, card = small_run
    train, test = read_samples(out / "train.jsonl"), read_samples(out / "test.jsonl")
    assert not {s.meta["dialogue_id"] for s in train} & {s.meta["dialogue_id"] for s in test}
    assert all(s.output == s.meta["truth"] and s.meta["noise_kind"] is None for s in test)
    assert card["test"]["shared_dialogues_with_train"] == 0
    assert any(s.meta["noise_kind"] for s in train)


def test_verified_samples_pass_the_rules(small_run):
    _, out, _ = small_run
    for s in read_samples(out / "train.jsonl"):
        assert rule_check(s) == [], (s.id, s.output)
        # the truth itself always passes the rules against the offered tools
        t = parse_tool_calls(s.meta["truth"])
        assert isinstance(t, list)


def test_same_seed_gives_byte_identical_files(small_run, tmp_path):
    cfg, out, _ = small_run
    seed_stage(cfg, tmp_path / "again", progress=False)
    for p in sorted(out.rglob("*")):
        if p.is_file():
            q = tmp_path / "again" / p.relative_to(out)
            assert q.read_bytes() == p.read_bytes(), p.relative_to(out)
    other = load_config("cpu-tiny", ["n_dialogues=400", "n_test=80", "n_apis=120", "seed=1"])
    seed_stage(other, tmp_path / "other", progress=False)
    assert (tmp_path / "other" / "train.jsonl").read_bytes() != (out / "train.jsonl").read_bytes()


@pytest.mark.parametrize("rate", [0.15, 0.30])
def test_measured_label_noise_within_two_points(tmp_path, rate):
    cfg = load_config("cpu-tiny", [f"teacher_error_rate={rate}", "n_test=20"])   # 2,000 dialogues, as the preset
    card = seed_stage(cfg, tmp_path / "s", progress=False)
    ln = card["train"]["label_noise"]
    assert abs(ln["measured"] - rate) <= 0.02, ln
    assert ln["raw_teacher_error_rate"] > rate   # the judge stage removed part of the raw noise
    assert card["train"]["dropped"].get("judge:incorrect", 0) > 0 and any(k.startswith("rule:") for k in card["train"]["dropped"])


def test_zero_noise_gives_clean_labels(tmp_path):
    cfg = load_config("cpu-tiny", ["teacher_error_rate=0", "teacher_rule_error_rate=0", "n_dialogues=200", "n_test=10", "n_apis=80"])
    seed_stage(cfg, tmp_path / "s", progress=False)
    assert measured_noise(read_samples(tmp_path / "s" / "train.jsonl")) == 0.0


def test_resimulate_keeps_structure_and_changes_context(small_run):
    _, out, _ = small_run
    world = load_world(out)
    train = read_samples(out / "train.jsonl")
    by_sit = {}
    for s in train: by_sit.setdefault(s.meta["situation"], s)
    rng = random.Random(0)
    for sit, s in by_sit.items():
        for focus in FOCUSES:
            n = resimulate(out, s, focus, rng)
            assert n.meta["situation"] == sit and n.meta["source"] == "edde" and n.meta["parent"] == s.id
            assert n.meta["structure"]["plan"] == s.meta["structure"]["plan"]
            assert n.messages[1:] != s.messages[1:]
            assert n.output == n.meta["truth"]          # no noise asked for
            assert rule_check(n) == []
            tc, sc = parse_tool_calls(n.meta["truth"]), parse_tool_calls(s.meta["truth"])
            assert [c["name"] for c in tc][:len(sc)] == [c["name"] for c in sc][:len(tc)]
            if focus != "complexity" and sit not in ("parallel",):
                assert [sorted(c["arguments"]) for c in tc] == [sorted(c["arguments"]) for c in sc]
            json.dumps(n.meta)
    noisy = [resimulate(world, by_sit["single"], "data_variation", rng, teacher_error_rate=1.0) for _ in range(20)]
    assert all(tool_call_reward(n.output, n.meta["truth"]) == 0.0 and n.meta["noise_kind"] for n in noisy)
    assert all(verify_sample(n, rng, recall=1.0 - 1e-9) is not None for n in noisy)


def test_api_synthesis_counts_rejections():
    apis, rej = synthesize_apis(200, random.Random(0))
    assert len(apis) == 200 and len({a["tool"]["name"] for a in apis}) == 200
    assert all(validate_api(a) == [] for a in apis)
    assert rej["duplicate_name"] > 0 and rej["param_count_constraint"] > 0


def test_bad_input_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match="situation_weights"):
        seed_stage(load_config("cpu-tiny", ["situation_weights=singel=1"]), tmp_path / "x", progress=False)
    with pytest.raises(DataError, match="no such APIs file"):
        load_world(tmp_path / "nothing.json")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-c", "import sys; from looptool_nb.cli import main; sys.exit(main())", "seed",
                        "--out", str(tmp_path / "y"), "--set", "n_dialoges=3"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 2 and "unknown key 'n_dialoges'" in r.stderr and "Traceback" not in r.stderr


def test_cli_writes_seed_folder(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-c", "import sys; from looptool_nb.cli import main; sys.exit(main())", "seed", "--preset", "cpu-tiny",
                        "--out", str(tmp_path / "seed"), "--set", "n_dialogues=60", "--set", "n_test=10", "--no-progress"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "seed" / "card.md").exists() and "label noise" in r.stdout
