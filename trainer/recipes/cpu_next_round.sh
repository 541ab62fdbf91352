#!/usr/bin/env bash
# One more CPU round of a shipped lite network, continuing the shipped file (--init-from; the
# optimiser and the lr schedule start afresh): gray + colour crops, lr 2e-4 ÷10 at 55 % and 85 %
# of the time budget, one thread. Then evaluated with the papers' protocols; SHIP=1 exports it
# into the package with its validation tables (do that only when the tables beat the shipped
# file's: `napari-hyperres weights` prints those).
#
# Rounds run with it (2026-12-01, one thread each, side by side, beside other work):
#   TASK=denoise BUDGET=8000 QUANT=0.5   round 4 of denoise.lite (half of each batch 8-bit)
#   TASK=dejpeg  BUDGET=7400             round 3 of dejpeg.lite
#   TASK=dejpeg  BUDGET=6300             round 4 of dejpeg.lite (beside three other jobs)
#   TASK=denoise BUDGET=8000 QUANT=0.5 OUT=runs/denoise_r5   round 5 of denoise.lite (started
#                                        2026-12-01 22:55; continue it with RESUME=1)
#   TASK=denoise BUDGET=8000 QUANT=0.5 OPP=0.5 OUT=runs/denoise_r5_opp   its A/B: the same round
#                                        with half the colour crops as opponent planes (23:37)
#   TASK=denoise BUDGET=8000 QUANT=0.5 OUT=runs/denoise_r6   round 6 of denoise.lite (from the
#                                        shipped round 5; started 2026-12-02 02:05; RESUME=1)
#   TASK=sr BUDGET=7200 OUT=runs/sr_r2    round 2 of sr.lite (started 2026-12-02 01:17; continue it
#                                        with RESUME=1)
#   TASK=sr BUDGET=4500 DOWNSCALERS=0.3 OUT=runs/sr_r3   round 3 of sr.lite, 30 % of the crops made
#                                        low-resolution by cv2.resize's downscalers (03:43)
#   TASK=denoise BUDGET=8000 QUANT=0.5 BALANCE=log OUT=runs/denoise_r7   round 7 of denoise.lite with
#                                        the balanced level loss (started 2026-12-02 04:40; RESUME=1)
#   TASK=sr BUDGET=5400 DOWNSCALERS=0.3 BALANCE=log CENTRED=1 OUT=runs/sr_r4   round 4 of sr.lite, the
#                                        first with the centred control (started 2026-12-02 05:50)
#   TASK=denoise BUDGET=8000 QUANT=0.5 BALANCE=log CENTRED=1 OUT=runs/denoise_r8   round 8 of
#                                        denoise.lite (started 2026-12-02 07:07; RESUME=1)
#   TASK=sr BUDGET=6000 DOWNSCALERS=0.3 BALANCE=log CENTRED=1 OUT=runs/sr_r5   round 5 of sr.lite
#                                        (started 2026-12-02 07:26; RESUME=1)
#   TASK=denoise BUDGET=8000 QUANT=0.5 BALANCE=log CENTRED=1 OUT=runs/denoise_r9   round 9 of
#                                        denoise.lite (started 2026-12-02 09:31; RESUME=1)
#   TASK=sr BUDGET=7200 DOWNSCALERS=0.3 BALANCE=log CENTRED=1 OUT=runs/sr_r6   round 6 of sr.lite
#                                        (started 2026-12-02 09:25; RESUME=1)
#   TASK=denoise BUDGET=7800 QUANT=0.5 BALANCE=log CENTRED=1 OUT=runs/denoise_r9   round 9 again,
#                                        from the shipped round 8 (2026-12-02 11:05): the first
#                                        try's runs/ folder did not survive into the next session
#   TASK=sr BUDGET=7200 DOWNSCALERS=0.3 BALANCE=log CENTRED=1 OUT=runs/sr_r6   round 6 again (11:05)
#   TASK=denoise BUDGET=7500 QUANT=0.5 BALANCE=log CENTRED=1 OUT=runs/denoise_r10   round 10 of
#                                        denoise.lite (2026-12-02 13:48)
#   TASK=denoise BUDGET=7350 QUANT=0.5 BALANCE=log CENTRED=1 PRESET=lite+unshuffle
#     OUT=runs/denoise_r10_unshuffle     its A/B: round 9 converted losslessly to the pixel-unshuffle
#                                        head (6×6 view), then the same round (13:50)
#   TASK=denoise BUDGET=7300 QUANT=0.5 BALANCE=log CENTRED=1 OUT=runs/denoise_r11   round 11 of
#                                        denoise.lite (2026-12-02 16:24)
#   TASK=denoise BUDGET=7250 QUANT=0.5 BALANCE=log CENTRED=1 LR=1e-4 OUT=runs/denoise_r11_lr1
#                                        its A/B: the same round at half the lr (each round's
#                                        validation dipped at step 1,000 after the 2e-4 restart);
#                                        shipped as round 11 (it tied on Set12, +0.03 on McMaster σ 15)
#   TASK=denoise BUDGET=6300 QUANT=0.5 BALANCE=log CENTRED=1 LR=1e-4 OUT=runs/denoise_r12   round 12
#                                        of denoise.lite (2026-12-02 23:27; lost with its session's runs/)
#   TASK=denoise BUDGET=5400 QUANT=0.5 BALANCE=log CENTRED=1 LR=1e-4 PATCH=96 BATCH=4
#     OUT=runs/denoise_r12_p96           round 12 again, from the shipped round 11, on 96² crops
#                                        (same pixels per step as 16 × 48²): 48² crops won the first
#                                        8 CPU-minutes from scratch; does a late round gain from
#                                        seeing its whole receptive field? (2026-12-03 06:44)
#                                        Not shipped: Set12 +0.005/+0.007/+0.002, McMaster σ 15 −0.023
#                                        (3,678 steps; BENCHMARKS.md). Next: round 12 on 48² crops, lr 1e-4
#                                        against LR=3e-5 as its A/B (the restart dip: −0.08 dB at 1e-4,
#                                        −0.03 at 3e-5 after 250 steps; WARMUP=500 level with none by step 500).
#   TASK=denoise BUDGET=6300 QUANT=0.5 BALANCE=log CENTRED=1 LR=1e-4 OUT=runs/denoise_r12   round 12 on
#                                        48² crops, and LR=3e-5 OUT=runs/denoise_r12_lr3 beside it (2026-12-03
#                                        09:21): both tie round 11 (within 0.003 dB; 1e-4 −0.026 on McMaster
#                                        σ 15). Not shipped. Three rounds in a row tie: the lite network has
#                                        converged under this recipe; spend further CPU elsewhere (BENCHMARKS.md).
#   TASK=denoise BUDGET=6300 QUANT=0.5 BALANCE=log CENTRED=1 LR=1e-4 PRESET=48x12 THREADS=2 NAME=denoise.deep
#     OUT=runs/denoise_deep              round 12 as a deeper network: round 11 grown to 12 blocks (the new ones
#                                        start as the identity), 2 threads alone (2026-12-03 11:54): 6,249 steps,
#                                        Set12 +0.012/+0.017/+0.011, McMaster +0.003/+0.007/+0.004. Not shipped
#                                        (1.5× slower for ≈ +0.01 dB; BENCHMARKS.md).
#   TASK=dejpeg BUDGET=3000 BALANCE=log CENTRED=1 LR=1e-4 THREADS=1 AMP=1 OUT=runs/dejpeg_r5   round 5 of
#                                        dejpeg.lite, the first with --amp (bfloat16 autocast; AMD EPYC with
#                                        AVX512-BF16, 2026-12-03 15:28): 2,932 steps, classic5 +0.013 to +0.021 dB.
#                                        Shipped.
#   TASK=denoise BUDGET=5400 QUANT=0.5 BALANCE=log CENTRED=1 LR=1e-4 PRESET=48x12 THREADS=1 NAME=denoise.deep AMP=1
#     INIT=runs/denoise_deep/denoise.deep.safetensors OUT=runs/denoise_deep_amp   round 13 of the deep network
#                                        (from the one above), --amp, one thread beside the dejpeg round (15:01):
#                                        5,604 steps, Set12 +0.02/+0.03/+0.02 over round 11, McMaster σ 15 −0.03.
#                                        Not shipped (BENCHMARKS.md).
#   TASK=dejpeg BUDGET=5400 BALANCE=log CENTRED=1 LR=1e-4 THREADS=1 AMP=1 OUT=runs/dejpeg_r6   round 6 of
#                                        dejpeg.lite, from the shipped round 5 (16:38); stopped with its session at
#                                        step 800 of ~5,000 (810 s of 5,400; classic5 then 29.39 / 31.61 / 32.91 / 33.79,
#                                        the lr-restart dip, below round 5). Continue it with RESUME=1.
#   TASK=denoise BUDGET=6600 QUANT=0.5 BALANCE=log CENTRED=1 LR=1e-4 LOSS=l2 OUT=runs/denoise_r12_l2   round 12
#                                        of denoise.lite with the L2 pixel loss (with BALANCE=log: the gradient of
#                                        the levels' summed PSNR), float32 (this Intel Xeon's bfloat16 is slow),
#                                        one thread (2026-12-06 05:14), and beside it its A/B with σ 25 a training
#                                        level too: LEVELS="15 25 35 50 75" OUT=runs/denoise_r12_l2_lv5.
#                                        The second shipped as round 12 (4,192 steps): Set12 +0.017 / +0.016 /
#                                        +0.022 dB (σ 25 30.234 meets FFDNet − 0.2), McMaster +0.045 / −0.005 /
#                                        −0.014; the first (5,241 steps) +0.016 / +0.007 / +0.025 and McMaster
#                                        −0.01 to −0.02: not shipped (BENCHMARKS.md).
#   TASK=denoise BUDGET=6300 QUANT=0.5 BALANCE=log CENTRED=1 LR=1e-4 LOSS=l2 LEVELS="15 25 35 50 75"
#     OUT=runs/denoise_r13               round 13 of denoise.lite, from the shipped round 12, float32, one thread
#                                        (2026-12-06 07:55): 4,232 steps, Set12 +0.007 / +0.007 / +0.004, McMaster
#                                        +0.010 / +0.002 / 0.000, σ 5–75 outside the table equal or better. Shipped.
#   TASK=denoise BUDGET=9000 QUANT=0.5 BALANCE=log CENTRED=1 LR=1e-4 LOSS=l2 LEVELS="15 25 35 42 50 60 75"
#     OUT=runs/denoise_r14_lv7           round 14, from round 13: more training levels near σ 50 (the one Set12 row
#                                        still short), i.e. more of the summed PSNR there; and beside it its A/B,
#                                        the round-13 levels with BATCH=32 OUT=runs/denoise_r14_b32 (half the
#                                        gradient noise late in training). Started 2026-12-06 09:53, continued
#                                        with RESUME=1 the next session. BATCH=32 shipped as round 14 (3,067 steps):
#                                        Set12 +0.013 / +0.012 / +0.016, McMaster +0.015 / +0.008 / +0.007, σ 5–75
#                                        +0.02–0.03; lv7 (4,311 steps) the same σ 50, less elsewhere (BENCHMARKS.md).
#   TASK=denoise BUDGET=9000 QUANT=0.5 BALANCE=log CENTRED=1 LR=1e-4 LOSS=l2 LEVELS="15 25 35 50 75" BATCH=32
#     OUT=runs/denoise_r15_b32           round 15, from the shipped round 14, and beside it BATCH=64
#                                        OUT=runs/denoise_r15_b64 (does a still larger batch help the late steps?).
#                                        Started 2026-12-06 12:57 and stopped with its session before the first
#                                        checkpoint; started again at 13:04 with BUDGET=8400, so that both and
#                                        their evaluation fit in one session. BATCH=64 shipped as round 15 (1,262
#                                        steps): Set12 +0.005 / +0.007 / +0.006, McMaster +0.001 / +0.004 / +0.007,
#                                        σ 5 −0.018; BATCH=32 (2,561 steps) McMaster σ 15 −0.006: not shipped.
#   TASK=denoise BUDGET=8400 QUANT=0.5 BALANCE=log CENTRED=1 LR=1e-4 LOSS=l2 LEVELS="15 25 35 50 75" BATCH=64
#     OUT=runs/denoise_r16_b64           round 16, from the shipped round 15, and beside it the same at LR=3e-5
#                                        (OUT=runs/denoise_r16_b64_lr3: a smaller restart dip for a round that now
#                                        gains < 0.01 dB). Started 2026-12-06 15:38, a few minutes before its session
#                                        ended; started again at 15:50 with BUDGET=8000. LR=1e-4 shipped as round 16
#                                        (1,075 steps): Set12 −0.001 / +0.001 / +0.004, McMaster +0.007 / +0.004 / +0.004,
#                                        σ 5–75 +0.001 to +0.016; LR=3e-5 the same or 0.001 less: not shipped.
#   TASK=denoise BUDGET=8000 QUANT=0.5 BALANCE=log CENTRED=1 LR=1e-4 LOSS=l2 LEVELS="15 25 35 50 75" BATCH=64
#     OUT=runs/denoise_r17_b64           round 17, from the shipped round 16, and beside it the same at BATCH=128
#                                        (OUT=runs/denoise_r17_b128: batch 32 → 64 helped the late rounds; does 128?).
#                                        Started 2026-12-06 18:19, half an hour before its session ended; both had
#                                        stopped with it before their first checkpoint. Started again at 18:33
#                                        with BUDGET=7800, batch 64 only: the other core re-derived microscopy.lite
#                                        from round 16 (trainer/recipes/cpu_microscopy.sh), where users need it more.
#                                        1,161 steps: Set12 +0.003 / +0.002 / 0.000, McMaster +0.001 / +0.001 / 0.000,
#                                        σ 5-75 −0.002 to +0.014: a tie, σ 50 unmoved. Not shipped; the recipe has
#                                        converged for the lite network (BENCHMARKS.md).
#   TASK=denoise BUDGET=5000 QUANT=0.5 BALANCE=log CENTRED=1 LR=3e-5 LOSS=l2 LEVELS="15 25 35 50 75" BATCH=64
#     LEVEL_WEIGHTS="1 1 1 2 1" OUT=runs/denoise_r18_tilt50   round 18, from the shipped round 16, with σ 50's term
#                                        counted twice (the tilt that lifted σ 15 by +0.04 dB in `trainer compare`,
#                                        BENCHMARKS.md), aimed at Set12 σ 50, the one row still short; one thread,
#                                        started 2026-12-07 03:50 beside benchmarks. 756 steps: Set12 32.678 / 30.260 /
#                                        27.058 (round 16: 32.678 / 30.261 / 27.057), McMaster 34.205 / 31.832 / 28.686
#                                        (34.203 / 31.835 / 28.688): a tie, σ 50 unmoved. Not shipped.
#   TASK=denoise BUDGET=7800 QUANT=0.25 BALANCE=log CENTRED=1 LR=1e-4 LOSS=l2 LEVELS="15 25 35 50 75" BATCH=64 AMP=1
#     OUT=runs/denoise_r19_q25   round 19, from the shipped round 16: a quarter of the crops 8-bit, not half (the one
#                                        knob no round had tried; Set12's protocol is float noise). One thread beside a
#                                        session of reviews and CI, started 2026-12-07 10:36: 2,157 steps, Set12 +0.008 /
#                                        +0.009 / +0.006 (27.063 at σ 50), McMaster +0.004 / +0.002 / +0.002, 8-bit Set12
#                                        files +0.009 / +0.007 / −0.005. Shipped.
#   TASK=denoise BUDGET=7800 QUANT=0.15 BALANCE=log CENTRED=1 LR=1e-4 LOSS=l2 LEVELS="15 25 35 50 75" BATCH=64 AMP=1
#     OUT=runs/denoise_r20_q15   round 20, from the shipped round 19: the 8-bit share lowered again (0.15). Started
#                                        2026-12-07 12:57, half an hour before its session ended; continue it with
#                                        RESUME=1 (the budget counts the time already spent), then compare with round 19
#                                        on the float tables and on 8-bit files (BM3D's margin there). Resumed 2026-12-07
#                                        13:23: 2,218 steps, Set12 +0.004 / +0.006 / +0.008 (27.071 at σ 50), McMaster
#                                        +0.006 / +0.004 / +0.004, σ 5–75 +0.004 to +0.020, 8-bit Set12 files +0.003 /
#                                        +0.003 / +0.006. Shipped. Next: QUANT=0.05 from round 20, or re-derive
#                                        microscopy.lite from it (cpu_microscopy.sh).
#   TASK=denoise BUDGET=7800 QUANT=0.05 BALANCE=log CENTRED=1 LR=1e-4 LOSS=l2 LEVELS="15 25 35 50 75" BATCH=64 AMP=1
#     OUT=runs/denoise_r21_q05   round 21, from the shipped round 20: the 8-bit share lowered once more (0.05).
#                                        Started 2026-12-07 15:43, 40 minutes before its session ended; resumed 16:06:
#                                        2,106 steps, Set12 +0.006 / +0.009 / +0.009 (27.080 at σ 50), McMaster −0.001 /
#                                        +0.005 / +0.007, σ 5–75 −0.007 to +0.010, 8-bit Set12 files +0.004 to +0.005.
#                                        Shipped. Next: re-derive microscopy.lite from it (cpu_microscopy.sh), or one more
#                                        round (QUANT=0.05 again, or 0).
#   TASK=denoise BUDGET=7800 QUANT=0.05 BALANCE=log CENTRED=1 LR=1e-4 LOSS=l2 LEVELS="15 25 35 50 75" BATCH=64 AMP=1
#     OUT=runs/denoise_r22_q05   round 22, from the shipped round 21, the same recipe again (2026-12-07 20:10–22:38,
#                                        stops 50 and 51, resumed from its step-1,400 checkpoint; 2,347 steps). Shipped:
#                                        better on all 13 numbers, Set12 32.700 / 30.287 / 27.085, McMaster 34.222 /
#                                        31.849 / 28.704 (BENCHMARKS.md).
#   the same with OUT=runs/denoise_r23_q05   round 23, from the shipped round 22 (started 2026-12-07 22:41, 1.9 h before
#                                        its session ended; its step-1,800 checkpoint (00:18, after the first lr decay)
#                                        exported to its folder, not evaluated). Resumed 2026-12-08 00:33: 2,070 steps,
#                                        Set12 +0.003 / +0.004 / +0.004 (27.089 at σ 50), McMaster 0.000 / +0.001 / +0.001,
#                                        σ 5-75 +0.003 to +0.011, 8-bit Set12 files +0.002 to +0.004. Shipped. The gain per
#                                        round is down to 0.004 dB at σ 50 (0.031 short): the next CPU went to auto.lite
#                                        (trainer/recipes/cpu_auto_next_round.sh).
# A session that ends first: run the same command again with RESUME=1 (the run continues
# from its last checkpoint; the budget counts the time already spent). That needs the run's
# folder: where a new session starts from a fresh checkout (runs/ is not in git), a round and
# the evaluation after it (~10 min for denoise) must fit in one session.
# Usage: TASK=denoise BUDGET=8000 QUANT=0.5 [PATCH=48 BATCH=16] [OPP=0.5] [BALANCE=log] [LOSS=l2] [CENTRED=1] [LEVELS="5 15 35 50 75"] [LEVEL_WEIGHTS="1 1 1 2 1"] [DOWNSCALERS=0.3] [LR=2e-4] [WARMUP=500] [PRESET=lite+unshuffle|48x12] [THREADS=1] [NAME=$TASK.lite] [AMP=1] [INIT=weights.safetensors] bash trainer/recipes/cpu_next_round.sh
{  # bash reads the whole block before running it: editing this file while a round runs cannot change what that round runs
set -euo pipefail
DATA=${DATA:-../shared/data}
TASK=${TASK:?TASK=denoise|dejpeg|sr}
OUT=${OUT:-runs/${TASK}_next}
INIT=${INIT:-napari_hyperres/pretrained/$TASK.lite.safetensors}
case "$TASK" in
  denoise) VAL=Set12; EVAL=("Set12:15 25 50" "McMaster:15 25 50") ;;
  dejpeg) VAL=classic5; EVAL=("classic5:10 20 30 40") ;;
  sr) VAL=Set14; EVAL=("Set14:2 3 4") ;;
  *) echo "TASK must be denoise, dejpeg or sr" >&2; exit 2 ;;
