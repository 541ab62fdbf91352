"""Accuracy of the level estimators, and what restoring at the estimated level costs in PSNR.

- **denoise**: σ ∈ {5, 10, 15, 25, 35, 50, 65, 75} on Set12 (gray; noise seed 0, unclipped,
  given with ``value_range=(0, 1)``): mean relative error (%) and mean abs error (σ) of
  ``estimate_level(noisy, "denoise")``, and of ``skimage.restoration.estimate_sigma`` (wavelet
  MAD) on the same images in the same run.
- **dejpeg**: quality ∈ {10, 20, 30, 40, 60, 80} on classic5 (gray, OpenCV encoder):
  mean abs error of the estimator on the decoded uint8 arrays; and on the ``.jpg`` files
  themselves via their quantisation tables (``read_jpeg_quality``): how many are exact.
- **sr**: scale ∈ {2, 2.5, 3, 4} on Set14: mean abs error of the estimator on the bicubic
  down-and-up image (what it is trained on, ``task.degrade``) and on the low-resolution
  image (what ``restore(..., "auto")`` and the CLI's ``--level auto`` give it).
- **PSNR loss**: restoring at the estimated level vs the true level — denoise on Set12 at
  σ 15/25/50, dejpeg on classic5 at q 10/20/30/40 (estimator on the decoded array; the
  quantisation tables give the true quality, so their loss is 0 whenever they are exact).

    python benchmarks/bench_estimator.py [--quick] [--out benchmarks/results/bench_estimator.md]
    python benchmarks/bench_estimator.py --tasks denoise dejpeg --weights-dir runs/

Weights: ``<task>.estimator`` and, for the PSNR loss, ``denoise.lite`` / ``dejpeg.lite``
(``--weights-dir`` or shipped); missing ones end the script with their names.
``--quick``: 2 images per set, two levels per task, 128×128 centre crops.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import common
import numpy as np

DENOISE_SIGMAS = (5, 10, 15, 25, 35, 50, 65, 75)
JPEG_QUALITIES = (10, 20, 30, 40, 60, 80)
SR_SCALES = (2.0, 2.5, 3.0, 4.0)
LOSS_SIGMAS = (15, 25, 50)
LOSS_QUALITIES = (10, 20, 30, 40)


def jpeg_bytes(clean: np.ndarray, quality: int) -> bytes:
    """OpenCV (libjpeg) JPEG file bytes of a gray float image."""
    import cv2

    ok, buf = cv2.imencode(".jpg", np.round(np.clip(clean, 0, 1) * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        common.fail("OpenCV could not encode a JPEG")
    return buf.tobytes()


def decode(data: bytes) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)


def bench_denoise(images, sigmas, weights: Path, device: str) -> list[list[str]]:
    from skimage.restoration import estimate_sigma

    from napari_hyperres.blind.estimate import estimate_level

    rows = []
    for sigma in sigmas:
        net, wav, t_net, t_wav = [], [], 0.0, 0.0
        for clean in images:
            noisy = common.add_noise(clean, sigma, seed=0)
            start = time.perf_counter()
            net.append(estimate_level(noisy, "denoise", weights=str(weights), device=device, value_range=(0.0, 1.0)))
            t_net += time.perf_counter() - start
            start = time.perf_counter()
            wav.append(float(estimate_sigma(noisy)) * 255.0)
            t_wav += time.perf_counter() - start
        net_a, wav_a = np.array(net), np.array(wav)
        rows.append([sigma, common.fmt(net_a.mean()), common.fmt(100 * np.mean(np.abs(net_a - sigma)) / sigma, 1), common.fmt(np.mean(np.abs(net_a - sigma))),
                     common.fmt(wav_a.mean()), common.fmt(100 * np.mean(np.abs(wav_a - sigma)) / sigma, 1), common.fmt(np.mean(np.abs(wav_a - sigma))),
                     f"{1000 * t_net / len(images):.0f} / {1000 * t_wav / len(images):.0f}"])
    return rows


def bench_dejpeg(images, qualities, weights: Path, device: str, folder: Path) -> list[list[str]]:
    from napari_hyperres.blind.estimate import estimate_level
    from napari_hyperres.core.jpeg_quality import read_jpeg_quality

    rows = []
    for q in qualities:
        errors, exact, table_errors = [], 0, []
        for i, clean in enumerate(images):
            data = jpeg_bytes(clean, q)
            errors.append(abs(estimate_level(decode(data), "dejpeg", weights=str(weights), device=device) - q))
            path = folder / f"image{i}_q{q}.jpg"
            path.write_bytes(data)
            found = read_jpeg_quality(path)
            exact += int(found.quality == q and found.exact)
            table_errors.append(abs(found.quality - q))
        rows.append([q, common.fmt(float(np.mean(errors))), common.fmt(float(np.max(errors))), common.fmt(float(np.mean(table_errors))), f"{exact}/{len(images)}"])
    return rows


def bench_sr(images, scales, weights: Path, device: str) -> list[list[str]]:
    from napari_hyperres.blind.estimate import estimate_level
    from napari_hyperres.core.plugins import get_task

    task = get_task("sr")
    rows = []
    for scale in scales:
        up, low = [], []
        for clean in images:
            t = common.to_tensor(clean)
            down_up = common.to_array(task.degrade(t, scale))
            small = common.to_array(task.simulate_input(t, scale))
            up.append(estimate_level(down_up, "sr", weights=str(weights), device=device, value_range=(0.0, 1.0)))
            low.append(estimate_level(small, "sr", weights=str(weights), device=device, value_range=(0.0, 1.0)))
        rows.append([f"{scale:g}", common.fmt(float(np.mean(up))), common.fmt(float(np.mean(np.abs(np.array(up) - scale)))),
                     common.fmt(float(np.mean(low))), common.fmt(float(np.mean(np.abs(np.array(low) - scale))))])
    return rows


def bench_loss(task_name: str, images, levels, restorer_weights: Path, estimator: Path, device: str) -> list[list[str]]:
    """PSNR at the true level vs at the estimated level (mean over images), per level."""
    from napari_hyperres.blind.estimate import estimate_level
    from napari_hyperres.engine import Restorer

    restorer = Restorer(task_name, weights=str(restorer_weights), device=device)
    rows = []
    for level in levels:
        true_p, est_p, inp_p, estimates = [], [], [], []
        for clean in images:
            if task_name == "denoise":
                degraded = common.add_noise(clean, level, seed=0)
                guess = estimate_level(degraded, task_name, weights=str(estimator), device=device, value_range=(0.0, 1.0))
            else:
                decoded = decode(jpeg_bytes(clean, level))
                guess = estimate_level(decoded, task_name, weights=str(estimator), device=device)
                degraded = decoded.astype(np.float32) / 255.0
            estimates.append(guess)
            inp_p.append(common.psnr(degraded, clean))
            true_p.append(common.psnr(restorer.restore(degraded, level, value_range=(0.0, 1.0)), clean))
            est_p.append(common.psnr(restorer.restore(degraded, guess, value_range=(0.0, 1.0)), clean))
        t, e = float(np.mean(true_p)), float(np.mean(est_p))
        rows.append([task_name, level, common.fmt(float(np.mean(estimates))), common.fmt(float(np.mean(inp_p))), common.fmt(t), common.fmt(e), common.fmt(e - t, 3, signed=True)])
        restorer.release()
    return rows


def main() -> None:
    parser = common.base_parser(__doc__, "bench_estimator")
    parser.add_argument("--tasks", nargs="+", default=["denoise", "dejpeg", "sr"], choices=["denoise", "dejpeg", "sr"])
    parser.add_argument("--max-images", type=int, default=None, help="first N images of each set (default: all; --quick 2)")
    parser.add_argument("--crop", type=int, default=None, help="centre crop edge (default: whole images; --quick 128; 0 = none)")
    parser.add_argument("--no-loss", action="store_true", help="skip the PSNR-loss section (no restoration networks needed)")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    limit = args.max_images or (2 if args.quick else None)
    crop = args.crop if args.crop is not None else (128 if args.quick else None)
    needed = [f"{t}.estimator" for t in args.tasks] + ([] if args.no_loss else [f"{t}.lite" for t in args.tasks if t in ("denoise", "dejpeg")])
    weights = common.require_weights(needed, args.weights_dir)
    val = args.data_root / "val"
    sets = {"denoise": "Set12", "dejpeg": "classic5", "sr": "Set14"}
    for task in args.tasks:  # fail before any work when a set is missing
        common.image_paths(val / sets[task])

    def load(name: str, channels: str) -> list[np.ndarray]:
        return [common.center_crop(common.load_image(p, channels), crop) for p in common.image_paths(val / name, limit)]

    report = common.Report("Level estimators", "Accuracy of each task's level estimator, and the PSNR cost of restoring at the estimated level.", args.device)
    report.text("Weights:\n\n" + "\n".join(f"- {common.weights_description(p)}" for p in weights.values()))
    loss_rows = []
    if "denoise" in args.tasks:
        set12 = load("Set12", "gray")
        sigmas = (15, 50) if args.quick else DENOISE_SIGMAS
        report.section(f"denoise: σ on Set12 ({len(set12)} images, gray)",
                       "Noise: seed 0, clean + σ/255·N(0,1), unclipped; both estimators see the same float image "
                       "(the network with `value_range=(0, 1)`; skimage's `estimate_sigma` (wavelet MAD) ×255). "
                       "The network's ms include loading the estimator weights, which `estimate_level` does on every call.")
        report.table(["true σ", "estimator mean σ", "rel. error %", "abs error σ", "skimage mean σ", "skimage rel. error %", "skimage abs error σ", "ms per image (net / skimage)"],
                     bench_denoise(set12, sigmas, weights["denoise.estimator"], args.device))
        if not args.no_loss:
            loss_rows += bench_loss("denoise", set12, (25,) if args.quick else LOSS_SIGMAS, weights["denoise.lite"], weights["denoise.estimator"], args.device)
    if "dejpeg" in args.tasks:
        classic5 = load("classic5", "gray")
        qualities = (10, 40) if args.quick else JPEG_QUALITIES
        with tempfile.TemporaryDirectory() as tmp:
            rows = bench_dejpeg(classic5, qualities, weights["dejpeg.estimator"], args.device, Path(tmp))
        report.section(f"dejpeg: quality on classic5 ({len(classic5)} images, gray, OpenCV encoder)")
        report.table(["true q", "estimator mean abs error (decoded array)", "estimator max abs error", "quantisation tables mean abs error (.jpg file)", "tables exact"], rows)
        if not args.no_loss:
            loss_rows += bench_loss("dejpeg", classic5, (20,) if args.quick else LOSS_QUALITIES, weights["dejpeg.lite"], weights["dejpeg.estimator"], args.device)
    if "sr" in args.tasks:
        set14 = load("Set14", "rgb")
        scales = (2.0, 3.0) if args.quick else SR_SCALES
        report.section(f"sr: scale on Set14 ({len(set14)} images, RGB; gray images replicated)",
                       "Estimated on the bicubic down-and-up image (the estimator's training input, `task.degrade`) and on the "
                       "low-resolution image itself (`task.make_input`: what a user's file is, and what `restore(low, \"sr\", \"auto\")` estimates on).")
        report.table(["true scale", "mean estimate (down-up)", "abs error (down-up)", "mean estimate (low-res)", "abs error (low-res)"],
                     bench_sr(set14, scales, weights["sr.estimator"], args.device))
    if loss_rows:
        report.section("PSNR at the estimated level vs the true level",
                       "Mean over images; PSNR on all channels (gray sets), output clipped to [0, 1]. dejpeg: the estimator runs on the "
                       "decoded uint8 array; a `.jpg` file's quantisation tables give the exact quality (loss 0 when exact, see above).")
        report.table(["task", "true level", "mean estimate", "input PSNR dB", "PSNR @ true dB", "PSNR @ estimate dB", "Δ dB (estimate − true; negative = loss)"], loss_rows)
    report.emit(args)


if __name__ == "__main__":
    main()
