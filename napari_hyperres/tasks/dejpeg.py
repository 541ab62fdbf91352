"""Built-in task ``dejpeg``: JPEG compression artifacts, restored on luma."""

from __future__ import annotations

import torch

from ..degradations import jpeg_compress
from .base import Task


def degrade_jpeg(clean: torch.Tensor, quality: float | torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Real libjpeg round trip at ``quality`` (see :func:`jpeg_compress`). Deterministic; ``generator`` unused."""
    return jpeg_compress(clean, quality)


DEJPEG = Task(
    name="dejpeg",
    title="Remove JPEG artifacts",
    unit="JPEG quality",
    level_range=(5.0, 95.0),
    default_level=30.0,
    train_levels=(10.0, 25.0, 45.0, 65.0, 80.0),
    channels="gray",
    degrade=degrade_jpeg,
    weights="dejpeg.lite",
    psnr_on="y",
    eval_protocol="OpenCV (libjpeg) encode at quality q of the gray/Y image; PSNR on Y (BT.601), no border crop",
    description="Removes JPEG blocking and ringing; the level is the quality the file was saved with (lower = worse).",
)
