"""PSNR and SSIM under each task's protocol (channels or luma, border crop)."""

from __future__ import annotations

import torch

from napari_hyperres.core.degradations import rgb_to_y
from napari_hyperres.core.tasks import Task


def protocol_view(image: torch.Tensor, task: Task, level: float) -> torch.Tensor:
    """What the metric compares: clipped to ``[0, 1]``, luma if ``task.psnr_on == "y"``, border cropped.

    Shape:
        - image: ``(B, C, H, W)``; output: ``(B, 1 or C, H - 2b, W - 2b)``.
    """
    image = image.clamp(0, 1)
    if task.psnr_on == "y" and image.shape[1] == 3:
        image = rgb_to_y(image)
    b = int(task.crop_border(level))
    if b:
        image = image[..., b:-b, b:-b]
    return image


def psnr(restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Per-sample PSNR in dB for images in ``[0, 1]``. ``(B, C, H, W)`` → ``(B,)``."""
    mse = ((restored - clean) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return 10 * torch.log10(1.0 / mse)


def ssim(restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Per-sample SSIM (11×11 Gaussian window, σ 1.5; kornia). ``(B, C, H, W)`` → ``(B,)``."""
    from kornia.metrics import ssim as kornia_ssim

    return kornia_ssim(restored, clean, 11).flatten(1).mean(1)


def score(restored: torch.Tensor, clean: torch.Tensor, task: Task, level: float) -> dict[str, float]:
    """Mean PSNR and SSIM of a batch under the task's protocol."""
    r, c = protocol_view(restored, task, level), protocol_view(clean, task, level)
    return {"psnr": float(psnr(r, c).mean()), "ssim": float(ssim(r, c).mean())}
