"""Defective columns and rows of a camera (a CCD's or an sCMOS's hot, dead or offset column), found
and kept out of the network, as :mod:`~napari_hyperres.core.impulses` keeps single hot pixels out.

A hot column is no impulse: each of its pixels has a neighbour above and below it that is just as
hot, so the 8-neighbour test passes it by. Fed to the network, it is restored as structure and
spreads sideways (a review: a column 300 counts high in a 50-photon frame moved 768 pixels by
5–32 counts), and it is read as the image's white point (0.2 % of a 512-wide frame is above its
99.9th percentile: the frame read 170 photons instead of 61, a column 3,000 counts high 1,398).

A pixel *rises* when it stands more than a threshold above both its neighbours across the line
(left and right for a column, above and below for a row; a pair of adjacent lines is compared with
the two pixels outside the pair), or *sinks* when it lies as far below both. A column is defective
over a segment of rows when more than half of its pixels there rise, or more than half sink: a
median test, so noise, whose pixels rise past 3 stabilised σ a few times in a thousand, never makes
one, and neither does an edge (its bright side has a bright neighbour) or an object (it rises over
a few rows, not most of them). Segments are :data:`SEGMENT` pixels long (a last one under half that
joins the one before): a CCD's column from a charge trap to the readout edge is found where it is.

Used twice: with the noise model (stabilised values, :data:`LINE_SIGMAS`) by the engine, which
feeds the network each line less its offset over its neighbours (:func:`fill_lines`) and adds the
offset back to what it restored there (:func:`add_offsets`);
without one (raw values, a typical step
of the plane) by the white point of photon counts, which the noise fit needs before there is a
model (:func:`napari_hyperres.core.intensity.intensity_map_for`).

Pure numpy, strip by strip (a few strips of temporaries, whatever the plane's size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .photon_noise import PoissonGaussian

LINE_SIGMAS = 3.0
"""How far (stabilised noise std) above or below both neighbours most of a line's pixels must lie."""

SEGMENT = 256
"""Pixels along a line decided together (and rows handled at a time)."""

MIN_SEGMENT = 16
"""A plane shorter than this along a line has no line decided: too few pixels to tell a line from noise."""


@dataclass(frozen=True)
class Line:
    """A defective column (``axis`` 1: ``index`` is its x, ``start:stop`` its rows) or row (``axis`` 0: its y and columns)."""

    axis: int
    index: int
    start: int
    stop: int

    @property
    def region(self) -> tuple[slice, slice]:
        """The line's pixels, as an index of the plane."""
        along, across = slice(self.start, self.stop), slice(self.index, self.index + 1)
        return (along, across) if self.axis == 1 else (across, along)


def find_defect_lines(counts: np.ndarray, noise: PoissonGaussian, sigmas: float = LINE_SIGMAS) -> list[Line]:
    """The defective columns and rows of ``counts`` (``(H, W)``, data units, any real dtype) under ``noise``, compared in
    stabilised values (noise std ≈ 1; continued below the black level, where the transform itself would clip a dead
    column's zeros to its neighbours' level)."""
    return find_lines(counts, sigmas, transform=lambda values: _stabilised(values, noise))


def find_lines(values: np.ndarray, threshold: float, transform=None) -> list[Line]:
    """The columns and rows of ``values`` (``(H, W)``) whose pixels rise or sink by more than ``threshold`` on most of a
    segment (the module's rule), in the units of ``transform(values)`` (the values themselves by default)."""
    values = np.asarray(values)
    height, width = values.shape
    transform = transform or (lambda v: np.asarray(v, dtype=np.float32))
    lines = []
    for top, bottom in _segments(height):
        lo, hi = max(top - 1, 0), min(bottom + 1, height)
        strip = transform(values[lo:hi])  # with one row of context on each side, for the rows' neighbours
        rows = slice(top - lo, bottom - lo)
        if bottom - top >= MIN_SEGMENT:  # columns: across each row, decided over the segment's rows
            rise, sink = _crossings(strip[rows], threshold)
            lines += [Line(1, int(x), top, bottom) for x in np.flatnonzero(_most(rise, sink, axis=0))]
        if width >= MIN_SEGMENT:  # rows: across each column, decided over each segment of columns
            rise, sink = (vote.T[rows] for vote in _crossings(strip.T, threshold))
            for left, right in _segments(width):
                found = _most(rise[:, left:right], sink[:, left:right], axis=1)
                lines += [Line(0, top + int(y), left, right) for y in np.flatnonzero(found)]
    return lines


def lines_mask(lines: list[Line], shape: tuple[int, int]) -> np.ndarray:
    """Bool ``shape``: the pixels of ``lines``."""
    mask = np.zeros(shape, dtype=bool)
    for line in lines:
        mask[line.region] = True
    return mask


