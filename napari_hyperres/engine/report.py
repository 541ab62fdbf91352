"""What a restore reports besides the pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..blind.brightness import LevelCurve
from ..core.photon_noise import PoissonGaussian


@dataclass(frozen=True)
class PlaneChoice:
    """A step of :meth:`Restorer.restore_steps` for image-conditioned tasks: the weights mixture
    ``(parts, N)`` (one row per generated part, N candidates) chosen for plane ``index``
    (flat index over the leading axes), yielded before that plane's first progress step."""

    index: int
    mixture: np.ndarray


@dataclass(frozen=True)
class Report:
    """What one restore did (:meth:`Restorer.restore_with_report`).

    Attributes:
        level: the level used, in the task's units ("auto" resolved; photons for ``microscopy``).
        selections: image-conditioned tasks: the mixtures, shape ``lead + (parts, N)``
            (``lead``: the input's leading axes); else ``None``.
        noise: photon-limited tasks: the Poisson–Gaussian parameters the data holds (the fit, or the camera given:
            with ``level`` they give the restoration, as ``restore(image, level, noise=noise)``; the streamed path
            and the widget record the same); else ``None``.
        curve: ``"by-brightness"``: the level of each brightness that each pixel was restored by
            (``level`` is its median); else ``None``.
    """

    level: float
    selections: np.ndarray | None = None
    noise: PoissonGaussian | None = None
    curve: LevelCurve | None = None
