"""Full-range YCbCr (JFIF / ITU-R BT.601), as JPEG stores colour. Arrays ``(..., 3)`` in ``[0, 1]``."""

from __future__ import annotations

import numpy as np

_RGB_TO_YCBCR = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=np.float32
)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR).astype(np.float32)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` RGB → ``(..., 3)`` Y, Cb, Cr with chroma centred on 0.5."""
    out = rgb.astype(np.float32) @ _RGB_TO_YCBCR.T
    out[..., 1:] += 0.5
    return out


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`."""
    tmp = ycbcr.astype(np.float32).copy()
    tmp[..., 1:] -= 0.5
    return tmp @ _YCBCR_TO_RGB.T