esac
extra=()
if [ -n "${QUANT:-}" ]; then extra+=(--quantize-8bit "$QUANT"); fi
if [ -n "${OPP:-}" ]; then extra+=(--opponent-planes "$OPP"); fi   # denoise: share of colour crops as opponent planes
if [ -n "${DOWNSCALERS:-}" ]; then extra+=(--other-downscalers "$DOWNSCALERS"); fi   # sr: share of crops downscaled as cv2.resize does
if [ -n "${BALANCE:-}" ]; then extra+=(--level-balance "$BALANCE"); fi   # log: each level's relative error counts the same
if [ -n "${LOSS:-}" ]; then extra+=(--pixel-loss "$LOSS"); fi   # l2: with BALANCE=log, the gradient of the levels' summed PSNR
if [ "${CENTRED:-0}" = 1 ]; then extra+=(--centred-control); fi   # meta blocks see the control centred on the levels, ±1
if [ -n "${LEVELS:-}" ]; then extra+=(--levels $LEVELS); fi   # other training levels than the task's (e.g. LEVELS="5 15 35 50 75")
if [ -n "${LEVEL_WEIGHTS:-}" ]; then extra+=(--level-weights $LEVEL_WEIGHTS); fi   # one factor per training level (e.g. "1 1 1 2 1": σ 50 counted twice)
if [ -n "${WARMUP:-}" ]; then extra+=(--lr-warmup "$WARMUP"); fi   # steps of linear lr warm-up (measured: softens only a round's first few hundred steps)
if [ "${AMP:-0}" = 1 ]; then extra+=(--amp); fi   # bfloat16 autocast: 1.9× the steps/s on an AMD Zen 4, 0.64× on an Intel Xeon without AMX (BENCHMARKS.md; the trainer warns)
if [ "${RESUME:-0}" = 1 ]; then extra+=(--resume); fi
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
python -m trainer train --task "$TASK" --preset "${PRESET:-lite}" --batch "${BATCH:-16}" --patch "${PATCH:-48}" \
  --data "$DATA/train/gray400" "$DATA/train/color400" --val "$DATA/val/$VAL" --out "$OUT" \
  --init-from "$INIT" --lr "${LR:-2e-4}" --lr-decay-at 0.55 0.85 --steps 100000000 \
  --time-budget "${BUDGET:-7200}" --val-every 1000 --ckpt-every 200 --no-progress "${extra[@]}"
NAME=${NAME:-$TASK.lite}
python -m trainer export "$OUT" --name "$NAME"   # → $OUT/$NAME.safetensors
tables=()
for spec in "${EVAL[@]}"; do
  set="${spec%%:*}"; levels="${spec#*:}"
  python -m trainer eval --task "$TASK" --weights "$OUT/$NAME.safetensors" --data "$DATA/val/$set" \
    --levels $levels --json "$OUT/eval_$set.json"
  tables+=("$OUT/eval_$set.json")
done
if [ "${SHIP:-0}" = 1 ]; then
  python -m trainer export "$OUT" --name "$NAME" --out napari_hyperres/pretrained --validation-json "${tables[@]}"
fi
exit
}
