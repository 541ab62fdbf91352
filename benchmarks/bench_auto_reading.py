"""What ``auto`` says an image looks like: the shipped HAIR network's reading of its own mixture.

Every image of Set12 (gray) and the first 6 of McMaster (colour), 128×128 centre crops, gets
each degradation of the ``auto`` mixture at three strengths (inside the training range; noise
and JPEG seeded per image); the reading (:func:`napari_hyperres.blind.mixtures.read_degradation`,
with the reference mixtures recorded from *training* crops) names a kind, a strength and a
confidence. Reported: how often the kind is right, the mean confidence (a calibrated reading has
it close to the accuracy), and the strength's median relative error when the kind is right.

    python benchmarks/bench_auto_reading.py
"""

from __future__ import annotations

import common
import numpy as np

STRENGTHS = {"noise": (15.0, 25.0, 40.0), "jpeg": (15.0, 20.0, 35.0), "lowres": (2.5, 3.0, 3.5), "blur": (1.2, 1.6, 2.0)}


def main() -> None:
    parser = common.base_parser(__doc__, "bench_auto_reading")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    import torch

    from napari_hyperres.blind.mixtures import read_selections
    from napari_hyperres.core.tasks.auto import apply_degradation
    from napari_hyperres.engine import Restorer

    restorer = Restorer("auto", device=args.device)
    if not restorer.info.extra.get("reference_mixtures"):
        common.fail("the auto weights record no reference mixtures; run `python -m trainer reference-mixtures` first")
    crops = []
    for name, limit in (("Set12", None), ("McMaster", 6)):
        for path in common.image_paths(args.data_root / "val" / name, 2 if args.quick else limit):
            crops.append(common.center_crop(common.load_image(path, "rgb"), 128))
    rows, confusion = [], {}
    for kind, strengths in STRENGTHS.items():
        for strength in strengths:
            right, named, confidences, errors = 0, 0, [], []
            for i, clean in enumerate(crops):
                degraded = common.to_array(apply_degradation(common.to_tensor(clean), kind, strength, torch.Generator().manual_seed(i)))
                _, report = restorer.restore_with_report(degraded, "auto", value_range=(0.0, 1.0))
                reading = read_selections(report.selections, restorer.info.extra)[0]
                confusion[(kind, reading.kind)] = confusion.get((kind, reading.kind), 0) + 1
                confidences.append(reading.confidence)
                named += reading.kind == kind or reading.alternative == next(
                    ref["label"] for ref in restorer.info.extra["reference_mixtures"] if ref["kind"] == kind)
                if reading.kind == kind:
                    right += 1
                    errors.append(abs(reading.strength / strength - 1))
            rows.append([kind, strength, len(crops), f"{100 * right / len(crops):.0f} %", f"{100 * named / len(crops):.0f} %",
                         f"{100 * np.mean(confidences):.0f} %",
                         f"{100 * np.median(errors):.0f} %" if errors else "n/a"])
    kinds = list(STRENGTHS)
    report = common.Report(
        "auto: what the image looks like",
        "The shipped auto network's reading of its own mixture on validation crops (references recorded on training crops).",
        args.device,
    )
    report.table(["degradation", "strength", "images", "kind right", "right or named as the alternative", "mean confidence",
                  "strength error (median, when right)"], rows)
    report.section("Confusion (rows: true kind, columns: read kind)")
    report.table(["true \\ read", *kinds], [[k, *(confusion.get((k, r), 0) for r in kinds)] for k in kinds])
    report.emit(args)


if __name__ == "__main__":
    main()
