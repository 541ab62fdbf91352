"""Gray images stored as colour (R = G = B): restored as gray (since stop 49) against as colour (before).

Set12 (gray) with σ noise added, rounded and clipped to uint8 (:func:`common.noisy_8bit_file`), then
copied into three channels, as a gray PNG saved as RGB holds it. Each file is restored by ``denoise``
(float32) at its σ, once as the engine does now (:func:`~napari_hyperres.core.images.is_neutral_colour`:
the gray network, given back as colour) and once through the colour path it took before; PSNR of the
channels' mean against the clean gray image. The gray file itself is restored for reference.

    python benchmarks/bench_gray_as_colour.py --threads 1 [--quick]
"""

from __future__ import annotations

import common
import numpy as np

SIGMAS = (15, 25, 50)


def main() -> None:
    parser = common.base_parser(__doc__, "bench_gray_as_colour")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    from napari_hyperres.engine import Restorer

    folder = args.data_root / "val" / "Set12"
    if not folder.is_dir():
        common.fail(f"{folder} not found: pass --data-root (the folder holding val/Set12)")
    paths = common.image_paths(folder, limit=2 if args.quick else None)
    cleans = [common.center_crop(common.load_image(path, "gray"), 96 if args.quick else None) for path in paths]
    restorer = Restorer("denoise", device=args.device, precision="float32")

    def score(noisy: np.ndarray, clean: np.ndarray, sigma: float, as_gray: bool) -> float:
        out = restorer.restore(noisy, sigma, neutral_as_gray=as_gray)  # False: the colour path every RGB plane took before
        out = out.mean(axis=-1) if out.ndim == 3 else out
        return common.psnr(out / 255.0, clean)

    rows = []
    for sigma in SIGMAS:
        gray, now, before = [], [], []
        for clean in cleans:
            noisy = common.noisy_8bit_file(clean, sigma)
            as_rgb = np.repeat(noisy[..., None], 3, axis=-1)
            gray.append(score(noisy, clean, sigma, True))
            now.append(score(as_rgb, clean, sigma, True))
            before.append(score(as_rgb, clean, sigma, False))
        rows.append([sigma, common.fmt(np.mean(gray)), common.fmt(np.mean(now)), common.fmt(np.mean(before)),
                     common.fmt(np.mean(now) - np.mean(before), signed=True)])
    report = common.Report("Gray stored as colour", __doc__.strip().split("\n\n")[1], args.device)
    report.notes(["precision: float32 (Restorer(..., precision=\"float32\")), whatever the machine row says"])
    report.section(f"Set12, {len(cleans)} files, 8-bit noise, PSNR (dB)")
    report.table(["σ", "gray file", "as RGB: now (gray network)", "as RGB: before (colour network)", "gain"], rows)
    report.emit(args)


if __name__ == "__main__":
    main()
