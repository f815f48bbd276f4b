"GRPO stage: the reward as TRL calls it, batch arithmetic, the GPU arguments and launch configs, the stage's files, bad input."
import json
from pathlib import Path
import pytest
import torch
import yaml
from looptool_nb.core import Config, ConfigError, DataError, load_config, make_call, render_calls, write_samples
from looptool_nb.student import toy_samples, warm_start
from looptool_nb.train import batch_layout, grpo_args, paper_reward, partial_credit_reward, train_main, train_stage

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
A = make_call("get_weather", {"city": "Oslo", "days": 2})


def test_reward_sees_decoded_text_and_is_binary():
    lab = render_calls([A])
    wrong = render_calls([make_call("get_weather", {"city": "Oslo", "days": "2"})])  # type-sensitive, as the paper
    assert paper_reward([lab, wrong, "", "<tool_call>\n{bad\n</tool_call>"], [lab] * 4) == [1.0, 0.0, 0.0, 0.0]
    # conversational completions (list of messages) are read from their last message
    assert paper_reward([[{"role": "assistant", "content": lab}]], [lab]) == [1.0]


def test_partial_credit_is_off_by_default_and_named():
    assert Config().partial_credit_reward is False
    lab = render_calls([A])
    other_city = render_calls([make_call("get_weather", {"city": "Lima", "days": 2})])
    assert partial_credit_reward([other_city], [lab]) == [0.5] and paper_reward([other_city], [lab]) == [0.0]


@pytest.mark.parametrize("prompts,gens,micro,world,expect", [(8, 4, 0, 1, (32, 1)), (128, 16, 16, 8, (16, 16)),
                                                              (512, 16, 8, 32, (8, 32))])
def test_batch_layout_counts_prompts_times_generations(prompts, gens, micro, world, expect):
    cfg = Config(grpo_batch_size=prompts, num_generations=gens, grpo_micro_batch_size=micro)
    per, accum = batch_layout(cfg, world)
    assert (per, accum) == expect and per * accum * world == prompts * gens


def test_batch_layout_rejects_uneven_splits():
    with pytest.raises(ConfigError, match="does not divide"):
        batch_layout(Config(grpo_batch_size=8, num_generations=4, grpo_micro_batch_size=5))


@pytest.mark.parametrize("preset", ["qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-32b"])
def test_qwen3_presets_give_the_paper_grpo_arguments(preset, tmp_path):
    from trl import GRPOConfig
    g = grpo_args(load_config(preset, ["grpo_micro_batch_size=16"]), tmp_path, cuda=True, n_procs=8)
    assert (g["learning_rate"], g["num_generations"], g["beta"], g["epsilon"], g["epsilon_high"], g["temperature"]) == \
        (1e-6, 16, 0.0, 0.2, 0.28, 1.0)
    assert (g["loss_type"], g["scale_rewards"], g["num_iterations"], g["lr_scheduler_type"], g["weight_decay"]) == \
        ("dapo", "group", 1, "constant", 0.01)
    assert g["use_vllm"] and g["vllm_mode"] == "colocate" and g["bf16"]
    assert g["per_device_train_batch_size"] * g["gradient_accumulation_steps"] * 8 == 128 * 16
    c = GRPOConfig(**{**g, "bf16": False, "use_cpu": True})  # TRL accepts every argument (bf16 needs a GPU to validate)
    assert c.generation_batch_size % c.num_generations == 0


def test_accelerate_configs_parse():
    for f in ("accelerate_multi_gpu.yaml", "accelerate_zero3.yaml"):
        d = yaml.safe_load((ROOT / "configs" / f).read_text())
        assert d["mixed_precision"] == "bf16" and d["num_processes"] >= 1 and d["distributed_type"] in ("MULTI_GPU", "DEEPSPEED")


