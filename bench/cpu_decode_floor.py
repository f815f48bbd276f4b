"""Why the batched probe does not reach 10x on a 2-core CPU: where `greedy_decode` spends its time on the cpu-tiny
student (tiny-1m, random weights, one thread) for 64 simulated seed prompts, batch and answer length from the preset.
It times the prompt pass alone (max_new_tokens=1), then the decoding steps with every attention call timed, and
reports the KV-cache bytes each decoding attention call reads against its time (an effective bandwidth). Then, in the
same process, one decoding attention call of the measured shape three ways: SDPA with the boolean mask that
`gqa_decode_sdpa` passes, SDPA with an additive float mask, and matmul + softmax by hand. If the three take about the
same time and the bandwidth is near what one core streams from memory, the decoding steps are bound by reading the
KV cache, which a per-sample loop must read too; the prompt pass is the other floor both share.
It also times the per-sample `generate` loop of bench/gcp_speed.py, and prints the speed-up those two floors allow.
Usage: python bench/cpu_decode_floor.py [--n 64] [--preset cpu-tiny]"""
import argparse, os, sys, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from looptool_nb.core import load_config
from looptool_nb.probe import greedy_decode
from looptool_nb.student import load_student, sample_texts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gcp_speed import per_sample_generate, seed_samples


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=64); p.add_argument("--preset", default="cpu-tiny")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    cfg = load_config(a.preset)
    samples = seed_samples(a.preset)[:a.n]
    model, tok = load_student(cfg.student, cfg, corpus=sample_texts(samples), vocab_size=cfg.tokenizer_vocab)
    model.eval()
    prompts = [s.prompt_messages() for s in samples]
    B, new = cfg.probe_batch_size, cfg.max_completion_length
    greedy_decode(model, tok, prompts[:2], batch_size=2, max_new_tokens=4)   # warm-up

    t = time.perf_counter(); greedy_decode(model, tok, prompts, B, 1); t_prompt = time.perf_counter() - t
    sdpa, dec = torch.nn.functional.scaled_dot_product_attention, {"s": 0.0, "calls": 0, "kv_bytes": 0}
    def timed_sdpa(q, k, v, attn_mask=None, **kw):   # times the decoding steps' attention calls
        t0 = time.perf_counter(); out = sdpa(q, k, v, attn_mask=attn_mask, **kw)
        if q.shape[0] > 1:   # prompts are prefilled one at a time, decoding steps run batched
            dec["s"] += time.perf_counter() - t0; dec["calls"] += 1; dec["kv_bytes"] += 2 * k.numel() * k.element_size()
            dec.setdefault("shapes", (q.shape, k.shape))
        return out
    torch.nn.functional.scaled_dot_product_attention = timed_sdpa
    try:
        t = time.perf_counter(); res = greedy_decode(model, tok, prompts, B, new); t_all = time.perf_counter() - t
    finally:
        torch.nn.functional.scaled_dot_product_attention = sdpa
    t_steps = t_all - t_prompt
    print(f"model={cfg.student} samples={len(prompts)} batch={B} max_new={new} generated_tokens={sum(r.n_tokens for r in res)} threads=1")
    print(f"batched greedy_decode: {t_all:.2f}s = prompt pass {t_prompt:.2f}s + decoding steps {t_steps:.2f}s")
    t = time.perf_counter(); per_sample_generate(model, tok, prompts, new); t_loop = time.perf_counter() - t
    floor = t_prompt + dec["s"]
    print(f"per-sample generate loop: {t_loop:.2f}s -> speed-up {t_loop / t_all:.1f}x; 10x needs {t_loop / 10:.2f}s, and the prompt pass "
          f"plus the decoding attention alone take {floor:.2f}s (at best {t_loop / floor:.1f}x)")
    print(f"decoding attention: {dec['calls']} calls, {dec['s']:.2f}s ({dec['s'] / max(t_steps, 1e-9):.0%} of the decoding steps), "
          f"{1e3 * dec['s'] / max(dec['calls'], 1):.3f} ms a call; KV read {dec['kv_bytes'] / 1e9:.2f} GB -> "
          f"{dec['kv_bytes'] / 1e9 / max(dec['s'], 1e-9):.1f} GB/s")

    qs, ks = dec["shapes"]
    q, k, v = torch.randn(qs), torch.randn(ks), torch.randn(ks)
    mask = torch.ones(ks[0], 1, 1, ks[2], dtype=torch.bool); mask[:, :, :, : ks[2] // 5] = False   # some left padding
    add = torch.zeros(mask.shape).masked_fill(~mask, float("-inf")); scale = qs[-1] ** -0.5
    ways = {"SDPA, boolean mask (as used)": lambda: sdpa(q, k, v, attn_mask=mask, scale=scale),
            "SDPA, additive mask": lambda: sdpa(q, k, v, attn_mask=add, scale=scale),
            "matmul + softmax by hand": lambda: torch.softmax(q @ k.transpose(-1, -2) * scale + add, -1) @ v}
    ref = ways["SDPA, boolean mask (as used)"]()
    print(f"one decoding attention call, q {tuple(qs)}, k/v {tuple(ks)}:")
    with torch.inference_mode():
        for name, fn in ways.items():
            for _ in range(20): fn()
            t = time.perf_counter()
            for _ in range(300): out = fn()
            ms = (time.perf_counter() - t) / 300 * 1e3
            print(f"  {name:30s} {ms:.3f} ms  ({2 * k.numel() * 4 / 1e6 / ms:.1f} GB/s of K and V)  max diff {(out - ref).abs().max().item():.1e}")
    big = torch.randn(64 * 2**20)   # 256 MB, far beyond the caches: what one core reads from memory
    for _ in range(2): big.sum()
    t = time.perf_counter()
    for _ in range(5): big.sum()
    print(f"one core reading memory (sum of a 256 MB tensor): {5 * big.numel() * 4 / 1e9 / (time.perf_counter() - t):.1f} GB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
