#!/usr/bin/env bash
# The recipe that trained the shipped lite weights and level estimators, all at once
# on one GPU (H100), each process with the same wall-clock budget.
# Usage: DATA=path/to/shared/data OUT=runs BUDGET=420 bash trainer/recipes/gpu_lite.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs}
BUDGET=${BUDGET:-420}
COMMON="--preset lite --batch 32 --patch 96 --lr 4e-4 --lr-decay-at 0.6 0.9 --amp --no-progress --steps 100000000 --val-every 1000000000 --ckpt-every 1000000000"
TRAIN="$DATA/train/gray400 $DATA/train/color400"
mkdir -p "$OUT"
pids=()
python3 -m trainer train --task denoise --data $TRAIN --val "$DATA/val/Set12" --out "$OUT/denoise" --time-budget "$BUDGET" $COMMON > "$OUT/denoise.txt" 2>&1 & pids+=($!)
python3 -m trainer train --task dejpeg --data $TRAIN --val "$DATA/val/classic5" --out "$OUT/dejpeg" --time-budget "$BUDGET" $COMMON > "$OUT/dejpeg.txt" 2>&1 & pids+=($!)
python3 -m trainer train --task sr --data $TRAIN --val "$DATA/val/Set14" --out "$OUT/sr" --time-budget "$BUDGET" $COMMON > "$OUT/sr.txt" 2>&1 & pids+=($!)
if [ "${ESTIMATORS:-1}" = 1 ]; then
  for task in denoise dejpeg sr; do
    python3 -m trainer train-estimator --task "$task" --data $TRAIN --out "$OUT/$task.estimator.safetensors" \
      --steps 100000000 --batch 32 --patch 128 --time-budget "$BUDGET" > "$OUT/$task.estimator.txt" 2>&1 & pids+=($!)
  done
fi
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
