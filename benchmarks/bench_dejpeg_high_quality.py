"""dejpeg on photos saved at high JPEG qualities: where does restoring stop helping?

Every colour image of McMaster and Set14 (32) is saved as a JPEG file by OpenCV (libjpeg, 4:2:0) at
each quality and restored by the shipped ``dejpeg`` at that quality (what ``--level auto`` reads
from the file's tables). PSNR (RGB, 0–255) of the file and of the restoration against the clean
image; gains per image. Sets :data:`napari_hyperres.core.tasks.dejpeg.GAIN_UP_TO`.

    python benchmarks/bench_dejpeg_high_quality.py --threads 1
"""

from __future__ import annotations

import common
import numpy as np
from bench_estimator_jpeg import saved_as_jpeg

QUALITIES = (75, 80, 85, 90, 95)


def main() -> None:
    parser = common.base_parser(__doc__, "bench_dejpeg_high_quality")
    parser.add_argument("--qualities", type=int, nargs="+", default=list(QUALITIES))
    args = parser.parse_args()
    common.setup_threads(args.threads)
    from napari_hyperres.engine import Restorer

    restorer = Restorer("dejpeg", device=args.device)
    images = []
    for name in ("McMaster", "Set14"):
        images += common.colour_images_8bit(args.data_root / "val" / name, 2 if args.quick else None)
    rows = []
    for quality in args.qualities:
        files = [saved_as_jpeg(image, quality) for image in images]
        before = np.array([common.psnr(f / 255.0, im / 255.0) for f, im in zip(files, images, strict=True)])
        after = np.array([common.psnr(restorer.restore(f, float(quality)) / 255.0, im / 255.0) for f, im in zip(files, images, strict=True)])
        gain = after - before
        rows.append([str(quality), common.fmt(before.mean()), common.fmt(after.mean()), common.fmt(gain.mean(), 3, signed=True),
                     common.fmt(gain.min(), 3, signed=True), common.fmt(gain.max(), 3, signed=True), f"{int((gain < 0).sum())} / {len(gain)}"])
        print(" | ".join(rows[-1]), flush=True)
    report = common.Report("dejpeg on high-quality JPEG files", f"{len(images)} colour photos (McMaster, Set14), restored at the file's quality.", args.device)
    report.table(["quality", "file dB", "restored dB", "gain (mean)", "worst", "best", "worse"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
