"""Tiles without seams: a plane cut into tiles that overlap by the network's receptive field.

Each output pixel is taken from a tile whose margin covers the pixels it depends on
(:func:`napari_hyperres.core.models.hyperres.receptive_radius`), so the tiled result
equals the untiled one; memory stays at the plane plus one tile.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch

from ..errors import ShapeError

DEFAULT_TILE = 512
"""Tile edge used when an image plane exceeds ``DEFAULT_TILE² · 4`` pixels and no tile is given."""

MIN_TILE = 16
"""The smallest tile edge accepted (the CLI's ``--tile`` reads it: ``cli.common.tile_size``)."""


def check_tile(tile: object) -> None:
    """Raise :class:`ShapeError` unless ``tile`` is ``None`` or a whole number of pixels ≥ ``MIN_TILE``."""
    if tile is None:
        return
    if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)) or tile < MIN_TILE:
        raise ShapeError(f"expected tile as a whole number of pixels, at least {MIN_TILE} (or None: tile only large planes), got {tile!r}")


def tile_boxes(height: int, width: int, tile: int) -> list[tuple[int, int, int, int]]:
    """Non-overlapping ``(y0, y1, x0, x1)`` boxes of edge ``tile`` (even) covering the plane."""
    return [(y, min(y + tile, height), x, min(x + tile, width)) for y in range(0, height, tile) for x in range(0, width, tile)]


def run_tiles(
    run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int | None, overlap: int
) -> Iterator[tuple[int, int] | torch.Tensor]:
    """``run`` over ``x`` ``(1, C, H, W)`` tile by tile; yields ``(done, total)`` steps, then the output.

    ``tile``: the tile edge (made even, on the grid of the networks' stride-2 head); ``None``
    tiles only planes larger than ``4 · DEFAULT_TILE²``. ``overlap``: the margin each tile
    reads on every side. ``run`` maps a piece to its restored float32 CPU tensor (same size).
    """
    h, w = x.shape[-2:]
    if tile is None and h * w <= 4 * DEFAULT_TILE**2:
        yield (0, 1)
        out = run(x)
        yield (1, 1)
        yield out
        return
    size = int(tile or DEFAULT_TILE)
    size += size % 2
    boxes = tile_boxes(h, w, size)
    m = overlap
    out = torch.empty_like(x, dtype=torch.float32)
    yield (0, len(boxes))
    for i, (y0, y1, x0, x1) in enumerate(boxes):
        ty0, tx0 = max(0, y0 - m), max(0, x0 - m)
        ty1, tx1 = min(h, y1 + m), min(w, x1 + m)
        piece = run(x[..., ty0:ty1, tx0:tx1])
        out[..., y0:y1, x0:x1] = piece[..., y0 - ty0 : y1 - ty0, x0 - tx0 : x1 - tx0]
        yield (i + 1, len(boxes))
    yield out
