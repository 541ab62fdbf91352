#!/usr/bin/env bash
# The recipe that trained the shipped lite weights and level estimators, all at once
# on one GPU (H100), each process with the same wall-clock budget.
# The hypernetworks train with the balanced level loss and the centred control (HYPER; both
# measured in BENCHMARKS.md, `trainer compare`); HYPER= gives the papers' plain sum and level/255.
# Usage: DATA=path/to/shared/data OUT=runs BUDGET=420 bash trainer/recipes/gpu_lite.sh
{  # bash reads the whole block before running it: editing this file while a round runs cannot change what that round runs
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs}
BUDGET=${BUDGET:-420}
COMMON="--preset lite --batch 32 --patch 96 --lr 4e-4 --lr-decay-at 0.6 0.9 --amp --no-progress --steps 100000000 --val-every 1000000000 --ckpt-every 1000000000"
HYPER=${HYPER---level-balance log --centred-control}
TRAIN="$DATA/train/gray400 $DATA/train/color400"
mkdir -p "$OUT"
pids=()
val() { if [ -d "$DATA/val/$1" ]; then echo "--val $DATA/val/$1"; fi; }  # a final validation when the folder is there
for spec in "denoise Set12" "dejpeg classic5" "sr Set14"; do
  set -- $spec
  python3 -m trainer train --task "$1" --data $TRAIN $(val "$2") --out "$OUT/$1" --time-budget "$BUDGET" $COMMON $HYPER > "$OUT/$1.txt" 2>&1 & pids+=($!)
done
if [ "${ESTIMATORS:-1}" = 1 ]; then
  for task in denoise dejpeg sr; do
    python3 -m trainer train-estimator --task "$task" --data $TRAIN --out "$OUT/$task.estimator.safetensors" \
      --steps 100000000 --batch 32 --patch 128 --time-budget "$BUDGET" > "$OUT/$task.estimator.txt" 2>&1 & pids+=($!)
  done
fi
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
exit
}
