"""Built-in task ``dejpeg``: JPEG compression artifacts, restored on luma."""

from __future__ import annotations

import torch

from ..degradations import jpeg_compress
from ..jpeg_quality import JPEG_SUFFIXES
from .base import FileLevel, Task


def read_file_quality(path) -> float:
    """The quality a JPEG file was saved with, from its quantisation tables (exact for libjpeg encoders)."""
    from ..jpeg_quality import read_jpeg_quality

    return float(read_jpeg_quality(path).quality)


def read_file_chroma(path) -> str | None:
    """How a JPEG file coded its chroma (``"subsampled"`` / ``"full"``), from its frame header; ``None`` otherwise."""
    from ..jpeg_quality import read_jpeg_chroma

    return read_jpeg_chroma(path) if str(path).lower().endswith(JPEG_SUFFIXES) else None


WEB_QUALITY = 75.0
"""The quality libjpeg and Pillow save at unless told otherwise; cameras and phones save at 85–95."""


def saved_for_the_web(quality: float) -> bool:
    """Whether a JPEG file's quality is low enough that its blocking is what needs restoring
    (≤ :data:`WEB_QUALITY`). A camera's quality-90 file needs its noise restored, not its blocks."""
    return quality <= WEB_QUALITY


GAIN_UP_TO = 85.0
"""The highest quality at which restoring a JPEG file measured a gain on average: 30 colour photos
of McMaster and Set14 saved by OpenCV, restored at their quality (``benchmarks/bench_dejpeg_high_quality.py``):
+0.58 / +0.47 / +0.26 dB at q 75 / 80 / 85, −0.15 at 90 (12 of 30 worse, the worst −2.3), −0.77 at
95 (28 of 30 worse). The network was trained up to 80."""


def high_quality_caution(quality: float) -> str | None:
    """What "auto" says of a file saved above :data:`GAIN_UP_TO`: restoring it loses more than it gains."""
    if quality <= GAIN_UP_TO:
        return None
    return (
        f"a file saved at quality {quality:g} has little blocking to remove: restoring such files lost 0.15 dB on average at "
        "90 and 0.8 at 95 (BENCHMARKS.md); keep the file as it is, or use denoise if it is noisy"
    )


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
    chroma="subsampled",  # colour JPEG files: their 4:2:0 chroma blocks are removed too
    chroma_in_file=read_file_chroma,  # a 4:4:4 file's chroma at full resolution
    degrade=degrade_jpeg,
    weights="dejpeg.lite",
    # single saves of Set14 / McMaster / classic5 read ≤ 11.7 below their tables (q 90), re-saves of
    # q 10-50 at 75-95 21.4-84.8 below (benchmarks/bench_jpeg_resave.py; BENCHMARKS.md, "Fifth review")
    level_in_file=FileLevel(
        JPEG_SUFFIXES, read_file_quality, "quantisation tables", saved_again_below=15, worth_restoring=saved_for_the_web,
        caution=high_quality_caution,
    ),
    psnr_on="y",
    eval_protocol="OpenCV (libjpeg) encode at quality q of the gray/Y image; PSNR on Y (BT.601), no border crop",
    description="Removes JPEG blocking and ringing; the level is the quality the file was saved with (lower = worse).",
)
