"""Built-in task ``microscopy``: photon-limited (fluorescence) noise, restored in raw counts.

Fluorescence images carry Poisson–Gaussian noise: its variance grows with intensity
(``var = α·(y − offset) + σ²`` in the data's units), so one Gaussian σ is too weak on bright
structures and too strong on the background. This task fits α and β = σ² − α·offset from
the image itself (:func:`napari_hyperres.blind.photon_fit.fit_poisson_gaussian`), stabilises the
variance with the generalized Anscombe transform, restores with a level-conditioned Gaussian
hypernetwork at the stabilised σ (``c = 1/span``, the ``denoise`` convention σ/255), and
applies the exact unbiased inverse (Mäkitalo & Foi). The network is ``denoise``'s, or one
trained by ``python -m trainer train --task microscopy`` on :func:`degrade_photon_limited`
(the same pipeline simulated in the stabilised domain; it starts well from ``denoise`` weights).

The level is what a microscopist can read off an image: the number of **photo-electrons**
that separate the image's black point from its white point (the 0.1st and 99.9th
percentiles, or ``value_range``), ``(white − black) / α``. Fewer photons: noisier image,
stronger smoothing. "auto" reads it from the fitted gain.
"""

from __future__ import annotations

import torch

from .base import Task

READ_NOISE_ELECTRONS = 1.0
"""Read noise (electrons rms) of the camera simulated for training: a typical sCMOS."""


def _transform(photons: torch.Tensor) -> torch.Tensor:
    """Anscombe transform with the simulated read noise: ``2·sqrt(photons + 3/8 + r²)`` (≥ 0 inside)."""
    return 2.0 * torch.sqrt(torch.clamp(photons + 3.0 / 8.0 + READ_NOISE_ELECTRONS**2, min=0.0))


def stabilized_span(photons: float | torch.Tensor) -> float | torch.Tensor:
    """Transform units between 0 and ``photons`` photo-electrons (the engine's span at black = 0 photons)."""
    p = torch.as_tensor(photons, dtype=torch.float64)
    span = _transform(p) - _transform(torch.zeros_like(p))
    return float(span) if span.ndim == 0 else span


def stabilized_control(photons: float) -> float:
    """``c`` of the Gaussian network for an image with ``photons`` between black and white:
    the stabilised noise std in unit terms, ``1 / span`` (σ/255, as ``denoise``)."""
    return 1.0 / stabilized_span(float(photons))


def degrade_photon_limited(clean: torch.Tensor, photons: float | torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Photon-limited noise as the network sees it: in the variance-stabilised unit domain.

    ``clean`` is read as what the restored (stabilised, unit) image should be: its values
    ``x`` become expected photon counts ``λ = I(x·span + low) − r²`` through the exact unbiased
    inverse ``I`` (so the engine's inverse of a perfect output returns ``λ``), with
    ``low = 2·√(3/8 + r²)`` (zero photons) and ``span`` up to ``photons``; the result is
    ``(2·√(z + 3/8 + r²) − low) / span`` for ``z = Poisson(λ) + r·N(0, 1)``,
    r = :data:`READ_NOISE_ELECTRONS`. Its noise std is ≈ ``1 / span`` = :func:`stabilized_control`.

    Shape:
        - clean: ``(B, C, H, W)`` in ``[0, 1]``; output: same shape. ``photons``: scalar or ``(B,)``.
    """
    from ..degradations import _check_batch, _per_sample
    from ..photon_noise import exact_unbiased_photons

    _check_batch(clean)
    p = _per_sample(photons, clean)
    low = _transform(torch.zeros_like(p))
    span = _transform(p) - low
    expected = torch.clamp(exact_unbiased_photons(clean.clamp(0, 1) * span + low) - READ_NOISE_ELECTRONS**2, min=0.0)
    counts = torch.poisson(expected.detach(), generator=generator)
    noisy = counts + READ_NOISE_ELECTRONS * torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
    return (_transform(noisy) - low) / span


MICROSCOPY = Task(
    name="microscopy",
    title="Microscopy (fluorescence noise)",
    unit="photons",
    level_range=(1.0, 10000.0),
    default_level=30.0,
    train_levels=(5.0, 12.0, 30.0, 100.0),
    channels="rgb",
    degrade=degrade_photon_limited,
    normalize=stabilized_control,
    weights="microscopy.lite",
    weights_task="denoise",
    noise_parameters="poisson-gaussian",
    level_scale="log",
    psnr_on="all",
    eval_protocol=(
        f"simulated: Poisson + {READ_NOISE_ELECTRONS:g} e⁻ read noise at p photons, scored in the stabilised unit domain "
        "(degrade_photon_limited); real data: W2S single frames vs 400-frame averages, PSNR after an affine fit"
    ),
    description=(
        "Removes the shot and read noise of fluorescence / photon-limited images in their raw counts; the level "
        "is the number of photo-electrons between the image's black and white points (fewer = noisier)."
    ),
)
