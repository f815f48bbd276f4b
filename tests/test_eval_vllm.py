"""The vLLM evaluation path (`eval_backend`), with a fake `vllm` module: our side only — the engine is started once with
the run's settings, decoding is greedy, outputs come back in prompt order, `auto` picks the engine, and asking for vLLM
where it cannot run is a one-line error. Nothing here runs vLLM itself (no GPU on this machine)."""
import dataclasses, json, os, subprocess, sys, types
from pathlib import Path
from unittest.mock import patch
import pytest
import torch
from looptool_nb.core import ConfigError, Sample, load_config, render_calls, make_call, write_samples
from looptool_nb.evaluate import evaluate_stage, eval_synthetic, model_predictor, pick_eval_backend, vllm_predictor

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent


def fake_vllm(answer=lambda conv: f"answer to {conv[-1]['content']}"):
    m = types.ModuleType("vllm"); m.made, m.chats = [], []
    class SamplingParams:
        def __init__(self, **kw): self.__dict__.update(kw)
    class LLM:
        def __init__(self, **kw): m.made.append(kw)
        def chat(self, messages, sampling_params=None, use_tqdm=True, **kw):
            m.chats.append({"messages": messages, "params": sampling_params, "use_tqdm": use_tqdm, **kw})
            return [types.SimpleNamespace(outputs=[types.SimpleNamespace(text=answer(c))]) for c in messages]
    m.LLM, m.SamplingParams = LLM, SamplingParams
    return m


