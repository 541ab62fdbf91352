"""Build the plugin's five sample images from scikit-image's bundled pictures.

    python sample_data/build_samples.py            # writes napari_hyperres/_samples/
    python sample_data/build_samples.py --out DIR  # somewhere else

Deterministic (fixed seeds), offline (only images that ship inside scikit-image),
and small (< 1 MB together). What each file is, and its degradation level, goes
to ``samples.json`` beside them; ``napari_hyperres.ui.sample_data`` reads it and puts
the level into each layer's metadata (``metadata["degradation"]``), which the
Restore widget uses to preset its task and level.

| file | made from | degradation |
|---|---|---|
| noisy_nuclei.png | synthetic fluorescence-like nuclei (no fluorescence image ships offline with scikit-image) | + σ/255·N(0,1), σ = 25, clipped, uint8 |
| coffee_q10.jpg | skimage.data.coffee() | OpenCV (libjpeg) JPEG at quality 10 |
| astronaut_x2.png | skimage.data.astronaut() | bicubic ×1/2 (torch antialiased, a = -0.5; the sr task's resampler) |
| noisy_stack.tif | synthetic 3-D nuclei, 8 × 128 × 128 uint16 | + σ/255·65535·N(0,1), σ = 15, clipped |
| fluorescence_stack.tif | synthetic 3-D nuclei, 10 × 160 × 160 uint16 camera counts | Poisson–Gaussian: sCMOS-like gain 2.2 counts/e⁻, offset 100, read noise 1.6 e⁻, ≈ 60 e⁻ at the brightest |
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "napari_hyperres" / "_samples"

SIGMA_2D = 25.0
QUALITY = 10
SCALE = 2
SIGMA_3D = 15.0
CAMERA = dict(gain=2.2, offset=100.0, read_electrons=1.6, peak_electrons=60.0)
"""The simulated camera of the fluorescence sample (an sCMOS in its 16-bit mode, a dim sample)."""


def synthetic_nuclei(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
    """Fluorescence-like nuclei in ``[0, 1]``: blurred ellipses/ellipsoids with texture on a dark background."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    grid = np.indices(shape, dtype=np.float32)
    image = np.zeros(shape, np.float32)
    for _ in range(count):
        centre = [rng.uniform(0.08 * n, 0.92 * n) for n in shape]
        radii = [rng.uniform(0.05, 0.11) * shape[-1]] * len(shape)
        radii[-1] *= rng.uniform(0.7, 1.3)
        if len(shape) == 3:
            radii[0] = rng.uniform(1.5, 3.0)
        angle = rng.uniform(0, np.pi)
        yy, xx = grid[-2] - centre[-2], grid[-1] - centre[-1]
        u = np.cos(angle) * yy + np.sin(angle) * xx
        v = -np.sin(angle) * yy + np.cos(angle) * xx
        r2 = (u / radii[-2]) ** 2 + (v / radii[-1]) ** 2
        if len(shape) == 3:
            r2 = r2 + ((grid[0] - centre[0]) / radii[0]) ** 2
        brightness = rng.uniform(0.35, 0.85)
        image = np.maximum(image, brightness * (r2 <= 1.0) * (1.0 - 0.35 * r2))
    texture = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 2.0)
    texture /= np.abs(texture).max()
    image = image * (1.0 + 0.35 * texture) * (image > 0)
    sigma = (0.6, 1.2, 1.2) if len(shape) == 3 else 1.2
    image = ndimage.gaussian_filter(image, sigma) + 0.04
    return np.clip(image, 0.0, 1.0)


def add_noise(clean: np.ndarray, sigma_8bit: float, seed: int) -> np.ndarray:
    """``clean + σ/255 · N(0, 1)`` on ``[0, 1]`` data (the denoise task's model), clipped to ``[0, 1]``."""
    rng = np.random.default_rng(seed)
    return np.clip(clean + sigma_8bit / 255.0 * rng.standard_normal(clean.shape), 0.0, 1.0)


