"""How an output file was made, recorded in the file itself.

A batch review found no trace in a restored file of the task, level, weights, noise fit or
precision that made it (and bfloat16 on one CPU and float32 on another give outputs a count
apart), so a lab could not tell its restored files from raw ones, nor two runs apart. Every
output the CLI and the widget's Save… write carries a small JSON record (:func:`record`):

- TIFF: the ``Software`` tag ("napari-hyperres 0.1.0") and private tag :data:`TIFF_TAG` (ASCII JSON),
  which Fiji, tifffile and other readers ignore; the ImageJ/OME description stays the input's;
- PNG: a ``tEXt`` chunk with the keyword :data:`KEYWORD`;
- JPEG: a comment (``COM``) segment starting with :data:`KEYWORD`;
- zarr: the store's attributes under :data:`KEYWORD`.

No date or host goes in: restoring the same file twice gives the same bytes. :func:`read_provenance`
reads it back (``napari-hyperres`` also refuses to ``--overwrite`` an existing file without one: a
raw image, not an output).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

KEYWORD = "napari-hyperres"
"""The PNG ``tEXt`` keyword, JPEG comment prefix and zarr attribute of the record."""

TIFF_TAG = 65000
"""A private TIFF tag (65000–65535 are for private use) holding the record as ASCII JSON."""


def software() -> str:
    """``"napari-hyperres <version>"``: the TIFF ``Software`` tag of outputs."""
    from .. import __version__

    return f"{KEYWORD} {__version__}"


def record(**fields: Any) -> dict[str, Any]:
    """The record of an output: ``software`` and the ``fields`` given (task, level, unit, weights,
    precision, noise, source file …), ``None`` values left out, in a stable order."""
    entries = {"software": software(), **{k: v for k, v in fields.items() if v is not None}}
    return json.loads(json.dumps(entries, default=_plain))  # plain JSON types, so it reads back equal


def _plain(value: Any) -> Any:
    """A JSON value for what json cannot write: a numpy scalar or array as its number(s) (a re-review's
    np.float32 level came back as the string "80.5"), anything else as its text."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def encoded(entries: dict[str, Any]) -> str:
    """The record as one line of ASCII JSON."""
    return json.dumps(entries, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def tiff_options(entries: dict[str, Any] | None) -> dict[str, Any]:
    """``tifffile.imwrite`` keywords that write ``entries`` (none for ``None``)."""
    if entries is None:
        return {}
    return {"software": software(), "extratags": [(TIFF_TAG, "s", 0, encoded(entries), True)]}


def embed(data: bytes, suffix: str, entries: dict[str, Any] | None) -> bytes:
    """``data`` (a whole PNG or JPEG file's bytes) with ``entries`` written in; other formats unchanged."""
    if entries is None:
        return data
    suffix = suffix.lower()
    text = encoded(entries).encode("ascii")
    if suffix == ".png":
        from .icc import png_chunk, png_chunks

        chunk = png_chunk(b"tEXt", KEYWORD.encode("ascii") + b"\x00" + text)
        out = [data[:8]]
        for kind, _, start, end in png_chunks(data):
            if kind == b"IEND":
                out.append(chunk)
            out.append(data[start:end])
        return b"".join(out)
    if suffix in (".jpg", ".jpeg") and data.startswith(b"\xff\xd8"):
        payload = KEYWORD.encode("ascii") + b" " + text
        if len(payload) + 2 > 65535:
            return data
        at = 2
        if data[2:4] == b"\xff\xe0":  # after a JFIF APP0 segment, which must come first
            at = 4 + struct.unpack(">H", data[4:6])[0]
        return data[:at] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + data[at:]
    return data


def read_provenance(path: str | os.PathLike) -> dict[str, Any] | None:
    """The record an output of this package carries (:func:`record`), or ``None`` (another program's
    file, an older output, a format with no place for it, or an unreadable file)."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if path.is_dir():  # a zarr store
            attrs = path / ".zattrs"
            found = json.loads(attrs.read_text()).get(KEYWORD) if attrs.is_file() else None
            return found if isinstance(found, dict) else None
        if suffix in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                tag = tif.pages[0].tags.get(TIFF_TAG)
                return json.loads(tag.value) if tag is not None else None
        data = path.read_bytes()
        if suffix == ".png":
            from .icc import png_chunks

            for kind, payload, _, _ in png_chunks(data):
                if kind == b"tEXt" and payload.startswith(KEYWORD.encode("ascii") + b"\x00"):
                    return json.loads(payload[len(KEYWORD) + 1 :].decode("ascii"))
            return None
        if suffix in (".jpg", ".jpeg"):
            from ..core.jpeg_quality import header_segments

            for marker, payload in header_segments(data):
                if marker == 0xFE and payload.startswith(KEYWORD.encode("ascii") + b" "):
                    return json.loads(payload[len(KEYWORD) + 1 :].decode("ascii"))
            return None
    except Exception:  # noqa: BLE001 — a damaged or foreign file simply has no record
        return None
    return None
