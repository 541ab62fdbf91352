"""docs/colour_jpeg.png: a colour JPEG (quality 10, 4:2:0) of Set14's face, restored luma only and
luma + chroma, beside the original (160×160 crop, ×2 nearest).

    python docs/make_colour_jpeg_figure.py     # from the repository root, with ../shared/data
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "docs"))

from bench_colour_jpeg import jpeg_file  # noqa: E402
from panels import write_panels  # noqa: E402

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
    write_panels(ROOT / "docs" / "colour_jpeg.png", panels, labels, crop)


if __name__ == "__main__":
    main()
