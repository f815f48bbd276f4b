#!/usr/bin/env bash
# Run experiment cells side by side on a lent GPU machine (one process per cell, each a `looptool experiments`
# call), stop them all at a deadline, write the report from what finished, and pack the run folders without model
# weights into $OUT/experiments.tgz.part-aa, -ab, ... (the lent machine returns files of at most 16 MiB; rejoin them with
# `cat experiments.tgz.part-* | tar xz`), one log per cell inside. Runs resume: the same command continues them.
#
#   OUT=/tmp/out bench/gpu_experiments.sh DEADLINE_S ROOT EXPERIMENT SCALE "ARM ..." "SEED ..."
#   e.g. bench/gpu_experiments.sh 480 results/experiments_h100 scaling reduced "tiny-1m tiny-4m tiny-16m" "0 1 2"
#
# SETS="KEY=VALUE ..." adds overrides to every cell (looptool experiments --set), e.g. SETS="probe_batch_size=64": the
# preset's batch of 8 leaves SmolLM2's probe and evaluation host-bound on a GPU (results/experiments_h200/README.md).
# PY names the interpreter (default python3; the lent machine's image has torch and transformers, the rest goes
# there as wheels, DESIGN.md). Cells share the GPU: tiny students are launch-bound, so they run side by side.
set -u
[ $# -eq 6 ] || { echo "usage: $0 DEADLINE_S ROOT EXPERIMENT SCALE 'ARM ...' 'SEED ...'" >&2; exit 2; }
deadline=$1 root=$2 exp=$3 scale=$4 arms=$5 seeds=$6
PY=${PY:-python3}
: "${OUT:?OUT must name the folder the packed results go to}"
logs=$root/logs; mkdir -p "$logs" "$OUT"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
cli='import sys; from looptool_nb.cli import main; sys.exit(main())'
sets=(); for kv in ${SETS:-}; do sets+=(--set "$kv"); done
start=$(date +%s) groups=()
for a in $arms; do for s in $seeds; do
  # timeout leads its own process group (the cell and its stage kernels) and signals all of it at the deadline:
  # SIGINT first, so run_loop stops the stage and keeps every finished one; KILL 30 s later if it hangs.
  timeout -s INT -k 30 "$deadline" "$PY" -c "$cli" experiments --only "$exp" --scale "$scale" --arms "$a" \
    --seeds "$s" --root "$root" ${sets[@]+"${sets[@]}"} >"$logs/$exp-$a-seed_$s.log" 2>&1 &
  groups+=($!)
done; done
wait
for g in "${groups[@]}"; do kill -9 -- "-$g" 2>/dev/null; done   # kernels a stopped cell left (only this script's)
echo "cells stopped after $(( $(date +%s) - start )) s"
"$PY" -c "$cli" experiments --only "$exp" --scale "$scale" --root "$root" --report-only >"$logs/report.log" 2>&1 || tail -5 "$logs/report.log"
for f in "$logs"/*.log; do echo "== $f"; tail -3 "$f"; done
tar cz --exclude='*.safetensors' --exclude='*.bin' --exclude='*.pt' --exclude='*.pth' --exclude='optimizer*' "$root" \
  | split -b 15M - "$OUT/experiments.tgz.part-"
ls -la "$OUT"
