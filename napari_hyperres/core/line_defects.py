"""Defective columns and rows of a camera (a CCD's or an sCMOS's hot, dead or offset column), found
and kept out of the network, as :mod:`~napari_hyperres.core.impulses` keeps single hot pixels out.

A hot column is no impulse: each of its pixels has a neighbour above and below it that is just as
hot, so the 8-neighbour test passes it by. Fed to the network, it is restored as structure and
spreads sideways (a review: a column 300 counts high in a 50-photon frame moved the pixels beside it
by up to 41 counts), and it is read as the image's white point (0.2 % of a 512-wide frame is above
its 99.9th percentile: the frame read 170 photons instead of 61, a column 3,000 counts high 1,398).

A pixel *rises* when it stands more than a threshold above both its neighbours across the line
(left and right for a column, above and below for a row; a pair of adjacent lines is compared with
the two pixels outside the pair), or *sinks* when it lies as far below both. A pixel belongs to a
defective line when more than half of the :data:`WINDOW` pixels of its line centred on it rise, or
more than half sink: a running median test, so noise, whose pixels rise past 3 stabilised σ a few
times in a thousand, never makes one, and neither does an edge (its bright side has a bright
neighbour) or an object (it rises over a few pixels, not most of a window), nor a line of the sample
blurred by the optics (its neighbours stand above the pixels beyond them: a shoulder, :data:`SHOULDER`).
More than :data:`MAX_NEAR` lines near one another are a pattern of the sample, and none. A CCD's
column from a charge trap to the readout edge is found from the trap on (:data:`GROW`); and the decision
reads :data:`REACH` pixels around each pixel only, so a chunk or a preview's crop restored with
that much more context decides as the whole image does (the engine's context includes it).

Used twice: with the noise model (stabilised values, :data:`LINE_SIGMAS`) by the engine, which
feeds the network each line less its offset over its neighbours (:func:`fill_lines`) and adds the
offset back to what it restored there (:func:`add_offsets`); without one (raw values against a
typical step of the plane) by the white point and the noise fit of photon counts
(:mod:`napari_hyperres.core.intensity`, :mod:`napari_hyperres.blind.photon_fit`).

Pure numpy: strips of rows, and the few columns that may hold a line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .photon_noise import PoissonGaussian

LINE_SIGMAS = 3.0
"""How far (stabilised noise std) above or below both neighbours most of a line's pixels must lie."""

WINDOW = 65
"""Pixels along a line (centred on a pixel) whose majority decides whether it is defective, and whose median offset
it is given (:func:`fill_lines`). 33 took a 20-pixel stretch of a tripod's two-pixel leg (the cameraman at 60 photons)
for a pair of hot columns: −0.13 dB on the microscopy quality pin."""

RAW_WINDOW = 257
"""The window of :func:`find_lines` on raw values (the white point's and the noise fit's, without a noise model): long,
as a plane's typical step is the noise of its darker parts only (33 pixels found lines in the bright parts of 62 of 180
W2S frames; 257 none). Those read whole planes, so no chunk needs its reach."""

MIN_ACROSS = 5
"""A plane narrower than this across a line's direction has no such line: its lines would be most of it (a review: a
3-row plane with one hot row took all three rows for lines, and its white point read no pixel)."""

NEAR = 16
"""Lines within this many pixels across of a line's pixel count towards :data:`MAX_NEAR` there."""

MAX_NEAR = 8
"""More lines than this flagged within :data:`NEAR` of a pixel of a line (itself included) are a pattern of the
sample (a grating, alternating rows), not a camera's defects: none is kept there."""

GROW = 4
"""Pixels a run of a line may grow at each end over pixels that rise (sink) themselves: a majority starts a pixel or
two after a trap, where the votes reach half the window (77 pixels beside the first two moved by up to 19 counts)."""

