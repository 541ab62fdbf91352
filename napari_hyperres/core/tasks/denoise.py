"""Built-in task ``denoise``: additive white Gaussian noise, σ on the 8-bit scale."""

from __future__ import annotations

import torch

from ..degradations import add_gaussian_noise
from .base import Task


def degrade_gaussian(clean: torch.Tensor, sigma: float | torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``clean + σ/255 · N(0, 1)``, unclipped. ``(B, C, H, W)`` in ``[0, 1]`` → same shape."""
    return add_gaussian_noise(clean, torch.as_tensor(sigma, dtype=clean.dtype, device=clean.device) / 255.0, generator)


DENOISE = Task(
    name="denoise",
    title="Denoise (Gaussian)",
    unit="σ (8-bit)",
    level_range=(0.0, 100.0),
    default_level=25.0,
    train_levels=(15.0, 35.0, 50.0, 75.0),
    channels="rgb",
    degrade=degrade_gaussian,
    weights="denoise.lite",
    psnr_on="all",
    eval_protocol="clean + σ/255·N(0,1), seed 0, float, unclipped; PSNR on all channels, no border crop",
    description="Removes white Gaussian noise; σ is the noise standard deviation on the 0–255 scale.",
    level_follows_brightness=True,  # cameras: shadows noisier than highlights ("by-brightness", BENCHMARKS.md)
    colour="opponent",  # colour photos: the mean and two chroma planes one by one (+0.2–1.2 dB on McMaster, BENCHMARKS.md)
)
