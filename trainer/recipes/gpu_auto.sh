#!/usr/bin/env bash
# The all-in-one (auto) runs on one GPU, by the procedure of cpu_auto.sh at a larger budget:
# Round 1: the lite backbone with fixed weights learns the degradation mixture (ROUND1 steps).
# Round 2, side by side from that network, the same steps and schedule (ROUND2 steps each):
#   (a) the fixed network continues: baseline (a) of BENCHMARKS.md;
#   (b) HAIR is upcycled from it and trains, with HAIR_FLAGS (default --select-decoder: the decoder
#       convs are selected too, which helped on the CPU; add e.g. selection penalties here).
# Not yet run on a GPU: the shipped auto.lite comes from cpu_auto.sh.
# Usage: DATA=path/to/shared/data OUT=runs bash trainer/recipes/gpu_auto.sh
{  # bash reads the whole block before running it: editing this file while a round runs cannot change what that round runs
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs}
ROUND1=${ROUND1:-20000}
ROUND2=${ROUND2:-60000}
HAIR_FLAGS=${HAIR_FLAGS:---select-decoder}  # e.g. add --selection-entropy 1e-3 --selection-balance 5e-4
TRAIN="$DATA/train/gray400 $DATA/train/color400"
COMMON="--task auto --preset lite --batch 32 --patch 48 --lr-decay-at 0.6 0.9 --amp --no-progress --val-every 1000000000 --ckpt-every 2000 --data $TRAIN"
mkdir -p "$OUT"
python3 -m trainer train --kind dedicated $COMMON --out "$OUT/auto_fixed_gpu1" --steps "$ROUND1" --lr 4e-4 > "$OUT/auto_fixed_gpu1.txt" 2>&1
pids=()
python3 -m trainer train --kind dedicated $COMMON --out "$OUT/auto_dedicated_gpu2" --steps "$ROUND2" --lr 2e-4 \
  --init-from "$OUT/auto_fixed_gpu1/checkpoint.pt" > "$OUT/auto_dedicated_gpu2.txt" 2>&1 & pids+=($!)
python3 -m trainer train --kind hair $COMMON $HAIR_FLAGS --out "$OUT/auto_hair_gpu2" --steps "$ROUND2" --lr 2e-4 \
  --init-from "$OUT/auto_fixed_gpu1/checkpoint.pt" > "$OUT/auto_hair_gpu2.txt" 2>&1 & pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
python3 -m trainer export "$OUT/auto_dedicated_gpu2" --name auto.fixed --out "$OUT"
python3 -m trainer export "$OUT/auto_hair_gpu2" --name auto.lite --out "$OUT"
echo "compare: python benchmarks/bench_auto.py --fixed $OUT/auto.fixed.safetensors --auto-weights $OUT/auto.lite.safetensors"
exit $status
exit
}
