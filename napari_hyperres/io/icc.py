"""Colour profiles (ICC) embedded in image files, carried from an input to its restored output.

A photo exported in Display P3 or Adobe RGB holds its pixel values in that colour space and
says so with an embedded ICC profile. Restoring does not change the colour space, but OpenCV
neither reads nor writes profiles: an output without the input's profile is shown as sRGB,
with duller or shifted colours. :func:`read_icc_profile` takes the profile from a JPEG (APP2
``ICC_PROFILE`` segments), PNG (``iCCP`` chunk) or TIFF (tag 34675); :func:`embed_icc_profile`
puts it into an encoded JPEG or PNG, and TIFF outputs get it through tifffile's ``iccprofile``.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from ..core.jpeg_quality import header_segments
from ..errors import ShapeError

ICC_TAG = b"ICC_PROFILE\x00"
"""How an APP2 segment of a JPEG says that it holds (a piece of) an ICC profile."""

JPEG_ICC_PIECE = 65519
"""Bytes of profile per APP2 segment: 65535 − 2 (length) − 12 (tag) − 2 (piece number, count)."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIFF_ICC_TAG = 34675


def read_icc_profile(path: str | os.PathLike) -> bytes | None:
    """The ICC profile embedded in a JPEG, PNG or TIFF file, or ``None`` (none, another format,
    or a profile too damaged to put back together)."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".jpg", ".jpeg"):
            return _jpeg_profile(path.read_bytes())
        if suffix == ".png":
            return _png_profile(path.read_bytes())
        if suffix in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                tag = tif.pages[0].tags.get(TIFF_ICC_TAG)
                return bytes(tag.value) if tag is not None and tag.value else None
    except Exception:  # noqa: BLE001 — damaged files raise many types (zlib, struct, tifffile); a profile is a courtesy
        return None
    return None


def profile_fits(profile: bytes, channels: int) -> bool:
    """Whether ``profile`` describes images of ``channels`` colour channels (1 gray, 3 or 4 RGB(A)):
    its header's data colour space is ``GRAY`` or ``RGB`` (an RGB profile on a gray output, or one
    for CMYK, would be wrong)."""
    space = profile[16:20] if len(profile) >= 128 else b""
    return (space == b"GRAY" and channels == 1) or (space == b"RGB " and channels in (3, 4))


def embed_icc_profile(encoded: bytes, suffix: str, profile: bytes) -> bytes:
    """``encoded`` (a whole JPEG or PNG file's bytes) with ``profile`` embedded; other formats unchanged."""
    suffix = suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        return _jpeg_with_profile(encoded, profile)
    if suffix == ".png":
        return _png_with_profile(encoded, profile)
    return encoded


def _jpeg_profile(data: bytes) -> bytes | None:
    pieces: dict[int, bytes] = {}
    counts = set()  # each piece says how many there are
    for marker, payload in header_segments(data):
        if marker == 0xE2 and payload.startswith(ICC_TAG) and len(payload) >= len(ICC_TAG) + 2:
            number, count = payload[len(ICC_TAG)], payload[len(ICC_TAG) + 1]
            pieces[number] = payload[len(ICC_TAG) + 2 :]
            counts.add(count)
    if len(counts) != 1 or sorted(pieces) != list(range(1, counts.pop() + 1)):
        return None  # none, or pieces missing or disagreeing: a partial profile is worse than none
    return b"".join(pieces[n] for n in sorted(pieces))


def _jpeg_with_profile(data: bytes, profile: bytes) -> bytes:
    pieces = [profile[i : i + JPEG_ICC_PIECE] for i in range(0, len(profile), JPEG_ICC_PIECE)]
    if not data.startswith(b"\xff\xd8") or not 0 < len(pieces) < 256:
        return data
    segments = b"".join(
        b"\xff\xe2" + struct.pack(">H", 2 + len(ICC_TAG) + 2 + len(piece)) + ICC_TAG + bytes([n, len(pieces)]) + piece
        for n, piece in enumerate(pieces, start=1)
    )
    at = 2  # after the start of image, and after a JFIF APP0 segment, which must come first
    if data[2:4] == b"\xff\xe0":
        at = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:at] + segments + data[at:]


def png_chunks(data: bytes):
    """``(type, payload, start, end)`` of each chunk of a PNG file."""
    if not data.startswith(PNG_SIGNATURE):
        raise ShapeError("not a PNG file")
    i = len(PNG_SIGNATURE)
    while i + 12 <= len(data):
        length = struct.unpack(">I", data[i : i + 4])[0]
        kind = data[i + 4 : i + 8]
        yield kind, data[i + 8 : i + 8 + length], i, i + 12 + length
        if kind == b"IEND":
            return
        i += 12 + length


def _png_profile(data: bytes) -> bytes | None:
    for kind, payload, _, _ in png_chunks(data):
        if kind == b"iCCP":
            name_end = payload.index(b"\x00")
            return zlib.decompress(payload[name_end + 2 :])  # after the name: its NUL and the method byte (0: zlib)
        if kind == b"IDAT":
            return None  # iCCP comes before the image data
    return None


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, payload, CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_with_profile(data: bytes, profile: bytes) -> bytes:
    out, placed = [data[: len(PNG_SIGNATURE)]], False
    for kind, _, start, end in png_chunks(data):
        if kind in (b"sRGB", b"iCCP"):  # the profile replaces them (PNG allows one of the two)
            continue
        out.append(data[start:end])
        if kind == b"IHDR" and not placed:  # iCCP goes before PLTE and the image data
            out.append(png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(profile)))
            placed = True
    return b"".join(out)


__all__ = ["embed_icc_profile", "profile_fits", "read_icc_profile"]
