"""GCP speed: batched greedy decoding (looptool_nb.probe.greedy_decode) vs a per-sample `generate` loop.

Both decode the same samples greedily with the same model; the script asserts the same texts and token counts (and
PPL within 0.1%) and prints the speed-up measured in this process. Default: the cpu-tiny student (tiny-1m with a
tokenizer trained on the data, random weights unless --model names a checkpoint) on a small simulated seed set of
the preset's world (--toy: the student module's toy samples), batch size and answer length from the preset.
--device auto decodes on the GPU where CUDA is visible (both ways, the same model); --qwen-shape replaces the student
with a randomly initialised model of Qwen3-0.6B's shape (bench/gpu_path.py's, bf16 on a GPU) and the cpu-tiny tokenizer.
If the two decodings differ, the figures are still printed, with the number of samples that differ, and it exits 1.
Usage: python bench/gcp_speed.py [--model DIR] [--data data.jsonl | --toy] [--n 64] [--preset cpu-tiny] [--set k=v]
                                 [--device cpu|auto] [--qwen-shape]"""
import argparse, math, os, sys, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from looptool_nb.core import load_config, read_samples, to_decode_device
from looptool_nb.probe import greedy_decode, encode_prompt, stop_token_ids
from looptool_nb.student import load_student, toy_samples, sample_texts


def per_sample_generate(model, tok, prompts, max_new_tokens):
    "The naive probe: transformers `generate` on one prompt at a time, PPL from its raw logits."
    stops, out = stop_token_ids(model, tok), []
    for p in prompts:
        ids = torch.tensor([encode_prompt(tok, p)], device=model.device)
        g = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=max_new_tokens,
                           output_logits=True, return_dict_in_generate=True, pad_token_id=tok.pad_token_id,
                           eos_token_id=stops, top_k=None, top_p=None, temperature=None)
        gen = g.sequences[0, ids.shape[1]:].tolist()
        lp = torch.log_softmax(torch.stack(g.logits, 1)[0].float(), -1).gather(-1, torch.tensor(gen, device=model.device)[:, None])[:, 0]
        fin = gen[-1] in stops
        out.append((tok.decode(gen[:-1] if fin else gen, skip_special_tokens=True), math.exp(-lp.mean().item()), len(gen)))
    return out


def seed_samples(preset: str = "cpu-tiny", sets=()) -> list:
    "The train split of a small simulated seed set (120 dialogues) of `preset`'s world: the benchmarks' prompts."
    import tempfile
    from pathlib import Path
    from looptool_nb.seed import seed_stage
    d = Path(tempfile.mkdtemp())
    seed_stage(load_config(preset, list(sets) + ["n_dialogues=120", "n_test=5"]), d, progress=False)
    return read_samples(d/"train.jsonl")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None); p.add_argument("--data", default=None)
    p.add_argument("--toy", action="store_true", help="use the student module's toy samples instead of seed data")
    p.add_argument("--n", type=int, default=64); p.add_argument("--threads", type=int, default=1)
    p.add_argument("--preset", default="cpu-tiny"); p.add_argument("--set", dest="sets", action="append", default=[])
    p.add_argument("--device", default="cpu", choices=["cpu", "auto"], help="auto: the GPU where CUDA is visible")
    p.add_argument("--qwen-shape", action="store_true", help="a random model of Qwen3-0.6B's shape instead of the student")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = load_config(a.preset, a.sets)
    if a.data: samples = read_samples(a.data)
    elif a.toy: samples = toy_samples(a.n, seed=1)
    else: samples = seed_samples(a.preset, a.sets)
    samples = samples[:a.n]
    if a.qwen_shape:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from gpu_path import build
        model, tok = build("qwen3-0.6b shape", cfg, samples)
    else:
        model, tok = load_student(a.model or cfg.student, cfg, corpus=sample_texts(samples), vocab_size=cfg.tokenizer_vocab)
    if a.device == "auto": model = to_decode_device(model)
    model.eval()
    prompts = [s.prompt_messages() for s in samples]
    greedy_decode(model, tok, prompts[:2], batch_size=2, max_new_tokens=4)      # warm-up
    t = time.perf_counter(); ours = greedy_decode(model, tok, prompts, cfg.probe_batch_size, cfg.max_completion_length); t_b = time.perf_counter() - t
    t = time.perf_counter(); ref = per_sample_generate(model, tok, prompts, cfg.max_completion_length); t_s = time.perf_counter() - t
    differ = sum((d.text, d.n_tokens) != (x[0], x[2]) for d, x in zip(ours, ref))
    ppl_differ = sum(abs(d.ppl - x[1]) > 1e-3 * x[1] for d, x in zip(ours, ref))
    t = time.perf_counter(); greedy_decode(model, tok, prompts, cfg.probe_batch_size, 1); t_p = time.perf_counter() - t
    toks = sum(d.n_tokens for d in ours)
    ptoks = sum(len(encode_prompt(tok, p)) for p in prompts)
    print(f"model={'qwen3-0.6b shape (random weights)' if a.qwen_shape else a.model or cfg.student} samples={len(samples)} batch={cfg.probe_batch_size} max_new={cfg.max_completion_length} "
          f"prompt_tokens={ptoks} (mean {ptoks / len(prompts):.0f}) generated_tokens={toks} threads={a.threads} "
          f"device={model.device}{' (' + torch.cuda.get_device_name(model.device) + ')' if model.device.type == 'cuda' else ''}")
    print(f"per-sample generate: {t_s:.2f}s ({toks / t_s:.0f} tok/s)   batched greedy_decode: {t_b:.2f}s ({toks / t_b:.0f} tok/s)")
    print(f"prompt pass alone (max_new_tokens=1, the floor both share): {t_p:.2f}s -> speed-up bound at this prompt length "
          f"~{t_s / t_p:.1f}x")
    if differ or ppl_differ:
        print(f"GCP speed-up {t_s / t_b:.1f}x, but the outputs are NOT the same: {differ} of {len(ours)} samples differ in "
              f"text or length, {ppl_differ} in PPL (> 0.1%)")
        return 1
    print(f"GCP speed-up (same outputs, PPL within 0.1%): {t_s / t_b:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
