"""What a camera offset given too high costs, and where the ``--camera`` offset check refuses it.

W2S 400-frame averages (fields 001–002, all three channels) made into camera counts at 20, 100 and 300
photo-electrons at white (gain 1.5 / 2.2 / 1.5, read noise 3 / 3 / 1.5, offset 90 / 100 / 90; uint16), restored by
``microscopy`` at Auto with the right camera and with its offset given 1, 2, 3 and 5 counts high, and with the
image's own fit. Aligned PSNR (an affine brightness fit, ``MICROSCOPY_NOISE.md``) against the noise-free counts;
"refused": the offset check (:func:`~napari_hyperres.blind.photon_fit.check_offset_below`) refused it. Also
the darkest 5×5 local means (what the check reads) against the true offset, in read-noise σ.

    python benchmarks/bench_camera_offset.py --threads 1 [--quick]
"""

from __future__ import annotations

import warnings

import common
import numpy as np

CAMERAS = ((20.0, 1.5, 3.0, 90.0), (100.0, 2.2, 3.0, 100.0), (300.0, 1.5, 1.5, 90.0))
"""(photons at white, gain, read noise, offset)."""
HIGH_BY = (0, 1, 2, 3, 5)


def aligned_psnr(restored: np.ndarray, truth: np.ndarray) -> float:
    design = np.stack([restored.ravel().astype(np.float64), np.ones(restored.size)], axis=1)
    fitted = design @ np.linalg.lstsq(design, truth.ravel(), rcond=None)[0]
    return float(10 * np.log10((truth.max() - truth.min()) ** 2 / np.mean((fitted - truth.ravel()) ** 2)))


def main() -> None:
    parser = common.base_parser(__doc__, "bench_camera_offset")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    import tifffile

    from napari_hyperres.blind.photon_fit import darkest_level
    from napari_hyperres.core.photon_noise import PoissonGaussian, camera_counts
    from napari_hyperres.engine import Restorer
    from napari_hyperres.errors import ShapeError

    folder = common.w2s_clean(args)
    names = [f"target_avg400_{field:03d}_{channel}.tif" for field in (1, 2) for channel in range(3)]
    names = names[:1] if args.quick else names
    restorer = Restorer("microscopy", device=args.device, precision="float32")
    rng = np.random.default_rng(0)
    rows = []
    for peak, gain, read, offset in CAMERAS:
        scores = {by: [] for by in HIGH_BY}
        fit, dark = [], []
        for name in names:
            average = tifffile.imread(folder / name).astype(np.float64)
            average = average / average.max()
            frame = camera_counts(average * peak, gain, read, offset, rng)
            truth = offset + gain * peak * average
            dark.append((darkest_level([frame.astype(np.float64)]) - offset) / read)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for by in HIGH_BY:
                    try:
                        out = restorer.restore(frame, "auto", noise=PoissonGaussian.from_read_noise(gain, read, offset + by))
                        scores[by].append(aligned_psnr(out, truth))
                    except ShapeError:
                        scores[by].append(None)
                fit.append(aligned_psnr(restorer.restore(frame, "auto"), truth))

        def cell(values: list) -> str:
            kept = [v for v in values if v is not None]
            refused = len(values) - len(kept)
            text = common.fmt(float(np.mean(kept))) if kept else "—"
            return text + (f" ({refused} of {len(values)} refused)" if refused else "")

        rows.append([f"{peak:g} photons, σ {read:g}", f"{min(dark):+.2f} to {max(dark):+.2f}",
                     *(cell(scores[by]) for by in HIGH_BY), common.fmt(float(np.mean(fit)))])
    report = common.Report("A camera offset given too high", __doc__.strip().split("\n\n")[1], args.device)
    report.section(f"{len(names)} W2S fields, aligned PSNR (dB)")
    report.table(["camera", "darkest means − offset (σ)", *(f"offset +{by}" for by in HIGH_BY), "own fit"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
