"""What a training step optimises: the pluggable part of the one training loop (:func:`trainer.loop.train`).

- :class:`Restoration`: restore a crop degraded at each training level (hypernetwork,
  dedicated, AdaFM, HAIR): the unweighted sum of L1 losses over the levels (or, with
  ``level_balance="log"``, a sum that weighs each level's relative error the same), plus
  HAIR's selection penalties.
- :class:`LevelEstimation`: read the level of a crop degraded at a random level of the
  task's range (the blind level estimator): L1 on the level as a fraction of the range,
  optionally relative.

The loop owns everything else (devices, DDP, schedule, checkpoints and exact resume, logs).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from napari_hyperres.core.tasks import Task

from .config import LEVEL_BALANCES, PIXEL_LOSSES, TrainConfig
from .data import as_8bit_files, as_jpeg_files, degrade_batch, with_other_downscalers
from .metrics import score


class Objective(Protocol):
    """One training step's loss, and the run's periodic check."""

    module: nn.Module
    """What the loop wraps in DistributedDataParallel and calls (holds the model)."""

    def crop_size(self, cfg: TrainConfig) -> int:
        """Edge of the clean crops the loop samples."""

    def loss(self, module: nn.Module, clean: torch.Tensor, gray: torch.Tensor, data_gen: torch.Generator, noise_gen: torch.Generator) -> tuple[torch.Tensor, float]:
        """``(loss to minimise, number to log)`` for clean crops ``(B, C, h, w)`` on the device."""

    def validate(self, images: list[torch.Tensor], device: torch.device) -> dict | None:
        """A table for the log (``None``: the objective has no periodic check)."""


def cpu_layout(tensor: torch.Tensor, channels_last: bool = True) -> torch.memory_format:
    """Channels-last on the CPU (unless ``channels_last`` is off), where oneDNN's convolutions
    train faster in it (``benchmarks/bench_train.py``, BENCHMARKS.md); as is elsewhere."""
    return torch.channels_last if channels_last and tensor.device.type == "cpu" else torch.contiguous_format


def controls_for(task: Task, kind: str, levels: list[float]) -> list[float]:
    """Control value per level: ``task.normalize`` for hyperres, λ = 1 for AdaFM fine-tuning, 0 otherwise."""
    if kind == "hyperres":
        return [float(task.normalize(level)) for level in levels]
    if kind == "adafm":
        return [1.0 for _ in levels]
    return [0.0 for _ in levels]


class MultiLevel(nn.Module):
    """Runs one model at k control values in a single forward (one DDP forward per step).

    Returns the k outputs and the summed HAIR selection penalty (0 when the penalty is off).
    """

    def __init__(self, model: nn.Module, penalty=None) -> None:
        super().__init__()
        self.model = model
        self.penalty = penalty if penalty is not None and penalty.active else None

    def forward(self, inputs: list[torch.Tensor], controls: list[float]) -> tuple[list[torch.Tensor], torch.Tensor | float]:
        if self.penalty is None:
            return [self.model(x, c) for x, c in zip(inputs, controls, strict=True)], 0.0
        outputs, penalty = [], 0.0
        for x in inputs:
            y, logits = self.model.forward_with_logits(x)
            outputs.append(y)
            penalty = penalty + self.penalty(logits)
        return outputs, penalty


def pixel_loss(restored: torch.Tensor, clean: torch.Tensor, kind: str) -> torch.Tensor:
    """One level's loss (a scalar) on restored and clean crops ``(B, C, h, w)``: ``"l1"`` the mean
    absolute error, ``"l2"`` the mean squared error (:data:`trainer.config.PIXEL_LOSSES`)."""
    if kind == "l1":
        return F.l1_loss(restored, clean)
    if kind == "l2":
        return F.mse_loss(restored, clean)
    raise ValueError(f"expected a pixel loss among {PIXEL_LOSSES}, got {kind!r}")


def combine_levels(losses: list[torch.Tensor], balance: str, level_weights: list[float] | None = None) -> torch.Tensor:
    """The training loss from the k levels' losses (scalars, L1 or MSE: :func:`pixel_loss`).

    ``"sum"``: their sum (the papers'). ``"log"``: ``Σ (m / Lᵢ) · Lᵢ`` with ``Lᵢ`` and their mean
    ``m`` detached: the same value as the sum, and the gradient of ``m · Σ log Lᵢ``, so each
    level's relative error counts the same (σ 15's L1 is a fraction of σ 75's, and in a plain
    sum its gradient is outweighed). ``level_weights`` (k positive factors, default all 1)
    then multiply each level's term (:attr:`TrainConfig.level_weights`)."""
    if balance not in LEVEL_BALANCES:
        raise ValueError(f"expected a level balance among {LEVEL_BALANCES}, got {balance!r}")
    factors = [1.0] * len(losses) if not level_weights else list(level_weights)
    if len(factors) != len(losses):
        raise ValueError(f"{len(factors)} level weights for {len(losses)} training levels: give one per level")
    if balance == "log" and len(losses) > 1:
        values = torch.stack([loss.detach() for loss in losses])
        factors = [f * b for f, b in zip(factors, values.mean() / values.clamp_min(1e-8), strict=True)]
    return sum(f * loss for f, loss in zip(factors, losses, strict=True))


