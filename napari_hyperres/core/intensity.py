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
from .line_defects import RAW_WINDOW, fill_lines, find_lines, lines_mask

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
    values, floor, lines = image, None, None
    if counts and padded_below(image, low):
        values, floor = image[image > low], low  # zeros around stitched tiles or a blank frame: no camera's black
    if counts and image.ndim >= 2:
        lines = defect_lines_mask(image)  # nor are defective columns black or white
        if lines is not None:
            values = image[~lines if floor is None else ~lines & (image > floor)]
            if values.size == 0:  # nothing left (a guard: lines cover at most a few % of a plane)
                values, lines = (image if floor is None else image[image > floor]), None
    if counts and image.ndim >= 2:  # hot pixels are no white: 0.2 % of them read a 50-photon frame as 747 photons
        p_low, above, p_high = (float(v) for v in np.percentile(values, (PERCENTILES[0], PEAKS_ABOVE, PERCENTILES[1])))
        p_high = white_without_peaks(image, values.size, above, p_high, floor, lines)
    else:
        p_low, p_high = (float(v) for v in np.percentile(values, PERCENTILES))
    if p_high <= p_low:
        p_low, p_high = low, high if high > low else low + 1.0
    return IntensityMap(p_low, p_high - p_low, dtype)


PEAK_RATIO = 8.0
"""How many times the spread of its 8 neighbours (their brightest minus their dimmest) a pixel must stand above
the brightest of them to count as an isolated peak (:func:`peak_indices`)."""

PEAKS_ABOVE = 98.0
"""The percentile above which pixels are tested for isolated peaks: a white point can leave out up to 2 % of them."""


def peak_indices(image: np.ndarray, above: float = -np.inf) -> np.ndarray:
    """Flat indices (into ``image.ravel()``) of the pixels above ``above`` that are isolated peaks: single pixels far
    above all their neighbours, as hot pixels and cosmic rays of photon counts are, told apart without a noise model
    (the white point of photon counts leaves them out, and the noise fit needs that white point first; a review: hot
    pixels on 0.2 % of a 50-photon frame became its white and read it as 747 photons, and the true 50 typed as the
    level was restored 9 dB too smooth).

    ``image``: ``(..., Y, X)``. A pixel counts when it stands above its brightest neighbour by more than
    :data:`PEAK_RATIO` times the spread of its neighbours (brightest minus dimmest), or of a typical neighbourhood of
    its plane where that is larger (three times the median difference of horizontal neighbours, of the differences
    that are not zero where most are, and at least one count for integers: a flat neighbourhood of rounded or sparse
    counts is no licence). A border pixel is compared with the neighbours it has. Only the pixels above ``above``
    are read with their neighbourhoods, so the cost follows their number, not the image's."""
    values = np.asarray(image)
    flat = values.reshape(-1)
    height, width = values.shape[-2:]
    candidates = np.flatnonzero(flat > above)
    if height < 3 or width < 3 or candidates.size == 0:
        return candidates[:0]
    plane, inside = np.divmod(candidates, height * width)
    y, x = np.divmod(inside, width)
    brightest = np.full(candidates.size, -np.inf)
    dimmest = np.full(candidates.size, np.inf)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if not (dy or dx):
                continue
            yy, xx = y + dy, x + dx
            valid = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
            around = flat[(plane * height + np.clip(yy, 0, height - 1)) * width + np.clip(xx, 0, width - 1)].astype(np.float64)
            brightest = np.where(valid, np.maximum(brightest, around), brightest)
            dimmest = np.where(valid, np.minimum(dimmest, around), dimmest)
    planes = values.reshape((-1, height, width))
    typical = np.zeros(planes.shape[0])
    for p in np.unique(plane):
        typical[p] = typical_step(planes[p])
    rise = flat[candidates].astype(np.float64) - brightest
    return candidates[rise > PEAK_RATIO * np.maximum(brightest - dimmest, typical[plane])]


