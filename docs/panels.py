"""Side-by-side figures for the docs: labelled crops of RGB uint8 images, enlarged ×2 (nearest)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_panels(path: Path, panels: list[np.ndarray], labels: list[str], crop: tuple[slice, slice]) -> None:
    """``panels`` (RGB uint8, same size) cropped to ``crop``, each under its label, in one row as a PNG."""
    tiles = []
    for panel, label in zip(panels, labels, strict=True):
        tile = cv2.resize(np.ascontiguousarray(panel[crop]), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        tile = np.concatenate([np.full((28, tile.shape[1], 3), 255, np.uint8), tile], axis=0)
        cv2.putText(tile, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    cv2.imwrite(str(path), np.concatenate(tiles, axis=1)[..., ::-1])
    print(f"wrote {path}")
