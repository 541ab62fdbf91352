"""Noise that follows brightness: ``level="by-brightness"`` against one level (``"auto"``).

Each image of Set12, McMaster and Set14 becomes an 8-bit file (numpy seed 0, rounded and clipped)
with camera noise (``clean`` to linear light by the sRGB curve, ``+ sqrt(a·L + b)·N(0, 1)``, back to
sRGB: photon noise through the tone curve, strongest in the shadows; strong a 0.01, b 2e-4 and mild
a 0.003, b 5e-5), with noise in the dark parts only (σ 30 below luma 90, σ 3 above, as
bench_estimator_uneven), with white noise σ 25 everywhere (nothing to gain), or with none (a clean
file). Each is restored by the shipped denoise network at one level read by the estimator
("auto") and by brightness; PSNR against the clean image, the restorations blended, and the time.

    python benchmarks/bench_by_brightness.py --threads 1 [--quick]
"""

from __future__ import annotations

import time

import common
import numpy as np


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def camera_file(clean: np.ndarray, a: float, b: float, seed: int = 0) -> np.ndarray:
    """``clean`` (0–1, sRGB) with photon + read noise added in linear light, as an 8-bit file holds it."""
    linear = srgb_to_linear(clean.astype(np.float64))
    noisy = linear + np.sqrt(a * linear + b) * np.random.default_rng(seed).standard_normal(linear.shape)
    return np.clip(np.round(linear_to_srgb(noisy) * 255), 0, 255).astype(np.uint8)


def dark_file(clean: np.ndarray, seed: int = 0) -> np.ndarray:
    image = clean.astype(np.float64) * 255
    luma = image.mean(axis=-1, keepdims=True) if image.ndim == 3 else image
    sigma = np.where(luma < 90, 30.0, 3.0)
    return np.clip(np.round(image + sigma * np.random.default_rng(seed).standard_normal(image.shape)), 0, 255).astype(np.uint8)


CASES = {
    "camera, strong (a 0.01, b 2e-4)": lambda clean: camera_file(clean, 0.01, 2e-4),
    "camera, mild (a 0.003, b 5e-5)": lambda clean: camera_file(clean, 0.003, 5e-5),
    "σ 30 in the dark parts, σ 3 elsewhere": dark_file,
    "white noise σ 25": lambda clean: common.noisy_8bit_file(clean, 25),
    "clean file": lambda clean: np.round(clean * 255).astype(np.uint8),
}


def main() -> None:
    parser = common.base_parser(__doc__, "bench_by_brightness")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    from napari_hyperres.engine import Restorer

    restorer = Restorer("denoise", device=args.device, precision="float32")
    val = args.data_root / "val"
    paths = common.image_paths(val / "Set12") + common.image_paths(val / "McMaster") + common.image_paths(val / "Set14")
    if args.quick:
        paths = paths[:2] + paths[12:13]
    images = [(path.name, common.load_image(path)) for path in paths]
    rows = []
    for label, make in CASES.items():
        one, by, passes, worse, seconds = [], [], [], [], [0.0, 0.0]
        for name, clean in images:
            noisy = make(clean)
            rgb = noisy.ndim == 3
            start = time.perf_counter()
            single = restorer.restore(noisy, "auto", rgb=rgb)
            seconds[0] += time.perf_counter() - start
            start = time.perf_counter()
            blended, report = restorer.restore_with_report(noisy, "by-brightness", rgb=rgb)
            seconds[1] += time.perf_counter() - start
            one.append(common.psnr(single / 255.0, clean))
            by.append(common.psnr(blended / 255.0, clean))
            passes.append(len(report.curve.levels_to_run(restorer.task)))
            if by[-1] < one[-1] - 0.1:
                worse.append(f"{name} ({by[-1] - one[-1]:+.2f})")
        gains = np.array(by) - np.array(one)
        rows.append([
            label, len(images), common.fmt(float(np.mean(one)), 2), common.fmt(float(np.mean(by)), 2),
            f"{gains.mean():+.2f} ({gains.min():+.2f} to {gains.max():+.2f})", common.fmt(float(np.mean(passes)), 1),
            f"{seconds[0] / len(images):.2f} / {seconds[1] / len(images):.2f}", ", ".join(worse) or "—",
        ])
        print(rows[-1], flush=True)
    report = common.Report("Denoise by brightness against one level", __doc__.strip().split("\n\n")[1], args.device)
    report.table(
        ["noise (8-bit files)", "images", "auto: PSNR", "by brightness: PSNR", "gain, dB (worst to best)", "restorations blended (mean)",
         "s per image (auto / by brightness)", "worse by > 0.1 dB"],
        rows,
    )
    report.emit(args)


if __name__ == "__main__":
    main()
