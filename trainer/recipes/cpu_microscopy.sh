#!/usr/bin/env bash
# The shipped microscopy.lite: the Gaussian denoise.lite network fine-tuned for the microscopy
# task's variance-stabilised domain (degrade_photon_limited: Poisson + 1 e⁻ read noise at
# 5 / 12 / 30 / 100 photons, after the generalized Anscombe transform), on a 2-core CPU, one
# thread, beside other jobs (steps/s in the logs are low for that reason).
#   round 1: gray400 + the 400-frame averages of W2S fields 031-060, 48² crops, lr 2e-4,
#            from denoise.lite; stopped by hand at step 1,050 (the checkpoint is step 1,000).
#   round 2: the W2S averages of fields 031-060 only, 64² crops, lr 3e-4 (÷10 at 70 % and 95 %
#            of the wall-clock budget), from round 1's checkpoint.
# W2S fields 001-030 are never trained on: BENCHMARKS.md reports them apart (held out).
# The result is exported to $OUT/microscopy_w2s/microscopy.lite.safetensors; SHIP=1 also exports it
# into the package (do that only when benchmarks/bench_w2s.py --weights <it> beats the shipped file).
# INIT= the denoise network to start from (default: the shipped denoise.lite).
#   2026-12-02 23:45: OUT=runs/micro_r11 ROUND2=4200, from denoise.lite round 11 (75,223 steps;
#                     the microscopy.lite shipped then started from its first 5,845); lost with its
#                     session's runs/.
#   2026-12-03 06:42: OUT=runs/micro_r11 ROUND1=1400 ROUND2=4000, the same again.
#   2026-12-06 07:58: OUT=runs/micro_r3 ROUND1=0 ROUND2=5400 LR2=1e-4
#                     INIT=napari_hyperres/pretrained/microscopy.lite.safetensors: a third round, on the
#                     W2S averages only, continuing the shipped microscopy.lite: 2,573 steps, W2S
#                     +0.021 dB (all 180 frames and the held-out 90 alike), but the fluorescence sample
#                     −0.07 dB and Set12 photon validation −0.4 to −0.7 dB. Not shipped (BENCHMARKS.md).
#   2026-12-06 18:36: OUT=runs/micro_r16 ROUND1=1400 ROUND2=4000, the re-derivation again from denoise.lite
#                     round 16 (89,051 steps; Set12 σ 50 +0.06 dB over round 11); stopped at 18:57 for:
#   2026-12-06 18:57: OUT=runs/micro_r16_hi ROUND1=1000 ROUND2=3600 LEVELS="5 12 30 100 1000 5000" BALANCE=log,
#                     from denoise.lite round 16: a review found bright images (thousands of photons, ordinary
#                     widefield) restored worse than their input: microscopy.lite was trained at 5-100 photons
#                     only and smooths away detail far above them, where denoise.lite's network nearly keeps it.
#                     441 + 998 steps. Shipped: W2S all 180 frames 33.53 dB (33.56 before), natural images at
#                     5,000 photons 41.56 dB against 34.79 before (input 40.10) (BENCHMARKS.md).
#   2026-12-07 18:24: OUT=runs/micro_r21 ROUND1=1000 ROUND2=3600 LEVELS="5 12 30 100 1000 5000" BALANCE=log, the same
#                     re-derivation from denoise.lite round 21 (95,532 steps; Set12 σ 50 +0.02 dB over round 16),
#                     started 40 minutes before its session ended; round 1 did not finish, and the command ran again
#                     from the start at 2026-12-07 18:41: 383 + 1,019 steps. W2S 33.541 against 33.526 (held out
#                     33.613 against 33.597), natural images +0.01 to +0.06 dB, the fluorescence sample +0.08, Set12
#                     photon validation a tie. Shipped (BENCHMARKS.md).
# ROUND1=0 skips round 1 (INIT is then a microscopy network); RESUME=1 with ROUND1=0 continues round 2's run
# (with ROUND1 set, round 1 would run again from INIT first).
# Usage: DATA=../shared/data OUT=runs ROUND1=1400 ROUND2=4800 [LR2=3e-4] [LEVELS="5 12 30 100"] [BALANCE=log] [RESUME=1] [SHIP=1] bash trainer/recipes/cpu_microscopy.sh
{  # bash reads the whole block before running it: editing this file while a round runs cannot change what that round runs
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs}
INIT=${INIT:-napari_hyperres/pretrained/denoise.lite.safetensors}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
W2S="$OUT/w2s_train31_60"
mkdir -p "$W2S"
for field in $(seq 31 60); do
  for channel in 0 1 2; do
    ln -sf "$(realpath "$DATA/microscopy/W2S/clean/target_avg400_0${field}_${channel}.tif")" "$W2S/"
  done
done
COMMON="--task microscopy --preset lite --batch 16 --val $DATA/val/Set12 --no-progress --steps 100000000 --val-every 400 --ckpt-every 200"
if [ -n "${LEVELS:-}" ]; then COMMON="$COMMON --levels $LEVELS"; fi   # other photon levels than the task's (e.g. up to 5000)
if [ -n "${BALANCE:-}" ]; then COMMON="$COMMON --level-balance $BALANCE"; fi   # log: a level of little noise counts as much as a noisy one
if [ "${ROUND1:-1400}" != 0 ]; then
  python -m trainer train $COMMON --patch 48 --data "$DATA/train/gray400" "$W2S" --out "$OUT/microscopy" \
    --init-from "$INIT" --time-budget "${ROUND1:-1400}" --lr 2e-4 --lr-decay-at 0.7 0.95
  INIT2="$OUT/microscopy/checkpoint.pt"
else
  INIT2="$INIT"   # ROUND1=0: INIT is already a microscopy network (e.g. the shipped microscopy.lite)
fi
resume=()
if [ "${RESUME:-0}" = 1 ]; then resume=(--resume); fi
python -m trainer train $COMMON --patch 64 --data "$W2S" --out "$OUT/microscopy_w2s" \
  --init-from "$INIT2" --time-budget "${ROUND2:-4800}" --lr "${LR2:-3e-4}" --lr-decay-at 0.7 0.95 "${resume[@]}"
python -m trainer export "$OUT/microscopy_w2s" --name microscopy.lite   # → $OUT/microscopy_w2s/microscopy.lite.safetensors
if [ "${SHIP:-0}" = 1 ]; then
  python -m trainer export "$OUT/microscopy_w2s" --name microscopy.lite --out napari_hyperres/pretrained
fi
exit
}
