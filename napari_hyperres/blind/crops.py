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


def _offsets(size: int, crop: int, count: int) -> np.ndarray:
    """``count`` evenly spread offsets in ``[0, size - crop]``, snapped down to the JPEG block grid."""
    offsets = np.linspace(0, size - crop, count).astype(int)
    return np.unique(offsets - offsets % JPEG_BLOCK)


def grid_crops(plane: np.ndarray, crop: int, max_crops: int = MAX_CROPS) -> np.ndarray:
    """Up to ``max_crops`` crops ``(N, C, crop, crop)`` on a regular grid of a ``(H, W, C)`` plane.

    Crop corners lie on the 8-pixel JPEG block grid (:data:`JPEG_BLOCK`).

    Planes smaller than ``crop`` give one crop of the whole plane (cut to a multiple of 16,
    at least 16 pixels).
    """
    h, w = plane.shape[:2]
    if h < crop or w < crop:
        ch, cw = max(16, h - h % 16), max(16, w - w % 16)
        return np.ascontiguousarray(plane[None, :ch, :cw].transpose(0, 3, 1, 2))
    side = max(1, int(np.ceil(np.sqrt(max_crops))))
    ys = _offsets(h, crop, max(1, min(side, h // crop)))
    xs = _offsets(w, crop, max(1, min(side, w // crop)))
    boxes = [(y, x) for y in ys for x in xs][:max_crops]
    return np.ascontiguousarray(np.stack([plane[y : y + crop, x : x + crop] for y, x in boxes]).transpose(0, 3, 1, 2))
