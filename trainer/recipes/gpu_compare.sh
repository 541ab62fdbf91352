#!/usr/bin/env bash
# The comparison runs of `python -m trainer compare --task denoise`, all at once on one GPU,
# every network with the same step budget (STEPS), the same lite backbone, data and batch:
# HyperRes on the task's training levels, a dedicated network per evaluated level, and
# AdaFM-Net (AdaFM layers fine-tuned at σ75 for STEPS more steps on the dedicated σ15 base).
# DNI interpolates dedicated σ15 and σ75 (no training). Afterwards, on any machine:
#   python -m trainer compare --task denoise --runs $OUT/compare --val ../shared/data/val/Set12 \
#       --data ../shared/data/train/gray400 --eval-levels 5 15 25 35 50 65 75 85
# HyperRes trains with HYPER (default: the balanced level loss and the centred control; HYPER= for
# the papers' plain sum and level/255; the compare command then takes the same flags).
# Usage: DATA=path/to/shared/data OUT=runs STEPS=1500 bash trainer/recipes/gpu_compare.sh
{  # bash reads the whole block before running it: editing this file while a round runs cannot change what that round runs
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs}
STEPS=${STEPS:-1500}
COMMON="--preset lite --batch 32 --patch 96 --lr 4e-4 --lr-decay-at 0.6 0.9 --amp --no-progress --steps $STEPS --val-every 1000000000 --ckpt-every 1000000000"
HYPER=${HYPER---level-balance log --centred-control}
TRAIN="$DATA/train/gray400 $DATA/train/color400"
mkdir -p "$OUT/compare"
pids=()
python3 -m trainer train --task denoise --kind hyperres --data $TRAIN --out "$OUT/compare/hyperres" $COMMON $HYPER > "$OUT/hyperres.txt" 2>&1 & pids+=($!)
for level in ${DEDICATED_LEVELS:-5 25 35 50 65 85}; do
  python3 -m trainer train --task denoise --kind dedicated --levels "$level" --data $TRAIN \
    --out "$OUT/compare/dedicated_$level" $COMMON > "$OUT/dedicated_$level.txt" 2>&1 & pids+=($!)
done
python3 -m trainer train --task denoise --kind dedicated --levels 75 --data $TRAIN --out "$OUT/compare/dedicated_75" $COMMON > "$OUT/dedicated_75.txt" 2>&1 & pids+=($!)
(
  python3 -m trainer train --task denoise --kind dedicated --levels 15 --data $TRAIN --out "$OUT/compare/dedicated_15" $COMMON &&
  python3 -m trainer train --task denoise --kind adafm --levels 75 --data $TRAIN --out "$OUT/compare/adafm" \
    --init-from "$OUT/compare/dedicated_15/checkpoint.pt" $COMMON
) > "$OUT/adafm.txt" 2>&1 & pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
exit
}
