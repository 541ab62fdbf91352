"""Training the level estimator on a task's own ``degrade`` over its whole level range."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from napari_hyperres.core.devices import select_device
from napari_hyperres.core.models.estimator import EstimatorArchitecture, LevelEstimator
from napari_hyperres.core.plugins import get_task
from napari_hyperres.core.weights import WeightsInfo, load_model, save_weights

from .data import PatchSampler, as_8bit_files, degrade_batch, image_paths


@dataclass
class EstimatorConfig:
    """One estimator run: task, data folders, output weights file, budget."""

    task: str
    data: list[str]
    out: str
    steps: int = 2000
    batch: int = 32
    patch: int = 64
    lr: float = 1e-3
    features: int = 32
    seed: int = 0
    device: str = "auto"
    time_budget_s: float | None = None
    max_images: int | None = None
    init_from: str | None = None
    relative: bool = False
    """Weight each crop's L1 by 1 / its level fraction (floored at ``relative_floor``): the
    loss then measures relative error, which low noise levels need (σ 5 vs σ 75)."""
    relative_floor: float = 0.05
    quantize_8bit: float = 0.0
    """Share of crops rounded and clipped to 8-bit values after degrading: what an 8-bit file
    holds (its noise is quantised and clipped at 0 and 255, which lowers its spread)."""
    context: int = 16
    """Pixels degraded around each crop and then cut off: crops of a whole degraded image
    have no border effects of the degradation (resampling, blur), so neither do training
    crops. A multiple of 8 keeps JPEG's blocks where they are in a crop of a JPEG image."""


def sample_levels(task, count: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform levels over the task's range; SR scales uniform too (``(count,)``)."""
    low, high = task.level_range
    return low + (high - low) * torch.rand(count, generator=generator)


def train_estimator(cfg: EstimatorConfig, progress: bool = True) -> Path:
    """Train a :class:`LevelEstimator` (L1 on the level fraction, or relative) and save it as a weights file.

    The training patch is recorded in the weights: :func:`napari_hyperres.blind.estimate.estimate_level`
    looks through crops of that size, since the pooled statistics depend on it.
    """
    task = get_task(cfg.task)
    device = select_device(cfg.device)
    torch.manual_seed(cfg.seed)
    data_gen = torch.Generator().manual_seed(cfg.seed)
    noise_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    sampler = PatchSampler(image_paths(cfg.data, cfg.max_images), task.channels, cfg.patch + 2 * cfg.context, data_gen)
    inner = slice(cfg.context, cfg.context + cfg.patch)
    arch = EstimatorArchitecture(in_channels=task.in_channels, features=cfg.features)
    model = LevelEstimator(arch).to(device).train()
    previous_steps, previous_time = 0, 0.0
    if cfg.init_from:  # continue training a saved estimator (its steps and time are carried over)
        trained, trained_info = load_model(cfg.init_from, task=task.name, kind="estimator", device=device)
        model.load_state_dict(trained.state_dict())
        previous_steps, previous_time = trained_info.steps, trained_info.training_time_s
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    low, high = task.level_range
    start, losses, step, done = time.perf_counter(), [], 0, 0
    log = []
    for step in range(cfg.steps):
        fraction = step / cfg.steps
        if cfg.time_budget_s:
            fraction = max(fraction, (time.perf_counter() - start) / cfg.time_budget_s)
        if fraction >= 1:
            break
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * (0.1 if fraction > 0.7 else 1.0)
        clean, gray = sampler.sample(cfg.batch)
        clean = clean.to(device)
        levels = sample_levels(task, cfg.batch, data_gen)
        with torch.no_grad():
            degraded = torch.cat([degrade_batch(task, clean[i : i + 1], float(levels[i]), gray[i : i + 1], noise_gen) for i in range(cfg.batch)])
            degraded = degraded[..., inner, inner].contiguous()
            as_8bit_files(degraded, cfg.quantize_8bit, data_gen)
        target = ((levels - low) / (high - low)).to(device)
        abs_errors = (model(degraded) - target).abs()
        loss = abs_errors.mean()
        if cfg.relative:
            weights = 1.0 / target.clamp_min(cfg.relative_floor)
            loss = (abs_errors * weights).sum() / weights.sum()
        abs_errors = abs_errors.detach()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(abs_errors.mean()))
        done = step + 1
        if progress and (step + 1) % 200 == 0:
            mean_err = np.mean(losses[-200:]) * (high - low)
            log.append({"step": step + 1, "mean_abs_error_level": round(float(mean_err), 3)})
            print(json.dumps(log[-1]), flush=True)
    info = WeightsInfo(
        name=f"{task.name}.estimator",
        task=task.name,
        kind="estimator",
        architecture=arch.to_dict(),
        preset="estimator",
        training_data=[Path(d).name for d in cfg.data],
        steps=previous_steps + done,
        training_time_s=round(previous_time + time.perf_counter() - start, 1),
        device=str(device),
        extra={"level_range": list(task.level_range), "patch": cfg.patch, "context": cfg.context, "relative_loss": cfg.relative, "quantize_8bit": cfg.quantize_8bit, "log": log[-5:]},
    )
    return save_weights(cfg.out, model.state_dict(), info)
