"""The blind-mode level estimator: five conv layers and three fully connected layers.

It regresses the degradation level of an image crop, as a fraction of the task's
level range (0 = lowest level, 1 = highest); :mod:`napari_hyperres.blind.estimate` maps it
back to task units and averages over crops.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn


@dataclass(frozen=True)
class EstimatorArchitecture:
    """Shape of a :class:`LevelEstimator`: image channels and conv width."""

    in_channels: int = 1
    features: int = 32

    def to_dict(self) -> dict:
        return asdict(self)


class LevelEstimator(nn.Module):
    """5 conv layers (stride-2 after the first) → global average pool → 3 FC layers.

    The first conv sees the image minus a 3×3 local mean, so flat regions tell
    nothing and the network looks at texture, noise and blocking.

    Shape:
        - input: ``(B, C, H, W)`` in ``[0, 1]``, ``H, W ≥ 32``; output: ``(B,)`` in about ``[0, 1]``.
    """

    def __init__(self, arch: EstimatorArchitecture) -> None:
        super().__init__()
        self.arch = arch
        f, ch = arch.features, arch.in_channels
        layers: list[nn.Module] = []
        widths = [2 * ch, f, f, 2 * f, 2 * f, 2 * f]
        for i in range(5):
            layers += [nn.Conv2d(widths[i], widths[i + 1], 3, stride=1 if i == 0 else 2, padding=1), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(4 * f, 2 * f), nn.ReLU(inplace=True), nn.Linear(2 * f, f), nn.ReLU(inplace=True), nn.Linear(f, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        local_mean = nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        z = self.features(torch.cat([x, x - local_mean], dim=1))
        pooled = torch.cat([z.mean(dim=(-2, -1)), z.flatten(2).std(dim=-1)], dim=1)
        return self.head(pooled).squeeze(1)
