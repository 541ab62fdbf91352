#!/usr/bin/env bash
# Round 3 of the shipped denoise.lite (2026-12-01, one thread beside other work, 6,600 s wall):
# gray + colour, half of each batch rounded and clipped to 8 bits (what 8-bit files hold), lr 2e-4
# decayed ×0.1 at 55 % and 85 % of the time budget, continuing round 2 (the shipped file then).
# Then evaluated on Set12 / McMaster (σ 15 / 25 / 50) and exported with those tables.
# Usage: DATA=../shared/data OUT=runs INIT=napari_hyperres/pretrained/denoise.lite.safetensors bash trainer/recipes/cpu_denoise_round3.sh
{  # bash reads the whole block before running it: editing this file while a round runs cannot change what that round runs
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs}
INIT=${INIT:-napari_hyperres/pretrained/denoise.lite.safetensors}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
python -m trainer train --task denoise --preset lite --batch 16 --patch 48 \
  --data "$DATA/train/gray400" "$DATA/train/color400" --val "$DATA/val/Set12" --out "$OUT/denoise_r3" \
  --init-from "$INIT" --quantize-8bit 0.5 --lr 2e-4 --lr-decay-at 0.55 0.85 --steps 100000000 \
  --time-budget "${BUDGET:-6600}" --val-every 1000 --ckpt-every 200 --no-progress
python -m trainer export "$OUT/denoise_r3" --name denoise.lite   # → $OUT/denoise_r3/denoise.lite.safetensors
for set in Set12 McMaster; do
  python -m trainer eval --task denoise --weights "$OUT/denoise_r3/denoise.lite.safetensors" --data "$DATA/val/$set" \
    --levels 15 25 50 --json "$OUT/denoise_r3_$set.json"
done
python -m trainer export "$OUT/denoise_r3" --name denoise.lite --out napari_hyperres/pretrained \
  --validation-json "$OUT/denoise_r3_Set12.json" "$OUT/denoise_r3_McMaster.json"
exit
}
