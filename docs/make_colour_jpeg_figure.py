"""docs/colour_jpeg.png: a colour JPEG (quality 10, 4:2:0) of Set14's face, restored luma only and
luma + chroma, beside the original (160×160 crop, ×2 nearest).

    python docs/make_colour_jpeg_figure.py     # from the repository root, with ../shared/data
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_colour_jpeg import jpeg_file  # noqa: E402

from napari_hyperres.core.plugins import get_task  # noqa: E402
from napari_hyperres.engine import Restorer  # noqa: E402


def main() -> None:
    clean = cv2.imread(str(ROOT.parent / "shared/data/val/Set14/face.bmp"))[..., ::-1].copy()
    jpg = jpeg_file(clean, 10)
    shipped = Restorer("dejpeg", device="cpu")
    luma_only = Restorer(dataclasses.replace(get_task("dejpeg"), chroma="keep"), device="cpu", model=shipped.model)
    crop = (slice(60, 220), slice(60, 220))
    panels = [jpg, luma_only.restore(jpg, 10), shipped.restore(jpg, 10), clean]
    labels = ["JPEG q10 (4:2:0)", "luma only (before)", "luma + chroma", "original"]
    tiles = []
    for panel, label in zip(panels, labels, strict=True):
        tile = cv2.resize(np.ascontiguousarray(panel[crop]), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        tile = np.concatenate([np.full((28, tile.shape[1], 3), 255, np.uint8), tile], axis=0)
        cv2.putText(tile, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    out = ROOT / "docs" / "colour_jpeg.png"
    cv2.imwrite(str(out), np.concatenate(tiles, axis=1)[..., ::-1])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
