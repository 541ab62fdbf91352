"""Real fluorescence noise (W2S widefield): the ``microscopy`` task against the alternatives.

For each field of view (default all 60) and each of the 3 channels, the input is the single
frame ``noisy/input_avg1_<field>_<channel>.tif`` and the reference the 400-frame average
``clean/target_avg400_<field>_<channel>.tif`` (both 8-bit). Methods, on the same frames:

- ``noisy``: the frame itself;
- ``denoise auto``: the Gaussian ``denoise`` network at its estimator's σ (what a user got before ``microscopy``);
- ``BM3D global σ``: ``bm3d.bm3d`` at skimage's ``estimate_sigma`` (one σ per frame);
- ``GAT + BM3D``: the microscopy pipeline with BM3D as the Gaussian denoiser: the same fitted
  Poisson–Gaussian parameters, the same transform and exact unbiased inverse (:class:`StabilizedMap`);
- ``microscopy auto``: ``restore(frame, "microscopy", "auto")`` (GAT + the ``denoise`` hypernetwork).

Scoring (``../shared/docs/MICROSCOPY_NOISE.md``): the frames and their averages were normalised
separately by the dataset's authors, so each output is mapped onto the average by the
least-squares affine fit ``a·out + b`` before PSNR on 0–255 (CARE's ``normalize_minmse``);
raw PSNR is reported beside it. Noise parameters: the blind fit on the frame is compared with
a fit from the pair (the average, affinely matched to the frame, as the noise-free signal;
variance of the difference per intensity bin, weighted line fit).

    python benchmarks/bench_w2s.py [--quick] [--fields N] [--no-bm3d]

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


def affine_fit(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``a·output + b`` with ``(a, b)`` the least-squares fit onto ``target`` (float64)."""
    x = output.astype(np.float64).ravel()
    design = np.stack([x, np.ones_like(x)], axis=1)
    a, b = np.linalg.lstsq(design, target.astype(np.float64).ravel(), rcond=None)[0]
    return (a * output.astype(np.float64) + b).reshape(target.shape)


def psnr_255(output: np.ndarray, target: np.ndarray) -> float:
    """PSNR on the 0–255 scale (no clipping)."""
    mse = float(np.mean((output.astype(np.float64) - target.astype(np.float64)) ** 2))
    return 10.0 * np.log10(255.0**2 / max(mse, 1e-12))


def pair_noise_fit(noisy: np.ndarray, clean: np.ndarray, bins: int = 32) -> tuple[float, float]:
    """``(α, β)`` of ``var = α·y + β`` from a noisy frame and its (affinely matched) average."""
    signal = affine_fit(clean, noisy)
    residual = noisy.astype(np.float64) - signal
    valid = (noisy > 0) & (noisy < 255)
    s, r = signal[valid], residual[valid]
    order = np.argsort(s)
    means, variances, counts = [], [], []
    for chunk in np.array_split(order, bins):
        means.append(s[chunk].mean())
        variances.append(r[chunk].var())
        counts.append(chunk.size)
    means, variances, counts = np.array(means), np.array(variances), np.array(counts)
    weights = counts / np.maximum(variances, 1e-9) ** 2
    root = np.sqrt(weights)
    a, b = np.linalg.lstsq(np.stack([means * root, root], 1), variances * root, rcond=None)[0]
    return float(a), float(b)


METHODS = ("noisy", "denoise auto", "BM3D global σ", "GAT + BM3D", "microscopy auto")


