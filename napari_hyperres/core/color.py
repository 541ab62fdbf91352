"""Colour spaces, arrays ``(..., 3)`` in ``[0, 1]``: full-range YCbCr (JFIF / ITU-R BT.601), as
JPEG stores colour, and the opponent planes colour denoising restores one by one."""

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


OPPONENT = np.array([[1 / 3, 1 / 3, 1 / 3], [1 / 2, 0.0, -1 / 2], [1 / 4, -1 / 2, 1 / 4]], dtype=np.float32)
"""RGB → opponent planes (rows): the mean, (red − blue) / 2 and (red + blue − 2·green) / 4, the
decorrelating transform colour BM3D works in. The two chroma planes are centred on 0.5, so all
three stay in ``[0, 1]`` for RGB in ``[0, 1]``."""
OPPONENT_INVERSE = np.linalg.inv(OPPONENT.astype(np.float64)).astype(np.float32)
OPPONENT_OFFSET = np.array([0.0, 0.5, 0.5], dtype=np.float32)
OPPONENT_NOISE = np.linalg.norm(OPPONENT.astype(np.float64), axis=1)
"""σ of each opponent plane per unit σ of independent noise in R, G and B: 0.577, 0.707, 0.612."""


def rgb_to_opponent(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` RGB → ``(..., 3)`` float32 opponent planes (:data:`OPPONENT`), chroma centred on 0.5."""
    return rgb.astype(np.float32) @ OPPONENT.T + OPPONENT_OFFSET


def opponent_to_rgb(planes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_opponent`."""
    return (planes.astype(np.float32) - OPPONENT_OFFSET) @ OPPONENT_INVERSE.T