REACH = max(WINDOW // 2 + GROW, NEAR) + 3
"""How far along and across a line a pixel's decision reads: the context a chunk needs beyond the network's. A pixel's
offset reads the decisions of its window, twice as far: in a chunk's margin the values fed to the network may differ
from the whole plane's, and its core stays within a count of it (a diff review: ±1 over 8 random 512² planes with
lines across chunk borders)."""

MIN_LENGTH = 16
"""A plane shorter than this along a line has no line decided: too few pixels to tell a line from noise (and a row
needs more than half a window of votes in its strip, so rows are found in planes 33 pixels wide or more)."""

STRIP_ROWS = 256
"""Rows handled at a time (with three rows of context on each side)."""



SHOULDER = 0.5
"""A neighbour standing more than this × the threshold above the pixel beyond it is a shoulder: the line is blurred,
the sample's (:func:`_crossings`)."""


@dataclass(frozen=True, eq=False)
class Line:
    """A column (``axis`` 1, ``index`` its x) or row (``axis`` 0, ``index`` its y) and where along it it is defective:
    ``along``, bool, the plane's height (a column) or width (a row)."""

    axis: int
    index: int
    along: np.ndarray

    @property
    def runs(self) -> list[tuple[int, int]]:
        """``[start, stop)`` of each stretch of defective pixels."""
        edges = np.flatnonzero(np.diff(np.r_[0, self.along.astype(np.int8), 0]))
        return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]

    def pixels(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ys, xs)`` of its defective pixels."""
        positions = np.flatnonzero(self.along)
        fixed = np.full(positions.size, self.index)
        return (positions, fixed) if self.axis == 1 else (fixed, positions)


def find_defect_lines(counts: np.ndarray, noise: PoissonGaussian, sigmas: float = LINE_SIGMAS) -> list[Line]:
    """The defective columns and rows of ``counts`` (``(H, W)``, data units, any real dtype) under ``noise``, compared in
    stabilised values (noise std ≈ 1; continued below the black level, where the transform itself would clip a dead
    column's zeros to its neighbours' level)."""
    return find_lines(counts, sigmas, transform=lambda values: _stabilised(values, noise))


def find_lines(values: np.ndarray, threshold: float, transform=None, window: int = WINDOW) -> list[Line]:
    """The columns and rows of ``values`` (``(H, W)``) where most pixels of a ``window`` (odd) rise or sink by more than
    ``threshold`` (the module's rule), in the units of ``transform(values)`` (the values themselves by default)."""
    values = np.asarray(values)
    height, width = values.shape
    transform = transform or (lambda v: np.asarray(v, dtype=np.float32))
    candidates = np.zeros(width, dtype=bool)
    lines = []
    for top in range(0, height, STRIP_ROWS):
        bottom = min(top + STRIP_ROWS, height)
        lo, hi = max(top - 3, 0), min(bottom + 3, height)
        strip = transform(values[lo:hi])  # three rows of context on each side, for the rows' neighbours and beyond
        if height >= MIN_LENGTH and width >= MIN_ACROSS:  # columns that may hold a line (a third of a window's majority lies in one strip)
            rise, sink = _crossings(strip[top - lo : bottom - lo], threshold)
            candidates |= np.maximum(rise.sum(axis=0), sink.sum(axis=0)) >= (window // 2 + 3) // 3  # ≤ 3 strips hold it
        if width >= MIN_LENGTH and height >= MIN_ACROSS:  # rows: every row of the strip is whole
            rise, sink = (vote[:, top - lo : bottom - lo] for vote in _crossings(strip.T, threshold))  # (W, rows)
            for y in np.flatnonzero(np.maximum(rise.sum(axis=0), sink.sum(axis=0)) > window // 2):
                along = _majority(rise[:, y], window) | _majority(sink[:, y], window)
                if along.any():
                    lines.append(Line(0, top + int(y), along))
    for x in np.flatnonzero(candidates):  # each from its own narrow slab, over the whole height
        left = max(int(x) - 3, 0)
        rise, sink = _crossings(transform(values[:, left : int(x) + 4]), threshold)
        along = _majority(rise[:, x - left], window) | _majority(sink[:, x - left], window)
        if along.any():
            lines.append(Line(1, int(x), along))
    return _without_patterns(lines)


def _without_patterns(lines: list[Line]) -> list[Line]:
    """``lines`` less their pixels where more than :data:`MAX_NEAR` lines of the same direction are flagged within
    :data:`NEAR` of them (themselves included): a grating, alternating rows (a review: 21 s to fill a 256² plane, a
    white point of no pixels). Decided pixel by pixel, so a chunk decides as the whole plane does (a plane-wide
    share had dropped a hot column for a pattern far away, and a chunk had dropped columns its plane kept)."""
    kept = []
    for axis in (1, 0):
        chosen = sorted((line for line in lines if line.axis == axis), key=lambda line: line.index)
        if not chosen:
            continue
        indices = np.array([line.index for line in chosen])
        flagged = np.vstack([np.zeros((1, chosen[0].along.size), np.int32), np.cumsum([line.along for line in chosen], axis=0, dtype=np.int32)])
        low, high = np.searchsorted(indices, indices - NEAR, side="left"), np.searchsorted(indices, indices + NEAR, side="right")
        for i, line in enumerate(chosen):
            along = line.along & (flagged[high[i]] - flagged[low[i]] <= MAX_NEAR)
            if along.any():
                kept.append(Line(axis, line.index, along))
    return kept


def lines_mask(lines: list[Line], shape: tuple[int, int]) -> np.ndarray:
    """Bool ``shape``: the defective pixels of ``lines``."""
    mask = np.zeros(shape, dtype=bool)
    for line in lines:
        mask[line.pixels()] = True
    return mask


@dataclass(frozen=True)
class LineOffsets:
    """What :func:`fill_lines` took off the lines' pixels ``(ys, xs)``: ``offsets`` (float64, data units) to add back to
    the restoration, and ``stuck`` (bool) where a line recorded one value all along its window (a dead column at 0,
    a seam of zeros): those keep ``recorded`` (the input's dtype) instead."""

    ys: np.ndarray
    xs: np.ndarray
    offsets: np.ndarray
    stuck: np.ndarray
    recorded: np.ndarray


def fill_lines(counts: np.ndarray, lines: list[Line]) -> tuple[np.ndarray, LineOffsets]:
    """``counts`` with each defective pixel's offset taken off, and what was taken (:class:`LineOffsets`). A pixel's
    offset is the median over the line's defective pixels in its :data:`WINDOW` (a row's include those where it crosses
    a column) of what was recorded minus the mean of the nearest pixels off the lines across it, one on each side (the
    one there is at the border): a hot column's dark
    current, a dead column's negative of its neighbours. The engine restores the plane without the offsets and adds
    them back (:func:`add_offsets`): a hot column stays as much brighter than its neighbours as it was, without its
    noise, and its neighbours are restored as without it. A thin line of the sample itself taken for one (Set12's
    scanned borders, at 1,000–5,000 photons) keeps its detail along it: filled with its neighbours' mean instead, Set12
    as camera counts lost 1.4 dB at 5,000 photons. A pixel where a row crosses a column is the column's.

    Shape:
        - counts: ``(H, W)``; output: like ``counts`` (a copy), and the offsets of the lines' pixels.
    """
    filled = counts.copy()
    parts = []
    columns = [line for line in lines if line.axis == 1]
    for axis in (1, 0):
        chosen = [line for line in lines if line.axis == axis]
        view = counts if axis == 1 else counts.T  # lines are columns of the view
        flagged = {line.index: line.along for line in chosen}
        for line in chosen:
            along = line.along.copy()
            if axis == 0:  # a row, less the pixels of the columns it crosses
                for column in columns:
                    if column.along[line.index]:
                        along[column.index] = False
            positions = np.flatnonzero(along)
            recorded = view[:, line.index].astype(np.float64)
            difference = np.full(recorded.shape, np.nan)
            around = _around(view, line.index, flagged)
            difference[line.along] = (recorded - around)[line.along]
            offsets = np.nanmedian(_centred_windows(difference)[positions], axis=1)
            kept = _centred_windows(np.where(line.along, recorded, np.nan))[positions]
            stuck = np.nanmax(kept, axis=1) == np.nanmin(kept, axis=1)
            ys, xs = (positions, np.full(positions.size, line.index)) if axis == 1 else (np.full(positions.size, line.index), positions)
            # a stuck pixel holds no data: the network is fed its neighbours' mean (a noise-free line fed less its
            # offset was restored as structure: 36 pixels beside a dead column moved by up to 11 counts)
            filled[ys, xs] = _as_dtype(np.where(stuck, around[positions], recorded[positions] - offsets), counts.dtype)
            parts.append((ys, xs, offsets, stuck, counts[ys, xs]))
    if not parts:
        empty = np.zeros(0, dtype=np.intp)
        return filled, LineOffsets(empty, empty, np.zeros(0), np.zeros(0, dtype=bool), counts[empty, empty])
    ys, xs, offsets, stuck, recorded = (np.concatenate(column) for column in zip(*parts, strict=True))
    return filled, LineOffsets(ys, xs, offsets, stuck, recorded)


def add_offsets(restored: np.ndarray, offsets: LineOffsets) -> np.ndarray:
    """``restored`` (in place, ``(H, W)``, any real dtype) plus the lines' ``offsets`` (:func:`fill_lines`), rounded and
    held inside an integer dtype's range; a stuck line's pixels are given what they recorded."""
    where = (offsets.ys, offsets.xs)
    restored[where] = _as_dtype(restored[where].astype(np.float64) + offsets.offsets, restored.dtype)
    stuck = (offsets.ys[offsets.stuck], offsets.xs[offsets.stuck])
    restored[stuck] = offsets.recorded[offsets.stuck].astype(restored.dtype)
    return restored


def _centred_windows(values: np.ndarray) -> np.ndarray:
    """``(L, WINDOW)``: the :data:`WINDOW` values of ``values`` (1-D, float) centred on each position, NaN beyond its ends."""
    return np.lib.stride_tricks.sliding_window_view(np.pad(values, WINDOW // 2, constant_values=np.nan), WINDOW)


def _around(view: np.ndarray, index: int, flagged: dict[int, np.ndarray]) -> np.ndarray:
    """The mean of the nearest pixels off the defective lines on each side of column ``index`` of ``view``, row by row
    (the one there is at the border): float64 ``(rows,)``; the column itself where it has no neighbour off them."""
    rows, size = view.shape
    rows_index = np.arange(rows)
    total, found = np.zeros(rows), np.zeros(rows)
    for step in (-1, 1):
        position = np.full(rows, index + step)
        for _ in range(len(flagged) + 1):  # past the lines flagged there, one column at a time
            blocked = np.zeros(rows, dtype=bool)
            for other, along in flagged.items():
                blocked |= (position == other) & along
            if not blocked.any():
                break
            position = np.where(blocked, position + step, position)
        inside = (position >= 0) & (position < size)
        total[inside] += view[rows_index[inside], position[inside]]
        found += inside
    alone = found == 0
    total[alone] = view[rows_index[alone], index]
    return total / np.maximum(found, 1)


def _majority(votes: np.ndarray, window: int) -> np.ndarray:
    """Bool like ``votes`` (1-D): where more than half of the ``window`` votes centred on each position are cast
    (fewer at the ends, the window cut there); none on a line shorter than :data:`MIN_LENGTH`."""
    length = votes.size
    if length < MIN_LENGTH:
        return np.zeros(length, dtype=bool)
    cumulative = np.r_[0, np.cumsum(votes, dtype=np.int64)]
    position = np.arange(length)
    low, high = np.maximum(position - window // 2, 0), np.minimum(position + window // 2 + 1, length)
    most = 2 * (cumulative[high] - cumulative[low]) > high - low
    for _ in range(GROW):  # a run's ends grow over the votes just beyond them: a trap's first rows are found too
        grown = most.copy()
        grown[1:] |= most[:-1]
        grown[:-1] |= most[1:]
        most = grown & votes | most
    return most


def _as_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``values`` (float64) in ``dtype``: rounded and held inside its range for integers."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    return values.astype(dtype)


def _crossings(strip: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Bool ``(R, W)`` each: where a pixel of ``strip`` (``(R, W)``) rises, and where it sinks, past ``threshold``
    against its left and right neighbours, alone or as one of an adjacent pair compared with the pixels outside the
    pair (a border pixel against the neighbour it has), without shoulders: the neighbours may not both stand more than
    :data:`SHOULDER` × ``threshold`` above (below) the pixels beyond them. A camera's line sits on its neighbours' level;
    a line of the sample is blurred by the optics, and stands on shoulders on both sides (a review: a kymograph's
    stationary particles, lines 2.35 px wide, were taken for hot columns and lost 1.4 dB), where a bright edge beside
    a hot column makes one (a diff review: with one shoulder enough, a column 2–3 px inside an edge was missed)."""
    padded = np.pad(np.asarray(strip, dtype=np.float32), ((0, 0), (3, 3)), constant_values=np.nan)

    def at(shift: int) -> np.ndarray:
        return padded[:, 3 + shift : padded.shape[1] - 3 + shift]

    far_left, left, centre, right, far_right, farther = (at(k) for k in (-2, -1, 0, 1, 2, 3))
    shoulder = np.float32(SHOULDER * threshold)
    with np.errstate(invalid="ignore"):  # NaN beyond the border: fmax/fmin take the neighbour there is
        rise = (centre - np.fmax(left, right) > threshold) & ~(np.fmin(left - far_left, right - far_right) > shoulder)
        sink = (np.fmin(left, right) - centre > threshold) & ~(np.fmin(far_left - left, far_right - right) > shoulder)
        # this pixel and the next together, against the pixels outside the pair and those beyond them
        pair_rise = (np.fmin(centre, right) - np.fmax(left, far_right) > threshold) & ~(
            np.fmin(left - far_left, far_right - farther) > shoulder)
        pair_sink = (np.fmin(left, far_right) - np.fmax(centre, right) > threshold) & ~(
            np.fmin(far_left - left, farther - far_right) > shoulder)
    for pair, single in ((pair_rise, rise), (pair_sink, sink)):
        single |= pair
        single[:, 1:] |= pair[:, :-1]  # a pair's crossing counts for both of its pixels
    return rise, sink


def _stabilised(values: np.ndarray, noise: PoissonGaussian) -> np.ndarray:
    """The generalized Anscombe transform continued below its root's zero as ``−2·sqrt(−inner)`` (monotone: a dead
    column's zeros stay below their neighbours' black level, where the transform itself clips both to 0)."""
    inner = np.asarray(values, dtype=np.float32) / np.float32(noise.gain) + np.float32(3.0 / 8.0 + noise.beta / noise.gain**2)
    return (2.0 * np.sign(inner) * np.sqrt(np.abs(inner))).astype(np.float32)
