"""Task ``poisson``: Poisson-Gaussian noise of a photon-counting camera.

The level is the number of photons (photo-electrons) a pixel at the image's white
point collects: fewer photons = noisier. A pixel of brightness ``x`` in ``[0, 1]``
becomes ``Poisson(photons · x) / photons`` plus the camera's read noise, a fixed
``READ_NOISE_ELECTRONS`` electrons rms (sCMOS-like), i.e. ``READ_NOISE_ELECTRONS / photons``
in ``[0, 1]`` units.

Normalisation: the network's control value is the noise standard deviation of a
white pixel, ``c = sqrt(photons + read²) / photons`` (≈ ``1 / sqrt(photons)``). That is
the same quantity the built-in ``denoise`` task feeds its network (``σ / 255``, the
noise std in ``[0, 1]`` units), so ``c`` is ≈ 0.03 at 1000 photons (like σ 8) and ≈ 0.49
at 5 photons (beyond σ 100); the default ``level / 255`` would instead give more
photons (less noise) a *larger* ``c`` and squeeze 1-50 photons, where the noise
changes most, into ``c < 0.2``.
"""

from __future__ import annotations

import math

import torch

from napari_hyperres import Task
from napari_hyperres.core.degradations import add_poisson_gaussian_noise

READ_NOISE_ELECTRONS = 1.0
"""Camera read noise in electrons rms (a modern sCMOS is 1-2 e⁻)."""


def noise_std_at_white(photons: float) -> float:
    """The control value ``c``: noise std of a white pixel in ``[0, 1]`` units, ``sqrt(p + r²) / p``."""
    photons = float(photons)
    return math.sqrt(photons + READ_NOISE_ELECTRONS**2) / photons


def degrade_poisson(
    clean: torch.Tensor, photons: float | torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``Poisson(p·x)/p + (r/p)·N(0, 1)`` for ``(B, C, H, W)`` in ``[0, 1]``; ``photons`` scalar or ``(B,)``."""
    photons_t = torch.as_tensor(photons, dtype=clean.dtype, device=clean.device)
    return add_poisson_gaussian_noise(clean, photons_t, READ_NOISE_ELECTRONS / photons_t, generator)


POISSON = Task(
    name="poisson",
    title="Denoise (photon-limited, Poisson-Gaussian)",
    unit="photons at white",
    level_range=(1.0, 1000.0),
    default_level=100.0,
    train_levels=(5.0, 20.0, 100.0, 500.0),
    channels="gray",
    degrade=degrade_poisson,
    normalize=noise_std_at_white,
    weights=None,
    psnr_on="all",
    eval_protocol=(
        f"Poisson(p·x)/p + ({READ_NOISE_ELECTRONS:g} e⁻/p)·N(0,1) on the gray image in [0, 1], seed 0, "
        "float, unclipped; PSNR on all channels, no border crop"
    ),
    description=(
        "Removes shot noise of photon-limited (fluorescence) images; the level is the photon count of a "
        "white pixel (fewer photons = noisier)."
    ),
)
