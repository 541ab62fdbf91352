"""Crops on a regular grid: how blind models (level estimator, HAIR's classifier) see a whole plane."""

from __future__ import annotations

import numpy as np


def grid_crops(plane: np.ndarray, crop: int, max_crops: int = 16) -> np.ndarray:
    """Up to ``max_crops`` crops ``(N, C, crop, crop)`` on a regular grid of a ``(H, W, C)`` plane.

    Planes smaller than ``crop`` give one crop of the whole plane (cut to a multiple of 16,
    at least 16 pixels).
    """
    h, w = plane.shape[:2]
    if h < crop or w < crop:
        ch, cw = max(16, h - h % 16), max(16, w - w % 16)
        return np.ascontiguousarray(plane[None, :ch, :cw].transpose(0, 3, 1, 2))
    side = max(1, int(np.ceil(np.sqrt(max_crops))))
    ys = np.linspace(0, h - crop, max(1, min(side, h // crop))).astype(int)
    xs = np.linspace(0, w - crop, max(1, min(side, w // crop))).astype(int)
    boxes = [(y, x) for y in ys for x in xs][:max_crops]
    return np.ascontiguousarray(np.stack([plane[y : y + crop, x : x + crop] for y, x in boxes]).transpose(0, 3, 1, 2))
