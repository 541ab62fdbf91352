"""Geometric self-ensemble: a network run on the 8 rotations and mirror images of a plane, averaged.

The restoration networks are not exactly equivariant to rotations and mirror images; the
average of their 8 answers, each turned back, is a little better than one answer (the
"self-ensemble" of EDSR+ and RCAN+), at 8× the time. It needs no training and works for
every task whose network keeps the size of its input (resampling tasks upsample first,
:attr:`Task.prepare`).
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from .tiling import run_tiles

DIHEDRAL_TRANSFORMS = 8
"""The rotations by 0°, 90°, 180°, 270°, each with and without a left–right mirror."""


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """Transform ``k`` (0–7) of ``x`` ``(..., H, W)``: a mirror when ``k ≥ 4``, then ``k mod 4`` quarter turns."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def undo_dihedral(y: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of :func:`dihedral`: ``undo_dihedral(dihedral(x, k), k) == x``."""
    y = torch.rot90(y, -(k % 4), dims=(-2, -1))
    return y.flip(-1) if k >= 4 else y


def dihedral_tiles(
    run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int | None, overlap: int
) -> Iterator[tuple[int, int] | torch.Tensor]:
    """:func:`~napari_hyperres.engine.tiling.run_tiles` over each of the 8 transforms of ``x``
    ``(1, C, H, W)``; yields ``(done, total)`` counted over all 8 passes, then the mean of the 8
    results, each transformed back.

    Each pass is a whole tiled run, so a progress step (and a chance to cancel) comes after every
    tile of every pass, as without the ensemble. An odd side is first extended by one replicated
    row or column (cropped off the result), so every transform meets the networks' stride-2 head
    on the same pixel pairs: tiles and chunks (whose starts are on that grid) then give the same
    result as the whole plane.
    """
    h, w = x.shape[-2:]
    even = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate") if (h % 2 or w % 2) else x
    total = None
    for k in range(DIHEDRAL_TRANSFORMS):
        for step in run_tiles(run, dihedral(even, k), tile, overlap):
            if isinstance(step, torch.Tensor):
                out = undo_dihedral(step, k)
                total = out.clone() if total is None else total.add_(out)
            else:
                done, count = step
                yield (k * count + done, DIHEDRAL_TRANSFORMS * count)
    yield total.div_(DIHEDRAL_TRANSFORMS)[..., :h, :w].contiguous()
