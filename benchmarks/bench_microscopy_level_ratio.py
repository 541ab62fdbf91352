"""What moving the microscopy slider away from Auto costs: real W2S frames restored at the fitted
photon level times a factor.

Each frame (`microscopy/W2S/noisy`, 8-bit single frames) is fitted once
(`estimate_photon_noise`) and restored with that fit at ``factor × photons``, the slider's level
(more photons = weaker smoothing); the output is scored after the least-squares affine map onto
the 400-frame average (the W2S protocol). A Gaussian denoiser told of less noise than there is
leaves most of it in, so the curve is not symmetric: it says how far a user can move each way.

    python benchmarks/bench_microscopy_level_ratio.py --threads 1 [--factors 0.5 0.7 1 1.2 1.4 2] [--every 5] [--quick]
"""

from __future__ import annotations

import common
import numpy as np
from bench_w2s import affine_fit, psnr_255

FACTORS = (0.5, 0.7, 0.85, 1.0, 1.1, 1.2, 1.4, 2.0)


def main() -> None:
    parser = common.base_parser(__doc__, "bench_microscopy_level_ratio")
    parser.add_argument("--factors", nargs="+", type=float, default=list(FACTORS), help="levels as multiples of the fitted photons")
    parser.add_argument("--every", type=int, default=5, help="every Nth W2S field (default 5: 12 fields × 3 channels)")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    import tifffile

    from napari_hyperres.blind.estimate import estimate_photon_noise
    from napari_hyperres.engine import Restorer

    w2s = args.data_root / "microscopy" / "W2S"
    if not w2s.is_dir():
        common.fail(f"no W2S data under {w2s}")
    restorer = Restorer("microscopy", device=args.device)
    fields = list(range(1, 61, args.every))[: 2 if args.quick else None]
    scores: dict[float, list[float]] = {factor: [] for factor in args.factors}
    noisy_scores = []
    for field in fields:
        for channel in range(3):
            noisy = tifffile.imread(w2s / "noisy" / f"input_avg1_{field:03d}_{channel}.tif")
            clean = tifffile.imread(w2s / "clean" / f"target_avg400_{field:03d}_{channel}.tif").astype(np.float64)
            if args.quick:
                noisy, clean = noisy[:128, :128], clean[:128, :128]
            noisy_scores.append(psnr_255(affine_fit(noisy, clean), clean))
            photons, noise = estimate_photon_noise(noisy)
            for factor in args.factors:
                out = restorer.restore(noisy, min(photons * factor, restorer.task.level_range[1]), noise=noise)
                scores[factor].append(psnr_255(affine_fit(out, clean), clean))
    at_auto = np.array(scores[1.0]) if 1.0 in scores else None
    report = common.Report("Microscopy: the slider away from Auto (real W2S frames)", __doc__.strip().split("\n\n")[1], args.device)
    report.section(f"Mean affine-aligned PSNR, dB ({len(noisy_scores)} frames: fields {fields[0]}–{fields[-1]} every {args.every} × 3 channels; noisy {np.mean(noisy_scores):.2f})")
    rows = []
    for factor in args.factors:
        values = np.array(scores[factor])
        delta = "" if at_auto is None else common.fmt(float(np.mean(values - at_auto)), signed=True)
        worst = "" if at_auto is None else common.fmt(float(np.min(values - at_auto)), signed=True)
        rows.append([f"× {factor:g}", common.fmt(float(np.mean(values))), delta, worst])
    report.table(["level (× fitted photons)", "PSNR", "against Auto", "worst frame against Auto"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
