"""What an image array must be before anything restores or measures it: checks shared by the
engine, the estimators and the I/O code (no torch, no network)."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .intensity import NOT_FINITE, check_dtype


def channels_last(image_shape: tuple[int, ...]) -> bool:
    """Whether a last axis of 1 or 2 behind a plane larger than 4×4 looks like channels (gray + alpha as
    napari opens it), not like X."""
    return len(image_shape) >= 3 and image_shape[-1] in (1, 2) and min(image_shape[-3:-1]) > 4


def is_rgb_image(image_shape: tuple[int, ...], rgb: bool | None) -> bool:
    """Whether the last axis holds colour channels (auto: ≥3-D and last axis of length 3 or 4)."""
    if rgb is None:
        if channels_last(image_shape):
            raise ShapeError(
                f"the last axis of shape {image_shape} looks like {image_shape[-1]} channel(s); expected gray (..., Y, X) "
                f"or RGB(A) (..., Y, X, 3|4): move the channel axis first to restore each channel as a plane "
                f"(numpy.moveaxis(image, -1, 0)), or pass rgb=False if the last axis really is X"
            )
        return len(image_shape) >= 3 and image_shape[-1] in (3, 4)
    if rgb and (len(image_shape) < 3 or image_shape[-1] not in (3, 4)):
        raise ShapeError(f"expected a last axis of 3 (RGB) or 4 (RGBA) channels for an RGB image, got shape {image_shape}")
    return bool(rgb)


def validate_image(image: np.ndarray, rgb: bool | None = None) -> bool:
    """Check an image array before restoring; return whether it is RGB(A).

    Raises:
        ShapeError: not an array, empty, fewer than 2 dimensions, wrong channel
            count for RGB, unsupported dtype, or NaN/inf values.
    """
    if not hasattr(image, "shape") or not hasattr(image, "dtype"):
        raise ShapeError(f"expected a numpy array, got {type(image).__name__}")
    check_dtype(np.dtype(image.dtype))
    if image.ndim < 2:
        raise ShapeError(f"expected an image with at least 2 dimensions (Y, X), got shape {image.shape}")
    if image.size == 0:
        raise ShapeError(f"expected a non-empty image, got shape {image.shape}")
    is_rgb = is_rgb_image(tuple(image.shape), rgb)
    spatial = image.shape[-3:-1] if is_rgb else image.shape[-2:]
    if min(spatial) < 2:
        raise ShapeError(f"expected at least 2×2 pixels per plane, got {spatial[0]}×{spatial[1]} (shape {image.shape})")
    if np.issubdtype(image.dtype, np.floating) and not np.all(np.isfinite(image)):
        raise ShapeError(NOT_FINITE)
    return is_rgb


def is_neutral_colour(image: np.ndarray) -> bool:
    """Whether an RGB(A) array ``(..., Y, X, 3|4)`` is gray stored as colour: R = G = B at every pixel
    (a gray PNG saved as RGB, a black-and-white JPEG decoded with neutral chroma). Its noise is the same
    in the three channels, which a colour network does not expect: restored as colour, Set12 with rounded
    noise came out 5–8 dB below the gray network's result, tinted (σ 15 / 25 / 50: 27.79 / 23.71 / 19.32
    against 32.68 / 30.28 / 27.05 dB; ``benchmarks/bench_gray_as_colour.py``)."""
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]))


def split_channels(image: np.ndarray, channel_axis: int, rgb: bool | None = None) -> list[np.ndarray]:
    """The channels of ``image`` along its leading axis ``channel_axis`` (``1`` for ``ZCYX``), each
    without that axis: what is restored, fitted and estimated on its own (detectors differ).

    Raises:
        ShapeError: ``channel_axis`` is not one of the leading axes (Y, X or colour).
    """
    spatial = 3 if validate_image(image, rgb) else 2
    if not -image.ndim <= channel_axis < image.ndim or not channel_axis % image.ndim < image.ndim - spatial:
        raise ShapeError(
            f"channel_axis {channel_axis} of an image of shape {image.shape}: give one of its leading axes "
            f"(0 to {image.ndim - spatial - 1}), not Y, X or colour"
        )
    axis = channel_axis % image.ndim
    return [np.take(image, c, axis=axis) for c in range(image.shape[axis])]


def to_batch(image: np.ndarray):
    """``(H, W)`` or ``(H, W, C)`` array → a ``(1, C, H, W)`` torch tensor of the same dtype (a view
    where the array is contiguous after the transpose, else a copy)."""
    import torch

    array = image[..., None] if image.ndim == 2 else image
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]


def from_batch(tensor) -> np.ndarray:
    """``(1, C, H, W)`` tensor → an ``(H, W, C)`` numpy array (float32 for a half-precision tensor; on the CPU)."""
    import torch

    first = tensor[0].detach()
    if first.dtype in (torch.float16, torch.bfloat16):  # numpy has no bfloat16
        first = first.float()
    return first.cpu().numpy().transpose(1, 2, 0)