def typical_step(plane: np.ndarray) -> float:
    """Three times the median difference of horizontal neighbours of ``plane`` (``(Y, X)``, about 256 of its rows), of
    the differences that are not zero where most are (sparse counts), and at least one count for integers: about 3
    noise σ of its darker parts, without a noise model."""
    rows = plane[:: max(1, plane.shape[0] // 256)].astype(np.float64)
    steps = np.abs(np.diff(rows, axis=1))
    step = float(np.median(steps)) if steps.size else 0.0
    if step == 0.0 and np.any(steps):  # mostly flat (sparse counts): the steps there are
        step = float(np.median(steps[steps > 0]))
    return max(3.0 * step, 1.0 if np.issubdtype(plane.dtype, np.integer) else 0.0)


def raw_lines(plane: np.ndarray) -> list:
    """The defective lines of ``plane`` (``(Y, X)``) without a noise model: :func:`~napari_hyperres.core.line_defects.find_lines`
    on raw values against its :func:`typical_step`, over :data:`~napari_hyperres.core.line_defects.RAW_WINDOW` pixels."""
    return find_lines(plane, typical_step(plane), window=RAW_WINDOW)


def defect_lines_mask(image: np.ndarray) -> np.ndarray | None:
    """Bool ``image.shape`` (``(..., Y, X)``): the pixels of each plane's :func:`raw_lines`, or ``None`` where there are
    none: a hot column is no white (a column 300 counts high read a 61-photon frame as 170 photons)."""
    values = np.asarray(image)
    planes = values.reshape((-1,) + values.shape[-2:])
    mask = None
    for p, plane in enumerate(planes):
        lines = raw_lines(plane)
        if lines:
            mask = np.zeros(planes.shape, dtype=bool) if mask is None else mask
            mask[p] = lines_mask(lines, plane.shape)
    return None if mask is None else mask.reshape(values.shape)


def without_defect_lines(planes: np.ndarray) -> np.ndarray:
    """``planes`` (``(k, Y, X)``) with their :func:`raw_lines` filled as the engine fills them
    (:func:`~napari_hyperres.core.line_defects.fill_lines`): what the noise fit and the check of a given camera's
    offset read, where a hot column 3,000 counts high had read a 50-photon frame's gain as 0.46 instead of 2 (a
    review), and a dead column at 0 the black level. ``planes`` itself where none has a line."""
    out = planes
    for p, plane in enumerate(planes):
        lines = raw_lines(plane)
        if lines:
            out = planes.copy() if out is planes else out
            out[p] = fill_lines(plane, lines)[0]
    return out


def isolated_peaks(image: np.ndarray) -> np.ndarray:
    """Bool ``image.shape``: where :func:`peak_indices` finds isolated peaks, testing every pixel."""
    values = np.asarray(image)
    mask = np.zeros(values.size, dtype=bool)
    mask[peak_indices(values)] = True
    return mask.reshape(values.shape)


def white_without_peaks(image: np.ndarray, count: int, above: float, white: float, floor: float | None = None,
                        left_out: np.ndarray | None = None) -> float:
    """The :data:`PERCENTILES` white point of the ``count`` values of ``image`` that count (its pixels, padding left
    out) without its isolated peaks (:func:`peak_indices` above ``above``, their :data:`PEAKS_ABOVE` percentile), or
    ``white`` (with them) where it has none. Read from the pixels above ``above`` alone (numpy's linear interpolation
    between order statistics), so no copy of the image is made. ``floor``: the padding value left out of ``count``
    (pixels at or below it), if any. Where the answer lies at or below ``above`` (peaks on more than 2 % of the
    image, or a tiny image), it is read from all the pixels kept (a copy). ``left_out``: bool ``image.shape``, pixels
    already left out of ``count`` (defective lines, :func:`defect_lines_mask`), or ``None``."""
    flat = np.asarray(image).reshape(-1)
    out = None if left_out is None else left_out.reshape(-1)
    peaks = peak_indices(image, above)
    if out is not None:
        peaks = peaks[~out[peaks]]
    if peaks.size == 0:
        return white
    kept = count - peaks.size
    candidates = np.flatnonzero(flat > above)
    if out is not None:
        candidates = candidates[~out[candidates]]
    rest = np.sort(flat[np.setdiff1d(candidates, peaks, assume_unique=True)].astype(np.float64))
    below = kept - rest.size  # the kept values at or below `above` come first
    rank = PERCENTILES[1] / 100.0 * (kept - 1)
    first = int(np.floor(rank)) - below
    if kept < 1:
        return white
    if rest.size == 0 or first < 0:  # among the values at or below `above`: read from all the pixels kept
        keep = np.ones(flat.size, dtype=bool) if floor is None else flat > floor
        keep[peaks] = False
        if out is not None:
            keep &= ~out
        return float(np.percentile(flat[keep], PERCENTILES[1])) if keep.any() else white
    first, second = min(first, rest.size - 1), min(first + 1, rest.size - 1)
    return float(rest[first] + (rank - np.floor(rank)) * (rest[second] - rest[first]))


PILE_UP = 1e-3
"""Share of values at exactly one value that marks it as a pile-up (a clip or padding), not a tail."""


def piled(values: np.ndarray, value: float) -> bool:
    """Whether at least :data:`PILE_UP` of ``values`` sit exactly at ``value`` (a clip or padding, not a tail)."""
    return np.count_nonzero(values == value) >= PILE_UP * values.size


PADDING_GAP = 0.05
"""Share of the data's range (minimum to 99th percentile) that no value may fill above a
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
    top = float(np.percentile(rest, 99.0))  # not 99.9: hot pixels on 0.1 % of a frame made the gap look small
    gap = float(rest.min()) - low
    if np.issubdtype(image.dtype, np.integer) and gap <= 1.0:  # counts clipped at a floor, or sparse photon counts
        return False  # (the values just above it are filled: a diff review saw background-subtracted data taken for padding)
    return gap > PADDING_GAP * (top - low)


def reads_data_range(dtype: np.dtype) -> bool:
    """Whether the intensity map of this dtype depends on the values (everything but uint8)."""
    return np.dtype(dtype) != np.uint8
