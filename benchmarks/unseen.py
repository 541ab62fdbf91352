"""Standard pictures no network here has seen: the images that ship inside scikit-image.

Every shipped file was trained on ``../shared/data/train`` and every choice (rounds, lr, losses)
was tuned on ``../shared/data/val`` (Set12, McMaster, classic5, Set14). Issue #18 asks that the
weights also hold on standard images we do not have; the closest offline stand-in is this set,
which nothing was trained, validated or tuned on. It is read from the installed scikit-image
(offline, deterministic), never copied into the project.

- **gray** (9): moon, coins, page, text, brick, grass, gravel, clock, cell — photographs,
  scanned print, textures (brick, grass, gravel: the hardest kind for a denoiser) and a
  microscope image. ``camera`` is left out: it is Set12's "C.man".
- **colour** (6): astronaut, coffee, chelsea, rocket, immunohistochemistry (a stained section)
  and the left view of stereo_motorcycle (Middlebury). Some were JPEG-compressed at the source
  (rocket, chelsea, coffee); as clean references that only makes them a little smoother.

    python benchmarks/unseen.py --out runs/unseen      # runs/unseen/{gray,colour}/NAME.png (lossless)
    python -m trainer eval --task denoise --data runs/unseen/gray --levels 15 25 50
    python benchmarks/bench_classical.py --datasets unseen-gray unseen-colour   # against BM3D / CBM3D
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

GRAY = ("moon", "coins", "page", "text", "brick", "grass", "gravel", "clock", "cell")
COLOUR = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "stereo_motorcycle")
KINDS = {"gray": GRAY, "colour": COLOUR}


def unseen_images(kind: str, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """``(name, uint8 image)`` pairs of one kind, in the order above: ``"gray"`` gives ``(H, W)``,
    ``"colour"`` gives ``(H, W, 3)`` RGB. ``limit``: the first N only."""
    from skimage import data

    images = []
    for name in KINDS[kind][:limit]:
        image = getattr(data, name)()
        if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
            image = image[0]
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != (2 if kind == "gray" else 3):
            raise ValueError(f"skimage.data.{name}() is {image.dtype} {image.shape}, not an 8-bit {kind} image")
        images.append((name, np.ascontiguousarray(image)))
    return images


def write_folders(out: Path) -> list[Path]:
    """Write each kind as lossless PNGs into ``out/KIND/`` (for ``trainer eval --data``); the
    files' paths."""
    from napari_hyperres.io.files import write_image

    written = []
    for kind in KINDS:
        folder = out / kind
        folder.mkdir(parents=True, exist_ok=True)
        written += [write_image(folder / f"{name}.png", image, overwrite=True) for name, image in unseen_images(kind)]  # rewritten each run
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/unseen"), help="folder for gray/ and colour/ (default runs/unseen)")
    args = parser.parse_args()
    for path in write_folders(args.out):
        print(path)


if __name__ == "__main__":
    main()
