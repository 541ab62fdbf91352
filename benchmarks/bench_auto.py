"""All-in-one restoration: HAIR vs a fixed-weights network vs the task-specific oracle, per degradation kind.

For each kind of ``napari_hyperres.core.tasks.auto.EVAL_SETTINGS`` (noise σ 25, JPEG q 20,
low resolution ×3, Gaussian blur σ 1.6) on Set12 (gray; the RGB networks get the gray
image replicated and their output averaged back, as the engine does), the mean PSNR of:

(a) the **fixed-weights baseline** (``--fixed``: a ``dedicated``-kind network of the same
    backbone trained on the same degradation mixture; it has no level and no selection),
(b) **HAIR** (``auto`` task, kind ``hair``: picks its kernels from the image),
(c) the **oracle**: the task-specific HyperRes network told the true level —
    ``denoise.lite`` at σ 25, ``dejpeg.lite`` at q 20 (a gray network: fine for Set12),
    ``sr.lite`` at ×3 given the low-resolution image (as the ``sr`` task takes it); blur has
    no task-specific network ("n/a"),

plus the degraded input's PSNR and **gap closed** = (b − a) / (c − a): the fraction of the
way from the fixed network to the oracle that HAIR covers.

Degradations are ``apply_degradation(clean, kind, strength)`` (noise seeded 0 per image,
unclipped; JPEG = OpenCV). For "lowres" every image is first cropped to a multiple of 3, so
the down-up input (a, b) and the sr oracle's bicubic pre-upsampling of the low-res image
are the same image. PSNR: all channels (gray), outputs clipped to [0, 1], no border.

    python benchmarks/bench_auto.py --fixed runs/auto.fixed.safetensors [--quick] [--out benchmarks/results/bench_auto.md]
    python benchmarks/bench_auto.py --out benchmarks/results/bench_auto_oracles.md   # HAIR against today's oracles only
    python benchmarks/bench_auto.py --fixed runs/auto_dedicated_lite2 --auto-weights runs/auto_hair_lite2

(``trainer/recipes/cpu_auto.sh`` trains both and writes ``runs/auto.fixed.safetensors``.)

``--fixed`` and ``--auto-weights`` take a weights file or a trainer run folder (its
``checkpoint.pt`` or ``model.safetensors``). HAIR defaults to the ``auto`` task's weights
(``auto.lite``), else ``auto.small``, from ``--weights-dir`` or shipped.
``--quick``: 2 images, 128×128 centre crops.
"""

from __future__ import annotations

from pathlib import Path

import common
import numpy as np


def load_network(path: Path, kind: str):
    """A ``kind`` network from a weights file or a trainer run folder (``checkpoint.pt`` / ``model.safetensors``)."""
    from napari_hyperres.core.weights import load_model
    from trainer.baselines import load_run
    from trainer.models import baseline_builders

    if path.is_dir():
        return load_run(path, kind), f"{kind} run folder `{path}`"
    model, _ = load_model(path, kind=kind, builders=baseline_builders())  # the "dedicated" baseline too
    return model, common.weights_description(path)


def fixed_restorer(model, device: str):
    """The fixed network inside the engine: wrapped in a level-conditioned task with its channel count.

    The network ignores the level (its ``generate(c)`` returns itself), so the engine's channel
    handling, intensity rules and tiling are exactly those HAIR and the oracles get.
    """
    from napari_hyperres.engine import Restorer

    task = "denoise" if model.arch.in_channels == 3 else "dejpeg"  # both: no resampling, 3 resp. 1 channel
    return Restorer(task, model=model, device=device)


