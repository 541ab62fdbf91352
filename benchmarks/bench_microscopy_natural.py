"""Photon-limited *natural* images through the ``microscopy`` task: the fluorescence specialist
``microscopy.lite`` against the general ``denoise.lite`` in the same pipeline.

Set12 (gray) is scaled to ``peak`` expected photo-electrons at white and turned into raw counts
of a camera with gain 2 counts/e⁻, read noise 3 e⁻ and offset 100, rounded to uint16 (seed =
image index). ``restore(counts, "microscopy", "auto")`` fits the Poisson–Gaussian noise blind;
the output is scored after the least-squares affine map onto the clean image, 0–255 scale (the
W2S protocol). Tells users when to pass ``--weights denoise.lite`` for microscopy-like data.

    python benchmarks/bench_microscopy_natural.py --threads 1 [--weights LABEL=FILE ...] [--peaks 20 60] [--quick]

``--peaks 1000 5000 20000``: bright images, where a restoration should change little (the input
is already clean; a network that smooths away texture there scores below it).
"""

from __future__ import annotations

import common
import numpy as np
from bench_w2s import affine_fit, psnr_255

PEAKS = (20.0, 60.0)
GAIN, READ_ELECTRONS, OFFSET = 2.0, 3.0, 100.0


def main() -> None:
    parser = common.base_parser(__doc__, "bench_microscopy_natural")
    parser.add_argument(
        "--weights", nargs="*", metavar="LABEL=FILE", default=[],
        help="more weights to score beside the shipped microscopy.lite and denoise.lite (e.g. before=old.safetensors)",
    )
    parser.add_argument("--peaks", nargs="+", type=float, default=list(PEAKS), help="photo-electrons at white (default: 20 60)")
    parser.add_argument("--known-camera", action="store_true",
                        help="restore with the simulated camera's noise (the CLI's --camera) instead of fitting it: "
                        "measures the network alone (the fit takes a natural image's texture for noise when bright)")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    from napari_hyperres.core.photon_noise import PoissonGaussian, camera_counts
    from napari_hyperres.engine import Restorer

    files = {"microscopy.lite": common.find_weights("microscopy.lite", args.weights_dir), "denoise.lite": common.find_weights("denoise.lite", args.weights_dir)}
    files.update(item.split("=", 1) for item in args.weights)
    restorers = {label: Restorer("microscopy", weights=str(path), device=args.device) for label, path in files.items()}
    paths = common.image_paths(args.data_root / "val" / "Set12", 2 if args.quick else None)
    scores: dict[tuple[float, str], list[float]] = {}
    known = PoissonGaussian.from_read_noise(GAIN, GAIN * READ_ELECTRONS, OFFSET) if args.known_camera else None
    for peak in args.peaks:
        for index, path in enumerate(paths):
            clean = 255.0 * common.center_crop(common.load_image(path, "gray").astype(np.float64), 64 if args.quick else None)
            counts = camera_counts(clean / 255.0 * peak, GAIN, GAIN * READ_ELECTRONS, OFFSET, np.random.default_rng(index))
            outputs = {"noisy": counts} | {label: r.restore(counts, "auto", noise=known) for label, r in restorers.items()}
            for label, output in outputs.items():
                scores.setdefault((peak, label), []).append(psnr_255(affine_fit(output, clean), clean))
    labels = ["noisy", *restorers]
    report = common.Report("Photon-limited natural images through the microscopy task", __doc__.strip().split("\n\n")[1], args.device)
    report.text("Weights:\n\n" + "\n".join(f"- {label}: `{path}`" for label, path in files.items()))
    report.text("Noise: " + ("the simulated camera's, given (`--known-camera`)" if known else "fitted to each image (level auto)"))
    report.section(f"Mean affine-aligned PSNR, dB ({len(paths)} Set12 images per row)")
    rows = [[f"{peak:g} e⁻ at white", *(common.fmt(float(np.mean(scores[peak, label]))) for label in labels)] for peak in args.peaks]
    rows.append(["**all**", *(common.fmt(float(np.mean([s for peak in args.peaks for s in scores[peak, label]]))) for label in labels)])
    report.table(["photons", *labels], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
