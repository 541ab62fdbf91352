"""Built-in task ``auto``: all-in-one restoration of an unknown degradation (HAIR).

There is no level: the network reads what happened from the image itself. Its
training degradation is a mixture: each sample gets one of Gaussian noise,
real JPEG, bicubic low resolution (pre-upsampled) or Gaussian blur, at a random
strength (:data:`MIXTURE`).
"""

from __future__ import annotations

import torch

from ..degradations import add_gaussian_noise, downsample_upsample, gaussian_blur, jpeg_compress
from .base import Task

MIXTURE: dict[str, tuple[float, float]] = {
    "noise": (5.0, 50.0),  # σ, 8-bit scale
    "jpeg": (10.0, 50.0),  # quality
    "lowres": (2.0, 4.0),  # bicubic scale factor, down then up
    "blur": (0.6, 2.4),  # Gaussian σ in pixels
}
"""Degradation kinds of the ``auto`` mixture and the uniform range each strength is drawn from."""

MIXTURE_WORDS: dict[str, tuple[str, str]] = {
    "noise": ("noise", "σ {:.0f}"),
    "jpeg": ("JPEG compression", "quality {:.0f}"),
    "lowres": ("low resolution (enlarged)", "×{:.1f}"),
    "blur": ("blur", "σ {:.1f} px"),
}
"""How each degradation of the mixture is said to people (its name, its strength's format)."""

READING_STRENGTHS: dict[str, tuple[float, ...]] = {
    "noise": (10.0, 25.0, 45.0),
    "jpeg": (10.0, 25.0, 45.0),
    "lowres": (2.0, 3.0, 4.0),
    "blur": (0.8, 1.6, 2.4),
}
"""Strengths at which the network's mean mixture is recorded (``trainer reference-mixtures``)."""

EVAL_SETTINGS: dict[str, float] = {"noise": 25.0, "jpeg": 20.0, "lowres": 3.0, "blur": 1.6}
"""One fixed strength per kind, used by the side-by-side benchmark (BENCHMARKS.md)."""


def apply_degradation(clean: torch.Tensor, kind: str, strength: float | torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One named degradation of the mixture at ``strength`` (per sample allowed for noise and JPEG).

    Shape:
        - clean: ``(B, C, H, W)`` in ``[0, 1]``; output: same shape.
    """
    if kind == "noise":
        return add_gaussian_noise(clean, torch.as_tensor(strength, dtype=clean.dtype, device=clean.device) / 255.0, generator)
    if kind == "jpeg":
        return jpeg_compress(clean, strength)
    strengths = torch.as_tensor(strength).flatten().tolist()
    if len(strengths) == 1:
        strengths = strengths * clean.shape[0]
    op = downsample_upsample if kind == "lowres" else gaussian_blur
    if kind not in ("lowres", "blur"):
        raise ValueError(f"expected a degradation among {sorted(MIXTURE)}, got {kind!r}")
    return torch.cat([op(clean[i : i + 1], float(s)) for i, s in enumerate(strengths)])


def degrade_mixture(clean: torch.Tensor, level: float | torch.Tensor = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each sample gets one random degradation of :data:`MIXTURE` (``level`` is ignored).

    Shape:
        - clean: ``(B, C, H, W)`` in ``[0, 1]``; output: same shape.
    """
    device = generator.device if generator is not None else clean.device
    b = clean.shape[0]
    kinds = torch.randint(len(MIXTURE), (b,), generator=generator, device=device).cpu()
    fractions = torch.rand(b, generator=generator, device=device, dtype=clean.dtype).cpu()
    out = torch.empty_like(clean)
    for k, (kind, (low, high)) in enumerate(MIXTURE.items()):
        index = torch.nonzero(kinds == k).flatten()
        if len(index) == 0:
            continue
        strength = low + fractions[index] * (high - low)
        out[index.to(clean.device)] = apply_degradation(clean[index.to(clean.device)], kind, strength.to(clean.device), generator)
    return out


AUTO = Task(
    name="auto",
    title="Auto (all-in-one, HAIR)",
    unit="none: chosen by the image",
    level_range=(0.0, 1.0),
    default_level=0.0,
    train_levels=(0.0,),
    channels="rgb",
    degrade=degrade_mixture,
    weights="auto.lite",
    psnr_on="all",
    conditioning="image",
    eval_protocol="one of noise σ25 / JPEG q20 (OpenCV) / bicubic ×3 down-up / Gaussian blur σ1.6; PSNR on all channels",
    description="Restores an image without being told what went wrong (noise, JPEG, low resolution or blur).",
)
