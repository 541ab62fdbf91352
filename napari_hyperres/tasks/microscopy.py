"""Built-in task ``microscopy``: photon-limited (fluorescence) noise, restored in raw counts.

Fluorescence images carry Poisson–Gaussian noise: its variance grows with intensity
(``var = α·(y − offset) + σ²`` in the data's units), so one Gaussian σ is too weak on bright
structures and too strong on the background. This task fits α and β = σ² − α·offset from
the image itself (:func:`napari_hyperres.photon_noise.fit_poisson_gaussian`), stabilises the
variance with the generalized Anscombe transform, restores with the level-conditioned
Gaussian hypernetwork of ``denoise`` at the stabilised σ, and applies the exact unbiased
inverse (Mäkitalo & Foi). No network of its own is trained.

The level is what a microscopist can read off an image: the number of **photo-electrons**
that separate the image's black point from its white point (the 0.1st and 99.9th
percentiles, or ``value_range``), ``(white − black) / α``. Fewer photons: noisier image,
stronger smoothing. "auto" reads it from the fitted gain.
"""

from __future__ import annotations

import torch

from ..degradations import add_poisson_gaussian_noise
from .base import Task

READ_NOISE_ELECTRONS = 1.5
"""Read noise (electrons rms) of the simulated camera: a typical sCMOS."""


def degrade_photon_limited(clean: torch.Tensor, photons: float | torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``Poisson(photons · x) / photons + (r / photons) · N(0, 1)``, r = :data:`READ_NOISE_ELECTRONS`.

    Shape:
        - clean: ``(B, C, H, W)`` in ``[0, 1]`` (black → white); output: same shape, unclipped.
    """
    photons_t = torch.as_tensor(photons, dtype=clean.dtype, device=clean.device)
    return add_poisson_gaussian_noise(clean, photons_t, READ_NOISE_ELECTRONS / photons_t, generator)


MICROSCOPY = Task(
    name="microscopy",
    title="Denoise (fluorescence / photon-limited)",
    unit="photons",
    level_range=(1.0, 10000.0),
    default_level=30.0,
    train_levels=(5.0, 20.0, 100.0, 500.0),
    channels="rgb",
    degrade=degrade_photon_limited,
    weights="denoise.lite",
    weights_task="denoise",
    noise_parameters="poisson-gaussian",
    level_scale="log",
    psnr_on="all",
    eval_protocol=(
        f"Poisson(p·x)/p + ({READ_NOISE_ELECTRONS:g} e⁻/p)·N(0,1) on the image in [0, 1], seed 0, unclipped; "
        "real data: W2S single frames vs 400-frame averages, PSNR after an affine fit"
    ),
    description=(
        "Removes the shot and read noise of fluorescence / photon-limited images in their raw counts; the level "
        "is the number of photo-electrons between the image's black and white points (fewer = noisier)."
    ),
)