def model_dir(p: Path) -> Path:
    p.mkdir(parents=True); (p/"config.json").write_text("{}")
    (p/"tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    return p


def samples() -> list[Sample]:
    outs = [(render_calls([make_call("f", {"x": i})]), "single") for i in range(5)] + [("Which city?", "missing_param")]
    return [Sample(f"s{i}", [{"role": "system", "content": "..."}, {"role": "user", "content": "q" * (i + 1)}], [], o, {"situation": s})
            for i, (o, s) in enumerate(outs)]


def test_engine_started_once_with_the_run_settings_and_greedy(tmp_path):
    d, v = model_dir(tmp_path/"ckpt"), fake_vllm()
    cfg = dataclasses.replace(load_config("cpu-tiny"), seed=3, vllm_tensor_parallel_size=4, vllm_gpu_memory_utilization=0.8,
                              max_completion_length=77)
    with patch.dict(sys.modules, {"vllm": v}):
        p = vllm_predictor(str(d), cfg)
        prompts = [[{"role": "user", "content": c}] for c in ["zz", "a", "yyy"]]
        assert p(prompts, ["1", "2", "3"]) == ["answer to zz", "answer to a", "answer to yyy"]
        p(prompts[1:], ["4", "5"])
    assert v.made == [{"model": str(d), "tensor_parallel_size": 4, "gpu_memory_utilization": 0.8, "seed": 3}]
    assert [c["messages"] for c in v.chats] == [prompts, prompts[1:]]
    sp = v.chats[0]["params"]
    assert (sp.temperature, sp.max_tokens) == (0.0, 77)


def test_outputs_land_in_prompt_order_through_the_synthetic_eval(tmp_path):
    ss = samples(); truth = {s.messages[-1]["content"]: s.output for s in ss}
    v = fake_vllm(answer=lambda conv: truth[conv[-1]["content"]])
    with patch.dict(sys.modules, {"vllm": v}), patch("torch.cuda.is_available", return_value=True):
        p = model_predictor(str(model_dir(tmp_path/"m")), load_config("cpu-tiny"), max_new_tokens=5)
        r = eval_synthetic(p, ss, progress=False)
    assert p.backend == "vllm" and r["accuracy"] == 1.0 and v.chats[0]["params"].max_tokens == 5
    wrong = fake_vllm(answer=lambda conv: render_calls([make_call("f", {"x": 99})]))  # the check can fail
    with patch.dict(sys.modules, {"vllm": wrong}), patch("torch.cuda.is_available", return_value=True):
        assert eval_synthetic(model_predictor(str(tmp_path/"m"), load_config("cpu-tiny")), ss, progress=False)["accuracy"] == 0.0


def test_auto_picks_the_engine():
    cfg = load_config("cpu-tiny")
    with patch.dict(sys.modules, {"vllm": fake_vllm()}):
        with patch("torch.cuda.is_available", return_value=False): assert pick_eval_backend(cfg) == "transformers"
        with patch("torch.cuda.is_available", return_value=True): assert pick_eval_backend(cfg) == "vllm"
    with patch.dict(sys.modules, {"vllm": None}), patch("torch.cuda.is_available", return_value=True):
        assert pick_eval_backend(cfg) == "transformers"
    assert model_predictor("tiny-1m", cfg, max_new_tokens=2).backend == "transformers"  # this CPU machine


@pytest.mark.parametrize("has_vllm,cuda,msg", [(False, True, "vllm is not installed"), (True, False, "no CUDA GPU")])
def test_explicit_vllm_where_it_cannot_run_is_one_line(has_vllm, cuda, msg):
    cfg = load_config("cpu-tiny", ["eval_backend=vllm"])
    with patch.dict(sys.modules, {"vllm": fake_vllm() if has_vllm else None}), patch("torch.cuda.is_available", return_value=cuda):
        with pytest.raises(ConfigError, match=msg) as e: model_predictor("tiny-1m", cfg)
    assert "pip install 'looptool[gpu]'" in str(e.value) and "\n" not in str(e.value)


def test_ladder_name_and_missing_folder_are_refused(tmp_path):
    cfg = load_config("cpu-tiny")
    with patch.dict(sys.modules, {"vllm": fake_vllm()}):
        with pytest.raises(ConfigError, match="cannot serve 'tiny-1m'"): vllm_predictor("tiny-1m", cfg)
        (tmp_path/"empty").mkdir()
        with pytest.raises(ConfigError, match="has no config.json"): vllm_predictor(str(tmp_path/"empty"), cfg)


def test_loop_stage_uses_one_engine_for_its_benchmarks(tmp_path):
    run = tmp_path/"run"; ss = samples(); write_samples(run/"seed"/"test.jsonl", ss)
    model_dir(run/"warmstart_real"); (run/"warmstart").mkdir()
    (run/"warmstart"/"pointer.json").write_text(json.dumps({"path": str(run/"warmstart_real")}))
    truth = {s.messages[-1]["content"]: s.output for s in ss}
    v = fake_vllm(answer=lambda conv: truth[conv[-1]["content"]])
    cfg = load_config("cpu-tiny", ["eval_backend=vllm", "eval_benchmarks=synthetic"])
    with patch.dict(sys.modules, {"vllm": v}), patch("torch.cuda.is_available", return_value=True):
        res = evaluate_stage(cfg, run, 0, progress=False)
    assert res["synthetic"]["accuracy"] == 1.0 and res["synthetic"]["backend"] == "vllm"
    assert [m["model"] for m in v.made] == [str(run/"warmstart_real")]
    assert json.loads((run/"iter_0"/"eval.json").read_text())["backend"] == "vllm"


def looptool(*args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", "import sys; from looptool_nb.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


@pytest.mark.parametrize("value,msg", [("vllm", "eval_backend=vllm needs the gpu extra"), ("gpu", "bad value for eval_backend")])
def test_cli_eval_backend_errors_are_one_line(tmp_path, value, msg):
    if value == "vllm" and torch.cuda.is_available(): pytest.skip("a GPU is here: eval_backend=vllm may run")
    write_samples(tmp_path/"test.jsonl", samples())
    r = looptool("eval", "--model", "tiny-1m", "--bench", "synthetic", "--data-dir", str(tmp_path/"test.jsonl"),
                 "--out", str(tmp_path/"out"), "--set", f"eval_backend={value}")
    assert r.returncode == 2, r.stderr[-1000:]
    assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path/"out").exists()
