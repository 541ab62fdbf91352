"""One plane restored at the level of each pixel's brightness (``level="by-brightness"``).

The plane is restored at each of the curve's :meth:`~napari_hyperres.blind.brightness.LevelCurve.levels_to_run`
(a hypernetwork's network for any level is at hand), and each pixel takes the linear blend of the
two restorations around its own level (:func:`napari_hyperres.blind.brightness.blend_weight`),
added up as the passes come so that only one extra plane is held.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..blind.brightness import LevelCurve, blend_weight, pixel_levels
from .planes import restore_unit_plane


def restore_unit_plane_by_brightness(
    restorer, plane: np.ndarray, curve: LevelCurve, is_rgb: bool, tile: int | None, neutral_as_gray: bool = True
) -> Iterator[tuple[int, int] | np.ndarray]:
    """:func:`~napari_hyperres.engine.planes.restore_unit_plane` for a :class:`LevelCurve`: yields
    progress over all passes, then the blended float32 plane (same shape as one pass's)."""
    levels = curve.levels_to_run(restorer.task)
    at = pixel_levels(plane, curve) if len(levels) > 1 else None
    blended = None
    for k, level in enumerate(levels):
        for step in restore_unit_plane(restorer, plane, level, is_rgb, tile, neutral_as_gray=neutral_as_gray):
            if isinstance(step, np.ndarray):
                if at is None:
                    blended = step
                    continue
                weight = blend_weight(at, levels, k)
                weight = weight[..., None] if step.ndim == 3 else weight
                step *= weight
                blended = step if blended is None else np.add(blended, step, out=blended)
            else:
                done, total = step
                yield k * total + done, len(levels) * total
    yield blended
