"""Crops on a regular grid: how blind models (level estimator, HAIR's classifier) see a whole plane.

Both pool their features over a crop, so what they answer depends on the crop's size:
they see crops of the patch they were trained on (:func:`trained_patch`), as many as
:data:`MAX_CROPS`, and their answers are averaged.
"""

from __future__ import annotations

import numpy as np

JPEG_BLOCK = 8
"""Crop offsets are multiples of this, so JPEG's 8×8 blocks sit in every crop as they sit
in a training patch (compressed after cropping: blocks start at the patch's corner)."""


MAX_CROPS = 64
"""Crops per plane (a 512² plane: all 64 non-overlapping 64² crops)."""


def trained_patch(info, default: int) -> int:
    """The crop edge a blind model should see: the training patch its weights record
    (``info.extra["patch"]``, a :class:`~napari_hyperres.core.weights.WeightsInfo`), else ``default``."""
    return int(info.extra.get("patch", default))


GRID_CONTRAST = 1.1
"""A block grid shows when the steps across one column (row) phase of 8 are this much larger than
the median phase's. Measured on Set14 + McMaster cut 3 / 5 pixels off a JPEG's corner: 1.78–5.1 at
q 10, 1.15–1.70 at q 50 (all found); 1.05–1.53 at q 75 (13 of 14); uncompressed noisy images 1.01–1.11."""


def block_grid_phase(plane: np.ndarray) -> tuple[int, int]:
    """``(y, x)`` in ``0..7``: where the 8×8 JPEG block grid of a ``(H, W[, C])`` plane starts.

    ``(0, 0)`` for a JPEG as decoded; a JPEG cropped by 3 rows and 5 columns (a screenshot, a crop
    saved as PNG) gives ``(5, 3)``; ``0`` along an axis where no grid shows (:data:`GRID_CONTRAST`).
    """
    gray = plane.astype(np.float32)
    if gray.ndim == 3:
        gray = gray.mean(axis=-1)
    rows = np.abs(np.diff(gray, axis=0)).mean(axis=1)  # rows[j]: the step from row j to j + 1
    columns = np.abs(np.diff(gray, axis=1)).mean(axis=0)
    return _phase(rows), _phase(columns)


def _phase(steps: np.ndarray) -> int:
    usable = len(steps) - len(steps) % JPEG_BLOCK
    if usable < 2 * JPEG_BLOCK:
        return 0
    per_phase = steps[:usable].reshape(-1, JPEG_BLOCK).mean(axis=0)
    k = int(np.argmax(per_phase))
    if per_phase[k] <= GRID_CONTRAST * float(np.median(np.delete(per_phase, k))):
        return 0
    return (k + 1) % JPEG_BLOCK  # a block ends at j = k and the next starts at k + 1


def _offsets(size: int, crop: int, count: int, phase: int = 0) -> np.ndarray:
    """``count`` evenly spread offsets in ``[0, size - crop]``, snapped down to the JPEG block grid
    starting at ``phase``."""
    offsets = np.linspace(0, size - crop, count).astype(int)
    snapped = offsets - (offsets - phase) % JPEG_BLOCK
    return np.unique(np.where(snapped < 0, snapped + JPEG_BLOCK, snapped).clip(0, size - crop))


def grid_crops(plane: np.ndarray, crop: int, max_crops: int = MAX_CROPS, stride: int | None = None) -> np.ndarray:
    """Up to ``max_crops`` crops ``(N, C, crop, crop)`` on a regular grid of a ``(H, W, C)`` plane,
    at least ``stride`` pixels apart (default ``crop``: crops that do not overlap).

    Crop corners lie on the plane's 8-pixel JPEG block grid (:data:`JPEG_BLOCK`), where it starts
    (:func:`block_grid_phase`: a cropped JPEG's grid does not start at the corner).

    Planes smaller than ``crop`` give one crop of the whole plane (cut to a multiple of 16,
    at least 16 pixels).
    """
    h, w = plane.shape[:2]
    if h < crop or w < crop:
        ch, cw = max(16, h - h % 16), max(16, w - w % 16)
        return np.ascontiguousarray(plane[None, :ch, :cw].transpose(0, 3, 1, 2))
    side = max(1, int(np.ceil(np.sqrt(max_crops))))
    stride = crop if stride is None else max(1, int(stride))
    phase_y, phase_x = block_grid_phase(plane)
    ys = _offsets(h, crop, max(1, min(side, (h - crop) // stride + 1)), phase_y)
    xs = _offsets(w, crop, max(1, min(side, (w - crop) // stride + 1)), phase_x)
    boxes = [(y, x) for y in ys for x in xs][:max_crops]
    return np.ascontiguousarray(np.stack([plane[y : y + crop, x : x + crop] for y, x in boxes]).transpose(0, 3, 1, 2))
