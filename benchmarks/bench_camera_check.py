"""The cost and the verdicts of the ``--camera`` check (``CameraMismatchWarning``): the whole sample of
planes (as before stop 48) against central 512² crops of a few planes (:func:`camera_check_planes`).

Each stack is 8 planes of a W2S 400-frame average (held-out fields 001–030, tiled to ``size``²) at 200
photo-electrons at white, turned into camera counts (gain 2.2, read noise 3.5, offset 100; uint16). The
check is run with the right camera and with three wrong ones (gain ×0.5, gain ×2, another detector's
offset 500 and gain 8 read as this one): it should warn for the wrong ones and stay quiet for the right one.

    python benchmarks/bench_camera_check.py --threads 1 [--quick]
"""

from __future__ import annotations

import time
import warnings

import common
import numpy as np

GAIN, READ, OFFSET, PEAK = 2.2, 3.5, 100.0, 200.0
CAMERAS = {"right camera": (GAIN, READ, OFFSET), "gain ×0.5": (GAIN / 2, READ, OFFSET), "gain ×2": (GAIN * 2, READ, OFFSET),
           "another detector (8, 3.5, 500)": (8.0, READ, 500.0)}


def main() -> None:
    parser = common.base_parser(__doc__, "bench_camera_check")
    parser.add_argument("--size", type=int, default=1024, help="plane side in pixels")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    import tifffile

    from napari_hyperres.blind import photon_fit
    from napari_hyperres.core.photon_noise import PoissonGaussian, camera_counts

    folder = common.w2s_clean(args)
    size = 256 if args.quick else args.size
    rng = np.random.default_rng(0)
    planes = []
    for field in range(1, 9):
        average = tifffile.imread(folder / f"target_avg400_{field:03d}_{field % 3}.tif").astype(np.float64)
        tiled = np.tile(average / average.max(), (-(-size // average.shape[0]), -(-size // average.shape[1])))[:size, :size]
        planes.append(camera_counts(tiled * PEAK + 2.0, GAIN, READ, OFFSET, rng))
    stack = photon_fit.sampled_planes(np.stack(planes))
    black, white = float(np.percentile(stack, 0.1)), float(np.percentile(stack, 99.9))

    def check(cut: bool, camera: tuple[float, float, float]) -> tuple[float, bool]:
        noise = PoissonGaussian.from_read_noise(*camera)
        original = photon_fit.camera_check_planes
        if not cut:
            photon_fit.camera_check_planes = lambda p: p  # the whole sample, as before
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                photon_fit._warn_if_camera_misfits(stack, noise, black, white)
                seconds = time.perf_counter() - start
        finally:
            photon_fit.camera_check_planes = original
        return seconds, any(w.category.__name__ == "CameraMismatchWarning" for w in caught)

    rows = []
    for name, camera in CAMERAS.items():
        whole_s, whole_warns = check(False, camera)
        cut_s, cut_warns = check(True, camera)
        rows.append([name, f"{whole_s:.2f}", "yes" if whole_warns else "no", f"{cut_s:.2f}", "yes" if cut_warns else "no"])
    report = common.Report("The --camera check: whole sample against central crops", __doc__.strip().split("\n\n")[1], args.device)
    report.section(f"8 planes of {size}², seconds and whether it warned")
    report.table(["camera given", "whole sample s", "warns", "crops s", "warns"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
