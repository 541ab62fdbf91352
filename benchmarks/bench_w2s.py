"""Real microscopy noise (W2S widefield): one noisy frame vs the 400-frame average, per channel.

For the first N fields of view (default 10) and each of the 3 channels, ground truth is
the 400-frame average ``clean/target_avg400_<field>_<channel>.tif`` and the input the single
frame ``noisy/input_avg1_<field>_<channel>.tif``. Mean PSNR of:

- the noisy input;
- the built-in ``denoise`` (``denoise.lite``) at the σ its estimator gives
  (``estimate_level(noisy, "denoise")``);
- the same network at skimage's σ (to separate the estimator from the restorer);
- BM3D (``bm3d.bm3d``) at σ from ``skimage.restoration.estimate_sigma`` (wavelet MAD).

Intensity normalisation: both files are 8-bit as published (each already scaled by the
dataset's authors; about 0.2 % of the pixels of both the frame and the average sit at 255),
and both are divided by 255 — the dtype rule — with no further rescaling, clipping or
matching of the two. Note that W2S noise is signal-dependent (Poisson–Gaussian), while
the network and BM3D assume white Gaussian noise of one σ.

    python benchmarks/bench_w2s.py [--quick] [--out benchmarks/results/bench_w2s.md]
    python benchmarks/bench_w2s.py --fields 20 --weights-dir runs/

``--quick``: 2 fields, 128×128 centre crops.
"""

from __future__ import annotations

import re
import sys
import time

import common
import numpy as np

CHANNELS = (0, 1, 2)


def field_ids(folder) -> list[str]:
    """Sorted field-of-view ids present as ``input_avg1_<id>_<c>.tif`` in ``folder``."""
    ids = {m.group(1) for p in folder.glob("input_avg1_*_*.tif") if (m := re.match(r"input_avg1_(\d+)_\d+\.tif$", p.name))}
    return sorted(ids)