def main() -> None:
    parser = common.base_parser(__doc__, "bench_w2s")
    parser.add_argument("--fields", type=int, default=None, help="first N fields of view (default all; --quick 2)")
    parser.add_argument("--field-step", type=int, default=1, help="every Nth field only (BM3D takes ~10 s per 512² frame here)")
    parser.add_argument("--field-start", type=int, default=0, help="with --field-step: start at the Kth field (0-based), to split a run")
    parser.add_argument("--weights", default=None, help="weights of the microscopy network (default: the task's shipped)")
    parser.add_argument(
        "--extra-weights", nargs="*", default=[], metavar="LABEL=FILE",
        help="more microscopy networks to score on the same frames, each a row 'microscopy auto [LABEL]' "
        "(e.g. denoise=napari_hyperres/pretrained/denoise.lite.safetensors: GAT around the Gaussian network)",
    )
    parser.add_argument(
        "--direct-weights", default=None, metavar="FILE",
        help="route (b): weights of the example 'poisson' task (a hypernetwork trained directly on Poisson–Gaussian "
        "noise, no GAT; needs examples/hyperres-poisson installed), run at the fitted photons: row 'direct P–G network'",
    )
    parser.add_argument("--crop", type=int, default=None, help="centre crop edge (default: whole 512×512 frames; --quick 128)")
    parser.add_argument("--no-bm3d", action="store_true", help="skip the two BM3D rows (each takes seconds per frame)")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["denoise auto", "BM3D global σ"],
        help="leave out rows whose numbers do not depend on the microscopy task (to save time on a busy machine)",
    )
    args = parser.parse_args()
    common.setup_threads(args.threads)
    crop = args.crop if args.crop is not None else (128 if args.quick else None)
    root = args.data_root / "microscopy" / "W2S"
    if not (root / "noisy").is_dir() or not (root / "clean").is_dir():
        common.fail(f"W2S data not found: expected {root}/noisy and {root}/clean (pass --data-root)")
    fields = field_ids(root / "noisy")[: args.fields or (2 if args.quick else None)][args.field_start :: args.field_step]
    if not fields:
        common.fail(f"no input_avg1_<field>_<channel>.tif files in {root / 'noisy'}")
    weights = common.require_weights(["denoise.lite", "denoise.estimator"], args.weights_dir)

    from napari_hyperres.engine import Restorer, whole_value_range
    from napari_hyperres.io.files import read_image

    denoise = Restorer("denoise", weights=str(weights["denoise.lite"]), device=args.device)
    microscopy = Restorer("microscopy", weights=args.weights, device=args.device)
    extras = {f"microscopy auto [{label}]": Restorer("microscopy", weights=path, device=args.device)
              for label, path in (item.split("=", 1) for item in args.extra_weights)}
    direct = None
    if args.direct_weights:
        from napari_hyperres.errors import UnknownTaskError

        try:
            direct = Restorer("poisson", weights=args.direct_weights, device=args.device)
        except UnknownTaskError:
            common.fail("--direct-weights needs the example task 'poisson': pip install examples/hyperres-poisson")
    methods = tuple(m for m in METHODS if not (args.no_bm3d and "BM3D" in m) and m not in args.skip) + tuple(extras)
    methods += ("direct P–G network",) if direct is not None else ()
    if not args.no_bm3d:
        import bm3d
        from skimage.restoration import estimate_sigma

    rows = []  # one dict per frame
    for field in fields:
        for channel in CHANNELS:
            noisy = common.center_crop(read_image(root / "noisy" / f"input_avg1_{field}_{channel}.tif"), crop)
            clean = common.center_crop(read_image(root / "clean" / f"target_avg400_{field}_{channel}.tif"), crop)
            if noisy.dtype != np.uint8 or clean.dtype != np.uint8:
                common.fail(f"expected 8-bit W2S frames, got {noisy.dtype} / {clean.dtype} for field {field} channel {channel}")
            row = {"field": field, "channel": channel, "aligned": {}, "raw": {}, "seconds": {}}
            outputs = {"noisy": noisy}
            if "denoise auto" in methods:
                start = time.perf_counter()
                outputs["denoise auto"] = denoise.restore(noisy, "auto")
                row["seconds"]["denoise auto"] = time.perf_counter() - start
            start = time.perf_counter()
            outputs["microscopy auto"], report = microscopy.restore_with_report(noisy, "auto")
            row["seconds"]["microscopy auto"] = time.perf_counter() - start
            blind = report.noise  # the blind fit that restore made (the gain of the auto level)
            for name, extra in extras.items():  # the same fitted parameters for every network
                outputs[name] = extra.restore(noisy, "auto", noise=blind)
            photons, stabilized = microscopy.photon_map(noisy, "auto", noise=blind)
            if direct is not None:  # same fit: photons between the same black and white points
                black, white = whole_value_range(noisy)
                level = min(max(photons, direct.task.level_range[0]), direct.task.level_range[1])
                outputs["direct P–G network"] = direct.restore(noisy, level, value_range=(black, white))
            row["photons"] = photons
            row["alpha_blind"], row["beta_blind"] = blind.gain, blind.beta
            row["alpha_pair"], row["beta_pair"] = pair_noise_fit(noisy, clean)
            if not args.no_bm3d:
                start = time.perf_counter()
                unit = stabilized.to_unit(noisy)
                outputs["GAT + BM3D"] = stabilized.from_unit(bm3d.bm3d(unit, sigma_psd=1.0 / stabilized.span).astype(np.float32))
                row["seconds"]["GAT + BM3D"] = time.perf_counter() - start
                if "BM3D global σ" in methods:
                    sigma = float(estimate_sigma(noisy.astype(np.float64)))
                    start = time.perf_counter()
                    outputs["BM3D global σ"] = bm3d.bm3d(noisy.astype(np.float64), sigma_psd=sigma)
                    row["seconds"]["BM3D global σ"] = time.perf_counter() - start
            for name in methods:
                row["aligned"][name] = psnr_255(affine_fit(outputs[name], clean), clean)
                row["raw"][name] = psnr_255(np.clip(np.asarray(outputs[name], np.float64), 0, 255), clean)
            rows.append(row)
            print(f"field {field} channel {channel}: " + ", ".join(f"{m} {row['aligned'][m]:.2f}" for m in methods), file=sys.stderr, flush=True)

    def mean(key: str, name: str, subset: list[dict]) -> float:
        return float(np.mean([r[key][name] for r in subset]))

    groups = [(f"channel {c}", [r for r in rows if r["channel"] == c]) for c in CHANNELS] + [("**all**", rows)]
    report = common.Report(
        "W2S widefield microscopy: real Poisson–Gaussian noise",
        "Single noisy frame vs the 400-frame average; PSNR after the least-squares affine fit of each output onto the average (raw PSNR beside it).",
        args.device,
    )
    report.text("Weights:\n\n" + "\n".join(f"- {common.weights_description(p)}" for p in weights.values())
                + f"\n- microscopy: {microscopy.info.name} ({microscopy.info.task} network)")
    shape = f"{crop}×{crop} centre crops" if crop else "whole 512×512 frames"
    every = f", every {args.field_step}th field" if args.field_step > 1 else ""
    report.section(f"Mean affine-aligned PSNR, dB ({len(fields)} fields {fields[0]}–{fields[-1]}{every} × 3 channels = {len(rows)} frames; {shape})")
    report.table(["frames", "images", *methods], [[label, len(sub), *(common.fmt(mean("aligned", m, sub)) for m in methods)] for label, sub in groups])
    report.section("Mean raw PSNR, dB (no brightness fit: mostly measures the dataset's separate normalisations)")
    report.table(["frames", "images", *methods], [[label, len(sub), *(common.fmt(mean("raw", m, sub)) for m in methods)] for label, sub in groups])
    gains = np.array([r["aligned"]["microscopy auto"] - r["aligned"]["noisy"] for r in rows])
    summary = [
        ["microscopy auto − noisy, worst frame", common.fmt(float(gains.min()), signed=True)],
        ["microscopy auto − noisy, mean", common.fmt(float(gains.mean()), signed=True)],
        ["frames made worse than their input", f"{int((gains <= 0).sum())} of {len(rows)}"],
        ["seconds per frame: microscopy auto (median)", f"{np.median([r['seconds']['microscopy auto'] for r in rows]):.3f}"],
    ]
    if "denoise auto" in methods:
        summary.append(["seconds per frame: denoise auto (median)", f"{np.median([r['seconds']['denoise auto'] for r in rows]):.3f}"])
    if not args.no_bm3d:
        diffs = np.array([r["aligned"]["microscopy auto"] - r["aligned"]["GAT + BM3D"] for r in rows])
        speed = np.median([r["seconds"]["GAT + BM3D"] for r in rows]) / np.median([r["seconds"]["microscopy auto"] for r in rows])
        summary += [
            ["microscopy auto − GAT + BM3D, mean (frames better / all)", f"{common.fmt(float(diffs.mean()), signed=True)} ({int((diffs > 0).sum())} / {len(rows)})"],
            ["seconds per frame: GAT + BM3D (median)", f"{np.median([r['seconds']['GAT + BM3D'] for r in rows]):.3f}"],
            ["speed-up of microscopy auto over GAT + BM3D", f"{speed:.1f}×"],
        ]
    report.section("Summary")
    report.table(["measure", "value"], summary)
    rel_alpha = np.array([r["alpha_blind"] / r["alpha_pair"] - 1 for r in rows])
    report.section("Noise parameters: blind fit on the frame vs fit from the (frame, average) pair")
    report.table(
        ["frames", "median α pair", "median α blind", "median |α blind / α pair − 1|", "median photons (auto level)"],
        [[label, common.fmt(float(np.median([r["alpha_pair"] for r in sub]))), common.fmt(float(np.median([r["alpha_blind"] for r in sub]))),
          f"{100 * float(np.median(np.abs([r['alpha_blind'] / r['alpha_pair'] - 1 for r in sub]))):.1f} %",
          common.fmt(float(np.median([r["photons"] for r in sub])), 1)] for label, sub in groups],
    )
    report.notes([
        f"Blind α within 10 % of the pair fit on {int((np.abs(rel_alpha) <= 0.1).sum())} of {len(rows)} frames; "
        "the pair fit is itself approximate (the average is matched to the frame by an affine fit, saturated pixels left out).",
        "GAT + BM3D: `bm3d.bm3d(unit, sigma_psd=1/span)` in the same stabilised unit domain as the network, same inverse.",
        "BM3D global σ: `bm3d.bm3d(frame, sigma_psd=estimate_sigma(frame))` on 0–255 values.",
        "Timings: wall seconds per 512² frame on this machine, including the noise fit for microscopy.",
    ])
    per_frame = [[r["field"], r["channel"], common.fmt(r["photons"], 1), *(common.fmt(r["aligned"][m]) for m in methods)] for r in rows]
    report.section("Per frame (aligned PSNR, dB)")
    report.table(["field", "channel", "photons", *methods], per_frame)
    report.emit(args)


if __name__ == "__main__":
    main()
