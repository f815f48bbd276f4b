#!/usr/bin/env bash
# bench/gcp_speed.py on a lent GPU machine: install .whl/ (make gpu-wheels) into /tmp/site, then the batched probe
# against a per-sample generate loop on the GPU for cpu-tiny's tiny-1m, tiny-16m and a random model of Qwen3-0.6B's
# shape, each line's log under $OUT (default /tmp/gcp_gpu). Figures are ratios measured within one process.
set -u
OUT=${OUT:-/tmp/gcp_gpu}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .whl/*.whl >"$OUT/pip.log" 2>&1 || tail -3 "$OUT/pip.log"
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
run() { name=$1; shift; echo "== $name: $*"; timeout 240 python3 bench/gcp_speed.py "$@" 2>&1 | tee "$OUT/$name.log" | grep -v Warning | tail -4; }
run tiny-1m --device auto --n 64
run tiny-16m --device auto --n 64 --set student=tiny-16m
run qwen3-0.6b-shape --device auto --n 32 --qwen-shape --set probe_batch_size=32 --set max_completion_length=128
