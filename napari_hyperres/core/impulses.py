"""Impulses in photon-limited data: hot pixels and cosmic-ray hits, found and kept out of the network.

An sCMOS hot pixel or a cosmic ray is one pixel far above all eight of its neighbours, further
than Poisson–Gaussian noise ever puts a pixel. Fed to the network it is restored as a round
glowing spot some 9×9 pixels across that looks like a bead (a review measured a 65535 in a
50-photon frame spread to +100–390 counts around it). The engine therefore restores photon-limited
planes with each impulse replaced by the median of its neighbours (:func:`fill_impulses`), then puts
the impulse's own value back in the output: the pixel stays what the camera recorded (a hot pixel
stays a hot pixel, a single-pixel bead of an undersampled image keeps its peak), and nothing
around it is smeared.

A pixel alone is an impulse when its stabilised value (:func:`~napari_hyperres.core.photon_noise.gat`,
noise std ≈ 1) exceeds that of the brightest of its 8 neighbours by more than
:data:`IMPULSE_SIGMAS` and the pixels around it stand on no shoulders (:func:`impulse_mask`: a spot
of the sample is blurred by the optics); a few such pixels side by side (hot pairs, a cosmic ray's
streak) are one impulse. Noise alone did not reach even 6 in 2.9·10⁷ pixels (simulated cameras at
0.3–100 photons per pixel, 30 W2S frames). A pixel on the outer border is compared with the
neighbours it has (5, or 3 in a corner): a hot pixel there had been left to the network and came
out as a bead (a review: a 65535 on the left edge raised 65 pixels around it by up to 480 counts,
34.51 → 28.03 dB). A block of a chunked restoration decides its own border pixels that way too, but
they lie in the overlap that is cut away.

Pure numpy, strip by strip (a few rows of temporaries, whatever the plane's size).
"""

from __future__ import annotations

import warnings

import numpy as np

from .photon_noise import PoissonGaussian, gat

IMPULSE_SIGMAS = 8.0
"""How far (stabilised noise std) above every pixel around it an impulse must be."""

MAX_IMPULSE_PIXELS = 16
"""The most pixels one impulse may cover (two or three hot pixels side by side, a cosmic ray's streak); a larger
bright patch is left to the network."""

SHOULDER_SIGMAS = 2.5
"""A spot of the sample, not an impulse, stands on shoulders: the median of the pixels around it exceeds the median
of the ring beyond by more than this (stabilised noise std; around a hot pixel or a cosmic ray at most 1.8 in the
simulation of :func:`impulse_mask`) ..."""

SHOULDER_SHARE = 0.12
"""... and by more than this share of the spot's own height over the pixels around it (around a hot pixel at most
0.16, and then with shoulders under 1.8; around spots of PSF σ ≥ 0.7 px at least 0.15)."""

SHARPEST_SPOT = 5.0
"""A spot the optics blurred peaks at most this many times as high over its surroundings (the median of the ring
2 px out, in counts) as the brightest of the pixels 4-adjacent to it: a Gaussian PSF of σ px centred on a pixel
gives e^(1/2σ²), 2.8 at σ 0.7, 4.0 at σ 0.6 and 7.4 at σ 0.5, less off centre; with noise, σ 0.7 spots at 3,000
photons reached 4 (4 % of them above it), none reached 5. A group on shoulders but sharper than that is an impulse on a part of the sample (a diff review: a hot
pixel at the peak of a blurred bead was taken for the bead's own peak and restored into it, up to 151 counts around)."""

STRIP_ROWS = 256
"""Rows handled at a time (plus :data:`HALO` rows of context on each side)."""

HALO = MAX_IMPULSE_PIXELS + 3
"""Rows of context around a strip: a group whose first row lies in the strip, and the two rings around it, end
inside it; a group reaching the context's edge is larger than an impulse."""

_AROUND = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
_NEAREST = [(-1, 0), (1, 0), (0, -1), (0, 1)]
_BEYOND = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if max(abs(dy), abs(dx)) == 2]


