"""The GPU path, where a CUDA GPU is lent: one loop iteration's stages on the GPU, and GRPO's speed there.

    python bench/gpu_path.py [--out DIR] [--steps 3] [--smoke]

Part 1, the stages: a small cpu-tiny world is seeded (CPU: the simulated helper), then on the GPU tiny-4m is
warm-started (TRL SFTTrainer), GRPO-trained (TRL GRPOTrainer: bf16 autocast, gradient checkpointing), probed on
its training data (GCP) and evaluated on the held-out split. Each stage's peak GPU memory shows it ran there; the decoding model's device is read; and greedy decoding of the same checkpoint on the GPU and on
the CPU is compared prompt by prompt (they should agree: the same model, argmax at every step).
Part 2, the speed: GRPO seconds per step on the GPU for the tiny ladder (cpu-tiny's group 8 x 4, 64 tokens, as the
README's CPU table) and for a model of Qwen3-0.6B's shape (random weights in bf16, vocabulary 151,936, the cpu-tiny
tokenizer: no hub here) with 8 prompts x 8 completions of up to 256 tokens, 8 completions per forward pass (the qwen3 presets' micro-batch). Untrained students write every completion
to max_completion_length, so these are a step's upper bound. Peak GPU memory per model. Then the 0.6B shape greedy-decodes 512 prompts
at the qwen3 presets' probe_batch_size (256), as GCP would with transformers: tokens per second.
Not run: vLLM rollouts and unsloth loading (the `gpu` extra). vllm's wheel is far larger than what travels to the lent
machine (64 MiB), which reaches no package index.

Part 3 (`--parts lora`): GRPO with a LoRA adapter (PEFT through TRL, as cpu-smol trains) on tiny-4m and the 0.6B shape.

Without a CUDA GPU it says so and exits 0 (`make bench` runs every script); --smoke runs it anyway on the CPU with
small sizes, to check the script itself. Writes DIR/gpu_path.json (default: a temporary folder).
"""
import argparse, json, os, platform, statistics, sys, tempfile, time, traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import torch

from looptool_nb.core import load_config, read_samples, to_decode_device
from looptool_nb.evaluate import evaluate
from looptool_nb.probe import greedy_decode, probe_stage
from looptool_nb.seed import seed_stage
from looptool_nb.student import TINY_LADDER, load_student, n_params, sample_texts, train_tokenizer, warmstart_stage
from looptool_nb.train import grpo, train_stage

CUDA = torch.cuda.is_available()


def gib(x): return round(x / 2**30, 3)


def stage(name: str, fn, log: dict):
    "Run one stage: its wall seconds and peak GPU memory go into `log[name]`; an exception is recorded, not raised."
    if CUDA: torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    try: out = fn(); err = None
    except Exception as e: out, err = None, f"{type(e).__name__}: {e}"; traceback.print_exc()
    if CUDA: torch.cuda.synchronize()
    log[name] = {"seconds": round(time.perf_counter() - t0, 1), **({"peak_gpu_gib": gib(torch.cuda.max_memory_allocated())} if CUDA else {}),
                 **({"error": err} if err else {})}
    print(f"{name}: {json.dumps(log[name])}", flush=True)
    return out


def stages(tmp: Path, a) -> dict:
    sets = ["student=tiny-4m", f"n_dialogues={a.dialogues}", f"n_test={a.test}", f"warmstart_steps={a.warmstart}",
            f"max_steps_per_iteration={a.grpo_steps}"]
    cfg = load_config("cpu-tiny", sets)
    log, seed = {"sets": sets}, tmp/"seed"
    stage("seed (CPU)", lambda: seed_stage(cfg, seed, progress=False), log)
    ws = stage("warm start (SFT)", lambda: warmstart_stage(cfg, seed/"train.jsonl", tmp/"ws"), log)
    if ws: log["warm start (SFT)"].update(steps=ws.get("steps"), train_loss=ws.get("train_loss"))
    tr = stage("GRPO", lambda: train_stage(cfg, seed/"train.jsonl", tmp/"ws", tmp/"iter1"), log)
    if tr: log["GRPO"].update({k: tr.get(k) for k in ("device", "steps", "reward_mean", "step_time_mean", "completion_length_mean")})
    ckpt = tmp/"iter1"/"checkpoint"
    pr = stage("probe (GCP)", lambda: probe_stage(cfg, ckpt, seed/"train.jsonl", tmp/"probe.jsonl"), log)
    if pr: log["probe (GCP)"].update({k: pr.get(k) for k in ("mastered", "failed", "not_a_call", "tokens_per_s")})
    ev = stage("evaluate (held-out)", lambda: evaluate(str(ckpt), "synthetic", cfg, data_dir=seed, progress=False), log)
    if ev: log["evaluate (held-out)"].update(accuracy=ev.get("accuracy"), n=ev.get("n"))
    if not ckpt.exists(): return log

    def agreement():
        model, tok = load_student(str(ckpt), cfg)
        model = to_decode_device(model)
        dev = str(next(model.parameters()).device)
        prompts = [s.prompt_messages() for s in read_samples(seed/"test.jsonl")]
        kw = dict(batch_size=32, max_new_tokens=cfg.max_completion_length, max_prompt_tokens=cfg.max_prompt_length)
        here = greedy_decode(model, tok, prompts, **kw)
        cpu = greedy_decode(model.to("cpu"), tok, prompts, **kw)
        same = sum(x.text == y.text for x, y in zip(here, cpu))
        return {"decoded_on": dev, "prompts": len(prompts),
                "same_text": same, "agreement": round(same / max(1, len(prompts)), 4)}
    ag = stage("greedy GPU vs CPU", agreement, log)
    if ag: log["greedy GPU vs CPU"].update(ag)
    return log