def build(out: Path) -> list[dict]:
    """Write the five samples and ``samples.json`` into ``out``; return the manifest entries."""
    import cv2
    import tifffile
    import torch
    from skimage import data

    from napari_hyperres.core.degradations import bicubic_resize

    out.mkdir(parents=True, exist_ok=True)
    entries = []

    # 1. noisy fluorescence-like gray image
    clean = synthetic_nuclei((256, 256), count=18, seed=1)
    noisy = np.round(add_noise(clean, SIGMA_2D, seed=2) * 255).astype(np.uint8)
    cv2.imwrite(str(out / "noisy_nuclei.png"), noisy)
    entries.append(
        dict(
            key="noisy_nuclei", file="noisy_nuclei.png", display_name="Noisy nuclei (σ=25)", task="denoise", level=SIGMA_2D,
            unit="σ (8-bit)", source="synthetic fluorescence-like nuclei (seed 1)",
            how=f"clean + {SIGMA_2D:g}/255·N(0,1) (numpy seed 2), clipped to [0, 1], rounded to uint8",
        )
    )

    # 2. JPEG-damaged photograph (a real libjpeg file)
    coffee = data.coffee()
    ok = cv2.imwrite(str(out / "coffee_q10.jpg"), cv2.cvtColor(coffee, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    if not ok:
        raise RuntimeError("OpenCV could not write the JPEG sample")
    entries.append(
        dict(
            key="coffee_jpeg", file="coffee_q10.jpg", display_name=f"JPEG photo (quality {QUALITY})", task="dejpeg",
            level=float(QUALITY), unit="JPEG quality", source="skimage.data.coffee()",
            how=f"OpenCV {cv2.__version__} imwrite, IMWRITE_JPEG_QUALITY={QUALITY}",
        )
    )

    # 3. low-resolution photograph
    astronaut = torch.from_numpy(data.astronaut().astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    h, w = astronaut.shape[-2:]
    low = bicubic_resize(astronaut, (h // SCALE, w // SCALE))[0].permute(1, 2, 0).numpy()
    low = np.round(np.clip(low, 0, 1) * 255).astype(np.uint8)
    cv2.imwrite(str(out / "astronaut_x2.png"), cv2.cvtColor(low, cv2.COLOR_RGB2BGR))
    entries.append(
        dict(
            key="astronaut_lowres", file="astronaut_x2.png", display_name=f"Low-resolution photo (×{SCALE})", task="sr",
            level=float(SCALE), unit="× scale", source="skimage.data.astronaut()",
            how=f"bicubic down ×1/{SCALE} (torch antialiased bicubic, a=-0.5), clipped, uint8",
        )
    )

    # 4. small noisy 3-D stack
    clean3 = synthetic_nuclei((8, 128, 128), count=10, seed=3)
    noisy3 = np.round(add_noise(clean3, SIGMA_3D, seed=4) * 65535).astype(np.uint16)
    tifffile.imwrite(out / "noisy_stack.tif", noisy3, compression="zlib", metadata={"axes": "ZYX"})
    entries.append(
        dict(
            key="noisy_stack", file="noisy_stack.tif", display_name="Noisy 3-D stack (σ=15, uint16)", task="denoise",
            level=SIGMA_3D, unit="σ (8-bit)", source="synthetic 3-D fluorescence-like nuclei (seed 3)",
            how=f"clean + {SIGMA_3D:g}/255·N(0,1) on [0, 1] (numpy seed 4), clipped, ×65535 → uint16",
            axes="ZYX", scale=[2.0, 1.0, 1.0],
        )
    )

    # 5. photon-limited fluorescence stack in raw camera counts (the microscopy task)
    clean5 = synthetic_nuclei((10, 160, 160), count=12, seed=5)
    rng = np.random.default_rng(6)
    electrons = rng.poisson(clean5 * CAMERA["peak_electrons"]) + CAMERA["read_electrons"] * rng.standard_normal(clean5.shape)
    counts = np.clip(np.round(CAMERA["offset"] + CAMERA["gain"] * electrons), 0, 65535).astype(np.uint16)
    tifffile.imwrite(out / "fluorescence_stack.tif", counts, compression="zlib", metadata={"axes": "ZYX"})
    black, white = np.percentile(counts, (0.1, 99.9))  # the intensity rule's black and white points
    photons = round(float((white - black) / CAMERA["gain"]), 1)
    entries.append(
        dict(
            key="fluorescence_stack", file="fluorescence_stack.tif",
            display_name=f"Photon-limited fluorescence stack (uint16 counts, ≈{photons:g} photons)", task="microscopy",
            level=photons, unit="photons", source="synthetic 3-D fluorescence-like nuclei (seed 5)",
            how=(
                f"electrons = Poisson({CAMERA['peak_electrons']:g}·clean) + {CAMERA['read_electrons']:g}·N(0,1) (numpy seed 6); "
                f"counts = {CAMERA['offset']:g} + {CAMERA['gain']:g}·electrons, rounded → uint16; level = photons between "
                "the 0.1st and 99.9th percentiles of the counts with the true gain"
            ),
            axes="ZYX", scale=[2.0, 1.0, 1.0],
        )
    )

    (out / "samples.json").write_text(json.dumps({"samples": entries}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT.relative_to(ROOT)})")
    args = parser.parse_args()
    entries = build(args.out)
    total = sum((args.out / e["file"]).stat().st_size for e in entries)
    for e in entries:
        print(f"{e['file']:<20} {(args.out / e['file']).stat().st_size / 1024:7.1f} KiB  {e['task']} {e['level']:g} ({e['unit']})")
    print(f"total {total / 1024:.1f} KiB in {args.out}")


if __name__ == "__main__":
    main()
