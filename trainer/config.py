"""Training configuration as a dataclass (what the CLI fills, what checkpoints store)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

LEVEL_BALANCES = ("sum", "log")
"""How a restoration run adds up its levels' losses (:attr:`TrainConfig.level_balance`,
:func:`trainer.objectives.combine_levels`)."""

PIXEL_LOSSES = ("l1", "l2")
"""Each level's loss on its restored crops (:attr:`TrainConfig.pixel_loss`): mean absolute or
mean squared error."""


@dataclass
class TrainConfig:
    """One training run.

    Attributes:
        task: registered task name.
        data: folders of training images (PNG/JPG/BMP/TIFF, 8/16-bit).
        out: run directory (checkpoint, log, exported weights).
        levels: training levels in task units (default: the task's ``train_levels``).
        kind: ``"hyperres"`` (all levels, one hypernetwork), ``"dedicated"`` (one plain
            network for one level), ``"adafm"`` (AdaFM layers fine-tuned on a base).
        preset: ``"lite"``, ``"paper"`` or ``"tiny"``.
        steps, batch, patch: optimiser steps, crops per step, crop edge.
        lr: Adam learning rate; divided by 10 at each fraction in ``lr_decay_at``.
        lr_warmup: steps over which the lr ramps up linearly at the start (0 = none). Meant for
            a round continuing a trained network (``init_from``); measured from denoise.lite
            round 11, it softens only the first few hundred steps (BENCHMARKS.md, round 12).
        val: folder for periodic validation PSNR (optional); ``val_images`` caps its size.
        init_from: checkpoint or weights to start from (AdaFM's base network).
        time_budget_s: stop after this much wall time (the lr schedule then follows the
            fraction of time used); ``--resume`` is exact only for step budgets.
        amp: bfloat16 autocast (CUDA, and CPUs whose bfloat16 is fast: 1.9× the steps per second
            of float32 on an AMD Zen 4, 0.64× on an Intel Xeon with AVX512-BF16 but no AMX,
            BENCHMARKS.md; the trainer warns where it is slow; the loss stays float32).
        selection_entropy, selection_balance: HAIR only: weights of the penalties on its
            selections (:class:`trainer.selection.SelectionPenalty`); 0 = off.
        select_decoder: HAIR only: the decoder convs are selected from a weight box too
            (:class:`napari_hyperres.core.models.hair.DecoderBox`).
        quantize_8bit: share of the degraded crops rounded and clipped to 8 bits, as 8-bit
            files hold noise (0 = none; the network then sees only unclipped float noise).
        opponent_planes: share of colour crops replaced by one of their opponent planes, as
            gray crops (:class:`trainer.data.PatchSampler`): what the gray path restores for a
            task with ``colour="opponent"``; 0 = none.
        other_downscalers: scaling tasks (``sr``) only: share of crops made low-resolution by
            another common downscaler than the task's antialiased bicubic (area averaging, or
            bilinear / bicubic without antialiasing, as ``cv2.resize`` does;
            :func:`trainer.data.with_other_downscalers`); 0 = none.
        level_balance: how the k levels' L1 losses add up (:class:`trainer.objectives.Restoration`):
            ``"sum"`` (the papers' unweighted sum) or ``"log"`` (each level's L1 divided by its
            own detached value, times their mean: the gradient of Σ log L1, so each level's
            *relative* error counts the same and low levels, whose L1 is small, are not
            outweighed by high ones).
        pixel_loss: each level's loss on its crops: ``"l1"`` (the papers') or ``"l2"`` (mean
            squared error). With ``level_balance="log"``, l2's gradient is that of Σ log MSEᵢ,
            i.e. of −Σ PSNRᵢ (each level's PSNR on the batch, equally weighted): a late round's
            objective is then the validation tables' own measure.
        level_weights: one factor per training level (in :attr:`levels`' order) that each
            level's loss is multiplied by after ``level_balance``; empty = all 1. Tilts a
            HyperRes network towards some levels (e.g. the low end of its range), at the others' cost.
        centred_control: kind ``"hyperres"`` only: the meta blocks see the control value
            centred on the training levels and scaled to ±1 there (:func:`centred_architecture`)
            instead of ``level / 255``'s 0.06–0.29 (denoise). The same networks, learned faster:
            ``c·w``, the part that differs between levels, then moves at the pace of ``b``.
        channels_last: feed the networks channels-last tensors on the CPU (faster there with
            oneDNN; ``benchmarks/bench_train.py`` measures it); no effect on other devices.
        estimator_features, context, relative_loss, relative_floor: kind ``"estimator"``
            only (:class:`trainer.objectives.LevelEstimation`): the estimator's width; pixels
            degraded around each crop and cut off; L1 weighted by 1 / level fraction (floored).
        low_end_share: kind ``"estimator"`` only: share of crops degraded at the low end of the
            task's range instead of a uniform level (denoise: σ 0, i.e. left clean, so that fine
            texture of clean photos is learnt as not noise; uniform levels make that 1 crop in 100).
        jpeg_share, jpeg_qualities: kind ``"estimator"`` only: share of crops saved as JPEG files
            after degrading (OpenCV's encoder, 4:2:0 chroma, gray crops as gray JPEGs), at a quality
            drawn uniformly from ``jpeg_qualities`` ``(low, high)``, labelled with the level before
            compression: a camera or phone saves its noisy photos so (q 80–98), which removes most of
            the noise's fine grain, and an estimator trained on files without it read σ 8 there as 2.
    """

    task: str
    data: list[str]
    out: str
    levels: list[float] = field(default_factory=list)
    kind: str = "hyperres"
    preset: str = "lite"
    steps: int = 1000
    batch: int = 16
    patch: int = 96
    lr: float = 1e-4
    lr_decay_at: list[float] = field(default_factory=lambda: [0.5])
    lr_warmup: int = 0
    val: str | None = None
    val_images: int = 6
    val_every: int = 500
    ckpt_every: int = 500
    log_every: int = 50
    seed: int = 0
    device: str = "auto"
    init_from: str | None = None
    max_images: int | None = None
    time_budget_s: float | None = None
    amp: bool = False
    selection_entropy: float = 0.0
    selection_balance: float = 0.0
    select_decoder: bool = False
    quantize_8bit: float = 0.0
    opponent_planes: float = 0.0
    level_balance: str = "sum"
    pixel_loss: str = "l1"
    level_weights: list[float] = field(default_factory=list)
    other_downscalers: float = 0.0
    centred_control: bool = False
    channels_last: bool = True
    estimator_features: int = 32
    context: int = 16
    relative_loss: bool = False
    relative_floor: float = 0.05
    low_end_share: float = 0.0
    jpeg_share: float = 0.0
    jpeg_qualities: tuple[float, float] = (80.0, 98.0)

    def __post_init__(self) -> None:
        # nonsense numbers trained on silently (a review: --lr 0 ran to "success", --time-budget 0 and -5 were ignored)
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"--lr must be a positive number, got {self.lr}")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ValueError(f"--time-budget must be a positive number of seconds, got {self.time_budget_s}")
        if any(not 0.0 < float(at) < 1.0 for at in self.lr_decay_at):
            raise ValueError(f"--lr-decay-at takes fractions of the run between 0 and 1, got {list(self.lr_decay_at)}")
        if self.lr_warmup < 0:
            raise ValueError(f"--lr-warmup is a number of steps, 0 or more, got {self.lr_warmup}")
        if self.levels and len(set(self.levels)) != len(self.levels):
            raise ValueError(f"--levels lists a level twice: {list(self.levels)}")
        if self.level_balance not in LEVEL_BALANCES:
            raise ValueError(f"expected a level balance among {LEVEL_BALANCES}, got {self.level_balance!r}")
        if self.pixel_loss not in PIXEL_LOSSES:
            raise ValueError(f"expected a pixel loss among {PIXEL_LOSSES}, got {self.pixel_loss!r}")
        if any(not weight > 0 for weight in self.level_weights):
            raise ValueError(f"level weights must be positive numbers, got {self.level_weights}")
        if not 0.0 <= self.low_end_share <= 1.0:
            raise ValueError(f"the low-end share is a fraction of the crops, 0 to 1, got {self.low_end_share}")
        if not 0.0 <= self.jpeg_share <= 1.0:
            raise ValueError(f"the JPEG share is a fraction of the crops, 0 to 1, got {self.jpeg_share}")
        low, high = self.jpeg_qualities
        if not 1 <= low <= high <= 100:
            raise ValueError(f"JPEG qualities are LOW HIGH with 1 <= LOW <= HIGH <= 100, got {self.jpeg_qualities}")
        if self.centred_control and self.kind != "hyperres":
            raise ValueError(f"--centred-control reparametrises a HyperRes network's meta blocks; kind {self.kind!r} has none")

    def to_dict(self) -> dict:
        return asdict(self)


def centred_architecture(arch, normalize, levels: list[float]):
    """``arch`` (a HyperRes :class:`~napari_hyperres.core.models.hyperres.Architecture`) whose
    meta blocks see ``(c − centre) / scale``: ``c`` of the training ``levels`` spans −1…1
    (``normalize``: the task's level → ``c``; one level: centred on it, scale 1)."""
    controls = [float(normalize(level)) for level in levels]
    low, high = min(controls), max(controls)
    scale = (high - low) / 2 if high > low else 1.0
    return replace(arch, control_centre=(low + high) / 2, control_scale=scale)