def qwen3_06b_shape(tok):
    "A randomly initialised model of Qwen3-0.6B's shape (its config.json's sizes) in bf16, for `tok`'s ids."
    from transformers import AutoModelForCausalLM, Qwen3Config
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    c = Qwen3Config(vocab_size=151936, hidden_size=1024, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                    head_dim=128, intermediate_size=3072, max_position_embeddings=40960, tie_word_embeddings=True,
                    bos_token_id=None, eos_token_id=eos, pad_token_id=tok.pad_token_id)
    m = AutoModelForCausalLM.from_config(c, dtype=torch.bfloat16 if CUDA else torch.float32)
    m.generation_config.eos_token_id, m.generation_config.pad_token_id = eos, tok.pad_token_id
    return m


def train_data(tmp: Path, a):
    "The training samples of the speed and LoRA parts: the stages' seed split when it ran, else one seeded once here."
    for d in (tmp/"seed", tmp/"seed_speed"):
        if (d/"train.jsonl").exists(): return read_samples(d/"train.jsonl")
    seed_stage(load_config("cpu-tiny", [f"n_dialogues={a.dialogues}", "n_test=10"]), tmp/"seed_speed", progress=False)
    return read_samples(tmp/"seed_speed"/"train.jsonl")


def qwen_sets(a) -> list[str]:
    "The 0.6B shape's GRPO settings: 8 prompts x 8 completions, 8 per forward pass (the qwen3 presets' micro-batch)."
    return ["grpo_batch_size=8", "num_generations=8", "grpo_micro_batch_size=8", f"max_completion_length={a.qwen_tokens}", "learning_rate=1e-6"]


def build(name: str, cfg, data):
    "(model, tokenizer): a tiny ladder student, or the 0.6B shape with the cpu-tiny tokenizer."
    if name in TINY_LADDER: return load_student(name, cfg, corpus=sample_texts(data), vocab_size=cfg.tokenizer_vocab)
    tok = train_tokenizer(sample_texts(data), cfg.tokenizer_vocab)
    return qwen3_06b_shape(tok), tok


def step_seconds(summary: dict) -> float:
    "The median GRPO step time, the first step (CUDA and kernel warm-up) left out when there are others."
    t = [r["step_time"] for r in summary["per_step"]]
    return round(statistics.median(t[1:] or t), 2)


def speed(tmp: Path, a, rows: list, save):
    "GRPO speed per model, appended to `rows` (and saved) as each finishes."
    data, keep = train_data(tmp, a), {}
    ladder = [(n, [f"student={n}"]) for n in TINY_LADDER]
    for name, sets in ladder + ([] if a.no_qwen else [("qwen3-0.6b shape", qwen_sets(a))]):
        cfg = load_config("cpu-tiny", [f"max_steps_per_iteration={a.steps}", *sets])
        def run():
            model, tok = build(name, cfg, data)
            model, s = grpo(model, tok, data, cfg, tmp/f"grpo-{name.replace(' ', '_')}", save=False)
            keep.update(model=model, tok=tok, cfg=cfg)
            return {"params_M": round(n_params(model) / 1e6, 1), "device": s["device"],
                    "prompts x generations": f"{cfg.grpo_batch_size} x {cfg.num_generations}", "max_completion": cfg.max_completion_length,
                    "steps": s["steps"], "s_per_step": step_seconds(s), "first_step_s": round(s["per_step"][0]["step_time"], 2),
                    "completion_len": round(s["completion_length_mean"] or 0, 1)}
        log = {}
        r = stage(f"GRPO speed {name}", run, log)
        rows.append({"student": name, **log[f"GRPO speed {name}"], **(r or {})}); save()
    if not a.no_qwen and "model" in keep:  # GCP's decoding at the qwen3 presets' probe_batch_size, on the 0.6B shape
        def decode():
            m, tok = to_decode_device(keep["model"]), keep["tok"]
            prompts = [s.prompt_messages() for s in data[:a.probe_prompts]]
            t0 = time.perf_counter()
            d = greedy_decode(m, tok, prompts, batch_size=256, max_new_tokens=keep["cfg"].max_completion_length)
            secs = time.perf_counter() - t0
            return {"prompts": len(prompts), "batch": 256, "new_tokens": sum(x.n_tokens for x in d),
                    "tokens_per_s": round(sum(x.n_tokens for x in d) / secs)}
        log = {}
        r = stage("probe decode qwen3-0.6b shape", decode, log)
        rows.append({"student": "qwen3-0.6b shape: greedy probe decode", **log["probe decode qwen3-0.6b shape"], **(r or {})}); save()