def impulse_mask(counts: np.ndarray, noise: PoissonGaussian, sigmas: float = IMPULSE_SIGMAS) -> np.ndarray:
    """Where ``counts`` holds impulses under ``noise``: hot pixels and cosmic-ray hits, one pixel or a few in a line.

    In the stabilised domain (:func:`~napari_hyperres.core.photon_noise.gat`, noise std ≈ 1) an impulse is a group of
    up to :data:`MAX_IMPULSE_PIXELS` pixels (8-connected), each more than ``sigmas`` above the third brightest of its 8
    neighbours (so a pixel may have two bright neighbours: a pair, an L, a streak one pixel wide), the darkest of them
    more than ``sigmas`` above the brightest pixel around the group, and either no shoulders (:data:`SHOULDER_SIGMAS`,
    :data:`SHOULDER_SHARE`: the optics blur a spot of the sample over the pixels around it, a camera's or a cosmic
    ray's impulse has none) or too sharp for the optics (:data:`SHARPEST_SPOT`: a hot pixel on a bead).

    Measured (``benchmarks/bench_impulses.py``; BENCHMARKS.md "Impulses of more than one pixel"): single, paired,
    L-shaped and diagonal 4-pixel hot pixels at +150 to +4,000 counts are found, and on blurred beads too; spots of
    PSF σ 0.7 px and wider at 100–3,000 photons are not (a review: a third of such puncta had been kept as recorded
    and the rest restored, two intensities for one kind of spot). Spots of σ 0.5 px, one pixel with nothing around
    it, are kept as recorded, as hot pixels are; at σ 0.6 some are. Thicker hits (2×2, a plus) are not found.

    Strip by strip (:data:`STRIP_ROWS` rows and :data:`HALO` of context): a few rows of temporaries whatever the
    plane's size; each group is decided once, in the strip its first row lies in, with all of it and its rings.

    Shape:
        - counts: ``(H, W)`` in the data's units (any real dtype); output: bool ``(H, W)``.
        A border pixel is compared with the neighbours it has; a plane under 3 pixels high or wide has none.
    """
    height, width = counts.shape
    mask = np.zeros((height, width), dtype=bool)
    if height < 3 or width < 3:
        return mask
    for top in range(0, height, STRIP_ROWS):
        bottom = min(top + STRIP_ROWS, height)
        lo, hi = max(top - HALO, 0), min(bottom + HALO, height)
        candidates = _candidates(counts, noise, sigmas, lo, hi)
        if not candidates[top - lo : bottom - lo].any():
            continue
        _decide_groups(counts[lo:hi], noise, sigmas, candidates, mask[lo:hi], (top - lo, bottom - lo), (lo > 0, hi < height))
    return mask


def _candidates(counts: np.ndarray, noise: PoissonGaussian, sigmas: float, lo: int, hi: int) -> np.ndarray:
    """uint8 ``(hi − lo, W)``: rows ``lo:hi`` of the pixels more than ``sigmas`` above the third brightest of their
    8 neighbours (stabilised; the plane's border pixels against the neighbours they have)."""
    height, width = counts.shape
    top, bottom = max(lo - 1, 0), min(hi + 1, height)
    padded = np.pad(gat(counts[top:bottom], noise), 1, mode="constant", constant_values=-np.inf)  # none beyond the border
    rows = slice(lo - top + 1, hi - top + 1)
    first, second, third = (np.full((hi - lo, width), -np.inf, dtype=np.float32) for _ in range(3))
    for dy, dx in _AROUND:  # the three brightest neighbours, kept in order
        shifted = padded[rows.start + dy : rows.stop + dy, 1 + dx : 1 + dx + width]
        lower = np.minimum(first, shifted)
        np.maximum(first, shifted, out=first)
        lowest = np.minimum(second, lower)
        np.maximum(second, lower, out=second)
        np.maximum(third, lowest, out=third)
    return (padded[rows, 1 : 1 + width] - third > np.float32(sigmas)).astype(np.uint8)


