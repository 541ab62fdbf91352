"""The σ estimator on noisy photos saved as JPEG files, as cameras and phones save them.

Every image of Set12 (gray), McMaster and Set14 (colour) gets noise on the 0–255 scale (white
Gaussian σ, numpy seed 0; or camera noise, photon + read noise in linear light as
``bench_by_brightness.py`` makes it), is rounded and clipped to uint8, then saved as a JPEG file at
quality q by OpenCV (libjpeg; 4:2:0 chroma for colour, its default) and decoded. JPEG removes most
of the noise's fine grain, not the noise: each estimator's ``estimate_level`` is compared with the
σ before compression (σ 0: a clean photo saved as JPEG), and ``restore`` at its reading (and at that σ itself) is scored against
the clean image, beside the JPEG file itself.

    python benchmarks/bench_estimator_jpeg.py --threads 1 --estimators napari_hyperres/pretrained/denoise.estimator-8bit.safetensors runs/est_jpeg/denoise.estimator-8bit.jpeg30.safetensors
"""

from __future__ import annotations

from pathlib import Path

import common
import cv2
import numpy as np
from bench_by_brightness import camera_file

SIGMAS = (0.0, 5.0, 10.0, 15.0, 25.0)
QUALITIES = (80, 90, 95)
CAMERA = {"camera, mild": (0.003, 5e-5), "camera, strong": (0.01, 2e-4)}


def saved_as_jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` (uint8 ``(H, W)`` or RGB ``(H, W, 3)``) written as a JPEG file by OpenCV at ``quality`` and read back."""
    bgr = image[..., ::-1] if image.ndim == 3 else image
    ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        common.fail("OpenCV could not encode a JPEG")
    decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    return np.ascontiguousarray(decoded[..., ::-1] if decoded.ndim == 3 else decoded)


def white_file(clean: np.ndarray, sigma: float) -> np.ndarray:
    """``clean`` ([0, 1]) + σ·N(0, 1) on the 0–255 scale (numpy seed 0), rounded and clipped to uint8
    (σ 0: the clean image as an 8-bit file)."""
    return common.noisy_8bit_file(clean, sigma)


def main() -> None:
    parser = common.base_parser(__doc__, "bench_estimator_jpeg")
    parser.add_argument("--estimators", nargs="+", required=True, help="8-bit denoise estimator weights files to compare")
    parser.add_argument("--sigmas", type=float, nargs="+", default=list(SIGMAS), help="white noise σ before saving, 0–255 scale")
    parser.add_argument("--qualities", type=int, nargs="+", default=list(QUALITIES), help="JPEG qualities the files are saved at")
    parser.add_argument("--no-psnr", action="store_true", help="read levels only (no restorations)")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    from napari_hyperres.blind.estimate import estimate_level
    from napari_hyperres.engine import Restorer

    restorer = Restorer("denoise", device=args.device)
    cleans = []
    for name in ("Set12", "McMaster", "Set14"):
        for path in common.image_paths(args.data_root / "val" / name, 2 if args.quick else None):
            cleans.append(common.load_image(path))
    kinds = [(f"σ {sigma:g}", sigma, lambda clean, s=sigma: white_file(clean, s)) for sigma in args.sigmas]
    kinds += [(label, None, lambda clean, a=a, b=b: camera_file(clean, a, b)) for label, (a, b) in CAMERA.items()]
    rows = []
    for label, sigma, make in kinds:
        noisy = [make(clean) for clean in cleans]
        for quality in args.qualities:
            files = [saved_as_jpeg(image, quality) for image in noisy]
            row = [label, str(quality)]
            readings = []
            for weights in args.estimators:
                levels = np.array([estimate_level(f, "denoise", weights=weights, device=args.device) for f in files])
                readings.append(levels)
                error = "" if not sigma else f" ({100 * np.mean(np.abs(levels / sigma - 1)):.0f} %)"
                row.append(f"{np.mean(levels):.1f}{error}")
            if not args.no_psnr:
                row.append(common.fmt(np.mean([common.psnr(f / 255.0, c) for f, c in zip(files, cleans, strict=True)])))
                for levels in readings:
                    scores = [
                        common.psnr(restorer.restore(f, float(level)) / 255.0, c)
                        for f, level, c in zip(files, levels, cleans, strict=True)
                    ]
                    row.append(common.fmt(np.mean(scores)))
                if sigma is not None:
                    row.append(common.fmt(np.mean([common.psnr(restorer.restore(f, sigma) / 255.0, c) for f, c in zip(files, cleans, strict=True)])))
                else:
                    row.append("—")
            rows.append(row)
            print(" | ".join(row), flush=True)
    names = [common.weights_description(Path(w)) for w in args.estimators]
    count = len(names)
    headers = ["noise", "q"] + [f"read by {i + 1} (error)" for i in range(count)]
    if not args.no_psnr:
        headers += ["JPEG file dB"] + [f"restored at {i + 1}'s reading" for i in range(count)] + ["restored at the σ before saving"]
    report = common.Report(
        "σ estimator on noisy JPEG files",
        f"{len(cleans)} images (Set12, McMaster, Set14): mean level read (mean relative error against the σ before "
        "saving), and mean PSNR in dB of the file and of restorations at each reading; estimators numbered as listed.",
        args.device,
    )
    report.text("Estimators:\n\n" + "\n".join(f"{i + 1}. {n}" for i, n in enumerate(names)))
    report.table(headers, rows)
    report.emit(args)


if __name__ == "__main__":
    main()
