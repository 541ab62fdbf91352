"""Mapping images of any dtype to float ``[0, 1]`` and back.

Rules:
    - uint8: divided by 255 (8-bit files are display data: the level's "8-bit scale" is theirs);
    - floats already inside ``[0, 1]``: used as they are, except for photon counts
      (``counts=True``, the photon-limited tasks): camera counts scaled to ``[0, 1]``
      (``skimage.img_as_float``, ``/ 65535``) fill a small part of it, and are read by
      their own range like the counts they were;
    - every other array (uint16/uint32 camera counts, signed integers, other floats): by the
      data's own range: the 0.1 and 99.9 percentiles are mapped to 0 and 1 and the result is
      mapped back with the same affine transform (never clipped). A 12-bit camera image with
      counts 100–4000 in a uint16 array is therefore seen with its own contrast, not as
      nearly black (its dtype's 0–65535 would be), and int16 data with negative values
      comes back in place.
Integers come back rounded and clipped to their dtype's range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError

PERCENTILES = (0.1, 99.9)


@dataclass(frozen=True)
class IntensityMap:
    """An affine map ``unit = (value - offset) / scale`` and the dtype to return to."""

    offset: float
    scale: float
    dtype: np.dtype

    @property
    def value_range(self) -> tuple[float, float]:
        """``(black, white)``: the values that map to 0 and 1."""
        return (self.offset, self.offset + self.scale)

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """``values`` (any dtype) → float32 in roughly ``[0, 1]``."""
        out = values.astype(np.float32, copy=True)
        if self.offset:
            out -= np.float32(self.offset)
        if self.scale != 1.0:
            out /= np.float32(self.scale)
        return out

    def from_unit(self, unit: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
        """float ``[0, 1]`` → the original dtype and value range.

        Computed in float32 where that is exact enough (8/16-bit integers, float16/32),
        else float64; ``overwrite=True`` lets a float32 ``unit`` be used as scratch space
        (no whole-plane temporaries: what keeps huge planes within memory).
        """
        work_dtype = np.result_type(self.dtype, np.float32)
        work = unit if overwrite and unit.dtype == work_dtype and unit.flags.writeable else unit.astype(work_dtype, copy=True)
        if self.scale != 1.0:
            work *= work_dtype.type(self.scale)
        if self.offset:
            work += work_dtype.type(self.offset)
        if np.issubdtype(self.dtype, np.integer):
            info = np.iinfo(self.dtype)
            np.rint(work, out=work)
            np.clip(work, info.min, info.max, out=work)
        return work.astype(self.dtype, copy=False)


def check_dtype(dtype: np.dtype) -> None:
    """Raise :class:`ShapeError` for dtypes that are not images (bool, complex, object, strings)."""
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)) or dtype == np.bool_:
        raise ShapeError(f"expected an integer or floating-point image, got dtype {dtype}; convert it first (e.g. .astype(np.float32))")


NOT_FINITE = "the image contains NaN or infinite values; replace them first (e.g. numpy.nan_to_num)"


def intensity_map_for(image: np.ndarray, value_range: tuple[float, float] | None = None, *, counts: bool = False) -> IntensityMap:
    """The :class:`IntensityMap` of ``image`` under the module's rules (reads the whole array unless it is uint8).

    ``value_range=(black, white)`` overrides the rules (black → 0, white → 1). ``counts``: the
    values are photon counts (photon-limited tasks): a float image inside ``[0, 1]`` is read by
    its own range too.
    """
    dtype = np.dtype(image.dtype)
    check_dtype(dtype)
    if value_range is not None:
        black, white = (float(v) for v in value_range)
        if not white > black:
            raise ShapeError(f"expected value_range (black, white) with white > black, got {value_range}")
        return IntensityMap(black, white - black, dtype)
    if dtype == np.uint8:
        return IntensityMap(0.0, 255.0, dtype)
    low, high = float(np.min(image)), float(np.max(image))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ShapeError(NOT_FINITE)
    if np.issubdtype(dtype, np.floating) and low >= 0.0 and high <= 1.0 and not counts:
        return IntensityMap(0.0, 1.0, dtype)
    peaks = isolated_peaks(image) if counts and image.ndim >= 2 else None
    if counts and padded_below(image, low):
        keep = image > low  # zeros around stitched tiles or a blank frame: no camera's black
        image, peaks = image[keep], None if peaks is None else peaks[keep]
    p_low, p_high = (float(v) for v in np.percentile(image, PERCENTILES))
    if peaks is not None and peaks.any():  # hot pixels are no white: 0.2 % of them read a 50-photon frame as 747
        p_high = float(np.percentile(image[~peaks], PERCENTILES[1]))
    if p_high <= p_low:
        p_low, p_high = low, high if high > low else low + 1.0
    return IntensityMap(p_low, p_high - p_low, dtype)


PEAK_RATIO = 8.0
"""How many times the spread of its 8 neighbours (their brightest minus their dimmest) a pixel must stand above
the brightest of them to count as an isolated peak (:func:`isolated_peaks`)."""

PEAK_ROWS = 256
"""Rows of a plane handled at a time by :func:`isolated_peaks` (plus one row of context on each side)."""


def isolated_peaks(image: np.ndarray) -> np.ndarray:
    """Where ``image`` ``(..., Y, X)`` holds single pixels far above all their neighbours: hot pixels and cosmic rays
    of photon counts, told apart without a noise model (the white point of photon counts leaves them out, and the
    noise fit needs that white point first; a review: hot pixels on 0.2 % of a 50-photon frame became its white
    and read it as 747 photons, and the true 50 typed as the level was restored 9 dB too smooth).

    A pixel counts when it stands above its brightest neighbour by more than :data:`PEAK_RATIO` times the spread
    of its neighbours (brightest minus dimmest), or of a typical neighbourhood of its plane where that is larger
    (three times the median difference of horizontal neighbours: a flat neighbourhood of rounded counts is no
    licence). Noise alone, which must also rise above all 8 neighbours, comes nowhere near; a border pixel is
    compared with the neighbours it has. Bool, like ``image``; computed strip by strip (a few rows of
    temporaries, whatever the plane's size)."""
    values = np.asarray(image)
    mask = np.zeros(values.shape, dtype=bool)
    height, width = values.shape[-2:]
    if height < 3 or width < 3:
        return mask
    ratio = np.float32(PEAK_RATIO)
    for plane, out in zip(values.reshape((-1, height, width)), mask.reshape((-1, height, width)), strict=True):
        rows = plane[:: max(1, height // 256)].astype(np.float32)  # about 256 rows: the plane's typical step
        typical = np.float32(3.0 * np.median(np.abs(np.diff(rows, axis=1))))
        for top in range(0, height, PEAK_ROWS):
            bottom = min(top + PEAK_ROWS, height)
            lo = max(top - 1, 0)
            strip = plane[lo : min(bottom + 1, height)].astype(np.float32)
            high = np.pad(strip, 1, mode="constant", constant_values=-np.inf)
            low = np.pad(strip, 1, mode="constant", constant_values=np.inf)
            first = top - lo + 1
            brightest = np.full((bottom - top, width), -np.inf, dtype=np.float32)
            dimmest = np.full((bottom - top, width), np.inf, dtype=np.float32)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    if dy or dx:
                        where = (slice(first + dy, first + dy + bottom - top), slice(1 + dx, 1 + dx + width))
                        np.maximum(brightest, high[where], out=brightest)
                        np.minimum(dimmest, low[where], out=dimmest)
            centre = high[first : first + bottom - top, 1 : 1 + width]
            out[top:bottom] = centre - brightest > ratio * np.maximum(brightest - dimmest, typical)
    return mask


PILE_UP = 1e-3
"""Share of values at exactly one value that marks it as a pile-up (a clip or padding), not a tail."""


def piled(values: np.ndarray, value: float) -> bool:
    """Whether at least :data:`PILE_UP` of ``values`` sit exactly at ``value`` (a clip or padding, not a tail)."""
    return np.count_nonzero(values == value) >= PILE_UP * values.size


PADDING_GAP = 0.05
"""Share of the data's range (minimum to 99.9th percentile) that no value may fill above a
piled-up minimum for that minimum to count as padding (:func:`padded_below`)."""


def padded_below(image: np.ndarray, low: float) -> bool:
    """Whether ``image``'s minimum ``low`` is padding rather than data: it piles up (:func:`piled`),
    and the next value up lies more than :data:`PADDING_GAP` of the range
    above it (zeros around stitched tiles under a camera's offset of 100; a blank frame). Data
    clipped at a floor (background subtracted) fills the values just above it, and is not."""
    if not piled(image, low):
        return False
    rest = image[image > low]
    if rest.size == 0:  # every value the minimum: a constant image, not padding
        return False
    top = float(np.percentile(rest, PERCENTILES[1]))
    return float(rest.min()) - low > PADDING_GAP * (top - low)


def reads_data_range(dtype: np.dtype) -> bool:
    """Whether the intensity map of this dtype depends on the values (everything but uint8)."""
    return np.dtype(dtype) != np.uint8
