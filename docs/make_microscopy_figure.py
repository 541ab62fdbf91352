"""Re-create docs/microscopy.png: a real W2S widefield frame, the Gaussian ``denoise`` task at its
estimated σ, the ``microscopy`` task (both "auto"), and the 400-frame average, side by side.

    python docs/make_microscopy_figure.py [--field 010 --channel 1] [--crop Y X SIZE]

Every panel is shown after the least-squares affine map onto the 400-frame average (the way
the benchmark scores them; the frame and the average were normalised separately by the
dataset's authors), with the same display range. PSNR (aligned) is printed on each panel.
Reads ``../shared/data/microscopy/W2S``; nothing from it is committed except this picture.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data" / "microscopy" / "W2S"


def aligned(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    x = output.astype(np.float64).ravel()
    a, b = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), target.astype(np.float64).ravel(), rcond=None)[0]
    return (a * output.astype(np.float64) + b).reshape(target.shape)


def main() -> None:
    import cv2
    import tifffile

    from napari_hyperres import restore

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--field", default="010")
    parser.add_argument("--channel", default="1")
    parser.add_argument("--crop", type=int, nargs=3, default=(128, 128, 256), metavar=("Y", "X", "SIZE"))
    parser.add_argument("--out", type=Path, default=HERE / "microscopy.png")
    args = parser.parse_args()
    noisy = tifffile.imread(DATA / "noisy" / f"input_avg1_{args.field}_{args.channel}.tif")
    clean = tifffile.imread(DATA / "clean" / f"target_avg400_{args.field}_{args.channel}.tif").astype(np.float64)
    panels = [
        ("single frame", noisy),
        ("denoise, auto", restore(noisy, "denoise", "auto")),
        ("microscopy, auto", restore(noisy, "microscopy", "auto")),
        ("400-frame average", clean),
    ]
    y, x, size = args.crop
    high = np.percentile(clean, 99.8)
    tiles = []
    for title, image in panels:
        shown = aligned(image, clean)
        psnr = 10 * np.log10(255.0**2 / np.mean((shown - clean) ** 2)) if image is not clean else None
        tile = np.clip(shown[y : y + size, x : x + size] / high * 255, 0, 255).astype(np.uint8)
        tile = cv2.resize(tile, (2 * size, 2 * size), interpolation=cv2.INTER_NEAREST)
        tile = cv2.cvtColor(tile, cv2.COLOR_GRAY2BGR)
        label = title + (f"  {psnr:.1f} dB" if psnr is not None else "")
        cv2.rectangle(tile, (0, 0), (2 * size, 30), (0, 0, 0), -1)
        cv2.putText(tile, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.65, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
        tiles.append(np.full((2 * size, 6, 3), 255, np.uint8))
    cv2.imwrite(str(args.out), np.concatenate(tiles[:-1], axis=1))
    print(f"written: {args.out} (W2S field {args.field}, channel {args.channel}, crop y={y} x={x} size={size})")


if __name__ == "__main__":
    main()
