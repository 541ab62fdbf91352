"""Training data: images from folders, random crops with flips and rotations, degradation per task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from napari_hyperres.core.tasks import Task
from napari_hyperres.io.files import SUPPORTED_SUFFIXES, read_image


def image_paths(folders: list[str], limit: int | None = None, role: str = "training data (--data)") -> list[Path]:
    """Sorted image files in ``folders`` (non-recursive); ``role`` names them in errors (a review read
    "training data folder" for a wrong --val, and "does not exist" for a file that does)."""
    paths: list[Path] = []
    for folder in folders:
        folder_path = Path(folder)
        if folder_path.is_file():
            raise FileNotFoundError(f"{role}: {folder} is a file; give the folder that holds the images")
        if not folder_path.is_dir():
            raise FileNotFoundError(f"{role}: the folder {folder} does not exist")
        paths += sorted(p for p in folder_path.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES)
    if not paths:
        nested = [f for folder in folders if Path(folder).is_dir() for f in Path(folder).iterdir() if f.is_dir()]
        where = f"; subfolders are not searched (give {', '.join(str(f) for f in nested[:3])}… instead)" if nested else ""
        raise FileNotFoundError(f"{role}: no images ({', '.join(SUPPORTED_SUFFIXES)}) in {', '.join(map(str, folders))}{where}")
    return paths[:limit] if limit else paths


def to_unit_float(image: np.ndarray) -> np.ndarray:
    """uint8/uint16/float image → float32 in ``[0, 1]``."""
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max)
    return image.astype(np.float32)


def load_for_task(path: Path, channels: str) -> tuple[np.ndarray, bool]:
    """Read an image as float ``(H, W, C)`` with the task's channel count; also whether it was gray.

    Gray images for an RGB task are replicated (and flagged, so noise is added once and
    replicated: what a gray image given to an RGB network looks like); colour images for a
    gray task become luma (BT.601).
    """
    raw = read_image(path)
    image = to_unit_float(raw)
    if not np.issubdtype(raw.dtype, np.integer) and not (np.isfinite(image).all() and image.min() >= 0.0 and image.max() <= 1.0):
        raise ValueError(f"{path}: a float training image must hold values in [0, 1] (found {np.nanmin(image):g} to {np.nanmax(image):g}); rescale it or save it as 8/16-bit")
    if image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]
    is_gray = image.ndim == 2
    if channels == "gray":
        if not is_gray:
            image = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return image[..., None], True
    if is_gray:
        return np.repeat(image[..., None], 3, axis=-1), True
    return image, False


class PatchSampler:
    """Random crops (with flips and 90° rotations) from images held in memory.

    Args:
        paths: image files.
        channels: ``"gray"`` or ``"rgb"``.
        patch: crop edge; images smaller than that are mirror-padded (repeatedly, if need be).
        generator: CPU generator driving every random choice (saved in checkpoints).

    ``sample(batch)`` returns ``(B, C, patch, patch)`` float in ``[0, 1]`` and a ``(B,)`` bool
    mask of samples that came from gray images.

    ``opponent_planes``: share of colour crops replaced by one of their opponent planes (mean,
    R − B, R + B − 2G, :func:`napari_hyperres.core.color.rgb_to_opponent`), repeated into the
    three channels and marked gray: what the gray path restores for a task whose colour is
    restored as opponent planes (:attr:`Task.colour`). 0 draws nothing extra from ``generator``.
    """

    def __init__(self, paths: list[Path], channels: str, patch: int, generator: torch.Generator, opponent_planes: float = 0.0) -> None:
        self.patch = patch
        self.generator = generator
        self.opponent_planes = float(opponent_planes)
        self.images: list[torch.Tensor] = []
        self.gray: list[bool] = []
        loaded = [load_for_task(path, channels) for path in paths]
        largest = max((max(image.shape[:2]) for image, _ in loaded), default=0)
        if patch > 4 * largest > 0:  # every image mirror-padded to the patch: a review's --patch 2000 on 180² images took ~22 GB
            raise ValueError(f"--patch {patch} is far larger than every training image (the largest side is {largest} px); "
                             "choose a patch up to about that (the recipes use 48)")
        smaller = sum(1 for image, _ in loaded if min(image.shape[:2]) < patch)
        if smaller:  # said, not silent (a trainer review: --patch 400 on 180² images trained on mirror images)
            import sys

            print(f"note: --patch {patch} is larger than {smaller} of the {len(loaded)} training images (largest side "
                  f"{largest} px): their crops are mirror-padded to {patch}², partly mirror images", file=sys.stderr, flush=True)
        for image, was_gray in loaded:
            h, w = image.shape[:2]
            if h < patch or w < patch:  # numpy's symmetric padding repeats as often as needed (torch's reflect cannot)
                image = np.pad(image, ((0, max(0, patch - h)), (0, max(0, patch - w)), (0, 0)), mode="symmetric")
            t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
            self.images.append(t)
            self.gray.append(was_gray)

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def sample(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        crops, gray = [], []
        for _ in range(batch):
            i = self._randint(len(self.images))
            image = self.images[i]
            h, w = image.shape[-2:]
            y, x = self._randint(h - self.patch + 1), self._randint(w - self.patch + 1)
            crop = image[:, y : y + self.patch, x : x + self.patch]
            if self._randint(2):
                crop = crop.flip(-1)
            crop = torch.rot90(crop, self._randint(4), dims=(-2, -1))
            was_gray = self.gray[i]
            if self.opponent_planes > 0 and not was_gray and crop.shape[0] == 3:
                if float(torch.rand((), generator=self.generator)) < self.opponent_planes:
                    crop, was_gray = opponent_plane(crop, self._randint(3)), True
            crops.append(crop)
            gray.append(was_gray)
        return torch.stack(crops).contiguous(), torch.tensor(gray)


def opponent_plane(crop: torch.Tensor, k: int) -> torch.Tensor:
    """Opponent plane ``k`` of an RGB ``crop`` ``(3, H, W)`` (chroma centred on 0.5), repeated into 3 channels."""
    from napari_hyperres.core.color import OPPONENT, OPPONENT_OFFSET

    row = torch.from_numpy(OPPONENT[k]).to(crop.dtype)
    plane = (crop * row[:, None, None]).sum(0) + float(OPPONENT_OFFSET[k])
    return plane.expand(3, -1, -1).contiguous()


def degrade_batch(
    task: Task, clean: torch.Tensor, level: float, gray_mask: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """``task.degrade`` on a batch; gray samples of an RGB task are degraded once and replicated.

    Shape:
        - clean: ``(B, C, H, W)``; gray_mask: ``(B,)`` bool; output: ``(B, C, H, W)``.
    """
    gray_mask = gray_mask.to(clean.device)

    def degrade(batch: torch.Tensor) -> torch.Tensor:
        return task.degraded(batch, level, generator)

    if clean.shape[1] == 1 or not bool(gray_mask.any()):
        return degrade(clean)
    out = torch.empty_like(clean)
    color = ~gray_mask
    if bool(color.any()):
        out[color] = degrade(clean[color])
    out[gray_mask] = degrade(clean[gray_mask][:, :1]).expand(-1, clean.shape[1], -1, -1)
    return out


def as_8bit_files(degraded: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    """Round and clip a random ``share`` of the samples to 8 bits, in place, as image files hold
    them (noise rounded to 1/255, values below 0 or above 1 clipped); returns ``degraded``.

    Shape:
        - degraded: ``(B, C, H, W)`` on ``[0, 1]`` plus noise; ``generator``: a CPU generator.
    """
    if share > 0:
        files = (torch.rand(degraded.shape[0], generator=generator) < share).to(degraded.device)
        degraded[files] = torch.round(degraded[files].clamp(0, 1) * 255) / 255
    return degraded


def as_jpeg_files(
    degraded: torch.Tensor, gray: torch.Tensor, share: float, qualities: tuple[float, float], generator: torch.Generator
) -> torch.Tensor:
    """Save a random ``share`` of the samples as JPEG files and decode them, in place, at a quality
    drawn uniformly from ``qualities`` ``(low, high)`` (:func:`~napari_hyperres.core.degradations.jpeg_compress`:
    OpenCV's encoder, 4:2:0 chroma; ``gray`` samples as one-channel JPEGs); returns ``degraded``.

    Shape:
        - degraded: ``(B, C, H, W)`` on ``[0, 1]`` (values outside are clipped, as a file's);
          gray: ``(B,)`` bool; ``generator``: a CPU generator.
    """
    from napari_hyperres.core.degradations import jpeg_compress

    if share <= 0:
        return degraded
    count = degraded.shape[0]
    files = torch.rand(count, generator=generator) < share
    low, high = qualities
    quality = low + (high - low) * torch.rand(count, generator=generator)
    for i in torch.nonzero(files).flatten().tolist():
        sample = degraded[i : i + 1]
        if bool(gray[i]) or sample.shape[1] == 1:
            saved = jpeg_compress(sample[:, :1], float(quality[i])).expand_as(sample)
        else:
            saved = jpeg_compress(sample, float(quality[i]))
        degraded[i : i + 1] = saved.to(degraded.dtype)
    return degraded


OTHER_DOWNSCALERS = ("area", "bilinear", "bicubic")
"""How tools other than the task's antialiased bicubic make low-resolution images: area averaging
(what a sensor's larger pixels integrate; ``cv2.INTER_AREA``) and bilinear or bicubic
interpolation without antialiasing (``cv2.resize``'s ``INTER_LINEAR`` and ``INTER_CUBIC``)."""


def with_other_downscalers(degraded: torch.Tensor, clean: torch.Tensor, scale: float, share: float, generator: torch.Generator) -> torch.Tensor:
    """Replace a random ``share`` of a scaling task's degraded crops, in place, by the same crop
    made low-resolution by one of :data:`OTHER_DOWNSCALERS` (chosen at random) and brought back
    up with the task's bicubic (as ``sr``'s ``downsample_upsample``); returns ``degraded``.

    Trained only on antialiased bicubic, ``sr`` sharpens the aliasing of an image downscaled by
    ``cv2.resize``'s default into artefacts: 1.8–2.7 dB *below* plain bicubic on Set14 (BENCHMARKS.md).

    Shape:
        - degraded, clean: ``(B, C, H, W)``; ``generator``: a CPU generator.
    """
    if share <= 0:
        return degraded
    from napari_hyperres.core.degradations import bicubic_resize, low_resolution_size

    picks = torch.rand(degraded.shape[0], generator=generator) < share
    modes = torch.randint(len(OTHER_DOWNSCALERS), (degraded.shape[0],), generator=generator)
    h, w = clean.shape[-2:]
    low_size = low_resolution_size(h, w, scale)
    for i in picks.nonzero().flatten().tolist():
        mode = OTHER_DOWNSCALERS[int(modes[i])]
        options = {} if mode == "area" else {"align_corners": False, "antialias": False}
        low = torch.nn.functional.interpolate(clean[i : i + 1], size=low_size, mode=mode, **options)
        degraded[i] = bicubic_resize(low, (h, w))[0]
    return degraded
