"""Shipped networks in float32 against bfloat16 (``Restorer(precision=...)``) where no
``python -m trainer eval`` table covers them: the PSNR of each on the same inputs and the
difference per image.

- ``microscopy``: real W2S widefield frames (every 6th field of view × 3 channels, 30 frames,
  ``level="auto"``), PSNR after bench_w2s's affine brightness fit to the 400-frame average;
- ``auto`` (HAIR, no level): the first 6 Set12 and 3 McMaster images with σ 25 noise (clipped
  to [0, 1]) and as OpenCV JPEG q 20, each restored with the image choosing its weights;
- ``speed``: what ``precision="auto"`` chooses on this CPU and why: the timed speed-up it reads
  (``cpu_bfloat16_speedup``, timed afresh each time), then a 512² Set12 image and a 500² McMaster
  image with σ 25 noise restored by ``denoise.lite`` in each precision (median of 5 after a
  warm-up, the precisions taking turns), at 1 and 2 threads. Run it on an idle machine.

    python benchmarks/bench_precision.py [--only microscopy|auto|speed]
"""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_colour_jpeg import jpeg_file  # noqa: E402
from bench_w2s import affine_fit, psnr_255  # noqa: E402

from napari_hyperres.engine import Restorer  # noqa: E402
from napari_hyperres.io.files import read_image  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PRECISIONS = ("float32", "bfloat16")


def microscopy_scores() -> dict[str, list[float]]:
    root = DATA / "microscopy" / "W2S"
    fields = sorted({p.name.split("_")[2] for p in (root / "noisy").glob("input_avg1_*_*.tif")})[::6]
    restorers = {p: Restorer("microscopy", device="cpu", precision=p) for p in PRECISIONS}
    scores: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for field in fields:
        for channel in range(3):
            noisy = read_image(root / "noisy" / f"input_avg1_{field}_{channel}.tif")
            clean = read_image(root / "clean" / f"target_avg400_{field}_{channel}.tif").astype(np.float64)
            for p, restorer in restorers.items():
                scores[p].append(psnr_255(affine_fit(restorer.restore(noisy, "auto"), clean), clean))
    return scores


def auto_scores() -> dict[str, list[float]]:
    files = sorted(glob.glob(str(DATA / "val" / "Set12" / "*")))[:6] + sorted(glob.glob(str(DATA / "val" / "McMaster" / "*")))[:3]
    restorers = {p: Restorer("auto", device="cpu", precision=p) for p in PRECISIONS}
    scores: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for i, path in enumerate(files):
        clean = read_image(path).astype(np.float32) / 255
        noisy = np.clip(clean + np.random.default_rng(i).normal(0, 25 / 255, clean.shape), 0, 1).astype(np.float32)
        for p, restorer in restorers.items():
            for degraded in (noisy, jpeg_file(np.round(clean * 255).astype(np.uint8), 20).astype(np.float32) / 255):
                out = np.clip(restorer.restore(degraded, "auto", value_range=(0, 1)), 0, 1)
                scores[p].append(float(10 * np.log10(1 / np.mean((out - clean) ** 2))))
    return scores


def speed_table() -> None:
    import time

    from napari_hyperres.core.devices import (
        BFLOAT16_MIN_SPEEDUP,
        cpu_bfloat16_speedup,
        cpu_has_native_bfloat16,
        select_precision,
    )

    images = {
        "gray 512² (Set12 barbara)": read_image(sorted(glob.glob(str(DATA / "val" / "Set12" / "*")))[8]),
        "colour 500² (McMaster 1)": read_image(sorted(glob.glob(str(DATA / "val" / "McMaster" / "*")))[0]),
    }
    print(f"native bfloat16 flags: {cpu_has_native_bfloat16()}; auto needs ≥ {BFLOAT16_MIN_SPEEDUP}× float32's speed")
    print("| threads | timed speed-up (3 convs) | auto chooses | image | float32 ms | bfloat16 ms | bfloat16 ÷ float32 |")
    print("|---|---|---|---|---|---|---|")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        speedup = cpu_bfloat16_speedup.__wrapped__(threads)  # timed afresh, not the cache
        chosen = str(select_precision(torch.device("cpu"), "auto")).removeprefix("torch.")
        restorers = {p: Restorer("denoise", device="cpu", precision=p) for p in PRECISIONS}
        for name, image in images.items():
            noisy = np.clip(image / 255 + np.random.default_rng(0).normal(0, 25 / 255, image.shape), 0, 1).astype(np.float32)
            times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
            for restorer in restorers.values():
                restorer.restore(noisy, 25)  # warm-up: the level's network, oneDNN's kernels
            for _ in range(5):
                for p, restorer in restorers.items():
                    start = time.perf_counter()
                    restorer.restore(noisy, 25)
                    times[p].append(time.perf_counter() - start)
            f32, b16 = (1000 * float(np.median(times[p])) for p in PRECISIONS)
            print(f"| {threads} | {speedup:.2f}× | {chosen} | {name} | {f32:.0f} | {b16:.0f} | {b16 / f32:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["microscopy", "auto", "speed"], default=None)
    args = parser.parse_args()
    if args.only == "speed":
        speed_table()
        return
    torch.set_num_threads(1)
    for name, scores in (("microscopy", microscopy_scores), ("auto", auto_scores)):
        if args.only not in (None, name):
            continue
        result = scores()
        a, b = np.array(result["float32"]), np.array(result["bfloat16"])
        d = b - a
        print(f"{name}: {a.size} images, float32 {a.mean():.3f} dB, bfloat16 {b.mean():.3f} dB, "
              f"bfloat16 − float32 mean {d.mean():+.4f}, min {d.min():+.4f}, max {d.max():+.4f}", flush=True)


if __name__ == "__main__":
    main()