def main() -> None:
    parser = common.base_parser(__doc__, "bench_w2s")
    parser.add_argument("--fields", type=int, default=None, help="first N fields of view (default 10; --quick 2)")
    parser.add_argument("--crop", type=int, default=None, help="centre crop edge (default: whole 512×512 frames; --quick 128; 0 = none)")
    parser.add_argument("--weights", default=None, help="denoise weights file (default: denoise.lite)")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    count = args.fields or (2 if args.quick else 10)
    crop = args.crop if args.crop is not None else (128 if args.quick else None)
    weights = common.require_weights(["denoise.lite", "denoise.estimator"], args.weights_dir, {"denoise.lite": args.weights})
    root = args.data_root / "microscopy" / "W2S"
    if not (root / "noisy").is_dir() or not (root / "clean").is_dir():
        common.fail(f"W2S data not found: expected {root}/noisy and {root}/clean (pass --data-root)")
    fields = field_ids(root / "noisy")[:count]
    if not fields:
        common.fail(f"no input_avg1_<field>_<channel>.tif files in {root / 'noisy'}")

    import bm3d
    from skimage.restoration import estimate_sigma

    from napari_hyperres.engine import Restorer
    from napari_hyperres.estimate import estimate_level
    from napari_hyperres.io import read_image

    restorer = Restorer("denoise", weights=str(weights["denoise.lite"]), device=args.device)
    keys = ("input", "net", "net_sk", "bm3d", "sigma_net", "sigma_sk", "t_net", "t_bm3d")
    per_channel = {c: {k: [] for k in keys} for c in CHANNELS}
    for field in fields:
        for channel in CHANNELS:
            noisy_u8 = common.center_crop(read_image(root / "noisy" / f"input_avg1_{field}_{channel}.tif"), crop)
            clean_u8 = common.center_crop(read_image(root / "clean" / f"target_avg400_{field}_{channel}.tif"), crop)
            if noisy_u8.dtype != np.uint8 or clean_u8.dtype != np.uint8:
                common.fail(f"expected 8-bit W2S frames, got {noisy_u8.dtype} / {clean_u8.dtype} for field {field} channel {channel}")
            noisy, clean = noisy_u8.astype(np.float32) / 255.0, clean_u8.astype(np.float32) / 255.0
            row = per_channel[channel]
            row["input"].append(common.psnr(noisy, clean))
            sigma_net = estimate_level(noisy_u8, "denoise", weights=str(weights["denoise.estimator"]), device=args.device)
            sigma_sk = float(estimate_sigma(noisy)) * 255.0
            start = time.perf_counter()
            row["net"].append(common.psnr(restorer.restore(noisy, sigma_net, value_range=(0.0, 1.0)), clean))
            row["t_net"].append(time.perf_counter() - start)
            row["net_sk"].append(common.psnr(restorer.restore(noisy, min(sigma_sk, restorer.task.level_range[1]), value_range=(0.0, 1.0)), clean))
            start = time.perf_counter()
            row["bm3d"].append(common.psnr(bm3d.bm3d(noisy, sigma_psd=sigma_sk / 255.0), clean))
            row["t_bm3d"].append(time.perf_counter() - start)
            row["sigma_net"].append(sigma_net)
            row["sigma_sk"].append(sigma_sk)
            print(f"field {field} channel {channel} done", file=sys.stderr, flush=True)

    def line(label: str, values: dict[str, list[float]]) -> list[str]:
        m = {k: float(np.mean(v)) for k, v in values.items()}
        return [label, len(values["input"]), common.fmt(m["input"]), common.fmt(m["sigma_net"], 1), common.fmt(m["net"]),
                common.fmt(m["sigma_sk"], 1), common.fmt(m["net_sk"]), common.fmt(m["bm3d"]),
                common.fmt(m["net"] - m["input"], signed=True), common.fmt(m["bm3d"] - m["input"], signed=True),
                f"{1000 * m['t_net']:.0f} / {1000 * m['t_bm3d']:.0f}"]

    rows = [line(f"channel {c}", per_channel[c]) for c in CHANNELS]
    rows.append(line("**all**", {k: sum((per_channel[c][k] for c in CHANNELS), []) for k in keys}))
    shape = f"{crop}×{crop} centre crops" if crop else "whole 512×512 frames"
    report = common.Report("W2S widefield microscopy: real noise", "Single noisy frame vs the 400-frame average as ground truth; built-in denoise vs BM3D.", args.device)
    report.text("Weights:\n\n" + "\n".join(f"- {common.weights_description(p)}" for p in weights.values()))
    report.section(f"Mean PSNR per channel ({len(fields)} fields: {', '.join(fields)}; {shape})")
    report.table(["channel", "images", "noisy dB", "σ̂ estimator", "denoise @ σ̂ est. dB", "σ̂ skimage", "denoise @ σ̂ skimage dB", "BM3D @ σ̂ skimage dB",
                  "denoise gain dB", "BM3D gain dB", "ms per image (denoise / BM3D)"], rows)
    report.notes([
        "Normalisation: noisy frame and 400-frame average are both 8-bit files (each already scaled by the W2S authors) and are both divided by 255; "
        "no other rescaling. PSNR over the whole frame (or crop), outputs clipped to [0, 1].",
        "σ̂ in 8-bit units: the built-in estimator (`estimate_level` on the uint8 frame) and skimage's `estimate_sigma` (×255) on the same frame.",
        "BM3D: `bm3d.bm3d(noisy, sigma_psd=σ̂_skimage/255)` (profile 'np'); denoise: the engine on the float frame with `value_range=(0, 1)`.",
        "W2S noise is Poisson–Gaussian (signal-dependent); both methods assume one Gaussian σ per frame.",
        "A skimage σ̂ above the denoise range (100) would be given to the network as 100 (BM3D keeps it).",
    ])
    report.emit(args)


if __name__ == "__main__":
    main()