def fill_lines(counts: np.ndarray, lines: list[Line]) -> tuple[np.ndarray, np.ndarray]:
    """``counts`` with each line's offset taken off its pixels, and those offsets, float32 ``(H, W)``, 0 off the lines.
    A line's offset is the median over its pixels of what was recorded minus the mean of the nearest pixels off the
    lines across it, one on each side (the one there is at the border): a hot column's dark current, a dead column's
    negative of its neighbours. The engine restores the plane without the offsets and adds them back: a hot column
    stays as much brighter than its neighbours as it was, without its noise, and its neighbours are restored as
    without it. A thin line of the sample itself taken for one (most of Set12's borders, at 1,000–5,000 photons) keeps
    its detail along it: filled with its neighbours' mean instead, Set12 as camera counts lost 1.4 dB at 5,000
    photons; with the offset taken off, it gains 0.03 dB.

    Shape:
        - counts: ``(H, W)``; output: like ``counts``, and float32 ``(H, W)``.
    """
    around = counts.astype(np.float64)  # the neighbours' mean on the lines
    columns = [line for line in lines if line.axis == 1]
    rows = [line for line in lines if line.axis == 0]
    for chosen, view in ((rows, around.T), (columns, around)):  # rows first: a crossing pixel is filled across its column
        mask = lines_mask(chosen, counts.shape)
        _fill_across(view, mask if view is around else mask.T)
    offsets = np.zeros(counts.shape, dtype=np.float32)
    for line in rows + columns:  # a crossing pixel takes its column's
        offsets[line.region] = np.median(counts[line.region].astype(np.float64) - around[line.region])
    filled = counts.astype(np.float64)
    filled -= offsets
    if np.issubdtype(counts.dtype, np.integer):
        info = np.iinfo(counts.dtype)
        np.clip(np.rint(filled, out=filled), info.min, info.max, out=filled)
    return filled.astype(counts.dtype), offsets


def add_offsets(restored: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``restored`` (in place, ``(H, W)`` or ``(H, W, C)``, any real dtype) plus the lines' ``offsets`` (:func:`fill_lines`)
    where they are not 0, rounded and held inside an integer dtype's range."""
    where = offsets != 0
    if not where.any():
        return restored
    values = restored[where].astype(np.float64) + offsets[where]
    if np.issubdtype(restored.dtype, np.integer):
        info = np.iinfo(restored.dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    restored[where] = values.astype(restored.dtype)
    return restored


def _fill_across(values: np.ndarray, mask: np.ndarray) -> None:
    """Fill ``values`` (float64 ``(H, W)``, in place) where ``mask`` is, from the nearest unmasked pixels of its row."""
    width = values.shape[1]
    index = np.arange(width)
    for y in np.flatnonzero(mask.any(axis=1)):
        good = ~mask[y]
        if not good.any():
            continue
        left = np.maximum.accumulate(np.where(good, index, -1))  # the nearest good pixel at or before each
        right = np.minimum.accumulate(np.where(good, index, width)[::-1])[::-1]  # at or after each
        bad = np.flatnonzero(mask[y])
        lv = np.where(left[bad] >= 0, values[y, np.clip(left[bad], 0, None)], np.nan)
        rv = np.where(right[bad] < width, values[y, np.clip(right[bad], None, width - 1)], np.nan)
        values[y, bad] = np.where(np.isnan(lv), rv, np.where(np.isnan(rv), lv, (lv + rv) / 2))


def _crossings(strip: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Bool ``(R, W)`` each: where a pixel of ``strip`` (``(R, W)``) rises, and where it sinks, past ``threshold``
    against its left and right neighbours, alone or as one of an adjacent pair compared with the pixels outside the
    pair (a border pixel against the neighbour it has)."""
    padded = np.pad(np.asarray(strip, dtype=np.float32), ((0, 0), (2, 2)), constant_values=np.nan)
    centre, left, right, far_right = padded[:, 2:-2], padded[:, 1:-3], padded[:, 3:-1], padded[:, 4:]
    with np.errstate(invalid="ignore"):  # NaN beyond the border: fmax/fmin take the neighbour there is
        rise = centre - np.fmax(left, right) > threshold
        sink = np.fmin(left, right) - centre > threshold
        pair_rise = np.fmin(centre, right) - np.fmax(left, far_right) > threshold  # this pixel and the next
        pair_sink = np.fmin(left, far_right) - np.fmax(centre, right) > threshold
    for pair, single in ((pair_rise, rise), (pair_sink, sink)):
        single |= pair
        single[:, 1:] |= pair[:, :-1]  # a pair's crossing counts for both of its pixels
    return rise, sink


def _most(rise: np.ndarray, sink: np.ndarray, axis: int) -> np.ndarray:
    """Where more than half of the pixels along ``axis`` rise, or more than half sink."""
    half = rise.shape[axis] / 2
    return (rise.sum(axis=axis) > half) | (sink.sum(axis=axis) > half)


def _segments(length: int) -> list[tuple[int, int]]:
    """``[start, stop)`` pieces of :data:`SEGMENT` covering ``length``, a last one under half of it joined to the one before."""
    starts = list(range(0, length, SEGMENT))
    if len(starts) > 1 and length - starts[-1] < SEGMENT // 2:
        starts.pop()
    return [(start, stops) for start, stops in zip(starts, starts[1:] + [length], strict=True)]


def _stabilised(values: np.ndarray, noise: PoissonGaussian) -> np.ndarray:
    """The generalized Anscombe transform continued below its root's zero as ``−2·sqrt(−inner)`` (monotone: a dead
    column's zeros stay below their neighbours' black level, where the transform itself clips both to 0)."""
    inner = np.asarray(values, dtype=np.float32) / np.float32(noise.gain) + np.float32(3.0 / 8.0 + noise.beta / noise.gain**2)
    return (2.0 * np.sign(inner) * np.sqrt(np.abs(inner))).astype(np.float32)
