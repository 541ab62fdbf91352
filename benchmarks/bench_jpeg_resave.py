"""JPEG files saved twice: what the quantisation tables say against what the estimator reads.

A JPEG records only its last save: a photo saved at quality 20 and again at 90 has q 90 tables.
``dejpeg``'s "auto" reads the tables and asks the shipped estimator too; when the pixels read more
than ``FileLevel.saved_again_below`` (15) under the tables, it trusts the pixels. This measures
the two readings on Set14 (first 8), McMaster (first 6) and classic5 (512² corner crops, OpenCV's
libjpeg): saved once at q 10 / 20 / 30 / 50 / 75 / 90, and again at each higher of 75 / 90 / 95.
The margin must exceed what single saves read under their tables and stay below what re-saves do.

    python benchmarks/bench_jpeg_resave.py --threads 1 [--quick]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import common
import numpy as np

FIRST = (10, 20, 30, 50, 75, 90)
AGAIN = (None, 75, 90, 95)


def main() -> None:
    parser = common.base_parser(__doc__, "bench_jpeg_resave")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    import cv2

    from napari_hyperres.blind.estimate import estimate_level
    from napari_hyperres.core.plugins import get_task

    task = get_task("dejpeg")
    margin = task.level_in_file.saved_again_below
    val = args.data_root / "val"
    paths = (common.image_paths(val / "Set14", 8) + common.image_paths(val / "McMaster", 6) + common.image_paths(val / "classic5"))
    if args.quick:
        paths = paths[:2]
    if not paths:
        common.fail(f"no images under {val}: pass --data-root (the folder holding val/)")
    readings: dict[tuple[int, int | None], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        for image_path in paths:
            image = cv2.imread(str(image_path), cv2.IMREAD_UNCHANGED)[:512, :512]
            for first in FIRST:
                once = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, first])[1]
                for again in AGAIN:
                    if again is not None and again <= first:
                        continue
                    data = once if again is None else cv2.imencode(".jpg", cv2.imdecode(once, cv2.IMREAD_UNCHANGED), [cv2.IMWRITE_JPEG_QUALITY, again])[1]
                    path.write_bytes(data.tobytes())
                    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
                    decoded = np.ascontiguousarray(decoded[..., ::-1] if decoded.ndim == 3 else decoded)
                    tables = float(task.level_in_file.read(path))
                    seen = float(estimate_level(decoded, task, device=args.device))
                    readings.setdefault((first, again), []).append((tables, seen))
    report = common.Report("JPEG files saved twice (dejpeg 'auto')", __doc__.strip().split("\n\n")[1], args.device)
    rows = []
    for (first, again), pairs in readings.items():
        tables, seen = np.array(pairs).T
        below = tables - seen
        rows.append([
            first, "—" if again is None else again, len(pairs), common.fmt(float(np.mean(seen)), 1),
            f"{common.fmt(float(below.min()), 1)} – {common.fmt(float(below.max()), 1)}",
            f"{int(np.sum(below > margin))} / {len(pairs)}",
        ])
    report.table(["saved at q", "then again at q", "images", "estimator mean", "tables − estimator (min – max)",
                  f"pixels used (> {margin:g} below)"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
