"""Geometric self-ensemble: a network run on the 8 rotations and flips of a piece, averaged.

The restoration networks are not exactly equivariant to rotations and mirror images; the
average of their 8 answers, each turned back, is a little better than one answer (the
"self-ensemble" of EDSR+ and RCAN+), at 8× the time. It needs no training and works for
every task whose network keeps the size of its input (resampling tasks upsample first,
:attr:`Task.prepare`).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

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


def dihedral_average(run: Callable[[torch.Tensor], torch.Tensor], piece: torch.Tensor) -> torch.Tensor:
    """Mean of ``run`` over the 8 transforms of ``piece`` ``(1, C, H, W)``, each transformed back.

    ``run`` maps a piece to a float32 CPU tensor of the same spatial size. An odd side is first
    extended by one replicated row or column (cropped off the result), so every transform
    meets the networks' stride-2 head on the same pixel pairs as the untransformed piece: tiles
    (whose starts are on that grid) then give the same result as the whole plane.
    """
    h, w = piece.shape[-2:]
    even = F.pad(piece, (0, w % 2, 0, h % 2), mode="replicate") if (h % 2 or w % 2) else piece
    total = None
    for k in range(DIHEDRAL_TRANSFORMS):
        out = undo_dihedral(run(dihedral(even, k)), k)
        total = out if total is None else total.add_(out)
    return total.div_(DIHEDRAL_TRANSFORMS)[..., :h, :w].contiguous()
