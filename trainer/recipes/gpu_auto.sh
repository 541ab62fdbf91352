#!/usr/bin/env bash
# The all-in-one (auto) runs, side by side with the same wall-clock budget on one GPU:
# HAIR (image-conditioned weight selection) and the same backbone with fixed weights
# trained on the same degradation mixture (baseline (a) of BENCHMARKS.md).
# Usage: DATA=path/to/shared/data OUT=runs BUDGET=450 bash trainer/recipes/gpu_auto.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs}
BUDGET=${BUDGET:-450}
COMMON="--preset lite --batch 32 --patch 96 --lr 4e-4 --lr-decay-at 0.6 0.9 --amp --no-progress --steps 100000000 --val-every 1000000000 --ckpt-every 1000000000 --time-budget $BUDGET"
TRAIN="$DATA/train/gray400 $DATA/train/color400"
mkdir -p "$OUT"
pids=()
python3 -m trainer train --task auto --kind hair --data $TRAIN --out "$OUT/auto_hair" $COMMON > "$OUT/auto_hair.txt" 2>&1 & pids+=($!)
python3 -m trainer train --task auto --kind dedicated --data $TRAIN --out "$OUT/auto_fixed" $COMMON > "$OUT/auto_fixed.txt" 2>&1 & pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
