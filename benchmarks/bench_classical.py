"""HyperRes denoising vs the classical methods: throughput (megapixels/s) and PSNR, in one run.

Methods, on Set12 (gray) and McMaster (colour) at σ 15/25/50 (``--datasets unseen-gray
unseen-colour``: scikit-image's bundled pictures, which nothing was trained or tuned on;
``benchmarks/unseen.py``):

- **HyperRes** ``denoise`` (shipped ``denoise.lite``, or ``--weights``) through the engine,
  given the noisy float image unclipped (``value_range=(0, 1)``), at the true σ.
- **BM3D** (``bm3d`` package): ``bm3d.bm3d(noisy, sigma_psd=σ/255)`` for gray,
  ``bm3d.bm3d_rgb(noisy, sigma_psd=σ/255)`` for colour (its default opponent colour space).
- **OpenCV non-local means**: ``cv2.fastNlMeansDenoising`` (gray) /
  ``cv2.fastNlMeansDenoisingColored`` (colour, BGR order), template 7, search 21,
  ``h = hColor = --nlm-h-factor · σ`` (default 0.9·σ, in 8-bit units).

Protocol: seed 0 per image, ``noisy = clean + σ/255·N(0,1)`` (float, unclipped; gray images
get one noise plane). BM3D gets the noisy image clipped to [0, 1] (float); OpenCV needs
uint8, so it gets ``round(clip(noisy, 0, 1)·255)``. PSNR on all channels, outputs clipped
to [0, 1], no border. Times are per image, the method's call only (no I/O, no PSNR); the
HyperRes network for each σ is generated in an untimed warm-up call.

    python benchmarks/bench_classical.py [--quick] [--out benchmarks/results/bench_classical.md]
    python benchmarks/bench_classical.py --max-images 4 --sigmas 25 --weights denoise.mine.safetensors

``--quick`` = 2 images per set, σ 25 only, centre crops of 128×128 (checks the script runs).

``--uint8``: what noisy 8-bit *files* hold instead: ``round(clip(clean·255 + σ·N(0,1), 0, 255))``
as uint8 (same seed). HyperRes restores that uint8 array as a user's file (its own dtype handling,
uint8 out); BM3D gets it as float ``/255`` at the true σ and its output is rounded to 8 bits like
any saved file; OpenCV gets the uint8 array. The clean reference is the 8-bit original.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import common
import numpy as np

SIGMAS = (15.0, 25.0, 50.0)
DATASETS = {"Set12": "gray", "McMaster": "rgb", "unseen-gray": "gray", "unseen-colour": "rgb"}
"""Set name → channels; ``unseen-*`` come from :mod:`unseen`, the others from ``DATA_ROOT/val/NAME``."""
METHODS = ("HyperRes", "BM3D", "OpenCV NLM")


@dataclass
class Tally:
    """Per method: PSNRs, seconds and megapixels over the images of one (set, σ)."""

    psnr: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in ("input", *METHODS)})
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(METHODS, 0.0))
    megapixels: float = 0.0


def run_hyperres(restorer, noisy: np.ndarray, sigma: float) -> np.ndarray:
    if noisy.dtype == np.uint8:  # an 8-bit file: the engine's own dtype handling, uint8 out
        return restorer.restore(noisy, sigma).astype(np.float32) / 255.0
    return restorer.restore(noisy, sigma, value_range=(0.0, 1.0))


def as_float(image: np.ndarray) -> np.ndarray:
    """Float in [0, 1]: uint8 divided by 255, float unchanged."""
    return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image


def run_bm3d(noisy: np.ndarray, sigma: float) -> np.ndarray:
    import bm3d

    clipped = np.clip(as_float(noisy), 0, 1)
    out = bm3d.bm3d_rgb(clipped, sigma_psd=sigma / 255.0) if clipped.ndim == 3 else bm3d.bm3d(clipped, sigma_psd=sigma / 255.0)
    if noisy.dtype == np.uint8:  # saved as an 8-bit file, like the other methods' outputs
        out = np.round(np.clip(out, 0, 1) * 255) / 255.0
    return out


def run_nlm(noisy: np.ndarray, sigma: float, factor: float) -> np.ndarray:
    import cv2

    h = float(factor * sigma)
    u8 = noisy if noisy.dtype == np.uint8 else np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)
    if u8.ndim == 3:
        bgr = cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(u8[..., ::-1]), None, h, h, 7, 21)
        return bgr[..., ::-1].astype(np.float32) / 255.0
    return cv2.fastNlMeansDenoising(u8, None, h, 7, 21).astype(np.float32) / 255.0


def load_set(name: str, data_root, limit: int | None, crop: int | None) -> list[np.ndarray]:
    """The clean images of one set, float32 in ``[0, 1]`` (``(H, W)`` gray, ``(H, W, 3)`` RGB),
    centre-cropped to ``crop`` when given."""
    if name.startswith("unseen-"):
        import unseen

        images = [image.astype(np.float32) / 255.0 for _, image in unseen.unseen_images(name.removeprefix("unseen-"), limit)]
    else:
        images = [common.load_image(p, DATASETS[name]) for p in common.image_paths(data_root / "val" / name, limit)]
    return [common.center_crop(image, crop) for image in images]


def clock(fn, *args) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = common.base_parser(__doc__, "bench_classical")
    parser.add_argument("--weights", default=None, help="HyperRes denoise weights file (default: denoise.lite from --weights-dir or shipped)")
    parser.add_argument("--max-images", type=int, default=None, help="first N images of each set (default: all; --quick 2)")
    parser.add_argument("--sigmas", type=float, nargs="+", default=None, help="noise levels (default 15 25 50; --quick 25)")
    parser.add_argument("--crop", type=int, default=None, help="centre crop edge in pixels (default: whole images; --quick 128; 0 = none)")
    parser.add_argument("--nlm-h-factor", type=float, default=0.9, help="OpenCV NLM filter strength h = factor·σ (default 0.9)")
    parser.add_argument("--datasets", nargs="+", default=["Set12", "McMaster"], choices=list(DATASETS))
    parser.add_argument("--uint8", action="store_true", help="noisy 8-bit files (rounded, clipped) instead of float noise")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    limit = args.max_images or (2 if args.quick else None)
    sigmas = args.sigmas or ([25.0] if args.quick else list(SIGMAS))
    crop = args.crop if args.crop is not None else (128 if args.quick else None)
    weights = common.require_weights(["denoise.lite"], args.weights_dir, {"denoise.lite": args.weights})["denoise.lite"]

    import cv2
    import torch

    from napari_hyperres.engine import Restorer

    for name in args.datasets:  # fail before any work when a set is missing
        if not name.startswith("unseen-"):
            common.image_paths(args.data_root / "val" / name)
    restorer = Restorer("denoise", weights=str(weights), device=args.device)
    tallies: dict[tuple[str, float], Tally] = {}
    sizes: dict[str, str] = {}
    for name, channels in DATASETS.items():
        if name not in args.datasets:
            continue
        images = load_set(name, args.data_root, limit, crop)
        sizes[name] = f"{len(images)} images, {'gray' if channels == 'gray' else 'RGB'}, " + ", ".join(sorted({f"{i.shape[0]}×{i.shape[1]}" for i in images}))
        for sigma in sigmas:
            tally = tallies.setdefault((name, sigma), Tally())
            restorer.restore(common.add_noise(images[0][:64, :64], sigma), sigma, value_range=(0.0, 1.0))  # warm-up: generate σ's network
            for clean in images:
                noisy = common.noisy_8bit_file(clean, sigma) if args.uint8 else common.add_noise(clean, sigma, seed=0)
                outputs = {}
                outputs["HyperRes"], s = clock(run_hyperres, restorer, noisy, sigma)
                tally.seconds["HyperRes"] += s
                outputs["BM3D"], s = clock(run_bm3d, noisy, sigma)
                tally.seconds["BM3D"] += s
                outputs["OpenCV NLM"], s = clock(run_nlm, noisy, sigma, args.nlm_h_factor)
                tally.seconds["OpenCV NLM"] += s
                tally.megapixels += clean.shape[0] * clean.shape[1] / 1e6
                tally.psnr["input"].append(common.psnr(as_float(noisy), clean))
                for method, out in outputs.items():
                    tally.psnr[method].append(common.psnr(out, clean))
                print(f"{name} σ{sigma:g}: {len(tally.psnr['input'])}/{len(images)}", flush=True, file=sys.stderr)

    report = common.Report(
        "HyperRes vs classical denoisers",
        "Throughput and PSNR of HyperRes `denoise`, BM3D and OpenCV non-local means, all measured in this run.",
        args.device,
    )
    report.text(f"HyperRes weights: {common.weights_description(weights)}")
    rows, ratio_rows = [], []
    for (name, sigma), tally in tallies.items():
        mean = {m: float(np.mean(v)) for m, v in tally.psnr.items()}
        speed = {m: tally.megapixels / max(tally.seconds[m], 1e-9) for m in METHODS}
        for method in METHODS:
            rows.append([name, f"{sigma:g}", method, common.fmt(mean["input"]), common.fmt(mean[method]),
                         common.fmt(mean[method] - mean["BM3D"], signed=True), f"{speed[method]:.3f}",
                         f"{speed[method] / speed['BM3D']:.1f}×"])
        ratio_rows.append([name, f"{sigma:g}", f"{speed['HyperRes'] / speed['BM3D']:.1f}×", f"{speed['OpenCV NLM'] / speed['BM3D']:.1f}×",
                           common.fmt(mean["HyperRes"] - mean["BM3D"], signed=True), common.fmt(mean["OpenCV NLM"] - mean["BM3D"], signed=True)])
    report.section("PSNR and throughput per method")
    report.table(["set", "σ", "method", "input PSNR dB", "PSNR dB", "Δ vs BM3D dB", "MP/s", "speed vs BM3D"], rows)
    report.section("Summary: speed ratio and PSNR delta against BM3D")
    report.table(["set", "σ", "HyperRes speed ÷ BM3D", "NLM speed ÷ BM3D", "HyperRes − BM3D dB", "NLM − BM3D dB"], ratio_rows)
    report.notes([
        *(f"{name}: {text}" for name, text in sizes.items()),
        "Noise (--uint8): 8-bit files, round(clip(clean·255 + σ·N(0,1), 0, 255)) as uint8, numpy seed 0 per image; HyperRes restores "
        "the uint8 array (uint8 out), BM3D gets it /255 at the true σ and its output is rounded to 8 bits, OpenCV gets the uint8 array."
        if args.uint8 else
        "Noise: seed 0 per image, clean + σ/255·N(0,1), float, unclipped (the project's denoise protocol). "
        "HyperRes gets it unclipped; BM3D gets it clipped to [0, 1] (float); OpenCV gets round(clip(noisy)·255) as uint8.",
        f"OpenCV NLM: h = hColor = {args.nlm_h_factor:g}·σ (8-bit units), templateWindowSize 7, searchWindowSize 21; colour via "
        "fastNlMeansDenoisingColored (CIELAB inside OpenCV), gray via fastNlMeansDenoising.",
        "BM3D: `bm3d` package, profile 'np', σ given as sigma_psd = σ/255 (the true σ for every method); colour via bm3d_rgb (opponent colour space).",
        "MP/s = image megapixels ÷ seconds in the method's call, summed over the images of the row; speed ratios are MP/s ÷ BM3D's MP/s.",
        f"Threads: torch {torch.get_num_threads()}, OpenCV {cv2.getNumThreads()}; BM3D runs its own (compiled) code.",
    ])
    report.emit(args)


if __name__ == "__main__":
    main()