def test_train_stage_writes_checkpoint_summary_and_events(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOPTOOL_CACHE", str(tmp_path / "cache"))
    cfg = Config(student="tiny-1m", warmstart_steps=2, warmstart_batch_size=2, tokenizer_vocab=300, grpo_batch_size=2,
                 num_generations=2, max_completion_length=8, max_steps_per_iteration=2, max_prompt_length=1024)
    write_samples(tmp_path / "d.jsonl", toy_samples(6))
    ws = warm_start(cfg, toy_samples(6))
    s = train_stage(cfg, tmp_path / "d.jsonl", ws, tmp_path / "iter_1")
    assert s["steps"] == 2 and len(s["per_step"]) == 2
    on_disk = json.loads((tmp_path / "iter_1" / "train.json").read_text())
    for k in ("reward_mean", "reward_std_mean", "frac_zero_std_mean", "completion_length_mean", "step_time_mean", "peak_rss_mb"):
        assert k in on_disk
    assert (tmp_path / "iter_1" / "checkpoint" / "config.json").exists()
    assert (tmp_path / "iter_1" / "checkpoint" / "tokenizer.json").exists()
    assert list((tmp_path / "iter_1" / "tb").glob("events.out.tfevents.*"))
    # the next iteration starts from this checkpoint
    s2 = train_stage(cfg, tmp_path / "d.jsonl", tmp_path / "iter_1" / "checkpoint", tmp_path / "iter_2")
    assert s2["init"] == str(tmp_path / "iter_1" / "checkpoint")



def test_train_stage_reuses_the_grpo_cache_for_another_arm_and_trains_again_without_it(tmp_path, monkeypatch):
    "Another arm (ablation) training the same model on the same data copies the kept result; LOOPTOOL_GRPO_CACHE=0 trains."
    import dataclasses
    monkeypatch.setenv("LOOPTOOL_CACHE", str(tmp_path / "cache"))
    cfg = Config(student="tiny-1m", warmstart_steps=2, warmstart_batch_size=2, tokenizer_vocab=300, grpo_batch_size=2,
                 num_generations=2, max_completion_length=8, max_steps_per_iteration=2, max_prompt_length=1024)
    write_samples(tmp_path / "d.jsonl", toy_samples(6))
    ws = warm_start(cfg, toy_samples(6))
    run = lambda c, name: train_stage(c, tmp_path / "d.jsonl", ws, tmp_path / name)
    weights = lambda name: (tmp_path / name / "checkpoint" / "model.safetensors").read_bytes()
    full = run(cfg, "full")
    assert full["grpo_cache"]["hit"] is False and full["trained_in"] == str(tmp_path / "full")
    (tmp_path / "static" / "checkpoint").mkdir(parents=True)
    (tmp_path / "static" / "checkpoint" / "half-copied").write_text("left by a killed stage")
    static = run(dataclasses.replace(cfg, ablation="static", iterations=2), "static")
    assert static["grpo_cache"] == full["grpo_cache"] | {"hit": True}
    assert static["trained_in"] == str(tmp_path / "full") and static["checkpoint"] == str(tmp_path / "static" / "checkpoint")
    assert static["per_step"] == full["per_step"] and weights("static") == weights("full")
    assert not (tmp_path / "static" / "checkpoint" / "half-copied").exists()
    assert list((tmp_path / "static" / "tb").glob("events.out.tfevents.*"))
    assert json.loads((tmp_path / "static" / "train.json").read_text())["grpo_cache"]["hit"] is True
    monkeypatch.setenv("LOOPTOOL_GRPO_CACHE", "0")
    fresh = run(dataclasses.replace(cfg, ablation="static"), "fresh")
    assert fresh["grpo_cache"] is None and fresh["trained_in"] == str(tmp_path / "fresh")
    assert weights("fresh") == weights("full")   # CPU GRPO is deterministic: the cache changes only the time spent
    monkeypatch.delenv("LOOPTOOL_GRPO_CACHE")
    other = run(dataclasses.replace(cfg, learning_rate=cfg.learning_rate / 2), "other")   # a setting training reads
    assert other["grpo_cache"]["hit"] is False and other["grpo_cache"]["key"] != full["grpo_cache"]["key"]

def test_train_main_bad_input(tmp_path):
    with pytest.raises(DataError, match="no such data file"):
        train_main(["--data", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")])
    with pytest.raises(ConfigError, match="unknown key"):
        train_main(["--data", "x", "--out", "o", "--set", "no_such_key=1"])
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(DataError, match="bad.jsonl:1"):
        train_main(["--data", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "o")])