def _decide_groups(counts: np.ndarray, noise: PoissonGaussian, sigmas: float, candidates: np.ndarray, mask: np.ndarray,
                   strip: tuple[int, int], cut: tuple[bool, bool]) -> None:
    """Mark in ``mask`` (a view of the window ``counts``) the candidate groups that are impulses and whose first row
    lies in ``strip`` (rows of the window); ``cut``: whether the window's top / bottom row is not the plane's."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidates, connectivity=8)
    rows = len(candidates)
    singles = []
    for label in range(1, count):
        x, y, box_w, box_h, area = (int(v) for v in stats[label])
        if not strip[0] <= y < strip[1] or area > MAX_IMPULSE_PIXELS:
            continue
        if (cut[0] and y == 0) or (cut[1] and y + box_h == rows):
            continue  # it runs past the context: larger than an impulse
        if area == 1:
            singles.append((y, x))
            continue
        y0, y1, x0, x1 = max(y - 2, 0), min(y + box_h + 2, rows), max(x - 2, 0), min(x + box_w + 2, counts.shape[1])
        group = labels[y0:y1, x0:x1] == label
        if _is_impulse(counts[y0:y1, x0:x1], noise, sigmas, group):
            mask[y0:y1, x0:x1] |= group
    if singles:
        ys, xs = np.array(singles).T
        found = _single_impulses(counts, noise, sigmas, ys, xs)
        mask[ys[found], xs[found]] = True


def _rings(group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(around, nearest, beyond)`` bool masks of a group's window: the pixels 8-adjacent to it, those 4-adjacent,
    and the ring one pixel further out."""
    import cv2

    square, cross = np.ones((3, 3), np.uint8), cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    around = cv2.dilate(group.astype(np.uint8), square).astype(bool)
    beyond = cv2.dilate(around.astype(np.uint8), square).astype(bool) & ~around
    nearest = cv2.dilate(group.astype(np.uint8), cross).astype(bool) & ~group
    return around & ~group, nearest, beyond


def _is_impulse(counts: np.ndarray, noise: PoissonGaussian, sigmas: float, group: np.ndarray) -> bool:
    """The rules of :func:`impulse_mask` for one group (bool mask of the window ``counts``)."""
    around, nearest, beyond = _rings(group)
    if not around.any():
        return False
    values = gat(counts, noise)
    floor = float(values[group].min())
    if not floor - float(values[around].max()) > sigmas:
        return False
    if not beyond.any():
        return True
    middle = float(np.median(values[around]))
    shoulder = middle - float(np.median(values[beyond]))
    if not (shoulder > SHOULDER_SIGMAS and shoulder > SHOULDER_SHARE * (floor - middle)):
        return True  # no shoulders: nothing the optics made
    raw = counts.astype(np.float64)
    below = float(np.median(raw[beyond]))
    return float(raw[group].max()) - below > SHARPEST_SPOT * max(float(raw[nearest].max()) - below, 1e-9)


