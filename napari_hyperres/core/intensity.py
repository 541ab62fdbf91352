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
    if counts and padded_below(image, low):
        image = image[image > low]  # zeros around stitched tiles or a blank frame: no camera's black
    p_low, p_high = (float(v) for v in np.percentile(image, PERCENTILES))
    if p_high <= p_low:
        p_low, p_high = low, high if high > low else low + 1.0
    return IntensityMap(p_low, p_high - p_low, dtype)


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
