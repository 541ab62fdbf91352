#!/usr/bin/env bash
# The recipe that trained the shipped weights on a 2-core CPU (no GPU), every run at
# once, one thread each, with wall-clock budgets (the lr schedule follows time used):
# the three lite hypernetworks, their level estimators, HAIR (auto) and its fixed-weights
# baseline, and the small-preset baseline comparison for denoise.
# Usage: DATA=../shared/data OUT=runs BUDGET=6600 bash trainer/recipes/cpu_all.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs}
BUDGET=${BUDGET:-6600}           # seconds for the hypernetworks
AUX=${AUX:-$((BUDGET * 6 / 10))}  # seconds for HAIR, its baseline and the estimators
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
TRAIN="$DATA/train/gray400 $DATA/train/color400"
COMMON="--batch 16 --patch 64 --lr 4e-4 --lr-decay-at 0.6 0.9 --no-progress --steps 100000000 --val-every 400 --ckpt-every 200"
mkdir -p "$OUT"
pids=()
python -m trainer train --task denoise --preset lite --data $TRAIN --val "$DATA/val/Set12" --out "$OUT/denoise" --time-budget "$BUDGET" $COMMON > "$OUT/denoise.txt" 2>&1 & pids+=($!)
python -m trainer train --task dejpeg --preset lite --data $TRAIN --val "$DATA/val/classic5" --out "$OUT/dejpeg" --time-budget "$BUDGET" $COMMON > "$OUT/dejpeg.txt" 2>&1 & pids+=($!)
python -m trainer train --task sr --preset lite --data $TRAIN --val "$DATA/val/Set14" --out "$OUT/sr" --time-budget "$BUDGET" $COMMON > "$OUT/sr.txt" 2>&1 & pids+=($!)
python -m trainer train --task auto --kind hair --preset lite --data $TRAIN --out "$OUT/auto_hair" --time-budget "$AUX" $COMMON > "$OUT/auto_hair.txt" 2>&1 & pids+=($!)
python -m trainer train --task auto --kind dedicated --preset lite --data $TRAIN --out "$OUT/auto_fixed" --time-budget "$AUX" $COMMON > "$OUT/auto_fixed.txt" 2>&1 & pids+=($!)
for task in denoise dejpeg sr; do
  python -m trainer train-estimator --task "$task" --data $TRAIN --out "$OUT/$task.estimator.safetensors" \
    --steps 100000000 --batch 16 --patch 96 --time-budget "$((AUX / 2))" > "$OUT/$task.estimator.txt" 2>&1 & pids+=($!)
done
# The baseline comparison (same small backbone, same steps for every network), trained one after another.
python -m trainer compare --task denoise --runs "$OUT/compare" --val "$DATA/val/Set12" --data $TRAIN \
  --eval-levels 5 15 25 35 50 65 75 85 --preset small --steps "${COMPARE_STEPS:-1500}" --batch 8 --patch 48 --lr 4e-4 \
  --device cpu --json "$OUT/compare.json" > "$OUT/compare.txt" 2>&1 & pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
