"""The quality a JPEG file was saved at, read from its quantisation tables (no network).

Encoders built on the IJG libjpeg (OpenCV, Pillow, ImageMagick, most cameras' software)
scale the standard luminance table of ITU-T T.81 Annex K by ``5000 / q`` (q < 50) or
``200 - 2q`` (q ≥ 50). Inverting that scaling gives the quality exactly for those
encoders; for other tables (e.g. Photoshop's) it gives the IJG quality whose table is
closest, and :func:`read_jpeg_quality` says how close.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError

JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")
"""File name endings of JPEG files (any case)."""

STANDARD_LUMA = np.array(
    [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ]
)  # fmt: skip
"""ITU-T T.81 Annex K.1 luminance table, natural (row-major) order."""

ZIGZAG = np.array(
    [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ]
)  # fmt: skip
"""Natural index of each zig-zag position (the order tables are stored in a file)."""


@dataclass(frozen=True)
class JpegQuality:
    """Quality read from a file: ``quality`` (1–100) and ``exact`` (the table is IJG's for it)."""

    quality: int
    exact: bool
    mean_abs_error: float


def ijg_table(quality: int) -> np.ndarray:
    """The luminance table libjpeg writes at ``quality`` (natural order, baseline 1–255)."""
    q = min(max(int(quality), 1), 100)
    scale = 5000 // q if q < 50 else 200 - 2 * q
    return np.clip((STANDARD_LUMA * scale + 50) // 100, 1, 255)


def header_segments(data: bytes):
    """``(marker, payload)`` of each header segment of a JPEG byte stream, up to its image data.

    Raises:
        ShapeError: not a JPEG stream.
    """
    if data[:2] != b"\xff\xd8":
        raise ShapeError("not a JPEG file (no start-of-image marker); only .jpg files hold JPEG tables and headers")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end: the header ends
            return
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        yield marker, data[i + 4 : min(i + 2 + length, len(data))]
        i += 2 + length


def luminance_table(data: bytes) -> np.ndarray:
    """Quantisation table 0 (luminance) of a JPEG byte stream, natural order.

    Raises:
        ShapeError: not a JPEG stream, or no quantisation table 0.
    """
    for marker, payload in header_segments(data):
        if marker != 0xDB:
            continue
        j = 0
        while j < len(payload):
            precision, table_id = payload[j] >> 4, payload[j] & 0x0F
            size = 128 if precision else 64
            if j + 1 + size > len(payload):  # truncated file: the table is cut short
                break
            raw = np.frombuffer(payload[j + 1 : j + 1 + size], dtype=">u2" if precision else np.uint8).astype(int)
            if table_id == 0 and raw.size == 64:
                natural = np.empty(64, dtype=int)
                natural[ZIGZAG] = raw
                return natural
            j += 1 + size
    raise ShapeError("the JPEG file has no luminance quantisation table before its image data")


START_OF_FRAME = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
"""The markers of a frame header (baseline, extended, progressive, lossless; Huffman or arithmetic)."""


def chroma_sampling(data: bytes) -> str | None:
    """How a colour JPEG byte stream codes its chroma: ``"subsampled"`` (4:2:0, 4:2:2: fewer Cb/Cr
    samples than luma), ``"full"`` (4:4:4), or ``None`` (gray, or no frame header found)."""
    for marker, payload in header_segments(data):
        if marker in START_OF_FRAME and len(payload) >= 6:
            count = payload[5]
            factors = [payload[6 + 3 * k + 1] for k in range(count) if 6 + 3 * k + 1 < len(payload)]
            if count < 3 or len(factors) < 3:
                return None
            luma = (factors[0] >> 4, factors[0] & 0x0F)
            return "full" if all((f >> 4, f & 0x0F) == luma for f in factors[1:3]) else "subsampled"
    return None


def read_jpeg_chroma(path: str | os.PathLike) -> str | None:
    """:func:`chroma_sampling` of the JPEG file at ``path`` (``None`` for a file that is not a JPEG)."""
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    try:
        return chroma_sampling(data)
    except ShapeError:
        return None


def quality_from_table(table: np.ndarray) -> JpegQuality:
    """The IJG quality whose luminance table is closest to ``table`` (64 values, natural order)."""
    errors = [float(np.mean(np.abs(ijg_table(q) - table))) for q in range(1, 101)]
    best = int(np.argmin(errors))
    return JpegQuality(quality=best + 1, exact=errors[best] == 0.0, mean_abs_error=errors[best])


def read_jpeg_quality(path: str | os.PathLike) -> JpegQuality:
    """Quality of the JPEG file at ``path``; see :class:`JpegQuality`."""
    with open(path, "rb") as f:
        data = f.read(1 << 20)  # tables sit in the header
    try:
        return quality_from_table(luminance_table(data))
    except ShapeError as exc:
        raise ShapeError(f"{path}: {exc}") from None
