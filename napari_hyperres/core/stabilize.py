"""Variance stabilisation as an intensity map: raw counts ↔ the Gaussian network's ``[0, 1]``.

A :class:`StabilizedMap` has the interface of :class:`~napari_hyperres.core.intensity.IntensityMap`
(``to_unit`` / ``from_unit``), so the engine restores photon-limited data exactly as it
restores anything else, with a different map: counts → generalized Anscombe transform
(noise std ≈ 1) → an affine map onto ``[0, 1]`` whose black and white points are those of
the data → the network at ``sigma`` → the exact unbiased inverse → counts in the input dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .intensity import IntensityMap
from .photon_noise import PoissonGaussian, gat, gat_inverse

MAX_STABILIZED_SIGMA = 100.0
"""Largest σ (8-bit scale) the Gaussian network is run at after stabilisation (the ``denoise``
range); images with fewer photons get a wider span instead (:func:`stabilized_map`)."""


@dataclass(frozen=True)
class StabilizedMap:
    """Counts ↔ unit through the generalized Anscombe transform.

    Attributes:
        noise: the Poisson–Gaussian parameters the transform stabilises (data units).
        low: transform value mapped to 0.
        span: transform units mapped onto ``[0, 1]``; the noise std in unit terms is ``1 / span``.
        dtype: the dtype to return to (integers rounded and clipped to their range).
        measured: the noise the data holds (the fit, or the camera given), where a level other than the
            fit's reading turned :attr:`noise` (:meth:`~napari_hyperres.core.photon_noise.PoissonGaussian.with_photons`);
            ``None``: :attr:`noise` itself. Camera defects are found against it (:attr:`data_noise`).
    """

    noise: PoissonGaussian
    low: float
    span: float
    dtype: np.dtype
    measured: PoissonGaussian | None = None

    @property
    def data_noise(self) -> PoissonGaussian:
        """The noise the data holds: what hot pixels, defective lines, padding and saturation are told from. Not the
        level's model: at 1,500 photons on a frame that reads 63, that assumed 1/24 of the variance, so its noise
        passed for hot pixels and lines (kept as recorded), and the preview took twice as long finding them."""
        return self.noise if self.measured is None else self.measured

    @property
    def sigma(self) -> float:
        """The stabilised noise std on the 8-bit scale (the Gaussian network's level): ``255 / span``."""
        return 255.0 / self.span

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """Counts (any dtype) → float32, stabilised: noise std ``1 / span`` everywhere."""
        out = gat(values, self.noise)
        out -= np.float32(self.low)
        out /= np.float32(self.span)
        return out

    def from_unit(self, unit: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
        """Restored unit values → expected counts in the original dtype (exact unbiased inverse)."""
        d = unit if overwrite else unit.copy()
        d *= np.float32(self.span)
        d += np.float32(self.low)
        return IntensityMap(0.0, 1.0, np.dtype(self.dtype)).from_unit(gat_inverse(d, self.noise), overwrite=True)


def stabilized_map(
    noise: PoissonGaussian, black: float, white: float, dtype: np.dtype, max_sigma: float = MAX_STABILIZED_SIGMA,
    measured: PoissonGaussian | None = None,
) -> StabilizedMap:
    """The :class:`StabilizedMap` that puts the transforms of ``black`` and ``white`` at 0 and 1.

    Where that would make the stabilised σ exceed ``max_sigma`` (the network's range; fewer
    than ≈ 2 photons between black and white), the span is widened around the same centre
    so that σ = ``max_sigma``. ``measured``: the data's own noise where ``noise`` is a level's
    (:attr:`StabilizedMap.measured`).
    """
    f_black, f_white = (float(v) for v in gat(np.array([black, white], dtype=np.float64), noise))
    span = max(f_white - f_black, 255.0 / float(max_sigma))
    low = 0.5 * (f_black + f_white) - 0.5 * span
    return StabilizedMap(noise, low, span, np.dtype(dtype), measured)


def refuse_rgb(task_name: str, shape: tuple[int, ...]) -> None:
    """Raise :class:`ShapeError`: photon-limited noise is fitted and restored one gray channel at a time."""
    from ..errors import ShapeError

    raise ShapeError(
        f"task {task_name!r} restores one fluorescence channel at a time (gray planes), got an RGB image of shape "
        f"{tuple(shape)}: split the channels first (napari: right-click the layer ▸ Split RGB; numpy: numpy.moveaxis(image, -1, 0); "
        "files: save them as a CYX stack, e.g. tifffile.imwrite(path, numpy.moveaxis(image, -1, 0), imagej=True, "
        "metadata={'axes': 'CYX'}), which the command line fits channel by channel)"
    )


def fitted_photons(task, noise: PoissonGaussian, black: float, white: float) -> float:
    """The photons ``noise`` puts between ``black`` and ``white``: a photon task's "auto" level.

    Raises:
        LevelRangeError: outside the task's range (with what that means and what to do).
    """
    from ..errors import LevelRangeError

    photons = noise.photons(black, white)
    low, high = task.level_range
    if not low <= photons <= high:
        hint = (
            f"the image has almost no photon noise, there is little to restore; if you still want to, give the "
            f"level {high:g} by hand (it smooths a little more than this image needs)"
            if photons > high
            else f"the image holds fewer photons than the network handles; give the level {low:g} by hand, or check "
            "the fit with your camera's noise (CLI: --camera GAIN READ_NOISE OFFSET)"
        )
        raise LevelRangeError(
            f"task {task.name!r}: the fitted noise ({noise.describe()}) puts {photons:.3g} photons between "
            f"black {black:g} and white {white:g}, outside {low:g}–{high:g}: {hint}"
        )
    return photons
