"""Degradation operators the tasks compose.

Pure functions on ``(B, C, H, W)`` float tensors with values in ``[0, 1]``.
Random operators take a ``torch.Generator`` so that the same seed gives the same
output. Levels here are in normalised units (``std`` in ``[0, 1]`` units, JPEG
``quality`` in 1..100, ``scale`` as a factor); the tasks convert user units.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import LevelRangeError, ShapeError


def _check_batch(image: torch.Tensor, name: str = "image") -> None:
    if not isinstance(image, torch.Tensor):
        raise ShapeError(f"expected {name} as a torch.Tensor, got {type(image).__name__}")
    if image.ndim != 4:
        raise ShapeError(f"expected {name} of shape (B, C, H, W), got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise ShapeError(f"expected a floating-point {name}, got {image.dtype}")


def _per_sample(level: float | torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Broadcast a scalar or ``(B,)`` level to shape ``(B, 1, 1, 1)``."""
    level = torch.as_tensor(level, dtype=image.dtype, device=image.device)
    if level.ndim == 0:
        level = level.expand(image.shape[0])
    if level.shape != (image.shape[0],):
        raise ShapeError(f"expected a scalar level or one per sample ({image.shape[0]},), got {tuple(level.shape)}")
    return level.view(-1, 1, 1, 1)


