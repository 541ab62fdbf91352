"""Colour JPEG files: dejpeg restoring luma only vs luma and chroma (4:2:0 chroma on its coded grid).

Every colour image of McMaster and Set14 is written as a real JPEG file by OpenCV (libjpeg,
4:2:0 chroma subsampling, its default, as cameras and browsers write) at each quality, read
back, and restored with the shipped ``dejpeg`` weights at the file's own quality: once with
chroma passed through (``Task.chroma="keep"``: what the plugin did before) and once with the
shipped task (``chroma="subsampled"``). PSNR on RGB (all channels, 0–255) and on Cb/Cr alone.
With ``--sampling 444`` the files are 4:4:4 (as high-quality exports write) and a third
restoration runs the chroma at full resolution (``chroma="full"``: what the CLI and the widget
choose for such a file, from its frame header).

    python benchmarks/bench_colour_jpeg.py            # --quick: 2 images per set
    python benchmarks/bench_colour_jpeg.py --sampling 444
"""

from __future__ import annotations

import dataclasses

import common
import numpy as np

QUALITIES = (10, 20, 30, 40)


def jpeg_file(pixels: np.ndarray, quality: int, sampling: str = "420") -> np.ndarray:
    """``pixels`` uint8, RGB ``(H, W, 3)`` or gray ``(H, W)``, written as a JPEG (OpenCV's libjpeg,
    colour 4:2:0 or ``sampling="444"``) and decoded again."""
    import cv2

    rgb = pixels.ndim == 3
    factor = cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444 if sampling == "444" else cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420
    params = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor]
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(pixels[..., ::-1] if rgb else pixels), params)
    if not ok:
        common.fail("OpenCV could not write a JPEG")
    if not rgb:
        return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1].copy()


def psnr255(a: np.ndarray, b: np.ndarray) -> float:
    return common.psnr(np.asarray(a, np.float64) / 255.0, np.asarray(b, np.float64) / 255.0)


def chroma_psnr(a: np.ndarray, b: np.ndarray) -> float:
    from napari_hyperres.core.color import rgb_to_ycbcr

    return common.psnr(rgb_to_ycbcr(a / 255.0)[..., 1:], rgb_to_ycbcr(b / 255.0)[..., 1:])


def main() -> None:
    parser = common.base_parser(__doc__, "bench_colour_jpeg")
    parser.add_argument("--sampling", choices=("420", "444"), default="420", help="the files' chroma sampling")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.engine import Restorer

    shipped = Restorer("dejpeg", device=args.device)
    luma_only = Restorer(dataclasses.replace(get_task("dejpeg"), chroma="keep"), device=args.device, model=shipped.model)
    full = shipped.with_task(dataclasses.replace(get_task("dejpeg"), chroma="full")) if args.sampling == "444" else None
    images = [
        (name, image) for name in ("McMaster", "Set14") for image in common.colour_images_8bit(args.data_root / "val" / name, 2 if args.quick else None)
    ]
    rows = []
    for quality in QUALITIES:
        kinds = ("input", "luma", "both") + (("full",) if full is not None else ())
        scores = {key + part: [] for key in kinds for part in ("", "_c")}
        for _, clean in images:
            degraded = jpeg_file(clean, quality, args.sampling)
            outputs = {"input": degraded, "luma": luma_only.restore(degraded, quality), "both": shipped.restore(degraded, quality)}
            if full is not None:
                outputs["full"] = full.restore(degraded, quality)
            for key, out in outputs.items():
                scores[key].append(psnr255(out, clean))
                scores[key + "_c"].append(chroma_psnr(out.astype(np.float64), clean.astype(np.float64)))
        mean = {key: float(np.mean(values)) for key, values in scores.items()}
        row = [quality, len(images), common.fmt(mean["input"]), common.fmt(mean["luma"]), common.fmt(mean["both"])]
        if full is not None:
            row += [common.fmt(mean["full"]), common.fmt(mean["full"] - mean["both"], signed=True)]
        else:
            row += [common.fmt(mean["both"] - mean["luma"], signed=True)]
        row += [common.fmt(mean["input_c"]), common.fmt(mean["luma_c"]), common.fmt(mean["both_c"])]
        rows.append(row + ([common.fmt(mean["full_c"])] if full is not None else []))
    report = common.Report(
        "Colour JPEG files: luma only vs luma and chroma",
        f"Mean PSNR (dB) over the colour images of McMaster and Set14, written as {'4:4:4' if full is not None else '4:2:0'} "
        "JPEG files by OpenCV; shipped dejpeg weights at the file's quality.",
        args.device,
    )
    if full is not None:
        headers = ["quality", "images", "JPEG RGB", "Y only RGB", "Y + CbCr 4:2:0 RGB", "Y + CbCr full RGB", "full − 4:2:0",
                   "JPEG CbCr", "Y only CbCr", "Y + CbCr 4:2:0 CbCr", "Y + CbCr full CbCr"]
    else:
        headers = ["quality", "images", "JPEG RGB", "Y only RGB", "Y + CbCr RGB", "gain", "JPEG CbCr", "Y only CbCr", "Y + CbCr CbCr"]
    report.table(headers, rows)
    report.emit(args)


if __name__ == "__main__":
    main()
