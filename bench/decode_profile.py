"""Where a GPU's greedy probe decoding spends its time: `greedy_decode` on a random model of Qwen3-0.6B's shape (bf16,
bench/gpu_path.py's) for 32 cpu-tiny seed prompts, 48 new tokens, with cuDNN attention on and off (same process, same
texts checked), with transformers' plain SDPA instead of `gqa_decode_sdpa`, at batch 1 and 8, then a torch profiler
table of 16 decoding steps. Prints ms per decoding step. For a lent CUDA machine: without one it says so and exits 0
(`make bench` runs every script); --cpu runs it anyway, slowly.
Usage: python bench/decode_profile.py [--cpu]"""
import os, sys, time, contextlib
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_path import build
from gcp_speed import seed_samples
from looptool_nb.core import load_config, to_decode_device
from looptool_nb import probe
from looptool_nb.probe import greedy_decode


def main(argv=None) -> int:
    if not torch.cuda.is_available() and "--cpu" not in (argv if argv is not None else sys.argv[1:]):
        print("decode_profile: no CUDA GPU here (pass --cpu to run it on the CPU anyway)"); return 0
    cfg = load_config("cpu-tiny", ["n_dialogues=120", "n_test=5"]); samples = seed_samples("cpu-tiny")[:32]
    model, tok = build("qwen3-0.6b shape", cfg, samples)
    model = to_decode_device(model).eval()
    prompts = [s.prompt_messages() for s in samples]
    def sync(): torch.cuda.synchronize() if torch.cuda.is_available() else None
    def timed(label, fn, steps):
        sync(); t = time.perf_counter(); fn(); sync(); dt = time.perf_counter() - t
        print(f"{label}: {dt:.2f}s, {1000 * dt / steps:.1f} ms/step", flush=True)
    N = 48
    greedy_decode(model, tok, prompts[:2], 2, 4)
    off = probe.cudnn_attention_off
    probe.cudnn_attention_off = lambda: None
    torch.backends.cuda.enable_cudnn_sdp(True)
    timed("batched B=32 (gqa sdpa) cuDNN attention ON", lambda: greedy_decode(model, tok, prompts, 32, N), N)
    ref = greedy_decode(model, tok, prompts, 32, N)
    probe.cudnn_attention_off = off
    timed("batched B=32 (gqa sdpa) cuDNN attention OFF", lambda: greedy_decode(model, tok, prompts, 32, N), N)
    new = greedy_decode(model, tok, prompts, 32, N)
    print("same texts on/off:", sum(a.text == b.text for a, b in zip(ref, new)), "of", len(ref), flush=True)
    real = probe.fast_decode_attention
    probe.fast_decode_attention = lambda m: contextlib.nullcontext()
    timed("batched B=32 (plain sdpa)", lambda: greedy_decode(model, tok, prompts, 32, N), N)
    probe.fast_decode_attention = real
    timed("batched B=1, 4 prompts", lambda: greedy_decode(model, tok, prompts[:4], 1, N), 4 * N)
    timed("batched B=8, 8 prompts", lambda: greedy_decode(model, tok, prompts[:8], 8, N), N)
    from torch.profiler import profile, ProfilerActivity
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=acts) as prof:
        greedy_decode(model, tok, prompts, 32, 16)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18, max_name_column_width=50))
    for key in ("self_device_time_total", "self_cuda_time_total"):
        try: print(prof.key_averages().table(sort_by=key, row_limit=14, max_name_column_width=50)); break
        except Exception as e: print("sort", key, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
