#!/usr/bin/env bash
# The recipe that trained the shipped weights on a 2-core CPU (no GPU), every run at
# once, one thread each, with wall-clock budgets (the lr schedule follows time used).
# The three lite hypernetworks get the CPU first; the auxiliary runs (level estimators,
# HAIR and its fixed-weights baseline at the small preset, the small-preset baseline
# comparison for denoise) run at lower priority (nice 10 for the estimators, 12 for the rest).
# INIT=DIR continues the three hypernetworks from the weights files DIR/TASK.lite.safetensors
# (a second round on top of shipped weights: the optimiser starts afresh, the lr schedule too);
# ESTIMATORS=0 skips the estimator rounds (when shipped estimators are kept).
# Denoise is trained colour-only first (COLOR_FIRST seconds, constant lr), then on gray + colour:
# measured here (small preset, σ25, 400 steps each), gray + colour from the start learns to remove
# only the luminance part of the noise (L1 on colour crops 0.078 → 0.074, gray 0.039), colour
# only learns both (colour 0.043, gray 0.052), and colour then gray + colour gives colour 0.036,
# gray 0.038. (Experiments: `trainer train --kind dedicated --levels 25 --preset small`.)
# The shipped denoise.estimator had one more round, run by hand beside this recipe:
#   nice -n 8 python -m trainer train-estimator --task denoise --data $TRAIN --out runs/denoise.estimator.safetensors \
#     --init-from napari_hyperres/pretrained/denoise.estimator.safetensors --steps 100000000 --batch 16 --patch 64 \
#     --lr 3e-4 --seed 2 --time-budget 3400
# and the shipped weights' second round was: INIT=<first-round files> ESTIMATORS=0 BUDGET=7000 AUX=4200 COMPARE_STEPS=1500.
# The estimators then had the rounds of trainer/recipes/cpu_estimators.sh; the shipped auto
# network (auto.lite) and its baseline come from trainer/recipes/cpu_auto.sh (the small-preset
# HAIR run here is the earlier auto.small, no longer shipped).
# Usage: DATA=../shared/data OUT=runs BUDGET=6300 bash trainer/recipes/cpu_all.sh
{  # bash reads the whole block before running it: editing this file while a round runs cannot change what that round runs
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs}
BUDGET=${BUDGET:-6300}            # seconds for the hypernetworks
AUX=${AUX:-$((BUDGET * 6 / 10))}  # seconds for HAIR and its baseline; estimators get half
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
TRAIN="$DATA/train/gray400 $DATA/train/color400"
SCHEDULE="--lr 4e-4 --lr-decay-at 0.6 0.9 --no-progress --steps 100000000 --val-every 400 --ckpt-every 200"
mkdir -p "$OUT"
pids=()
COLOR_FIRST=${COLOR_FIRST:-2400}
LITE="--preset lite --batch 16 --patch 48"
(
  python -m trainer train --task denoise $LITE --data "$DATA/train/color400" --val "$DATA/val/McMaster" \
    --out "$OUT/denoise_color" --time-budget "$COLOR_FIRST" $SCHEDULE --lr-decay-at 2 &&
  python -m trainer train --task denoise $LITE --data $TRAIN --val "$DATA/val/Set12" --out "$OUT/denoise" \
    --init-from "$OUT/denoise_color/checkpoint.pt" --time-budget "$((BUDGET - COLOR_FIRST))" $SCHEDULE
) > "$OUT/denoise.txt" 2>&1 & pids+=($!)
for spec in "dejpeg classic5" "sr Set14"; do
  set -- $spec
  init=(); if [ -n "${INIT:-}" ]; then init=(--init-from "$INIT/$1.lite.safetensors"); fi
  python -m trainer train --task "$1" $LITE --data $TRAIN --val "$DATA/val/$2" \
    --out "$OUT/$1" --time-budget "$BUDGET" "${init[@]}" $SCHEDULE > "$OUT/$1.txt" 2>&1 & pids+=($!)
done
for kind in hair dedicated; do
  nice -n 12 python -m trainer train --task auto --kind "$kind" --preset small --batch 8 --patch 48 --data $TRAIN \
    --out "$OUT/auto_$kind" --time-budget "$AUX" $SCHEDULE > "$OUT/auto_$kind.txt" 2>&1 & pids+=($!)
done
for task in $([ "${ESTIMATORS:-1}" = 1 ] && echo denoise dejpeg sr); do  # two rounds: lr 1e-3, then continued at 3e-4 (ESTIMATOR_MORE seconds)
  (
    nice -n 10 python -m trainer train-estimator --task "$task" --data $TRAIN --out "$OUT/$task.estimator.round1.safetensors" \
      --steps 100000000 --batch 16 --patch 64 --time-budget "$((AUX / 2))" &&
    nice -n 10 python -m trainer train-estimator --task "$task" --data $TRAIN --out "$OUT/$task.estimator.safetensors" \
      --init-from "$OUT/$task.estimator.round1.safetensors" --steps 100000000 --batch 16 --patch 64 --lr 3e-4 --seed 1 \
      --time-budget "${ESTIMATOR_MORE:-3800}"
  ) > "$OUT/$task.estimator.txt" 2>&1 & pids+=($!)
done
# The baseline comparison (same small backbone, same steps for every network), trained one after another.
nice -n 5 python -m trainer compare --task denoise --runs "$OUT/compare" --val "$DATA/val/Set12" --data $TRAIN \
  --eval-levels 5 15 25 50 65 85 --preset small --steps "${COMPARE_STEPS:-1500}" --batch 8 --patch 48 --lr 4e-4 \
  --device cpu --json "$OUT/compare.json" > "$OUT/compare.txt" 2>&1 & pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
exit
}
