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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "docs"))

from common import noisy_8bit_file  # noqa: E402
from panels import write_panels  # noqa: E402

from napari_hyperres.core.plugins import get_task  # noqa: E402
from napari_hyperres.engine import Restorer  # noqa: E402

IMAGE, SIGMA, CROP = "12.tif", 25.0, (slice(170, 330), slice(170, 330))


def main() -> None:
    clean = cv2.imread(str(ROOT.parent / "shared/data/val/McMaster" / IMAGE))[..., ::-1].copy()
    noisy = noisy_8bit_file(clean / 255.0, SIGMA)
    shipped = Restorer("denoise", device="cpu")
    joint = Restorer(dataclasses.replace(get_task("denoise"), colour="joint"), device="cpu", model=shipped.model)
    panels = [noisy, joint.restore(noisy, SIGMA), shipped.restore(noisy, SIGMA), clean]
    labels = [f"8-bit file, sigma {SIGMA:g}", "joint RGB (before)", "opponent planes", "original"]
    write_panels(ROOT / "docs" / "colour_denoise.png", panels, labels, CROP)


if __name__ == "__main__":
    main()