class Restoration:
    """k restorations per step, one per training level (the papers' unweighted sum of L1, or
    :func:`combine_levels`'s balanced one)."""

    def __init__(self, model: nn.Module, task: Task, cfg: TrainConfig, levels: list[float], penalty=None) -> None:
        if cfg.other_downscalers > 0 and not task.resamples:
            raise ValueError(f"other downscalers are for scaling tasks such as sr; task {task.name!r} does not scale")
        if cfg.level_weights and len(cfg.level_weights) != len(levels):
            raise ValueError(f"{len(cfg.level_weights)} level weights for {len(levels)} training levels {levels}: give one per level")
        self.model, self.task, self.cfg, self.levels = model, task, cfg, levels
        self.controls = controls_for(task, cfg.kind, levels)
        self.module = MultiLevel(model, penalty)

    def crop_size(self, cfg: TrainConfig) -> int:
        return cfg.patch

    def loss(self, module, clean, gray, data_gen, noise_gen):
        with torch.no_grad():
            inputs = [
                as_8bit_files(
                    with_other_downscalers(degrade_batch(self.task, clean, level, gray, noise_gen), clean, level, self.cfg.other_downscalers, data_gen),
                    self.cfg.quantize_8bit, data_gen,
                ).contiguous(memory_format=cpu_layout(clean, self.cfg.channels_last))
                for level in self.levels
            ]
        with torch.autocast(clean.device.type, dtype=torch.bfloat16, enabled=self.cfg.amp):
            outputs, selection_penalty = module(inputs, self.controls)
            losses = [pixel_loss(o.float(), clean, self.cfg.pixel_loss) for o in outputs]
            loss = combine_levels(losses, self.cfg.level_balance, self.cfg.level_weights) + selection_penalty
        return loss, float(loss.detach())  # balanced or not, the same value: logs stay comparable

    @torch.no_grad()
    def validate(self, images, device):
        """Mean PSNR per level on validation crops (noise seeded 0 per image); ``{level: psnr}``."""
        if not images:
            return None
        self.model.eval()
        table = {}
        for level, c in zip(self.levels, self.controls, strict=True):
            values = []
            for image in images:
                clean = image.to(device)
                degraded = self.task.degraded(clean, level, torch.Generator(device=device).manual_seed(0))
                values.append(score(self.model(degraded, c), clean, self.task, level)["psnr"])
            table[f"{level:g}"] = round(float(np.mean(values)), 3)
        self.model.train()
        return table


class LevelEstimation:
    """The level estimator: each crop degraded at its own random level of the task's range.

    Crops are degraded with :attr:`TrainConfig.context` pixels around them that are cut off
    afterwards (no border effects of resampling or blur; a multiple of 8 keeps JPEG's blocks
    in place). The logged number is the mean absolute error in the task's units.
    """

    def __init__(self, model: nn.Module, task: Task, cfg: TrainConfig) -> None:
        self.model, self.task, self.cfg = model, task, cfg
        self.module = model

    def crop_size(self, cfg: TrainConfig) -> int:
        return cfg.patch + 2 * cfg.context

    def loss(self, module, clean, gray, data_gen, noise_gen):
        cfg, task = self.cfg, self.task
        low, high = task.level_range
        levels = low + (high - low) * torch.rand(clean.shape[0], generator=data_gen)  # uniform (SR scales too)
        if cfg.low_end_share > 0:  # denoise: clean crops, so that texture is learnt as not noise
            levels = torch.where(torch.rand(clean.shape[0], generator=data_gen) < cfg.low_end_share, torch.full_like(levels, low), levels)
        inner = slice(cfg.context, cfg.context + cfg.patch)
        with torch.no_grad():
            degraded = torch.cat(
                [degrade_batch(task, clean[i : i + 1], float(levels[i]), gray[i : i + 1], noise_gen) for i in range(clean.shape[0])]
            )
            degraded = as_8bit_files(degraded[..., inner, inner].contiguous(memory_format=cpu_layout(clean, cfg.channels_last)), cfg.quantize_8bit, data_gen)
            degraded = as_jpeg_files(degraded, gray, cfg.jpeg_share, cfg.jpeg_qualities, data_gen)
        target = ((levels - low) / (high - low)).to(clean.device)
        abs_errors = (module(degraded) - target).abs()
        loss = abs_errors.mean()
        if cfg.relative_loss:  # relative error, which low levels need (σ 5 vs σ 75)
            weights = 1.0 / target.clamp_min(cfg.relative_floor)
            loss = (abs_errors * weights).sum() / weights.sum()
        return loss, float(abs_errors.detach().mean()) * (high - low)

    def validate(self, images, device):
        return None
