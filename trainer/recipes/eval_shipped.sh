#!/usr/bin/env bash
# Export finished runs as the shipped weights, evaluate them on ../shared/data/val with the
# papers' protocols, and export again with the validation tables stored in the files.
# Usage: DATA=../shared/data RUNS=runs OUT=runs/eval bash trainer/recipes/eval_shipped.sh
{  # bash reads the whole block before running it: editing this file while a round runs cannot change what that round runs
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs}
OUT=${OUT:-$RUNS/eval}
mkdir -p "$OUT"
for task in denoise dejpeg sr; do
  python -m trainer export "$RUNS/$task" --name "$task.lite" --out napari_hyperres/pretrained
done
python -m trainer eval --task denoise --data "$DATA/val/Set12" --levels 15 25 50 --json "$OUT/denoise_Set12.json"
python -m trainer eval --task denoise --data "$DATA/val/McMaster" --levels 15 25 50 --json "$OUT/denoise_McMaster.json"
python -m trainer eval --task dejpeg --data "$DATA/val/classic5" --levels 10 20 30 40 --json "$OUT/dejpeg_classic5.json"
python -m trainer eval --task sr --data "$DATA/val/Set14" --levels 2 3 4 --json "$OUT/sr_Set14.json"
python -m trainer export "$RUNS/denoise" --name denoise.lite --out napari_hyperres/pretrained --validation-json "$OUT/denoise_Set12.json" "$OUT/denoise_McMaster.json"
python -m trainer export "$RUNS/dejpeg" --name dejpeg.lite --out napari_hyperres/pretrained --validation-json "$OUT/dejpeg_classic5.json"
python -m trainer export "$RUNS/sr" --name sr.lite --out napari_hyperres/pretrained --validation-json "$OUT/sr_Set14.json"
# The all-in-one (auto) HAIR network, and estimators retrained by the recipe, when present.
if [ -f "$RUNS/auto_hair/checkpoint.pt" ]; then python -m trainer export "$RUNS/auto_hair" --name auto.small --out napari_hyperres/pretrained; fi
for task in denoise dejpeg sr; do
  if [ -f "$RUNS/$task.estimator.safetensors" ]; then cp "$RUNS/$task.estimator.safetensors" napari_hyperres/pretrained/; fi
done
exit
}
