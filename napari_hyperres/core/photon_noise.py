"""Poisson–Gaussian (photon-limited) noise: the model and variance stabilisation.

The model, in the data's own units (camera counts, 8-bit grey levels, …):

    z = α · Poisson((y − offset) / α) + offset + N(0, σ²),   var(z | y) = α · (y − offset) + σ²

with α the gain (counts per photo-electron), σ the read noise and ``offset`` the camera's
black level. Only α and ``β = σ² − α · offset`` enter the noise curve ``var = α · y + β``,
the generalized Anscombe transform and its inverse, so a single noisy image determines
(α, β). How β splits into σ and the offset is reported, and used once: a level other than the
fit's (:meth:`PoissonGaussian.with_photons`) changes α and keeps the read noise σ at the offset.

- :func:`napari_hyperres.blind.photon_fit.fit_poisson_gaussian` finds (α, β) from one image
  or stack.
- :func:`camera_counts` simulates a camera's raw counts from expected photo-electrons (tests,
  benchmarks).
- :func:`gat` / :func:`gat_inverse`: the generalized Anscombe transform (noise std ≈ 1 after it)
  and the closed-form approximation of its exact unbiased inverse (Mäkitalo & Foi, IEEE TIP
  2011 and 2013).

Pure numpy; nothing here knows about networks or napari.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import ShapeError

ANSCOMBE_FLOOR = 2.0 * math.sqrt(3.0 / 8.0)
"""The transform of zero counts without read noise; below it the inverse is 0 photons."""


@dataclass(frozen=True)
class PoissonGaussian:
    """Poisson–Gaussian noise parameters in the data's units: ``var(z | y) = gain · y + beta``.

    Attributes:
        gain: α, counts per photo-electron (> 0).
        beta: ``σ² − α · offset``, the noise curve's intercept at ``y = 0`` (may be negative).
        offset: the black level (counts at zero photons): reports ``sigma``, and is where
            :meth:`with_photons` keeps the noise (left at 0, the image's black stands in for it).
        ceiling: the value at which the data saturates, where it does (a 12-bit camera's 4095 in
            a uint16 array; :func:`~napari_hyperres.blind.photon_fit.saturation_ceiling`), else
            ``None``: restored values are held at or below it, and the inside of a clipped patch
            keeps its recorded values (:func:`~napari_hyperres.core.impulses.saturated_mask`).
        camera: ``True`` for a camera's numbers given by the user (:meth:`from_read_noise`, ``--camera``),
            ``False`` for a fit of the image: a given camera is checked against the image
            (:class:`~napari_hyperres.errors.CameraMismatchWarning`) and named so in what the level says.
    """

    gain: float
    beta: float
    offset: float = 0.0
    ceiling: float | None = None
    camera: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.gain) and self.gain > 0):
            raise ShapeError(f"expected a positive, finite gain α, got {self.gain}")
        if not (math.isfinite(self.beta) and math.isfinite(self.offset)):
            raise ShapeError(f"expected finite β and offset, got β={self.beta}, offset={self.offset}")

    @classmethod
    def from_read_noise(cls, gain: float, sigma: float, offset: float = 0.0) -> "PoissonGaussian":
        """Parameters from the camera's gain α, read noise σ and black level (data units)."""
        return cls(float(gain), float(sigma) ** 2 - float(gain) * float(offset), float(offset), camera=True)

    @classmethod
    def camera_from_text(cls, text: str) -> "PoissonGaussian | None":
        """A camera typed as ``"GAIN READ_NOISE OFFSET"`` (the CLI's ``--camera``, the panel's camera field;
        spaces between, a comma after a number allowed), or ``None`` for an empty text.

        Raises:
            ShapeError: not three numbers, a gain ≤ 0 or a negative read noise, saying what is expected.
        """
        parts = [part.rstrip(",;") for part in text.split()]  # "2.2, 3.5, 100"; a decimal comma ("2,5") is no separator
        if not parts:
            return None
        try:
            gain, read_noise, offset = (float(part) for part in parts)
        except ValueError:
            raise ShapeError(f"expected the camera as three numbers, GAIN READ_NOISE OFFSET (e.g. 2.2 3.5 100), got {text!r}") from None
        return cls.checked_camera(gain, read_noise, offset)

    @classmethod
    def checked_camera(cls, gain: float, read_noise: float, offset: float) -> "PoissonGaussian":
        """:meth:`from_read_noise` of a camera's numbers, refused where they are none (a gain ≤ 0, a negative read noise)."""
        if not (math.isfinite(gain) and gain > 0) or not (math.isfinite(read_noise) and read_noise >= 0) or not math.isfinite(offset):
            raise ShapeError(f"expected a camera gain > 0, a read noise ≥ 0 and a finite offset (counts), got gain {gain:g}, "
                             f"read noise {read_noise:g}, offset {offset:g}")
        return cls.from_read_noise(gain, read_noise, offset)

    @property
    def sigma(self) -> float:
        """Read noise σ (data units) implied by ``beta`` and ``offset`` (0 where they imply σ² < 0)."""
        return math.sqrt(max(self.beta + self.gain * self.offset, 0.0))

    def variance(self, mean: np.ndarray | float) -> np.ndarray | float:
        """Noise variance at expected intensity ``mean`` (clipped at 0)."""
        return np.maximum(self.gain * np.asarray(mean, dtype=np.float64) + self.beta, 0.0)

    def photons(self, black: float, white: float) -> float:
        """Photo-electrons between intensities ``black`` and ``white``: ``(white − black) / α``."""
        return (float(white) - float(black)) / self.gain

    def with_photons(self, photons: float, black: float, white: float) -> "PoissonGaussian":
        """The same camera at the gain that puts ``photons`` between ``black`` and ``white``.

        The noise is kept where the image holds no photons: the curve turns about the black level
        ``offset`` (zero photons), or about ``black`` where that lies higher (an offset left at 0, or below
        the image's darkest values): ``gain' · p + beta' = gain · p + beta`` at ``p = max(offset, black)``,
        σ² where ``p`` is the offset. Before, the curve always turned about ``black`` (the image's 0.1st
        percentile), which on 8-bit frames clipped at 0 lies far below the offset: told of more photons, β
        stayed at the fit's −713 while the gain shrank, the variance went negative over most of the image
        and the restoration came out flat grey (a review: W2S frame 060_2 at ×7 of its reading; at ×40
        all white).
        """
        gain = (float(white) - float(black)) / float(photons)
        pivot = max(self.offset, float(black))
        return PoissonGaussian(gain, self.beta + (self.gain - gain) * pivot, self.offset, self.ceiling, self.camera)

    def within_ceiling(self, restored: np.ndarray) -> np.ndarray:
        """``restored`` (in place, any shape) held at or below :attr:`ceiling`; unchanged without one."""
        if self.ceiling is not None:
            np.minimum(restored, np.asarray(self.ceiling, dtype=restored.dtype), out=restored)
        return restored

    def describe(self) -> str:
        """One line for people: ``α 12.3 counts/e⁻, σ 4.1, offset 10.0``."""
        return f"gain α {self.gain:.3g} per photo-electron, read noise σ {self.sigma:.3g}, offset {self.offset:.4g}"


def camera_counts(photons: np.ndarray, gain: float, sigma: float, offset: float, rng: np.random.Generator) -> np.ndarray:
    """Raw camera counts ``offset + gain · Poisson(photons) + N(0, σ²)``, rounded and clipped to uint16.

    ``photons`` holds the expected photo-electrons per pixel; ``rng`` draws the Poisson field
    first, then the read noise (callers' seeds give the same frames as before this helper).

    Shape:
        - photons: any shape, float ≥ 0; output: uint16, same shape.
    """
    counts = offset + gain * rng.poisson(photons) + sigma * rng.standard_normal(np.shape(photons))
    return np.clip(np.round(counts), 0, 65535).astype(np.uint16)


def gat(z: np.ndarray, noise: PoissonGaussian) -> np.ndarray:
    """Generalized Anscombe transform: ``2 · sqrt(z/α + 3/8 + β/α²)`` (0 where the root is negative).

    The noise of the result has standard deviation ≈ 1 wherever ``z`` holds a few photons or more.

    Shape:
        - z: any shape, data units; output: float32, same shape.
    """
    a = np.float32(noise.gain)
    inner = np.asarray(z, dtype=np.float32) / a + np.float32(3.0 / 8.0 + noise.beta / noise.gain**2)
    np.maximum(inner, 0.0, out=inner)
    np.sqrt(inner, out=inner)
    inner *= 2.0
    return inner


def exact_unbiased_photons(d):
    """The closed form of the exact unbiased inverse for α = 1, σ = 0: ``E[photons]`` whose
    Anscombe transform has expectation ``d`` (numpy array or torch tensor, ``d ≥ 2·√(3/8)``)."""
    r = math.sqrt(1.5)
    return 0.25 * d**2 + 0.25 * r / d - 1.375 / d**2 + 0.625 * r / d**3 - 0.125


def gat_inverse(d: np.ndarray, noise: PoissonGaussian) -> np.ndarray:
    """Closed-form exact unbiased inverse of :func:`gat` (Mäkitalo & Foi 2011/2013).

    For ``D`` the denoised transform, the expected photon count is
    ``D²/4 + ¼·√(3/2)·D⁻¹ − 11/8·D⁻² + 5/8·√(3/2)·D⁻³ − 1/8 − σ'²`` with ``σ'² = β/α²``
    (the read noise and black level in photo-electrons), which maps back to ``α · λ``.
    ``D`` below the transform of zero photons (``2·√(3/8)``) is held there: the expansion
    is only valid above it.

    Shape:
        - d: any shape; output: float32 data units, same shape.
    """
    photons = exact_unbiased_photons(np.maximum(np.asarray(d, dtype=np.float64), ANSCOMBE_FLOOR))
    photons -= noise.beta / noise.gain**2
    return (photons * noise.gain).astype(np.float32)