def add_gaussian_noise(
    image: torch.Tensor, std: float | torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add white Gaussian noise, unclipped (the denoising papers' protocol).

    Args:
        image: clean image, values in ``[0, 1]``.
        std: noise standard deviation in ``[0, 1]`` units (σ/255 for 8-bit σ); scalar or ``(B,)``.
        generator: random generator for reproducible noise.

    Shape:
        - image: ``(B, C, H, W)``; output: same shape, values may leave ``[0, 1]``.
    """
    _check_batch(image)
    noise = torch.randn(image.shape, generator=generator, device=image.device, dtype=image.dtype)
    return image + _per_sample(std, image) * noise


def add_poisson_gaussian_noise(
    image: torch.Tensor,
    photons: float | torch.Tensor,
    read_std: float | torch.Tensor = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Poisson shot noise at ``photons`` photo-electrons for a white pixel, plus Gaussian read noise.

    ``y = Poisson(photons · x) / photons + read_std · N(0, 1)``. Fewer photons → noisier.
    The Poisson draw is not differentiable; its gradient is passed straight through
    (``∂y/∂x = 1``), which is what training a restorer needs.

    Shape:
        - image: ``(B, C, H, W)`` in ``[0, 1]``; output: same shape.
    """
    _check_batch(image)
    scale = _per_sample(photons, image)
    if torch.any(scale <= 0):
        raise LevelRangeError(f"expected photons > 0, got {photons}")
    counts = torch.poisson((image.clamp(min=0) * scale).detach(), generator=generator) / scale
    shot = image + (counts - image).detach()
    noise = torch.randn(image.shape, generator=generator, device=image.device, dtype=image.dtype)
    return shot + _per_sample(read_std, image) * noise


def _jpeg_opencv_plane(plane: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode one ``(H, W)`` or ``(H, W, 3)`` uint8 array with OpenCV's libjpeg."""
    ok, buf = cv2.imencode(".jpg", plane, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ShapeError(f"OpenCV could not JPEG-encode an array of shape {plane.shape}")
    flag = cv2.IMREAD_GRAYSCALE if plane.ndim == 2 else cv2.IMREAD_COLOR
    return cv2.imdecode(buf, flag)


def jpeg_compress(image: torch.Tensor, quality: float | torch.Tensor) -> torch.Tensor:
    """JPEG-compress with a real encoder (OpenCV / libjpeg, 4:2:0 for colour), differentiably.

    The forward value is exactly what OpenCV writes to a .jpg file and decodes
    (so training sees what users' files contain). When ``image`` requires a
    gradient, the backward pass is kornia's differentiable JPEG
    (straight-through: ``y = k(x) + (opencv(x) - k(x)).detach()``). kornia alone is
    measurably less degraded than libjpeg at the same quality (BENCHMARKS.md).

    Args:
        image: ``(B, 1|3, H, W)`` in ``[0, 1]`` (colour channels in RGB order).
        quality: JPEG quality in ``[1, 100]``, scalar or ``(B,)``; rounded to an integer.

    Shape:
        - output: same shape as ``image``, values in ``[0, 1]`` on the 1/255 grid.
    """
    _check_batch(image)
    if image.shape[1] not in (1, 3):
        raise ShapeError(f"expected 1 or 3 channels for JPEG, got {image.shape[1]}")
    q = _per_sample(quality, image).flatten()
    if torch.any(q < 1) or torch.any(q > 100):
        raise LevelRangeError(f"expected JPEG quality in [1, 100], got {quality}")
    arr = (image.detach().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    out = np.empty_like(arr)
    for i in range(arr.shape[0]):
        if arr.shape[1] == 1:
            out[i, 0] = _jpeg_opencv_plane(arr[i, 0], int(round(float(q[i]))))
        else:
            bgr = np.ascontiguousarray(arr[i].transpose(1, 2, 0)[..., ::-1])
            out[i] = _jpeg_opencv_plane(bgr, int(round(float(q[i]))))[..., ::-1].transpose(2, 0, 1)
    real = torch.from_numpy(out).to(image.device, image.dtype) / 255.0
    if not (image.requires_grad and torch.is_grad_enabled()):
        return real
    soft = jpeg_compress_kornia(image, q)  # the real encoder's values, kornia's gradient
    return soft + (real - soft).detach()


def jpeg_compress_kornia(image: torch.Tensor, quality: float | torch.Tensor) -> torch.Tensor:
    """kornia's differentiable JPEG (for gradients; see :func:`jpeg_compress` for the real encoder).

    Gray images are run through kornia's colour codec as a gray RGB and averaged back.

    Shape:
        - image: ``(B, 1|3, H, W)`` in ``[0, 1]``; output: same shape.
    """
    from kornia.enhance import jpeg_codec_differentiable

    _check_batch(image)
    q = _per_sample(quality, image).flatten()
    h, w = image.shape[-2:]
    ph, pw = (-h) % 16, (-w) % 16
    x = image.expand(-1, 3, -1, -1) if image.shape[1] == 1 else image
    x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    y = jpeg_codec_differentiable(x.clamp(0, 1), q)[..., :h, :w]
    return y.mean(dim=1, keepdim=True) if image.shape[1] == 1 else y


def bicubic_resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize with antialiased bicubic interpolation (a = -0.5, as MATLAB ``imresize``).

    Downscaling widens the kernel by the scale factor (antialiasing), as MATLAB does;
    upscaling is plain bicubic. Unclipped, like MATLAB's double output.

    Shape:
        - image: ``(B, C, H, W)``; output: ``(B, C, size[0], size[1])``.
    """
    _check_batch(image)
    return F.interpolate(image, size=tuple(int(s) for s in size), mode="bicubic", antialias=True, align_corners=False)


def low_resolution_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """``(height, width)`` of an image shrunk by ``scale``, rounded, at least 1 pixel each."""
    return max(1, round(height / float(scale))), max(1, round(width / float(scale)))


def downsample_upsample(image: torch.Tensor, scale: float) -> torch.Tensor:
    """Low-resolution simulation for pre-upsampling super-resolution.

    Bicubic down by ``scale`` (sizes rounded), then bicubic back to the input size.

    Shape:
        - image: ``(B, C, H, W)``; output: same shape.
    """
    _check_batch(image)
    if float(scale) < 1:
        raise LevelRangeError(f"expected a scale factor >= 1, got {scale}")
    h, w = image.shape[-2:]
    low = bicubic_resize(image, low_resolution_size(h, w, scale))
    return bicubic_resize(low, (h, w))


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Isotropic Gaussian blur (kornia), kernel size ``2·ceil(3σ)+1``, reflect borders.

    Shape:
        - image: ``(B, C, H, W)``; output: same shape.
    """
    from kornia.filters import gaussian_blur2d

    _check_batch(image)
    if sigma <= 0:
        return image
    k = 2 * int(np.ceil(3 * sigma)) + 1
    return gaussian_blur2d(image, (k, k), (float(sigma), float(sigma)), border_type="reflect")


def rgb_to_y(image: torch.Tensor) -> torch.Tensor:
    """Luma Y of ITU-R BT.601 as MATLAB ``rgb2ycbcr`` (studio range, /255 units).

    Shape:
        - image: ``(B, 3, H, W)`` in ``[0, 1]``; output: ``(B, 1, H, W)`` in ``[16/255, 235/255]``.
    """
    r, g, b = image[:, 0:1], image[:, 1:2], image[:, 2:3]
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0
