"""Colour JPEG files: dejpeg restoring luma only vs luma and chroma (4:2:0 chroma on its coded grid).

Every colour image of McMaster and Set14 is written as a real JPEG file by OpenCV (libjpeg,
4:2:0 chroma subsampling, its default, as cameras and browsers write) at each quality, read
back, and restored with the shipped ``dejpeg`` weights at the file's own quality: once with
chroma passed through (``Task.chroma="keep"``: what the plugin did before) and once with the
shipped task (``chroma="subsampled"``). PSNR on RGB (all channels, 0–255) and on Cb/Cr alone.

    python benchmarks/bench_colour_jpeg.py            # --quick: 2 images per set
"""

from __future__ import annotations

import dataclasses

import common
import numpy as np

QUALITIES = (10, 20, 30, 40)


def jpeg_file(pixels: np.ndarray, quality: int) -> np.ndarray:
    """``pixels`` uint8, RGB ``(H, W, 3)`` or gray ``(H, W)``, written as a JPEG (OpenCV's libjpeg,
    colour 4:2:0) and decoded again."""
    import cv2

    rgb = pixels.ndim == 3
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(pixels[..., ::-1] if rgb else pixels), [cv2.IMWRITE_JPEG_QUALITY, quality])
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
    args = parser.parse_args()
    common.setup_threads(args.threads)
    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.engine import Restorer

    shipped = Restorer("dejpeg", device=args.device)
    luma_only = Restorer(dataclasses.replace(get_task("dejpeg"), chroma="keep"), device=args.device, model=shipped.model)
    images = [
        (name, image) for name in ("McMaster", "Set14") for image in common.colour_images_8bit(args.data_root / "val" / name, 2 if args.quick else None)
    ]
    rows = []
    for quality in QUALITIES:
        scores = {key: [] for key in ("input", "luma", "both", "input_c", "luma_c", "both_c")}
        for _, clean in images:
            degraded = jpeg_file(clean, quality)
            luma, both = luma_only.restore(degraded, quality), shipped.restore(degraded, quality)
            for key, out in (("input", degraded), ("luma", luma), ("both", both)):
                scores[key].append(psnr255(out, clean))
                scores[key + "_c"].append(chroma_psnr(out.astype(np.float64), clean.astype(np.float64)))
        mean = {key: float(np.mean(values)) for key, values in scores.items()}
        rows.append([
            quality, len(images), common.fmt(mean["input"]), common.fmt(mean["luma"]), common.fmt(mean["both"]),
            common.fmt(mean["both"] - mean["luma"], signed=True),
            common.fmt(mean["input_c"]), common.fmt(mean["luma_c"]), common.fmt(mean["both_c"]),
        ])
    report = common.Report(
        "Colour JPEG files: luma only vs luma and chroma",
        "Mean PSNR (dB) over the colour images of McMaster and Set14, written as 4:2:0 JPEG files by OpenCV; "
        "shipped dejpeg weights at the file's quality.",
        args.device,
    )
    report.table(
        ["quality", "images", "JPEG RGB", "Y only RGB", "Y + CbCr RGB", "gain", "JPEG CbCr", "Y only CbCr", "Y + CbCr CbCr"],
        rows,
    )
    report.emit(args)


if __name__ == "__main__":
    main()