def _single_impulses(counts: np.ndarray, noise: PoissonGaussian, sigmas: float, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """:func:`_is_impulse` for one-pixel groups at ``(ys, xs)`` of the window ``counts``, all at once: bool ``(N,)``."""
    raw = np.pad(counts.astype(np.float64), 2, mode="constant", constant_values=np.nan)  # NaN: beyond the plane
    values = np.pad(gat(counts, noise).astype(np.float64), 2, mode="constant", constant_values=np.nan)
    ys, xs = ys + 2, xs + 2

    def at(array: np.ndarray, offsets: list[tuple[int, int]]) -> np.ndarray:
        return np.stack([array[ys + dy, xs + dx] for dy, dx in offsets], axis=1)

    centre, around, beyond = values[ys, xs], at(values, _AROUND), at(values, _BEYOND)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN ring (a corner's beyond): no shoulders
        high = centre - np.nanmax(around, axis=1) > sigmas
        middle = np.nanmedian(around, axis=1)
        shoulder = np.nan_to_num(middle - np.nanmedian(beyond, axis=1), nan=0.0)
        on_shoulders = (shoulder > SHOULDER_SIGMAS) & (shoulder > SHOULDER_SHARE * (centre - middle))
        below = np.nanmedian(at(raw, _BEYOND), axis=1)
        nearest = np.nanmax(at(raw, _NEAREST), axis=1)
        sharp = raw[ys, xs] - below > SHARPEST_SPOT * np.maximum(nearest - below, 1e-9)
    return high & (~on_shoulders | sharp)


def fill_impulses(counts: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of ``counts`` with each pixel of ``mask`` replaced by the median of its (up to 8)
    neighbours that are not in ``mask`` themselves (a cluster of hot pixels fills from around it).

    Shape:
        - counts: ``(H, W)``; mask: bool ``(H, W)``; output: like ``counts``.
    """
    filled = counts.copy()
    for y, x in np.argwhere(mask):
        ys, xs = slice(max(y - 1, 0), y + 2), slice(max(x - 1, 0), x + 2)
        around = counts[ys, xs][~mask[ys, xs]]
        if around.size:
            median = np.median(around)
            filled[y, x] = np.rint(median) if np.issubdtype(counts.dtype, np.integer) else median
    return filled


PADDING_SIGMAS = 4.0
"""How far (read noise σ) below the camera's black level a pixel must be to count as padding."""

PADDING_WINDOW = 5
"""Edge of the windows that must lie wholly below the black level (25 camera pixels never all do)."""


def padding_mask(counts: np.ndarray, noise: PoissonGaussian) -> np.ndarray:
    """Where ``counts`` holds no camera data: pixels of :data:`PADDING_WINDOW`² windows that lie
    wholly :data:`PADDING_SIGMAS` read-noise σ or more below the black level (zeros around stitched
    tiles under a camera's offset of 100, a blank frame in a stack). The engine feeds the network
    the black level there and keeps the recorded values in the output, as it keeps impulses: a
    review saw a stitched mosaic's zero padding restored to 94 and a dark line along its edge.

    Decided by each pixel's neighbourhood only (no statistic of the whole plane), so a chunk
    restored with its overlap decides as the whole image does.

    Shape:
        - counts: ``(H, W)`` in the data's units; output: bool ``(H, W)``.
    """
    limit = noise.offset - PADDING_SIGMAS * max(noise.sigma, 1.0)
    below = counts < limit
    if not below.any() or min(counts.shape) < PADDING_WINDOW:
        return np.zeros(counts.shape, dtype=bool)
    r = PADDING_WINDOW // 2
    whole = window_sum(below.astype(np.int32), r) == PADDING_WINDOW**2  # windows wholly below, by centre
    centred = np.pad(whole, r)  # (H, W): True at the centre of each window wholly below
    return window_sum(np.pad(centred, r).astype(np.int32), r) > 0  # the pixels of those windows


MIRROR_BAND = 24
"""Padding pixels within this many pixels of camera data are fed that data mirrored across its edge
(:func:`fill_padding`); further ones the black level."""


def fill_padding(counts: np.ndarray, mask: np.ndarray, black: float) -> np.ndarray:
    """A copy of ``counts`` with its padding (``mask``, :func:`padding_mask`) filled for the network: within
    :data:`MIRROR_BAND` pixels of the data, the data mirrored across its nearest edge (at ``2q − p`` for a padding
    pixel ``p`` whose nearest data pixel is ``q``; ``q`` itself where that lies outside the data); further out,
    ``black``. A field whose data ends at a flat black level is an edge to the network, which restored the last
    8 columns along it 3.5 dB worse than inside and the outermost ones 5–8 counts dark (a review's stitched
    mosaic); mirrored, its edge is restored as an image's own border is.

    Strip by strip (:data:`STRIP_ROWS` rows and twice the band of context on each side): a few rows of temporaries
    whatever the plane's size (a diff review measured 4× the plane in one piece).

    Shape:
        - counts: ``(H, W)``; mask: bool ``(H, W)``; output: like ``counts``.
    """
    filled = counts.copy()
    filled[mask] = np.asarray(black).astype(counts.dtype) if np.issubdtype(counts.dtype, np.integer) else black
    if mask.all() or not mask.any():
        return filled
    height, context = counts.shape[0], 2 * MIRROR_BAND + 2
    for top in range(0, height, STRIP_ROWS):
        bottom = min(top + STRIP_ROWS, height)
        if mask[top:bottom].any():
            lo, hi = max(top - context, 0), min(bottom + context, height)
            _mirror_rows(filled[top:bottom], counts[lo:hi], mask[lo:hi], top - lo)
    return filled


def _mirror_rows(out: np.ndarray, counts: np.ndarray, mask: np.ndarray, first: int) -> None:
    """Fill ``out`` (rows ``first …`` of the strip ``counts`` / ``mask``) where it is padding within
    :data:`MIRROR_BAND` of the strip's data, mirrored as :func:`fill_padding` says."""
    import cv2

    if mask.all():
        return
    # the nearest data pixel of a padding pixel touches the padding: the transform measures to those alone, so its
    # labels name a few edge pixels, not every data pixel
    edge = (cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & ~mask
    distance, labels = cv2.distanceTransformWithLabels((~edge).astype(np.uint8), cv2.DIST_L2, 5,
                                                       labelType=cv2.DIST_LABEL_PIXEL)
    rows = slice(first, first + out.shape[0])
    near = mask[rows] & (distance[rows] <= MIRROR_BAND)
    if not near.any():
        return
    data_at = np.flatnonzero(edge.ravel())  # label k names the k-th edge pixel in raster order
    p_y, p_x = np.nonzero(near)
    q_y, q_x = np.divmod(data_at[labels[rows][near] - 1], counts.shape[1])
    p_y = p_y + first  # in the strip's rows
    m_y, m_x = 2 * q_y - p_y, 2 * q_x - p_x
    inside = (m_y >= 0) & (m_y < counts.shape[0]) & (m_x >= 0) & (m_x < counts.shape[1])
    mirrored = inside.copy()
    mirrored[inside] = ~mask[m_y[inside], m_x[inside]]
    out[p_y - first, p_x] = np.where(mirrored, counts[np.where(mirrored, m_y, q_y), np.where(mirrored, m_x, q_x)],
                                     counts[q_y, q_x])


def saturated_mask(counts: np.ndarray, noise: PoissonGaussian) -> np.ndarray | None:
    """Where ``counts`` sits at ``noise.ceiling`` with all 8 neighbours there too: inside a clipped
    patch, whose true values are unknown and at least the ceiling; ``None`` where no pixel is (or
    no ceiling). The engine keeps what the camera recorded there, as it keeps impulses and
    padding (a review saw a clipped plateau restored up to 1,100 counts below).

    A patch's edge pixels are restored: where pixels reach the ceiling by noise (W2S's 8-bit
    frames: their 255s average 194 over 400 frames), holding them near it cost up to 0.07 dB.
    Decided by each pixel's neighbourhood only, as :func:`padding_mask`.

    Shape:
        - counts: ``(H, W)`` in the data's units; output: bool ``(H, W)``.
    """
    if noise.ceiling is None:
        return None
    top = np.asarray(counts) >= noise.ceiling
    if not top.any():
        return None
    inside = window_sum(np.pad(top, 1, mode="edge").astype(np.int32), 1) == 9
    return inside if inside.any() else None


def window_sum(values: np.ndarray, radius: int) -> np.ndarray:
    """Sums over ``(2r+1)²`` windows, valid part only ``(H-2r, W-2r)``, by an integral image (int64
    for integer ``values``, exact; float64 otherwise). Shared with the noise fit's local means."""
    k = 2 * radius + 1
    dtype = np.int64 if np.issubdtype(values.dtype, np.integer) or values.dtype == bool else np.float64
    c = np.pad(np.cumsum(np.cumsum(values, 0, dtype=dtype), 1, dtype=dtype), ((1, 0), (1, 0)))
    return c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
