#!/usr/bin/env bash
# The last rounds of the shipped level estimators (2-core CPU, one thread each, one at a time),
# each continuing the estimator cpu_all.sh trained (INIT=folder with TASK.estimator.safetensors).
#   denoise: relative L1 (weight 1/σ), so σ 5–15 count as much as σ 75 in relative error.
#   dejpeg:  a long round at 64² crops.
#   sr:      a round at 96² crops, then one with the 16 px of degradation context
#            (`EstimatorConfig.context`, now the default for every task; the first two
#            rounds above ran before it existed, context 0) that removed the ×4 bias.
# Usage: DATA=../shared/data INIT=napari_hyperres/pretrained OUT=runs bash trainer/recipes/cpu_estimators.sh
{  # bash reads the whole block before running it: editing this file while a round runs cannot change what that round runs
set -euo pipefail
DATA=${DATA:-../shared/data}
INIT=${INIT:-napari_hyperres/pretrained}
OUT=${OUT:-runs}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
TRAIN="$DATA/train/gray400 $DATA/train/color400"
EST="python -m trainer train-estimator --data $TRAIN --steps 100000000 --batch 16"
mkdir -p "$OUT"
$EST --task denoise --out "$OUT/denoise.estimator.safetensors" --init-from "$INIT/denoise.estimator.safetensors" \
  --patch 64 --lr 1e-4 --seed 2 --relative-loss --time-budget 900
$EST --task dejpeg --out "$OUT/dejpeg.estimator.safetensors" --init-from "$INIT/dejpeg.estimator.safetensors" \
  --patch 64 --lr 5e-4 --seed 2 --time-budget 1200
$EST --task sr --out "$OUT/sr.estimator.round2.safetensors" --init-from "$INIT/sr.estimator.safetensors" \
  --patch 96 --lr 5e-4 --seed 2 --time-budget 1200
$EST --task sr --out "$OUT/sr.estimator.safetensors" --init-from "$OUT/sr.estimator.round2.safetensors" \
  --patch 96 --lr 2e-4 --seed 3 --time-budget 720
echo "copy $OUT/*.estimator.safetensors into napari_hyperres/pretrained/ and run benchmarks/bench_estimator.py"

# denoise.estimator-8bit (read for uint8 images): the shipped denoise.estimator, 900 s more with half
# of its crops rounded and clipped to 8-bit values, as 8-bit files hold noise:
#   python -m trainer train-estimator --task denoise --data $TRAIN --out runs/denoise.estimator.q8.safetensors \
#     --init-from napari_hyperres/pretrained/denoise.estimator.safetensors --steps 100000000 --batch 16 --patch 64 \
#     --lr 3e-4 --seed 3 --relative-loss --quantize-8bit 0.5 --time-budget 900
# then renamed denoise.estimator-8bit (metadata name included) into napari_hyperres/pretrained/.
#
# denoise.estimator-jpeg (read for images from .jpg files; stop 45, 2026-12-07, one thread each, one after
# the other): denoise.estimator-8bit, 1,500 s more with 30 % of its crops saved as JPEG files at quality
# 80-98 (labelled with the sigma before saving), then 1,500 s with every crop saved at quality 70-100:
#   python -m trainer train-estimator --task denoise --data $TRAIN --out runs/est_jpeg/denoise.estimator-8bit.jpeg30.safetensors \
#     --init-from napari_hyperres/pretrained/denoise.estimator-8bit.safetensors --steps 100000000 --batch 16 --patch 64 \
#     --lr 2e-4 --seed 4 --relative-loss --quantize-8bit 0.5 --jpeg-share 0.3 --time-budget 1500
#   python -m trainer train-estimator --task denoise --data $TRAIN --out runs/est_jpeg/denoise.estimator-jpeg.safetensors \
#     --init-from runs/est_jpeg/denoise.estimator-8bit.jpeg30.safetensors --steps 100000000 --batch 16 --patch 64 \
#     --lr 1e-4 --seed 5 --relative-loss --quantize-8bit 1.0 --jpeg-share 1.0 --jpeg-quality 70 100 --time-budget 1500
#   python -m trainer export runs/est_jpeg/denoise.estimator-jpeg.run --name denoise.estimator-jpeg --out napari_hyperres/pretrained
# (the first alone, as the 8-bit estimator, read sigma 10 on 8-bit files 5.3 % off, against 2.6 %: not shipped as that).
# A third round, 1,200 s more at --lr 5e-5 --seed 6 (the same options), tied it: sigma 5 / 10 at q80 26 / 13 % against
# 31 / 16 %, elsewhere within 2 points; restored at q90 +0.05 / +0.03 / -0.01 / -0.02 dB (sigma 10, camera mild / strong,
# clean). Not shipped.
exit
}
