"""A photo's EXIF, XMP and resolution, carried from an input file to its restored output.

A camera's JPEG records its make and model, the capture date, exposure and the print
resolution (EXIF in an APP1 segment; dots per inch also in the JFIF APP0 header; a PNG holds
them in ``eXIf`` and ``pHYs`` chunks). OpenCV reads none of it and writes none of it, so without
this module an output lost its capture date and a photo library sorted it as taken today.

:func:`output_exif` reads the input's and adjusts what restoring changes: the orientation
(:func:`~napari_hyperres.io.files.read_image` turns a JPEG upright by it, so the output says
"upright"), the image size (``sr``), and the dots per inch (``sr`` enlarges the pixel grid of the
same print). The file's own text (a PNG's text chunks, a JPEG's comments) is carried as it was into an
output of the same format. :func:`embed_exif` writes it into an encoded JPEG or PNG.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.jpeg_quality import header_segments
from .icc import PNG_SIGNATURE, png_chunk, png_chunks
from .provenance import KEYWORD

EXIF_TAG = b"Exif\x00\x00"
"""How an APP1 segment of a JPEG says that it holds EXIF."""

XMP_TAG = b"http://ns.adobe.com/xap/1.0/\x00"
"""How an APP1 segment of a JPEG says that it holds an XMP packet (Lightroom's keywords, rating, copyright)."""

XMP_KEYWORD = b"XML:com.adobe.xmp"
"""The keyword of a PNG ``iTXt`` chunk that holds an XMP packet."""

MAX_XMP_BYTES = 16 * 2**20
"""The largest XMP packet read from a compressed PNG chunk (a small chunk could otherwise inflate to gigabytes)."""

XMP_ORIENTATION = re.compile(rb"(tiff:Orientation\s*=\s*[\"']|<tiff:Orientation>\s*)[2-8]")
"""XMP's copy of the EXIF orientation, as an attribute or an element (set to 1 where the pixels were turned)."""

ORIENTATION = 0x0112
EXIF_IFD = 0x8769
PIXEL_X, PIXEL_Y = 0xA002, 0xA003
X_RESOLUTION, Y_RESOLUTION = 0x011A, 0x011B
INCH_PER_METRE = 0.0254


@dataclass(frozen=True)
class PhotoMetadata:
    """What :func:`embed_exif` writes: the EXIF block (TIFF-structured, without the ``Exif``
    header), the resolution in dots per inch and the XMP packet (UTF-8 XML: keywords, rating, copyright,
    which a review found dropped), each ``None`` when the input had none."""

    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    xmp: bytes | None = None
    notes: tuple[tuple[bytes, bytes], ...] = ()
    """The file's own text blocks, carried verbatim into an output of the same format (a review found them dropped):
    a PNG's ``tEXt`` / ``zTXt`` / ``iTXt`` chunks other than XMP as ``(kind, payload)`` (Title, Author, Copyright,
    Description, Comment…), a JPEG's comment segments as ``(b"COM", text)``."""

    def is_empty(self) -> bool:
        """Whether there is nothing to carry."""
        return self.exif is None and self.dpi is None and self.xmp is None and not self.notes


def read_photo_metadata(path: str | os.PathLike) -> PhotoMetadata:
    """The EXIF, dots per inch and XMP of a JPEG or PNG file (empty for other formats, or damaged headers)."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".jpg", ".jpeg"):
            return _jpeg_metadata(path.read_bytes())
        if suffix == ".png":
            return _png_metadata(path.read_bytes())
    except Exception:  # noqa: BLE001 — damaged headers raise many types; metadata is a courtesy, the pixels are what count
        return PhotoMetadata()
    return PhotoMetadata()


def output_exif(path: str | os.PathLike, in_shape: tuple[int, ...], out_shape: tuple[int, ...], *, turned: bool) -> PhotoMetadata | None:
    """The input's :class:`PhotoMetadata` as the output should carry it, or ``None`` (nothing to carry).

    Args:
        path: the input file.
        in_shape, out_shape: ``(Y, X, ...)`` of the input as read and of the output (``sr`` enlarges it).
        turned: whether reading turned the pixels upright by the EXIF orientation (JPEG inputs):
            the output then says "upright" (1), or a viewer would turn it again.
    """
    found = read_photo_metadata(path)
    if found.is_empty():
        return None
    scale_y, scale_x = out_shape[0] / in_shape[0], out_shape[1] / in_shape[1]
    exif = found.exif
    if exif is not None:
        values = {PIXEL_X: out_shape[1], PIXEL_Y: out_shape[0]}
        if turned:
            values[ORIENTATION] = 1
        # after sr the EXIF resolution said the input's dpi beside the header's new one (a review); the thumbnail
        # showed the degraded input, sideways once the orientation says upright (a review): it is left out
        exif = without_thumbnail(patched(exif, values, {X_RESOLUTION: scale_x, Y_RESOLUTION: scale_y}))
    dpi = None if found.dpi is None else (found.dpi[0] * scale_x, found.dpi[1] * scale_y)
    xmp = found.xmp
    if xmp is not None:
        if turned and exif_orientation(found.exif) not in (None, 1):  # the pixels were turned by the EXIF's orientation:
            xmp = XMP_ORIENTATION.sub(rb"\g<1>1", xmp)  # XMP's copy says upright too, or a viewer reading it turns them again
        for name, value in (("PixelXDimension", out_shape[1]), ("PixelYDimension", out_shape[0]),
                            ("ImageWidth", out_shape[1]), ("ImageLength", out_shape[0])):
            xmp = re.sub(rb"((?:exif|tiff):" + name.encode() + rb"\s*=\s*[\"']|<(?:exif|tiff):" + name.encode() + rb">\s*)\d+",
                         rb"\g<1>" + str(int(value)).encode(), xmp)
    return replace(found, exif=exif, dpi=dpi, xmp=xmp)


def _ifd0(exif: bytes | None) -> tuple[str, int, int] | None:
    """``(byte order for struct, IFD0's offset, its entry count)`` of an EXIF block, or ``None`` where it has no readable IFD0."""
    if exif is None or exif[:2] not in (b"II", b"MM") or len(exif) < 8:
        return None
    order = "<" if exif[:2] == b"II" else ">"
    first = struct.unpack_from(order + "I", exif, 4)[0]
    if first + 2 > len(exif):
        return None
    return order, first, struct.unpack_from(order + "H", exif, first)[0]


def exif_orientation(exif: bytes | None) -> int | None:
    """The orientation tag of an EXIF block's IFD0 (1 upright … 8), or ``None`` where it has none."""
    found = _ifd0(exif)
    if found is None:
        return None
    order, first, count = found
    for k in range(count):
        at = first + 2 + 12 * k
        if at + 12 > len(exif):
            return None
        tag, kind = struct.unpack_from(order + "HH", exif, at)
        if tag == ORIENTATION and kind == 3:
            return struct.unpack_from(order + "H", exif, at + 8)[0]
    return None


def patched(exif: bytes, values: dict[int, int], scales: dict[int, float] | None = None) -> bytes:
    """``exif`` with the SHORT / LONG tags in ``values`` set, and the RATIONAL tags in ``scales`` multiplied
    by their factor, where IFD0 or the EXIF IFD hold them (a tag that is absent, or whose type cannot hold
    the value, is left out; nothing is added)."""
    data = bytearray(exif)
    if data[:2] not in (b"II", b"MM"):
        return exif
    order = "<" if data[:2] == b"II" else ">"
    scales = scales or {}
    rationals_scaled: set[int] = set()  # X and Y resolution may share one value: scaled once

    def ifd_entries(offset: int):
        if offset + 2 > len(data):
            return
        count = struct.unpack_from(order + "H", data, offset)[0]
        for k in range(count):
            at = offset + 2 + 12 * k
            if at + 12 > len(data):
                return
            yield at, *struct.unpack_from(order + "HHI", data, at)

    offsets, seen = [struct.unpack_from(order + "I", data, 4)[0]], set()
    while offsets:
        offset = offsets.pop()
        if offset in seen:
            continue
        seen.add(offset)
        for at, tag, kind, count in list(ifd_entries(offset)):
            if tag == EXIF_IFD and kind == 4:
                offsets.append(struct.unpack_from(order + "I", data, at + 8)[0])
            if tag in values and count == 1:
                value = int(values[tag])
                if kind == 3 and 0 <= value < 1 << 16:
                    struct.pack_into(order + "H", data, at + 8, value)
                elif kind == 4 and 0 <= value < 1 << 32:
                    struct.pack_into(order + "I", data, at + 8, value)
            if tag in scales and kind == 5 and count == 1:  # RATIONAL: numerator and denominator at an offset
                where = struct.unpack_from(order + "I", data, at + 8)[0]
                if where + 8 <= len(data) and where not in rationals_scaled:
                    rationals_scaled.add(where)
                    numerator, denominator = struct.unpack_from(order + "II", data, where)
                    scaled = round(numerator * scales[tag])
                    while scaled >= 1 << 32 and denominator > 1:
                        numerator, denominator = numerator // 2, denominator // 2
                        scaled = round(numerator * scales[tag])
                    if 0 < scaled < 1 << 32:
                        struct.pack_into(order + "II", data, where, scaled, max(denominator, 1))
    return bytes(data)


def without_thumbnail(exif: bytes) -> bytes:
    """``exif`` with IFD0's link to IFD1 (the thumbnail) cut: no viewer finds the input's thumbnail in the output."""
    found = _ifd0(exif)
    if found is None:
        return exif
    order, first, count = found
    link = first + 2 + 12 * count
    if link + 4 > len(exif):
        return exif
    data = bytearray(exif)
    struct.pack_into(order + "I", data, link, 0)
    return bytes(data)


def embed_exif(encoded: bytes, suffix: str, metadata: PhotoMetadata) -> bytes:
    """``encoded`` (a whole JPEG or PNG file's bytes) with ``metadata`` written in; other formats unchanged."""
    suffix = suffix.lower()
    if suffix in (".jpg", ".jpeg") and encoded.startswith(b"\xff\xd8"):
        return _jpeg_with(encoded, metadata)
    if suffix == ".png":
        return _png_with(encoded, metadata)
    return encoded


JPEG_COMMENT = 0xFE
"""The marker of a JPEG comment segment (COM)."""

PNG_TEXT_KINDS = (b"tEXt", b"zTXt", b"iTXt")
"""The PNG chunks that hold text (keyword, then the text; ``zTXt`` compressed, ``iTXt`` UTF-8)."""

STALE_COPIES = (b"Raw profile type", b"XML:com.adobe.xmp")
"""Keywords of PNG text chunks that copy the EXIF or XMP (ImageMagick's "Raw profile type exif/xmp", XMP in a tEXt or
zTXt): left out, or they would keep the input's size and thumbnail beside the corrected copies (a diff review)."""

PROVENANCE = KEYWORD.encode("ascii")
"""How this package's own record of a restore starts (:mod:`~napari_hyperres.io.provenance`): an input's is not
carried, its output gets a record of its own."""


def _jpeg_metadata(data: bytes) -> PhotoMetadata:
    exif = dpi = xmp = None
    notes = []
    for marker, payload in header_segments(data):
        if marker == JPEG_COMMENT and not payload.startswith(PROVENANCE + b" "):
            notes.append((b"COM", payload))
        elif marker == 0xE1 and payload.startswith(EXIF_TAG) and exif is None:
            exif = payload[len(EXIF_TAG) :]
        elif marker == 0xE1 and payload.startswith(XMP_TAG) and xmp is None:
            xmp = payload[len(XMP_TAG) :]
        elif marker == 0xE0 and payload.startswith(b"JFIF\x00") and len(payload) >= 12:
            units, x, y = payload[7], *struct.unpack(">HH", payload[8:12])
            if units in (1, 2) and x > 0 and y > 0:  # 1: per inch, 2: per cm; 0 is only an aspect ratio
                per_inch = 1.0 if units == 1 else 2.54
                dpi = (x * per_inch, y * per_inch)
    return PhotoMetadata(exif, dpi, xmp, tuple(notes))


def _jpeg_with(data: bytes, metadata: PhotoMetadata) -> bytes:
    at = 2
    if data[2:4] == b"\xff\xe0":  # a JFIF APP0 first (OpenCV writes one): its density is the dpi
        length = struct.unpack(">H", data[4:6])[0]
        app0 = bytearray(data[2 : 4 + length])
        if metadata.dpi is not None and app0[4:9] == b"JFIF\x00" and len(app0) >= 16:
            app0[11] = 1
            struct.pack_into(">HH", app0, 12, *(min(65535, max(1, round(v))) for v in metadata.dpi))
        data, at = data[:2] + bytes(app0) + data[4 + length :], 4 + length
    segments = b""
    for tag, block in ((EXIF_TAG, metadata.exif), (XMP_TAG, metadata.xmp)):  # EXIF first, as cameras write them
        if block is None:
            continue
        if len(block) + len(tag) + 2 > 65535:  # one JPEG segment; Adobe's "extended XMP" over several is not written
            import warnings

            warnings.warn(f"the input's {'EXIF' if tag == EXIF_TAG else 'XMP'} ({len(block) // 1024} KB) is larger than a JPEG "
                          "segment holds and is left out of this JPEG output; write .png to keep it", UserWarning, stacklevel=2)
            continue
        segments += b"\xff\xe1" + struct.pack(">H", 2 + len(tag) + len(block)) + tag + block
    for kind, text in metadata.notes:  # after the APPn segments, as cameras and editors place them
        if kind == b"COM" and len(text) + 2 <= 65535:
            segments += b"\xff\xfe" + struct.pack(">H", 2 + len(text)) + text
    return data[:at] + segments + data[at:]


def _is_png_xmp(kind: bytes, payload: bytes) -> bool:
    return kind == b"iTXt" and payload.startswith(XMP_KEYWORD + b"\x00")


def _png_metadata(data: bytes) -> PhotoMetadata:
    exif = dpi = xmp = None
    notes = []
    for kind, payload, _, _ in png_chunks(data):
        if kind in PNG_TEXT_KINDS and not _is_png_xmp(kind, payload) and not payload.startswith(PROVENANCE + b"\x00"):
            if not payload.startswith(STALE_COPIES):  # carried as they are: a zTXt is never inflated here
                notes.append((kind, payload))
        elif kind == b"eXIf":
            exif = payload
        elif _is_png_xmp(kind, payload) and xmp is None:  # the first good one
            try:
                xmp = _itxt_text(payload)
            except (ValueError, IndexError, zlib.error):  # a damaged chunk: the EXIF and dpi are still carried
                xmp = None
        elif kind == b"pHYs" and len(payload) == 9 and payload[8] == 1:  # unit 1: per metre
            x, y = struct.unpack(">II", payload[:8])
            dpi = (x * INCH_PER_METRE, y * INCH_PER_METRE)
    return PhotoMetadata(exif, dpi, xmp, tuple(notes))


def _itxt_text(payload: bytes) -> bytes:
    """The text of a PNG ``iTXt`` chunk's payload (keyword, compression flag and method, language, translated
    keyword, text; the text zlib-compressed where the flag says so)."""
    head = payload.index(b"\x00")
    compressed = payload[head + 1] == 1
    rest = payload[head + 3 :]
    language_end = rest.index(b"\x00")
    translated_end = rest.index(b"\x00", language_end + 1)
    text = rest[translated_end + 1 :]
    if not compressed:
        return text
    inflater = zlib.decompressobj()
    inflated = inflater.decompress(text, MAX_XMP_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError(f"an XMP chunk inflating beyond {MAX_XMP_BYTES} bytes")
    return inflated


def _png_with(data: bytes, metadata: PhotoMetadata) -> bytes:
    out = [data[: len(PNG_SIGNATURE)]]
    for kind, payload, start, end in png_chunks(data):
        if kind in (b"eXIf", b"pHYs") + PNG_TEXT_KINDS:  # the input's replace any the encoder wrote
            continue
        out.append(data[start:end])
        if kind == b"IHDR":  # both go before the image data
            if metadata.dpi is not None:
                per_metre = (min(2**31 - 1, round(v / INCH_PER_METRE)) for v in metadata.dpi)
                out.append(png_chunk(b"pHYs", struct.pack(">IIB", *per_metre, 1)))
            if metadata.exif is not None:
                out.append(png_chunk(b"eXIf", metadata.exif))
            if metadata.xmp is not None:  # uncompressed, no language: as Adobe's software writes it
                out.append(png_chunk(b"iTXt", XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + metadata.xmp))
            out.extend(png_chunk(kind, payload) for kind, payload in metadata.notes if kind in PNG_TEXT_KINDS)
    return b"".join(out)


__all__ = ["PhotoMetadata", "embed_exif", "output_exif", "read_photo_metadata"]
