"""When does denoise's "auto" say that parts of an image read different noise?

``resolve_level(..., "auto")`` reads the σ of each crop with the shipped estimator and uses their
median; when the crops disagree (10th and 90th percentiles more than ``UNEVEN_RATIO`` apart and by
more than ``UNEVEN_SPAN`` of the range, :func:`napari_hyperres.blind.estimate.uneven_readings`)
the level comes with a caution. This counts the cautions on Set12, McMaster and Set14 as 8-bit
files: clean, with white noise at σ 5–75 (rounded and clipped, as files hold it), and with noise
only in the dark parts (σ 30 below luma 90, σ 3 above), which a single σ cannot describe.

    python benchmarks/bench_estimator_uneven.py --threads 1 [--quick]
"""

from __future__ import annotations

import common
import numpy as np

SIGMAS = (0, 5, 10, 15, 25, 50, 75)
DARK_LUMA, DARK_SIGMA, BRIGHT_SIGMA = 90, 30.0, 3.0


def dark_noise(image: np.ndarray, seed: int = 0) -> np.ndarray:
    """σ 30 where the 8-bit luma (channel mean) is below 90, σ 3 elsewhere; rounded and clipped to uint8."""
    luma = image.mean(axis=-1, keepdims=True) if image.ndim == 3 else image
    sigma = np.where(luma < DARK_LUMA, DARK_SIGMA, BRIGHT_SIGMA)
    noise = np.random.default_rng(seed).standard_normal(image.shape)
    return np.clip(np.round(image + sigma * noise), 0, 255).astype(np.uint8)


def main() -> None:
    parser = common.base_parser(__doc__, "bench_estimator_uneven")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    from napari_hyperres.blind.estimate import (
        UNEVEN_RATIO,
        UNEVEN_SPAN,
        crop_readings,
        uneven_readings,
    )
    from napari_hyperres.core.plugins import get_task

    task = get_task("denoise")
    val = args.data_root / "val"
    paths = common.image_paths(val / "Set12") + common.image_paths(val / "McMaster") + common.image_paths(val / "Set14")
    if args.quick:
        paths = paths[:3]
    if not paths:
        common.fail(f"no images under {val}: pass --data-root (the folder holding val/)")
    images = [(path.name, np.round(common.load_image(path) * 255)) for path in paths]
    rows = []
    cases = [(f"σ {sigma}" if sigma else "clean", sigma) for sigma in SIGMAS] + [("dark parts only", None)]
    for label, sigma in cases:
        flagged, medians = [], []
        for name, image in images:
            if sigma is None:
                noisy = dark_noise(image)
            else:
                noisy = common.noisy_8bit_file(image / 255.0, sigma) if sigma else image.astype(np.uint8)
            readings = crop_readings(noisy, task, device=args.device)
            medians.append(float(np.median(readings)))
            uneven = uneven_readings(readings, task)
            if uneven is not None:
                flagged.append(f"{name} ({uneven[0]:.1f}–{uneven[1]:.1f})")
        rows.append([label, len(images), common.fmt(float(np.mean(medians)), 1), f"{len(flagged)} / {len(images)}", ", ".join(flagged) or "—"])
    report = common.Report("Cautions of denoise's 'auto' (crops that disagree)", __doc__.strip().split("\n\n")[1], args.device)
    report.text(f"Rule: 90th percentile > {UNEVEN_RATIO:g} × 10th and apart by > {UNEVEN_SPAN:g} of the range (σ {UNEVEN_SPAN * 100:g}).")
    report.table(["noise", "images", "median σ read (mean)", "cautions", "which (10th – 90th percentile)"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
