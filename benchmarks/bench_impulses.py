"""Impulses in photon-limited data: which hot pixels and cosmic-ray hits ``impulse_mask`` finds, and which spots of
the sample it leaves to the network.

Background: the W2S 400-frame average of field 006, channel 0 (512²), scaled to 50 expected photo-electrons at
its brightest, as counts of a camera with gain 1.2 counts/e⁻, read noise 2 counts and offset 100 (the true noise
model is given to ``impulse_mask``; seeded).

- **Spots of the sample**: 144 Gaussian spots (PSF σ in px, a grid with random sub-pixel offsets) at the given
  photons at their peak, added before the camera's noise; the share of spots with any pixel within 1 px of their
  centre found as an impulse (should be 0 for spots the optics blur: σ ≥ 0.7 px).
- **Hot groups**: 150 groups of hot pixels added after the noise (a single pixel, a pair, an L of three, a
  diagonal streak of four, a 2×2 block), each pixel raised by 70–100 % of the given counts; the share of their
  pixels found, and how many pixels were found that are not in any group.
- **Hot pixels on beads**: 144 blurred beads (PSF σ in px, 1,000 photons at their peak) with one hot pixel each,
  at the bead's brightest pixel or 2 px from it; the share of those hot pixels found.

    python benchmarks/bench_impulses.py [--quick]
"""

from __future__ import annotations

import common
import numpy as np

GAIN, READ_COUNTS, OFFSET, BACKGROUND = 1.2, 2.0, 100.0, 50.0
SIGMAS = (0.5, 0.6, 0.7, 0.8, 1.0)
PEAKS = (30, 100, 300, 600, 1000, 3000)
GROUPS = {
    "single": [(0, 0)], "pair": [(0, 0), (0, 1)], "L of three": [(0, 0), (0, 1), (1, 1)],
    "diagonal streak of four": [(0, 0), (1, 1), (2, 2), (3, 3)], "2×2 block": [(0, 0), (0, 1), (1, 0), (1, 1)],
}
BUMPS = (60, 150, 400, 1500, 4000)


def spots(shape: tuple[int, int], sigma: float, peak: float, rng: np.random.Generator, per_side: int = 12):
    """``(photons (H, W), centres)``: ``per_side``² Gaussian spots of PSF ``sigma`` on a grid, each ``peak`` high."""
    height, width = shape
    image, centres = np.zeros(shape), []
    for i in range(per_side):
        for j in range(per_side):
            cy = 20 + i * (height - 40) / (per_side - 1) + rng.uniform(-0.5, 0.5)
            cx = 20 + j * (width - 40) / (per_side - 1) + rng.uniform(-0.5, 0.5)
            y0, x0 = int(cy) - 6, int(cx) - 6
            yy, xx = np.mgrid[y0 : y0 + 13, x0 : x0 + 13]
            image[y0 : y0 + 13, x0 : x0 + 13] += peak * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
            centres.append((int(round(cy)), int(round(cx))))
    return image, centres


def main() -> None:
    parser = common.base_parser(__doc__, "bench_impulses")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    import tifffile

    from napari_hyperres.core.impulses import impulse_mask
    from napari_hyperres.core.photon_noise import PoissonGaussian, camera_counts

    noise = PoissonGaussian(GAIN, READ_COUNTS**2 - GAIN * OFFSET, OFFSET)
    average = tifffile.imread(common.w2s_clean(args) / "target_avg400_006_0.tif").astype(np.float64)
    background = common.center_crop(average / average.max() * BACKGROUND, 256 if args.quick else 512)
    rng = np.random.default_rng(1)
    sigmas, peaks, bumps = (SIGMAS[::2], PEAKS[1::2], BUMPS[1::2]) if args.quick else (SIGMAS, PEAKS, BUMPS)

    spot_rows = []
    for sigma in sigmas:
        row = [f"σ {sigma:g} px"]
        for peak in peaks:
            image, centres = spots(background.shape, sigma, peak, rng, 6 if args.quick else 12)
            mask = impulse_mask(camera_counts(background + image, GAIN, READ_COUNTS, OFFSET, rng), noise)
            row.append(common.fmt(float(np.mean([mask[y - 1 : y + 2, x - 1 : x + 2].any() for y, x in centres])), 2))
        spot_rows.append(row)

    group_rows = []
    height, width = background.shape
    for name, offsets in GROUPS.items():
        row = [name]
        for bump in bumps:
            counts = camera_counts(background, GAIN, READ_COUNTS, OFFSET, rng).astype(np.float64)
            ys, xs = rng.integers(10, height - 10, 150), rng.integers(10, width - 10, 150)
            truth = np.zeros(counts.shape, dtype=bool)
            for dy, dx in offsets:
                counts[ys + dy, xs + dx] += bump * rng.uniform(0.7, 1.0, ys.size)
                truth[ys + dy, xs + dx] = True
            mask = impulse_mask(counts, noise)
            row.append(f"{mask[truth].mean():.2f} ({np.count_nonzero(mask & ~truth)})")
        group_rows.append(row)

    bead_rows = []
    for sigma in (1.5, 2.0, 3.0):
        for off in (0, 2):
            row = [f"σ {sigma:g} px, {off} px from the peak"]
            for bump in (1000, 3000):
                image, centres = spots(background.shape, sigma, 1000.0, rng, 6 if args.quick else 12)
                counts = camera_counts(background + image, GAIN, READ_COUNTS, OFFSET, rng).astype(np.float64)
                brightest = [(y, x + off) for y, x in centres]
                ys, xs = np.array(brightest).T
                counts[ys, xs] += bump
                row.append(common.fmt(float(impulse_mask(counts, noise)[ys, xs].mean()), 2))
            bead_rows.append(row)

    report = common.Report("Impulses of more than one pixel (microscopy)", __doc__.strip().split("\n\n")[1], args.device)
    report.section(f"Spots of the sample: share found as impulses ({background.shape[0]}², {BACKGROUND:g} photons of background)")
    report.table(["PSF"] + [f"{peak} photons" for peak in peaks], spot_rows)
    report.section("Hot groups: share of their pixels found (other pixels found)")
    report.table(["group"] + [f"+{bump} counts" for bump in bumps], group_rows)
    report.section("Hot pixels on beads of 1,000 photons: share found")
    report.table(["bead, hot pixel", "+1000 counts", "+3000 counts"], bead_rows)
    report.emit(args)


if __name__ == "__main__":
    main()
