"""Super-resolution of low-resolution images made by the common downscalers, not only the task's.

``sr`` is trained and scored (Set14, the papers' protocol) on images downscaled with antialiased
bicubic, as MATLAB's ``imresize`` makes them. Users' low-resolution images come from elsewhere:
a sensor's larger pixels (area averaging, ``cv2.INTER_AREA``) or ``cv2.resize``'s default
bilinear and its bicubic, which do not antialias when they shrink. Each colour Set14 image
(cropped to a multiple of the scale) is made low-resolution those four ways, enlarged by plain
bicubic (OpenCV) and by each given ``sr`` network, and scored on luma with the task's border
(``trainer.metrics.score``, as ``trainer eval``).

    python benchmarks/bench_sr_downscalers.py --threads 1
    python benchmarks/bench_sr_downscalers.py --weights sr.lite runs/sr_r3/sr.lite.safetensors
"""

from __future__ import annotations

import common
import numpy as np

SCALES = (2, 3, 4)
DOWNSCALERS = {
    "antialiased bicubic (the task's)": None,
    "area (cv2.INTER_AREA)": "INTER_AREA",
    "bilinear (cv2.INTER_LINEAR)": "INTER_LINEAR",
    "bicubic (cv2.INTER_CUBIC)": "INTER_CUBIC",
}


def low_resolution(clean: np.ndarray, scale: int, downscaler: str | None, task) -> np.ndarray:
    """``clean`` uint8 ``(H, W, 3)`` (H, W multiples of ``scale``) → uint8 ``(H/s, W/s, 3)``: the
    task's own input maker (``downscaler`` None) or ``cv2.resize`` with that interpolation."""
    import cv2

    if downscaler is None:
        import torch

        tensor = torch.from_numpy(clean.astype(np.float32) / 255).permute(2, 0, 1)[None]
        low = task.make_input(tensor, float(scale)).clamp(0, 1)[0].permute(1, 2, 0).numpy()
        return np.round(low * 255).astype(np.uint8)
    h, w = clean.shape[:2]
    return cv2.resize(clean, (w // scale, h // scale), interpolation=getattr(cv2, downscaler))


def luma_psnr(restored: np.ndarray, clean: np.ndarray, task, scale: int) -> float:
    import torch

    from trainer.metrics import score

    def tensor(a):
        return torch.from_numpy(a.astype(np.float32) / 255).permute(2, 0, 1)[None]

    return score(tensor(restored), tensor(clean), task, scale)["psnr"]


def main() -> None:
    parser = common.base_parser(__doc__, "bench_sr_downscalers")
    parser.add_argument("--weights", nargs="+", default=["sr.lite"], help="sr weights: shipped names or files (default: sr.lite)")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    from pathlib import Path

    import cv2

    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.engine import Restorer

    task = get_task("sr")
    files = {name: Path(name) if Path(name).is_file() else common.find_weights(name, args.weights_dir) for name in args.weights}
    missing = [name for name, path in files.items() if path is None]
    if missing:
        common.fail(f"no weights file for {', '.join(missing)}: give a file or a shipped name such as sr.lite")
    restorers = {name: Restorer("sr", weights=str(path), device=args.device) for name, path in files.items()}
    images = common.colour_images_8bit(args.data_root / "val" / "Set14", 2 if args.quick else None)
    if args.quick:
        images = [image[:96, :96] for image in images]
    rows = []
    for scale in SCALES:
        for label, downscaler in DOWNSCALERS.items():
            scores: dict[str, list[float]] = {"bicubic": [], **{name: [] for name in restorers}}
            for image in images:
                h, w = (s - s % scale for s in image.shape[:2])
                clean = np.ascontiguousarray(image[:h, :w])
                low = low_resolution(clean, scale, downscaler, task)
                scores["bicubic"].append(luma_psnr(cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC), clean, task, scale))
                for name, restorer in restorers.items():
                    scores[name].append(luma_psnr(restorer.restore(low, scale), clean, task, scale))
            bicubic = float(np.mean(scores["bicubic"]))
            cells = []
            for name in restorers:
                gains = np.array(scores[name]) - np.array(scores["bicubic"])
                cells += [common.fmt(float(np.mean(scores[name]))), common.fmt(float(gains.mean()), signed=True), common.fmt(float(gains.min()), signed=True)]
            rows.append([f"×{scale}", label, common.fmt(bicubic), *cells])
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
    headers = ["scale", "low-resolution image made by", "bicubic up"]
    for name in restorers:
        headers += [f"{name}", "vs bicubic", "worst image vs bicubic"]
    report = common.Report(
        "sr on low-resolution images from the common downscalers",
        f"Mean luma PSNR (dB, border ⌈s⌉) over the {len(images)} colour Set14 images; 'bicubic up' is OpenCV's "
        "INTER_CUBIC enlargement of the same low-resolution image; 'worst image' is the lowest per-image gain.",
        args.device,
    )
    report.table(headers, rows)
    report.notes([f"{name}: {common.weights_description(path)}" for name, path in files.items()])
    report.emit(args)


if __name__ == "__main__":
    main()
