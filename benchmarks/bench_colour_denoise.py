"""Colour denoising: the joint RGB network vs opponent planes (what ``denoise`` does now).

Every colour image of McMaster and Set14, with noise of σ 15 / 25 / 50 two ways: the papers'
protocol (``clean + σ/255·N(0,1)``, float, unclipped, torch seed 0) and what 8-bit files hold
(``round(clip(clean·255 + σ·N(0,1), 0, 255))`` as uint8, numpy seed 0; restored as uint8, as a
user's file). Three ways to restore, the same weights (shipped ``denoise.lite`` or ``--weights``):

- **joint**: R, G, B in, R, G, B out (``Task.colour="joint"``: the plugin before this change);
- **planes only**: the opponent planes (mean, R − B, R + B − 2G), each through the gray path at
  its own noise level, with no clipped-pixel blend (``CLIPPED_SHARE`` set to infinity);
- **shipped**: the planes, with the joint network blended in where pixels are clipped
  (``Task.colour="opponent"``, the shipped task).

PSNR on RGB, all channels, no border. Prints one row per (set, protocol, σ).

    python benchmarks/bench_colour_denoise.py --threads 2      # --quick: 2 images per set, σ 25
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import common
import numpy as np

SIGMAS = (15.0, 25.0, 50.0)


def main() -> None:
    parser = common.base_parser(__doc__, "bench_colour_denoise")
    parser.add_argument("--weights", default=None, help="denoise weights file (default: denoise.lite from --weights-dir or shipped)")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    weights = str(common.require_weights(["denoise.lite"], args.weights_dir, {"denoise.lite": args.weights})["denoise.lite"])
    from napari_hyperres.core.models import opponent
    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.engine import Restorer

    task = get_task("denoise")
    shipped = Restorer(task, weights=weights, device=args.device)
    joint = Restorer(dataclasses.replace(task, colour="joint"), weights=weights, device=args.device, model=shipped.model)

    def planes_only(image: np.ndarray, sigma: float, **options) -> np.ndarray:
        saved, opponent.CLIPPED_SHARE = opponent.CLIPPED_SHARE, float("inf")  # the blend weight is then 0 everywhere
        try:
            return Restorer(task, weights=weights, device=args.device, model=shipped.model).restore(image, sigma, **options)
        finally:
            opponent.CLIPPED_SHARE = saved

    sets = {}
    for name in ("McMaster", "Set14"):
        images = [common.load_image(p, "as-is") for p in common.image_paths(args.data_root / "val" / name, 2 if args.quick else None)]
        sets[name] = [image for image in images if image.ndim == 3]  # colour only
    sigmas = [25.0] if args.quick else list(SIGMAS)
    rows = []
    for name, images in sets.items():
        for protocol in ("float", "8-bit file"):
            for sigma in sigmas:
                scores = {key: [] for key in ("input", "joint", "planes only", "shipped")}
                for clean in images:
                    if protocol == "float":
                        noisy, options, scale = common.add_noise(clean, sigma, seed=0), {"value_range": (0.0, 1.0)}, 1.0
                    else:
                        noisy, options, scale = common.noisy_8bit_file(clean, sigma), {}, 255.0
                    scores["input"].append(common.psnr(noisy / scale, clean))
                    scores["joint"].append(common.psnr(joint.restore(noisy, sigma, **options) / scale, clean))
                    scores["planes only"].append(common.psnr(planes_only(noisy, sigma, **options) / scale, clean))
                    scores["shipped"].append(common.psnr(shipped.restore(noisy, sigma, **options) / scale, clean))
                mean = {key: float(np.mean(values)) for key, values in scores.items()}
                rows.append([name, protocol, f"{sigma:g}", len(images), *(common.fmt(mean[k]) for k in scores),
                             common.fmt(mean["shipped"] - mean["joint"], signed=True)])
                print(rows[-1], flush=True)
    report = common.Report(
        "Colour denoising: joint RGB network vs opponent planes",
        "Mean RGB PSNR (dB) over the colour images of McMaster and Set14; the same weights three ways.",
        args.device,
    )
    report.text(f"Weights: {common.weights_description(Path(weights))}")
    report.table(["set", "noise", "σ", "images", "noisy", "joint", "planes only", "shipped (planes + joint where clipped)", "shipped − joint"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
