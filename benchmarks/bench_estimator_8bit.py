"""The σ estimator on what 8-bit files hold: noise rounded to integers and clipped to 0–255.

For each σ, every image of Set12 (gray) and McMaster (colour) gets ``clean + σ·N(0, 1)`` on the
0–255 scale (numpy seed 0), rounded and clipped to uint8, and ``estimate_level(uint8, "denoise")``
reads its σ. The same images with the papers' float, unclipped noise (``value_range=(0, 1)``)
show whether reading 8-bit files costs accuracy on float data. One column per estimator file.

    python benchmarks/bench_estimator_8bit.py --estimators napari_hyperres/pretrained/denoise.estimator.safetensors runs/denoise.estimator.q8.safetensors
"""

from __future__ import annotations

from pathlib import Path

import common
import numpy as np

SIGMAS = (5.0, 10.0, 15.0, 25.0, 35.0, 50.0, 70.0)


def as_8bit_file(image: np.ndarray, noise: np.ndarray, sigma: float) -> np.ndarray:
    """What a noisy 8-bit file holds: ``clean + σ·noise`` rounded and clipped to uint8 (0–255 inputs)."""
    return np.clip(np.round(image + sigma * noise), 0, 255).astype(np.uint8)


def as_float(image: np.ndarray, noise: np.ndarray, sigma: float) -> np.ndarray:
    """The papers' protocol: ``(clean + σ·noise) / 255``, float, unclipped."""
    return ((image + sigma * noise) / 255.0).astype(np.float32)


def main() -> None:
    parser = common.base_parser(__doc__, "bench_estimator_8bit")
    parser.add_argument("--estimators", nargs="+", required=True, help="denoise estimator weights files to compare")
    parser.add_argument("--sigmas", type=float, nargs="+", default=list(SIGMAS), help="noise levels, 0–255 scale (default %(default)s)")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    from napari_hyperres.blind.estimate import estimate_level

    images = []
    for name in ("Set12", "McMaster"):
        for path in common.image_paths(args.data_root / "val" / name, 2 if args.quick else None):
            images.append(np.round(common.load_image(path) * 255).astype(np.float64))
    rows = []
    for sigma in args.sigmas:
        rng = np.random.default_rng(0)
        noises = [rng.standard_normal(image.shape) for image in images]
        row = [f"{sigma:g}"]
        for label, build in (("8-bit file", as_8bit_file), ("float", as_float)):
            for weights in args.estimators:
                options = {"value_range": (0.0, 1.0)} if label == "float" else {}
                estimates = [estimate_level(build(im, n, sigma), "denoise", weights=weights, device=args.device, **options) for im, n in zip(images, noises, strict=True)]
                row.append(f"{np.mean(estimates):.1f} ({100 * np.mean(np.abs(np.array(estimates) / sigma - 1)):.1f} %)")
        rows.append(row)
    names = [common.weights_description(Path(w)) for w in args.estimators]
    headers = ["σ"] + [f"8-bit file: {i + 1}" for i in range(len(names))] + [f"float: {i + 1}" for i in range(len(names))]
    report = common.Report("σ estimator on 8-bit files", "Mean estimated σ (mean relative error) on Set12 + McMaster; estimators numbered as listed.", args.device)
    report.text("Estimators:\n\n" + "\n".join(f"{i + 1}. {n}" for i, n in enumerate(names)))
    report.table(headers, rows)
    report.emit(args)


if __name__ == "__main__":
    main()
