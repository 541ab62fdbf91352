"""Core costs: generating a level's network, restoring one image per preset, and kornia's JPEG vs OpenCV's.

(a) Time to generate the plain network for a new level (``HyperResNet.generate(c)``,
    k = c·w + b for every generated conv), µs, median of 50 levels never seen before,
    CPU, per preset (random-initialised networks: timing does not depend on the values).
(b) Time to restore one 512×512 RGB image (skimage's astronaut with σ 25 noise) per preset
    on the CPU in float32 and bfloat16 (``Restorer(precision=...)``; bfloat16 is fast only on CPUs
    with native bfloat16), median of 5 after one warm-up call; on CUDA too when a GPU is present, in
    float32 and float16, with the PSNR of each (and their difference).
(c) Mean PSNR against the clean image of OpenCV's real JPEG (libjpeg) and of kornia's
    differentiable JPEG at qualities 10/20/30/40/60/80 on classic5 (gray), and the gap.

    python benchmarks/bench_core.py [--quick] [--out benchmarks/results/bench_core.md]
    python benchmarks/bench_core.py --presets lite paper small --repeat 5 --weights-dir runs/

The restore timing uses ``denoise.<preset>`` weights when they exist (shipped or in
``--weights-dir``; then PSNR is meaningful), else random weights of the preset (PSNR "n/a").
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path

import common
import numpy as np

JPEG_QUALITIES = (10, 20, 30, 40, 60, 80)


def preset_model(preset: str, args, folder: Path):
    """``(HyperResNet, weights description, trained?)`` for ``denoise.<preset>``, random if none is found."""
    import torch

    from napari_hyperres.core.models.hyperres import HyperResNet, architecture_for
    from napari_hyperres.core.weights import load_model

    path = common.find_weights(f"denoise.{preset}", args.weights_dir)
    if path is not None:
        model, _ = load_model(path, task="denoise", kind="hyperres")
        return model, common.weights_description(path), True
    torch.manual_seed(0)
    return HyperResNet(architecture_for(preset, 3)).eval(), f"random {preset} (no denoise.{preset} weights)", False


def bench_generate(presets: list[str], count: int) -> list[list[str]]:
    """(a): µs to generate the network for ``count`` new levels, per preset (random weights)."""
    import torch

    from napari_hyperres.core.models.hyperres import HyperResNet, architecture_for

    rows = []
    for preset in presets:
        torch.manual_seed(0)
        model = HyperResNet(architecture_for(preset, 3)).eval()
        for c in (0.01, 0.02):  # warm-up: allocator, first conv construction
            model.generate(c)
        times = []
        for level in np.linspace(1.0, 99.0, count):
            c = float(level) / 255.0
            start = time.perf_counter()
            model.generate(c)
            times.append(time.perf_counter() - start)
        us = sorted(t * 1e6 for t in times)
        arch = model.arch
        generated = 2 * arch.blocks * (arch.features * arch.features * 9 + arch.features)
        rows.append([preset, f"{arch.features}×{arch.blocks}", f"{generated:,}", len(us), f"{common.median(us):.0f}", f"{us[int(0.9 * (len(us) - 1))]:.0f}"])
    return rows


def restore_once(model, device: str, precision: str, noisy: np.ndarray, repeat: int) -> tuple[list[float], np.ndarray]:
    """Seconds of ``repeat`` restores of ``noisy`` at σ 25 after one warm-up, and the output."""
    from napari_hyperres.engine import Restorer

    restorer = Restorer("denoise", device=device, model=model, precision=precision)
    out: dict[str, np.ndarray] = {}

    def run() -> None:
        out["x"] = restorer.restore(noisy, 25.0, value_range=(0.0, 1.0))
        if restorer.device.type == "cuda":
            import torch

            torch.cuda.synchronize()

    times = common.timed(run, repeat, warmup=1)
    restorer.release()
    return times, out["x"]


def bench_restore(presets: list[str], args, size: int, repeat: int, folder: Path) -> tuple[list[list[str]], list[list[str]], list[str]]:
    """(b): CPU rows, CUDA rows (empty without a GPU) and notes."""
    import torch
    from skimage import data

    clean = common.center_crop(data.astronaut().astype(np.float32) / 255.0, size)
    noisy = common.add_noise(clean, 25.0, seed=0)
    megapixels = clean.shape[0] * clean.shape[1] / 1e6
    cpu_rows, cuda_rows, notes = [], [], []
    for preset in presets:
        model, described, trained = preset_model(preset, args, folder)
        for precision in ("float32", "bfloat16"):  # bfloat16: fast on CPUs with native bfloat16 only (emulated elsewhere)
            times, out = restore_once(copy.deepcopy(model), "cpu", precision, noisy, repeat)
            ms = common.median(times) * 1000
            cpu_rows.append([
                preset, described, precision, f"{clean.shape[0]}×{clean.shape[1]}×3", len(times), f"{ms:.0f}",
                f"{megapixels / (ms / 1000):.3f}", common.fmt(common.psnr(out, clean)) if trained else "n/a (random weights)",
            ])
        if torch.cuda.is_available() and not args.no_cuda:
            t32, out32 = restore_once(copy.deepcopy(model), "cuda", "float32", noisy, repeat)
            t16, out16 = restore_once(copy.deepcopy(model), "cuda", "float16", noisy, repeat)
            p32, p16 = common.psnr(out32, clean), common.psnr(out16, clean)
            cuda_rows.append([
                preset, described, f"{common.median(t32) * 1000:.1f}", f"{common.median(t16) * 1000:.1f}",
                f"{common.median(t32) / common.median(t16):.2f}×",
                common.fmt(p32) if trained else "n/a", common.fmt(p16) if trained else "n/a",
                common.fmt(p16 - p32, 3, signed=True), f"{float(np.max(np.abs(out16 - out32))):.2e}",
            ])
    if not torch.cuda.is_available():
        notes.append("No CUDA device on this machine: the GPU rows (fp32/fp16 timing and PSNR difference) were not measured.")
    notes.append(f"Input: skimage `astronaut` (RGB), {clean.shape[0]}×{clean.shape[1]}, σ 25 noise (seed 0, unclipped, float32, `value_range=(0, 1)`); PSNR on all channels, output clipped to [0, 1].")
    notes.append("Times include the engine's intensity mapping and tensor conversions, not the network generation (done in the warm-up call).")
    return cpu_rows, cuda_rows, notes


def bench_jpeg(folder: Path, qualities: tuple[int, ...], limit: int | None, crop: int | None) -> tuple[list[list[str]], int]:
    """(c): per quality, mean PSNR of OpenCV and kornia JPEG on gray images, and the gap."""
    from napari_hyperres.core.degradations import jpeg_compress, jpeg_compress_kornia

    images = [common.center_crop(common.load_image(p, "gray"), crop) for p in common.image_paths(folder, limit)]
    rows = []
    for q in qualities:
        real, diff = [], []
        for clean in images:
            t = common.to_tensor(clean)
            real.append(common.psnr(common.to_array(jpeg_compress(t, q)), clean))
            diff.append(common.psnr(common.to_array(jpeg_compress_kornia(t, q)), clean))
        r, k = float(np.mean(real)), float(np.mean(diff))
        rows.append([q, common.fmt(r), common.fmt(k), common.fmt(k - r, signed=True)])
    return rows, len(images)


def main() -> None:
    parser = common.base_parser(__doc__, "bench_core")
    parser.add_argument("--presets", nargs="+", default=["lite", "paper"], help="HyperRes presets (default: lite paper)")
    parser.add_argument("--size", type=int, default=None, help="restore image edge (default 512; --quick 128)")
    parser.add_argument("--repeat", type=int, default=None, help="timed restores per preset (default 5; --quick 2)")
    parser.add_argument("--levels", type=int, default=None, help="new levels generated per preset (default 50; --quick 10)")
    parser.add_argument("--no-cuda", action="store_true", help="skip the CUDA rows even when a GPU is present")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    size = args.size or (128 if args.quick else 512)
    repeat = args.repeat or (2 if args.quick else 5)
    levels = args.levels or (10 if args.quick else 50)
    qualities = (10, 40) if args.quick else JPEG_QUALITIES
    classic5 = args.data_root / "val" / "classic5"
    common.image_paths(classic5)  # fail now, not after (a) and (b), when the data are missing

    report = common.Report("Core costs", "Network generation per level, restore time per preset, and kornia-vs-OpenCV JPEG.", "cpu")
    report.section("(a) Generating the network for a new level (CPU)",
                   "`HyperResNet.generate(c)` for levels never seen before (k = c·w + b for every generated conv, stacked per level as `KernelBlocks`); "
                   "random-initialised networks (timing does not depend on the values).")
    report.table(["preset", "features×blocks", "generated parameters", "levels", "median µs", "p90 µs"], bench_generate(args.presets, levels))

    with tempfile.TemporaryDirectory() as tmp:
        cpu_rows, cuda_rows, notes = bench_restore(args.presets, args, size, repeat, Path(tmp))
    report.section("(b) Restoring one RGB image (denoise, σ 25)")
    report.table(["preset", "weights", "precision", "image", "timed runs", "CPU median ms", "MP/s", "PSNR dB"], cpu_rows)
    if cuda_rows:
        report.table(["preset", "weights", "CUDA fp32 ms", "CUDA fp16 ms", "fp16 speed-up", "PSNR fp32", "PSNR fp16", "Δ dB (fp16 − fp32)", "max abs diff"], cuda_rows)
    report.notes(notes)

    jpeg_rows, count = bench_jpeg(classic5, qualities, 2 if args.quick else None, 128 if args.quick else None)
    report.section(
        "(c) kornia's differentiable JPEG vs OpenCV's libjpeg (classic5, gray)",
        f"Mean PSNR of the compressed image against the clean one over {count} images "
        "(`jpeg_compress` = OpenCV encode/decode; `jpeg_compress_kornia` = kornia's `jpeg_codec_differentiable`, a gray image "
        "run as a gray RGB and averaged back). Positive gap: kornia degrades less than a real encoder at the same quality.",
    )
    report.table(["quality", "OpenCV PSNR dB", "kornia PSNR dB", "gap dB (kornia − OpenCV)"], jpeg_rows)
    report.emit(args)


if __name__ == "__main__":
    main()
