#!/usr/bin/env bash
# The shipped all-in-one network (auto.lite) and its fixed-weights baseline, on a 2-core CPU.
#
# Round 1: the lite backbone with fixed weights learns the whole degradation mixture.
# Round 2, from that network, two runs side by side with the same steps and schedule:
#   (a) the fixed network continues;
#   (b) HAIR is upcycled from it (its weight boxes start as the fixed kernels, every
#       candidate alike plus 1 % jitter; classifier and selecting nets fresh) and trains.
# Rounds 3 and 4: both continue twice more (ROUND3 and ROUND4 steps, lr 1e-4 each).
# Round 5: both continue once more (ROUND5 steps, lr 1e-4). ROUND5_HAIR adds flags to HAIR's
#   round: with the selection penalties its mixtures became one-hot per degradation, but it
#   ended 0.04 dB below plain HAIR on average, so the shipped auto.lite trains without them.
# Rounds 6 to 10: both continue (ROUND6 ... ROUND10 steps, lr 1e-4); from round DECODER_FROM on,
#   HAIR selects its decoder convs too (--select-decoder: post-body conv, upsampler, refine and
#   tail from a weight box, seeded from the shared convs; the whole second half is generated).
#   Measured after round 6: gap closed 69 / 31 / 37 % with the selected decoder, 64 / 23 / 31 %
#   without (noise / JPEG / ×3); after round 7: 86 / 38 / 61 %; after round 10 (shipped):
#   137 / 51 / 103 % (BENCHMARKS.md).
# Both have then had the same optimiser steps on the same data: the BENCHMARKS.md
# comparison "at the same budget". HAIR's exported metadata lists both rounds.
# Usage: DATA=../shared/data OUT=runs bash trainer/recipes/cpu_auto.sh
{  # bash reads the whole block before running it: editing this file while a round runs cannot change what that round runs
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs}
ROUND1=${ROUND1:-9000}
ROUND2=${ROUND2:-15000}
ROUND3=${ROUND3:-4500}
ROUND4=${ROUND4:-6000}
ROUND5=${ROUND5:-12000}
ROUND6=${ROUND6:-12000}
ROUND7=${ROUND7:-12000}
ROUND8=${ROUND8:-12000}
ROUND9=${ROUND9:-12000}
ROUND10=${ROUND10:-8000}
DECODER_FROM=${DECODER_FROM:-6}
ROUND5_HAIR=${ROUND5_HAIR:-}  # e.g. "--selection-entropy 1e-3 --selection-balance 5e-4": measured 0.04 dB worse on average (BENCHMARKS.md)
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
TRAIN="$DATA/train/gray400 $DATA/train/color400"
COMMON="--task auto --preset lite --batch 16 --patch 48 --data $TRAIN --lr-decay-at 0.6 0.9 --no-progress --val-every 100000000 --ckpt-every 500"
mkdir -p "$OUT"
python -m trainer train --kind dedicated $COMMON --out "$OUT/auto_fixed_lite1" --steps "$ROUND1" --lr 4e-4 > "$OUT/auto_fixed_lite1.txt" 2>&1
pids=()
for kind in dedicated hair; do
  python -m trainer train --kind "$kind" $COMMON --out "$OUT/auto_${kind}_lite2" --steps "$ROUND2" --lr 2e-4 \
    --init-from "$OUT/auto_fixed_lite1/checkpoint.pt" > "$OUT/auto_${kind}_lite2.txt" 2>&1 & pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
status=0
for round in "3 $ROUND3" "4 $ROUND4" "5 $ROUND5" "6 $ROUND6" "7 $ROUND7" "8 $ROUND8" "9 $ROUND9" "10 $ROUND10"; do
  set -- $round
  pids=()
  for kind in dedicated hair; do
    extra=""
    if [ "$kind" = hair ] && [ "$1" = 5 ]; then extra=$ROUND5_HAIR; fi
    if [ "$kind" = hair ] && [ "$1" -ge "$DECODER_FROM" ]; then extra="$extra --select-decoder"; fi
    python -m trainer train --kind "$kind" $COMMON $extra --out "$OUT/auto_${kind}_lite$1" --steps "$2" --lr 1e-4 \
      --init-from "$OUT/auto_${kind}_lite$(($1 - 1))/checkpoint.pt" > "$OUT/auto_${kind}_lite$1.txt" 2>&1 & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
done
python -m trainer export "$OUT/auto_hair_lite10" --name auto.lite --out "$OUT"
# what the network's mixtures mean, in words ("looks like JPEG compression, 97% sure"): recorded on training crops
python -m trainer reference-mixtures "$OUT/auto.lite.safetensors" --data $TRAIN --out napari_hyperres/pretrained/auto.lite.safetensors
python -m trainer export "$OUT/auto_dedicated_lite10" --name auto.fixed --out "$OUT"
echo "compare: python benchmarks/bench_auto.py --threads 2 --fixed $OUT/auto.fixed.safetensors"
exit $status
exit
}
