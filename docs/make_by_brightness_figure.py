"""docs/by_brightness.png: camera-like noise (photon noise in linear light, then the sRGB curve,
rounded to 8 bits: strongest in the shadows) on scikit-image's astronaut, restored at one level
("auto") and by brightness, beside the original (160×200 crop, ×2 nearest).

    python docs/make_by_brightness_figure.py     # from the repository root
"""

from __future__ import annotations

import sys
from pathlib import Path

from skimage import data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "docs"))

from bench_by_brightness import camera_file  # noqa: E402
from panels import write_panels  # noqa: E402

from napari_hyperres.engine import Restorer  # noqa: E402

CROP = (slice(330, 490), slice(300, 500))


def main() -> None:
    clean = data.astronaut()
    noisy = camera_file(clean / 255.0, 0.01, 2e-4)
    restorer = Restorer("denoise", device="cpu")
    one = restorer.restore(noisy, "auto")
    by, report = restorer.restore_with_report(noisy, "by-brightness")
    levels = report.curve.levels
    labels = ["camera noise, 8-bit", "auto (one level)",
              f"by brightness ({levels[0]:.0f} dark .. {levels[-1]:.0f} bright)", "original"]
    write_panels(ROOT / "docs" / "by_brightness.png", [noisy, one, by, clean], labels, CROP)


if __name__ == "__main__":
    main()
