"""Stacks whose planes differ in brightness (photobleaching): one intensity map for the stack,
as the ``microscopy`` task restores a stack, against one map per plane.

Each stack holds four planes of one W2S 400-frame average (the central 256², held-out fields
001–030), scaled to ``peak`` expected photo-electrons at white times 1, 0.5, 0.25 and 0.1 (a
time-lapse bleaching to a tenth) plus 2 e⁻ of background, turned into raw counts of a camera
with gain 3 counts/e⁻, read noise 4 counts and offset 100 (uint16). Three ways to restore it
with ``microscopy`` "auto":

- **stack**: ``restore(stack, ...)``, one noise fit and one black/white for all planes (shipped);
- **own map**: each plane with the stack's noise fit but its own black/white
  (``restore(plane, "auto", noise=whole_noise(stack))``), what a per-plane map would give;
- **alone**: each plane restored as a single image (its own fit and map); a dim plane's fit
  can be refused ("not photon-limited"): the table counts those and averages the others.

Scored per plane after the least-squares affine map onto its noise-free photons (the W2S
protocol), 0–255 scale. Tells whether a per-plane map is worth its cost (lazy and streamed
restores would need whole planes per block, the widget a range per plane).

    python benchmarks/bench_stack_brightness.py --threads 1 [--quick]
"""

from __future__ import annotations

import common
import numpy as np
from bench_w2s import affine_fit, psnr_255

FIELDS = (("005", 60.0), ("012", 30.0), ("019", 120.0), ("026", 60.0), ("030", 200.0), ("017", 30.0))
"""(W2S field, peak photo-electrons at white of the brightest plane); channel = field index % 3."""
FACTORS = (1.0, 0.5, 0.25, 0.1)
GAIN, READ_COUNTS, OFFSET, BACKGROUND = 3.0, 4.0, 100.0, 2.0


def main() -> None:
    parser = common.base_parser(__doc__, "bench_stack_brightness")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    import tifffile

    from napari_hyperres.core.photon_noise import camera_counts
    from napari_hyperres.engine import Restorer
    from napari_hyperres.engine.lazy import whole_noise
    from napari_hyperres.errors import ShapeError

    restorer = Restorer("microscopy", device=args.device, precision="float32")
    folder = common.w2s_clean(args)
    size = 128 if args.quick else 256
    fields = FIELDS[:1] if args.quick else FIELDS
    methods = ("noisy", "stack", "own map", "alone")
    scores: dict[tuple[float, str], list[float]] = {}
    refused: dict[float, int] = dict.fromkeys(FACTORS, 0)
    for index, (field, peak) in enumerate(fields):
        average = tifffile.imread(folder / f"target_avg400_{field}_{index % 3}.tif").astype(np.float64)
        clean = common.center_crop(average / average.max(), size)
        photons = [clean * peak * factor + BACKGROUND for factor in FACTORS]
        rng = np.random.default_rng(index)
        stack = np.stack([camera_counts(p, GAIN, READ_COUNTS, OFFSET, rng) for p in photons])
        whole = restorer.restore(stack, "auto")
        noise = whole_noise(stack)
        for p, factor in enumerate(FACTORS):
            target = photons[p] / photons[p].max() * 255.0
            outputs = {
                "noisy": stack[p],
                "stack": whole[p],
                "own map": restorer.restore(stack[p], "auto", noise=noise),
            }
            try:
                outputs["alone"] = restorer.restore(stack[p], "auto")
            except ShapeError:
                refused[factor] += 1
            for method, output in outputs.items():
                scores.setdefault((factor, method), []).append(psnr_255(affine_fit(output, target), target))
    report = common.Report("Stacks whose planes differ in brightness (microscopy)", __doc__.strip().split("\n\n")[1], args.device)
    report.section(f"Mean affine-aligned PSNR, dB ({len(fields)} stacks of {size}²)")
    rows = []
    for factor in FACTORS:
        mean = {m: float(np.mean(scores[factor, m])) if scores.get((factor, m)) else None for m in methods}
        alone = common.fmt(mean["alone"]) + (f" ({refused[factor]} refused)" if refused[factor] else "")
        rows.append([
            f"{factor:g} × the brightest", *(common.fmt(mean[m]) for m in methods[:3]), alone,
            common.fmt(mean["own map"] - mean["stack"], signed=True),
        ])
    report.table(["plane", *methods, "own map − stack"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
