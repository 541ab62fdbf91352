#!/usr/bin/env bash
# The denoise comparison runs (dedicated networks per level, AdaFM-Net), all at once on
# one GPU, each process with the same wall-clock budget; HyperRes is the run of gpu_lite.sh.
# Usage: DATA=path/to/shared/data OUT=runs BUDGET=440 bash trainer/recipes/gpu_compare.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs}
BUDGET=${BUDGET:-440}
COMMON="--preset lite --batch 32 --patch 96 --lr 4e-4 --lr-decay-at 0.6 0.9 --amp --no-progress --steps 100000000 --val-every 1000000000 --ckpt-every 1000000000"
TRAIN="$DATA/train/gray400 $DATA/train/color400"
mkdir -p "$OUT"
pids=()
for level in ${DEDICATED_LEVELS:-5 15 25 35 50 65 75 85}; do
  python3 -m trainer train --task denoise --kind dedicated --levels "$level" --data $TRAIN --val "$DATA/val/Set12" \
    --out "$OUT/compare/dedicated_$level" --time-budget "$BUDGET" $COMMON > "$OUT/dedicated_$level.txt" 2>&1 & pids+=($!)
done
# AdaFM-Net gets the same wall time: base at σ15 for 2/3 of it, AdaFM layers fine-tuned at σ75 for 1/3.
(
  python3 -m trainer train --task denoise --kind dedicated --levels 15 --data $TRAIN --out "$OUT/compare/adafm_base" \
    --time-budget "$((BUDGET * 2 / 3))" $COMMON &&
  python3 -m trainer train --task denoise --kind adafm --levels 75 --data $TRAIN --out "$OUT/compare/adafm" \
    --init-from "$OUT/compare/adafm_base/checkpoint.pt" --time-budget "$((BUDGET / 3))" $COMMON
) > "$OUT/adafm.txt" 2>&1 & pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