def main() -> None:
    parser = common.base_parser(__doc__, "bench_auto")
    parser.add_argument("--fixed", type=Path, default=None, help="fixed-weights (dedicated) baseline: weights file or run folder "
                        "(without it: HAIR against the oracles only, the fixed column and the gap not measured)")
    parser.add_argument("--auto-weights", type=Path, default=None, help="HAIR weights file or run folder (default: the task's shipped weights, else auto.lite, else auto.small)")
    parser.add_argument("--max-images", type=int, default=None, help="first N images of Set12 (default: all; --quick 2)")
    parser.add_argument("--crop", type=int, default=None, help="centre crop edge (default: whole images; --quick 128; 0 = none)")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    limit = args.max_images or (2 if args.quick else None)
    crop = args.crop if args.crop is not None else (128 if args.quick else None)
    if args.fixed is not None and not args.fixed.exists():
        common.fail(f"--fixed {args.fixed} does not exist")

    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.core.tasks.auto import EVAL_SETTINGS, apply_degradation
    from napari_hyperres.engine import Restorer

    auto_task = get_task("auto")
    if args.auto_weights is not None:
        if not args.auto_weights.exists():
            common.fail(f"--auto-weights {args.auto_weights} does not exist")
        hair_model, hair_text = load_network(args.auto_weights, "hair")
        hair = Restorer("auto", model=hair_model, device=args.device)
    else:
        names = list(dict.fromkeys(n for n in (auto_task.weights, "auto.lite", "auto.small") if n))
        path = next((p for p in (common.find_weights(n, args.weights_dir) for n in names) if p is not None), None)
        if path is None:
            common.fail(f"missing HAIR weights: none of {', '.join(names)} found (--weights-dir or napari_hyperres/pretrained/); pass --auto-weights FILE")
        hair, hair_text = Restorer("auto", weights=str(path), device=args.device), common.weights_description(path)
    oracle_weights = common.require_weights(["denoise.lite", "dejpeg.lite", "sr.lite"], args.weights_dir)
    fixed, fixed_text = None, "not measured (no --fixed)"
    if args.fixed is not None:
        fixed_model, fixed_text = load_network(args.fixed, "dedicated")
        fixed = fixed_restorer(fixed_model, args.device)
    oracles = {
        "noise": (Restorer("denoise", weights=str(oracle_weights["denoise.lite"]), device=args.device), EVAL_SETTINGS["noise"]),
        "jpeg": (Restorer("dejpeg", weights=str(oracle_weights["dejpeg.lite"]), device=args.device), EVAL_SETTINGS["jpeg"]),
        "lowres": (Restorer("sr", weights=str(oracle_weights["sr.lite"]), device=args.device), EVAL_SETTINGS["lowres"]),
    }
    sr_task = get_task("sr")
    images = [common.center_crop(common.load_image(p, "gray"), crop) for p in common.image_paths(args.data_root / "val" / "Set12", limit)]

    import torch

    from trainer.evaluate import modcrop

    rows, summary = [], {"a": [], "b": []}
    for kind, strength in EVAL_SETTINGS.items():
        scores: dict[str, list[float]] = {"input": [], "a": [], "b": [], "c": []}
        for clean in images:
            if kind == "lowres":
                clean = modcrop(clean, int(strength))
            t = common.to_tensor(clean)
            degraded = common.to_array(apply_degradation(t, kind, strength, torch.Generator().manual_seed(0)))
            scores["input"].append(common.psnr(degraded, clean))
            if fixed is not None:
                scores["a"].append(common.psnr(fixed.restore(degraded, fixed.task.default_level, value_range=(0.0, 1.0)), clean))
            scores["b"].append(common.psnr(hair.restore(degraded, 0.0, value_range=(0.0, 1.0)), clean))
            if kind in oracles:
                oracle, level = oracles[kind]
                given = common.to_array(sr_task.simulate_input(t, level)) if kind == "lowres" else degraded
                out = oracle.restore(given, level, value_range=(0.0, 1.0))
                if out.shape != clean.shape:
                    common.fail(f"sr oracle output {out.shape} does not match the clean image {clean.shape}")
                scores["c"].append(common.psnr(out, clean))
        mean = {k: float(np.mean(v)) if v else None for k, v in scores.items()}
        a, b, c = mean["a"], mean["b"], mean["c"]
        gap = (b - a) / (c - a) if a is not None and c is not None and abs(c - a) > 1e-6 else None
        summary["a"].append(a)
        summary["b"].append(b)
        oracle_name = {"noise": "denoise.lite σ25", "jpeg": "dejpeg.lite q20", "lowres": "sr.lite ×3 (low-res input)"}.get(kind, "n/a (no task network)")
        rows.append([kind, f"{strength:g}", common.fmt(mean["input"]), common.fmt(a), common.fmt(b), common.fmt(c), oracle_name,
                     "n/a" if a is None else common.fmt(b - a, signed=True), "n/a" if gap is None else f"{100 * gap:.1f} %"])
    mean_a = None if fixed is None else float(np.mean(summary["a"]))
    mean_b = float(np.mean(summary["b"]))
    rows.append(["**mean**", "", "", common.fmt(mean_a), common.fmt(mean_b), "", "", "n/a" if mean_a is None else common.fmt(mean_b - mean_a, signed=True), ""])

    report = common.Report("All-in-one restoration (auto task)", "HAIR vs a fixed-weights network of the same backbone vs the task-specific oracle, per degradation kind, on Set12.", args.device)
    report.text("\n".join([
        "Networks:", "",
        f"- (a) fixed: {fixed_text}",
        f"- (b) HAIR: {hair_text}",
        *(f"- (c) oracle: {common.weights_description(p)}" for p in oracle_weights.values()),
    ]))
    report.section(f"PSNR per degradation kind (Set12, {len(images)} images, gray)")
    report.table(["kind", "strength", "input dB", "(a) fixed dB", "(b) HAIR dB", "(c) oracle dB", "oracle", "HAIR − fixed dB", "gap closed (b−a)/(c−a)"], rows)
    report.notes([
        "Strengths from `EVAL_SETTINGS`: noise σ (8-bit), JPEG quality (OpenCV), lowres bicubic scale (down then up; images cropped to a multiple of 3), blur Gaussian σ (px).",
        "Noise seeded 0 per image and unclipped; every network gets the degraded float image with `value_range=(0, 1)`.",
        "The gray images go to the RGB networks (fixed, HAIR, denoise, sr) replicated to 3 channels, the output averaged back (the engine's rule); dejpeg.lite is gray.",
        "Gap closed is n/a where there is no oracle (blur) or the oracle equals the fixed network.",
    ])
    report.emit(args)


if __name__ == "__main__":
    main()
