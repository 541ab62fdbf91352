"""Built-in task ``sr``: super-resolution by a scale factor, pre-upsampling bicubically."""

from __future__ import annotations

import math

import torch

from ..degradations import bicubic_resize, downsample_upsample, low_resolution_size
from .base import Task, scaled_length

SR_ON_JPEG = "sr enlarges a JPEG's compression blocks too; for a sharper result remove them first ({how}), then enlarge"
"""What the CLI and the widget say when sr is asked of a JPEG file (``how``: the front end's way to run dejpeg).
A review: sr alone on a quality-75 comic scored below bicubic (24.15 against 24.28 dB); dejpeg first 24.57."""

def degrade_bicubic(clean: torch.Tensor, scale: float | torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Bicubic down by ``scale`` and back up (antialiased, MATLAB-like); per-sample scales allowed."""
    scale_t = torch.as_tensor(scale)
    if scale_t.ndim == 0:
        return downsample_upsample(clean, float(scale_t))
    return torch.cat([downsample_upsample(clean[i : i + 1], float(s)) for i, s in enumerate(scale_t)])


def upsample_bicubic(low: torch.Tensor, scale: float) -> torch.Tensor:
    """Upsample a low-resolution ``(B, C, h, w)`` image to ``(B, C, h·s, w·s)`` (rounded half up, :func:`scaled_length`)."""
    h, w = low.shape[-2:]
    return bicubic_resize(low, (scaled_length(h, scale), scaled_length(w, scale)))


def downsample_bicubic(clean: torch.Tensor, scale: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """The low-resolution image a user has: bicubic down by ``scale`` (sizes rounded)."""
    h, w = clean.shape[-2:]
    return bicubic_resize(clean, low_resolution_size(h, w, scale))


def border_for_scale(scale: float) -> int:
    return int(math.ceil(scale))


SR = Task(
    name="sr",
    title="Super-resolution",
    unit="× scale",
    level_range=(1.5, 6.0),
    default_level=2.0,
    train_levels=(2.0, 3.0, 4.0, 5.0),
    channels="rgb",
    degrade=degrade_bicubic,
    weights="sr.lite",
    prepare=upsample_bicubic,
    output_scale=float,  # the level is the scale factor
    make_input=downsample_bicubic,
    psnr_on="y",
    crop_border=border_for_scale,
    eval_protocol="bicubic down by s and back up (torch antialiased bicubic, a=-0.5, MATLAB-like); PSNR on Y, border = ceil(s)",
    level_step=0.1,
    description="Enlarges a low-resolution image by the scale factor (bicubic first, then the network restores detail).",
)
