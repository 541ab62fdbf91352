"""A camera's defective columns and rows through the ``microscopy`` task: what they do to the pixels
beside them, to the level Auto reads and to the noise fit.

Frames: W2S 400-frame averages (fields 001–006, channel = field index % 3, 512²) scaled to 50
expected photo-electrons at white, as raw counts of a camera with gain 2 counts/e⁻, read noise 3.5
counts and offset 100 (uint16). Each gets one kind of defect; both the frame with it and the frame
without it are restored with ``restore(counts, "auto")`` (the noise fitted blind):

- **beside it**: pixels off the defect whose output moved by more than 5 counts against the same
  frame restored without it (summed over the frames), and the largest move;
- **Auto**: the photons the fit and white point read (mean over frames; without the defect in the
  first row);
- **gain**: the fitted α (the camera's is 2);
- **PSNR**: affine-aligned against the clean average, 0–255 scale (the W2S protocol), over the
  pixels off the defect (the defect's own pixels keep its offset, as recorded).

    python benchmarks/bench_line_defects.py --threads 1 [--quick]
"""

from __future__ import annotations

import common
import numpy as np
from bench_w2s import affine_fit, psnr_255

PEAK, GAIN, READ_COUNTS, OFFSET = 50.0, 2.0, 3.5, 100.0
FIELDS = ("001", "002", "003", "004", "005", "006")


def _hot(column: int, add: float, start: int = 0):
    def apply(frame: np.ndarray) -> tuple[np.ndarray, tuple]:
        frame[start:, column] = np.minimum(frame[start:, column].astype(np.int64) + int(add), 65535)
        return frame, (slice(start, None), column)
    return apply


def _set(region, value: int):
    def apply(frame: np.ndarray) -> tuple[np.ndarray, tuple]:
        frame[region] = value
        return frame, region
    return apply


def _pair(frame: np.ndarray) -> tuple[np.ndarray, tuple]:
    frame[:, 200:202] += 300
    return frame, (slice(None), slice(200, 202))


def _row(frame: np.ndarray) -> tuple[np.ndarray, tuple]:
    frame[150, :] += 200
    return frame, (150, slice(None))


DEFECTS = {
    "none": None,
    "hot column +300": _hot(200, 300),
    "hot column +3,000": _hot(200, 3000),
    "column from a charge trap at row 300, +300": _hot(200, 300, start=300),
    "two adjacent columns +300": _pair,
    "hot row +200": _row,
    "dead column (0)": _set((slice(None), 200), 0),
    "border column +300": _hot(0, 300),
}


def main() -> None:
    parser = common.base_parser(__doc__, "bench_line_defects")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    import tifffile

    from napari_hyperres.core.photon_noise import camera_counts
    from napari_hyperres.engine import Restorer, whole_noise, whole_value_range

    restorer = Restorer("microscopy", device=args.device, precision="float32")
    folder = common.w2s_clean(args)
    fields = FIELDS[:1] if args.quick else FIELDS
    size = 256 if args.quick else 512
    frames = []
    for index, field in enumerate(fields):
        average = tifffile.imread(folder / f"target_avg400_{field}_{index % 3}.tif").astype(np.float64)
        clean = common.center_crop((average - average.min()) / (average.max() - average.min()), size)
        counts = camera_counts(clean * PEAK, GAIN, READ_COUNTS, OFFSET, np.random.default_rng(index))
        frames.append((clean, counts, restorer.restore(counts, "auto")))
    rows = []
    for name, defect in DEFECTS.items():
        moved, largest, photons, gains, scores = 0, 0.0, [], [], []
        for clean, counts, plain in frames:
            frame, region = (counts.copy(), None) if defect is None else defect(counts.copy())
            off = np.ones(frame.shape, dtype=bool)
            if region is not None:
                off[region] = False
            noise = whole_noise(frame)
            photons.append(noise.photons(*whole_value_range(frame, counts=True)))
            gains.append(noise.gain)
            restored = plain if defect is None else restorer.restore(frame, "auto")
            change = np.abs(restored.astype(np.float64) - plain)[off]
            moved += int(np.count_nonzero(change > 5))
            largest = max(largest, float(change.max()))
            target = clean * 255.0
            aligned = affine_fit(np.where(off, restored, plain).astype(np.float64), target)
            scores.append(psnr_255(aligned, target))
        rows.append([name, str(moved), common.fmt(largest, 0), common.fmt(float(np.mean(photons)), 1),
                     common.fmt(float(np.mean(gains)), 2), common.fmt(float(np.mean(scores)))])
    report = common.Report("Camera line defects (microscopy)", __doc__.strip().split("\n\n")[1], args.device)
    report.section(f"{len(fields)} W2S-made frames of {size}², {PEAK:g} photons at white")
    report.table(["defect", "beside it: pixels > 5 counts", "largest move", "Auto (photons)", "gain α", "PSNR off the defect"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