def lora(tmp: Path, a, rows: list, save):
    "GRPO with a LoRA adapter (`use_lora`, r=16, PEFT through TRL) on tiny-4m and on the 0.6B shape."
    data = train_data(tmp, a)
    for name, sets in [("tiny-4m", ["student=tiny-4m"]), ("qwen3-0.6b shape", qwen_sets(a))][:1 if a.no_qwen else 2]:
        cfg = load_config("cpu-tiny", [f"max_steps_per_iteration={a.steps}", "use_lora=true", *sets])
        def run():
            model, tok = build(name, cfg, data)
            before = {k: v.detach().float().cpu().clone() for k, v in model.named_parameters() if k.endswith("q_proj.weight")}
            model, s = grpo(model, tok, data, cfg, tmp/f"lora-{name.replace(' ', '_')}", save=False)
            moved = sum(not torch.equal(before[k], v.detach().float().cpu()) for k, v in model.named_parameters() if k in before)
            return {"device": s["device"], "steps": s["steps"], "s_per_step": step_seconds(s),
                    "merged_q_proj_changed": f"{moved}/{len(before)}", "reward_mean": s["reward_mean"]}
        log = {}
        r = stage(f"GRPO LoRA {name}", run, log)
        rows.append({"student": f"{name} (LoRA r{cfg.lora_r})", **log[f"GRPO LoRA {name}"], **(r or {})}); save()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="", help="folder for gpu_path.json (default: a temporary folder)")
    p.add_argument("--steps", type=int, default=4, help="GRPO steps per model in the speed part")
    p.add_argument("--dialogues", type=int, default=600); p.add_argument("--test", type=int, default=100)
    p.add_argument("--warmstart", type=int, default=300); p.add_argument("--grpo-steps", type=int, default=10)
    p.add_argument("--qwen-tokens", type=int, default=256); p.add_argument("--probe-prompts", type=int, default=512)
    p.add_argument("--no-qwen", action="store_true")
    p.add_argument("--parts", default="stages,speed", help="comma-separated: stages, speed, lora")
    p.add_argument("--smoke", action="store_true", help="run on the CPU with small sizes (checks the script, measures nothing)")
    a = p.parse_args(argv)
    if not CUDA and not a.smoke:
        print("bench/gpu_path.py: no CUDA GPU is visible here; nothing measured (run it where a GPU is lent, or --smoke)")
        return 0
    if a.smoke: a.dialogues, a.test, a.warmstart, a.grpo_steps, a.steps, a.qwen_tokens, a.probe_prompts = 120, 16, 10, 2, 2, 8, 16
    tmp = Path(tempfile.mkdtemp(prefix="gpu_path-"))
    os.environ.setdefault("LOOPTOOL_CACHE", str(tmp/"cache"))  # a warm start of its own, not the user's cache
    out = Path(a.out) if a.out else tmp
    out.mkdir(parents=True, exist_ok=True)
    import transformers, trl
    res = {"gpu": torch.cuda.get_device_name(0) if CUDA else None, "cuda": CUDA, "torch": torch.__version__,
           "transformers": transformers.__version__, "trl": trl.__version__, "python": platform.python_version(),
           "cpu_count": os.cpu_count(), "smoke": a.smoke}
    print(json.dumps(res), flush=True)
    def save(): (out/"gpu_path.json").write_text(json.dumps(res, indent=1))
    parts = set(a.parts.split(","))
    if parts - {"stages", "speed", "lora"}: p.error(f"unknown part(s) {sorted(parts - {'stages', 'speed', 'lora'})} (choose stages, speed, lora)")
    if "stages" in parts: res["stages"] = stages(tmp, a); save()
    for part, fn in (("speed", speed), ("lora", lora)):
        if part in parts: res[part] = []; fn(tmp, a, res[part], save)
    print("\n| student | params | prompts x generations | max completion | s/step (median) | first step s | peak GPU GiB |")
    print("|---|---|---|---|---|---|---|")
    for r in res.get("speed", []) + res.get("lora", []):
        print(f"| {r['student']} | {r.get('params_M')}M | {r.get('prompts x generations')} | {r.get('max_completion')} | "
              f"{r.get('s_per_step')} | {r.get('first_step_s')} | {r.get('peak_gpu_gib')} |" + (f" {r['error']}" if "error" in r else ""))
    bad = [k for k, v in res.get("stages", {}).items() if isinstance(v, dict) and "error" in v] + \
          [r["student"] for r in res.get("speed", []) + res.get("lora", []) if "error" in r]
    print(f"wrote {out/'gpu_path.json'}" + (f"; failed: {', '.join(bad)}" if bad else "; every part ran"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
