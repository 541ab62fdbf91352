"""Evaluation tables through the restoration engine, under each task's stated protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from napari_hyperres.core.images import from_batch, to_batch
from napari_hyperres.core.tasks import Task
from napari_hyperres.engine import Restorer

from .data import image_paths, load_for_task
from .metrics import score


def modcrop(image: np.ndarray, scale: float) -> np.ndarray:
    """Crop ``(H, W, C)`` so both sides are multiples of ``scale`` when it is an integer."""
    if float(scale).is_integer() and scale > 1:
        s = int(scale)
        h, w = image.shape[:2]
        return image[: h - h % s, : w - w % s]
    return image


def evaluate(
    restorer: Restorer,
    folder: str | Path,
    levels: list[float],
    *,
    max_images: int | None = None,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Mean PSNR/SSIM per level of ``restorer`` on the images of ``folder``.

    Each clean image is degraded with ``task.simulate_input`` (noise seeded ``seed`` per
    image), restored by the engine (``value_range=(0, 1)``: the degraded float data are
    passed unclipped), and scored with the task's protocol (:func:`trainer.metrics.score`).
    Gray images for RGB tasks are degraded as one channel and restored as gray.

    Returns:
        ``{"<level>": {"psnr", "ssim", "psnr_input", "images"}}``.
    """
    task: Task = restorer.task
    paths = image_paths([str(folder)], max_images, role="evaluation images")
    table: dict[str, dict[str, float]] = {}
    for level in levels:
        rows = []
        for path in paths:
            image, was_gray = load_for_task(path, task.channels)
            if was_gray:
                image = image[..., :1]
            image = modcrop(image, level if task.resamples else 1)
            clean = to_batch(image)
            degraded = task.simulate_input(clean, level, torch.Generator().manual_seed(seed))
            array = from_batch(degraded)
            array = array[..., 0] if array.shape[-1] == 1 else array
            restored = restorer.restore(array, level, value_range=(0.0, 1.0), rgb=array.ndim == 3)
            out = to_batch(restored)
            h, w = min(out.shape[-2], clean.shape[-2]), min(out.shape[-1], clean.shape[-1])
            baseline = task.prepare(degraded, level) if task.prepare is not None else degraded
            row = score(out[..., :h, :w], clean[..., :h, :w], task, level)
            row["psnr_input"] = score(baseline[..., :h, :w], clean[..., :h, :w], task, level)["psnr"]
            rows.append(row)
        table[f"{level:g}"] = {
            "psnr": round(float(np.mean([r["psnr"] for r in rows])), 3),
            "ssim": round(float(np.mean([r["ssim"] for r in rows])), 4),
            "psnr_input": round(float(np.mean([r["psnr_input"] for r in rows])), 3),
            "images": len(rows),
        }
    return table


def format_table(title: str, table: dict[str, dict[str, float]], protocol: str) -> str:
    """A markdown table of one evaluation."""
    lines = [f"**{title}**" + (f" — protocol: {protocol}" if protocol else ""), "", "| level | input PSNR | PSNR | SSIM |", "|---|---|---|---|"]
    for level, row in table.items():
        lines.append(f"| {level} | {row['psnr_input']:.2f} | {row['psnr']:.2f} | {row['ssim']:.4f} |")
    return "\n".join(lines)
