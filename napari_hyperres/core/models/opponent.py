"""Colour restored as opponent planes (:attr:`Task.colour` ``"opponent"``), one module for the
engine and for exported models.

Each plane of the opponent colour space (:data:`napari_hyperres.core.color.OPPONENT`: the mean,
red − blue, red + blue − 2·green) goes alone through a gray network generated at that plane's
noise level, as colour BM3D works; the planes are decorrelated, so each is an easier gray problem
than R, G and B together. Files clip noise at 0 and 1 (8-bit files: 0 and 255), which leaves a
bias in the colour planes that no single plane can see; where pixels are clipped, the joint RGB
network (it sees all three channels) is blended in by the local share of clipped pixels. Every
weight is local (a 5×5 window), so tiles and crops with the network's context give the same pixels.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..color import OPPONENT, OPPONENT_INVERSE, OPPONENT_OFFSET

CLIPPED_RADIUS = 2
"""Half-width of the window (5×5) in which clipped pixels are counted."""
CLIPPED_SHARE = 0.5
"""Share of clipped pixels in that window at and above which the joint network's pixels are used
alone (fewer: blended in proportion). Both tuned on McMaster's 8-bit files at σ 15 / 25 / 50."""


class OpponentNet(nn.Module):
    """RGB in, RGB out: ``planes[k]`` restores opponent plane k, ``joint`` the RGB image where clipped.

    Args:
        planes: three networks ``(B, 1, H, W) → (B, 1, H, W)``, each generated at its plane's
            noise level (the level × :data:`~napari_hyperres.core.color.OPPONENT_NOISE`).
        joint: the RGB network ``(B, 3, H, W) → (B, 3, H, W)`` at the level itself.

    Shape:
        x: ``(B, 3, H, W)`` in ``[0, 1]`` (values outside are restored too; exactly 0 or 1 counts
        as clipped); output: the same shape.
    """

    def __init__(self, planes: list[nn.Module], joint: nn.Module) -> None:
        super().__init__()
        if len(planes) != 3:
            raise ValueError(f"expected 3 plane networks, got {len(planes)}")
        self.planes = nn.ModuleList(planes)
        self.joint = joint
        self.radius, self.share = CLIPPED_RADIUS, CLIPPED_SHARE
        self.register_buffer("to_planes", torch.from_numpy(OPPONENT)[:, :, None, None].clone(), persistent=False)
        self.register_buffer("offset", torch.from_numpy(OPPONENT_OFFSET).clone(), persistent=False)
        self.register_buffer("to_rgb", torch.from_numpy(OPPONENT_INVERSE)[:, :, None, None].clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        opponent = F.conv2d(x, self.to_planes.to(x.dtype), self.offset.to(x.dtype))
        restored = [net(opponent[:, k : k + 1]) for k, net in enumerate(self.planes)]
        out = F.conv2d(torch.cat(restored, dim=1) - self.offset.to(x.dtype)[None, :, None, None], self.to_rgb.to(x.dtype))
        weight = clipped_weight(x, self.radius, self.share)
        if bool((weight > 0).any()):
            out = out + weight * (self.joint(x) - out)
        return out


def clipped_weight(x: torch.Tensor, radius: int = CLIPPED_RADIUS, full_share: float = CLIPPED_SHARE) -> torch.Tensor:
    """``(B, 1, H, W)`` weight of the joint network for ``x`` ``(B, 3, H, W)``: the share of pixels
    with a channel exactly 0 or 1 in the ``2·radius + 1`` window around each pixel, ÷ ``full_share``, at most 1."""
    clipped = ((x == 0.0) | (x == 1.0)).any(dim=1, keepdim=True).to(x.dtype)
    r = radius
    mode = "reflect" if min(x.shape[-2], x.shape[-1]) > r else "replicate"
    share = F.avg_pool2d(F.pad(clipped, [r, r, r, r], mode=mode), 2 * r + 1, stride=1)
    return (share / full_share).clamp(max=1.0)
