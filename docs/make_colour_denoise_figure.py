"""docs/colour_denoise.png: an 8-bit noisy colour photo (McMaster, σ 25, rounded and clipped as a
file holds it) restored by the joint RGB network and by the shipped opponent-plane path, beside
the original (160×160 crop, ×2 nearest).

    python docs/make_colour_denoise_figure.py     # from the repository root, with ../shared/data
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_colour_denoise import as_8bit_file  # noqa: E402

from napari_hyperres.core.plugins import get_task  # noqa: E402
from napari_hyperres.engine import Restorer  # noqa: E402

IMAGE, SIGMA, CROP = "12.tif", 25.0, (slice(170, 330), slice(170, 330))


def main() -> None:
    clean = cv2.imread(str(ROOT.parent / "shared/data/val/McMaster" / IMAGE))[..., ::-1].copy()
    noisy = as_8bit_file(clean / 255.0, SIGMA)
    shipped = Restorer("denoise", device="cpu")
    joint = Restorer(dataclasses.replace(get_task("denoise"), colour="joint"), device="cpu", model=shipped.model)
    panels = [noisy, joint.restore(noisy, SIGMA), shipped.restore(noisy, SIGMA), clean]
    labels = [f"8-bit file, sigma {SIGMA:g}", "joint RGB (before)", "opponent planes", "original"]
    tiles = []
    for panel, label in zip(panels, labels, strict=True):
        tile = cv2.resize(np.ascontiguousarray(panel[CROP]), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        tile = np.concatenate([np.full((28, tile.shape[1], 3), 255, np.uint8), tile], axis=0)
        cv2.putText(tile, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    out = ROOT / "docs" / "colour_denoise.png"
    cv2.imwrite(str(out), np.concatenate(tiles, axis=1)[..., ::-1])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
