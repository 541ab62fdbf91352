"""Reading and writing image files: TIFF (tifffile) and PNG/JPEG/BMP (OpenCV), RGB channel order.

Arrays are what the engine takes: ``(..., Y, X)`` gray or ``(..., Y, X, 3|4)`` RGB(A),
colour always in RGB order (OpenCV's BGR is converted on the way in and out).
TIFF keeps everything (16-bit, float, multi-page stacks); PNG holds 8- and 16-bit
gray/RGB/RGBA; JPEG and BMP hold 8-bit only. :func:`check_writable` refuses what a
format cannot hold instead of letting OpenCV convert it silently (OpenCV writes a
uint16 array to JPEG as saturated 8-bit and drops alpha).

Writes are atomic: a temporary file in the same folder is renamed onto the target
only when complete, so a failure or Ctrl-C never leaves a half-written file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_write
from ..errors import ShapeError
from .exif import PhotoMetadata, embed_exif
from .icc import embed_icc_profile, profile_fits
from .provenance import embed as embed_provenance
from .provenance import tiff_options
from .tiff_meta import TiffMetadata

TIFF_SUFFIXES = (".tif", ".tiff")
OPENCV_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
SUPPORTED_SUFFIXES = TIFF_SUFFIXES + OPENCV_SUFFIXES
READ_ONLY_SUFFIXES = (".webp",)
"""Read (OpenCV decodes them) but not written: lossy WebP would compress a restored image again,
and lossless WebP changes the colour of transparent pixels. Their outputs are PNG."""
READABLE_SUFFIXES = SUPPORTED_SUFFIXES + READ_ONLY_SUFFIXES

JPEG_QUALITY = 95
"""Quality of JPEG files written by :func:`write_image` unless told otherwise. Colour JPEGs are
written with full-resolution chroma (4:4:4): OpenCV's default 4:2:0 halves the colour resolution
that a restoration just recovered (McMaster, a q40 JPEG restored: 28.31 dB as PNG, 25.04 as a
4:2:0 JPEG at q95, the input's own PSNR)."""

# suffix -> (dtypes it holds, channel counts it holds); TIFF holds anything
_OPENCV_LIMITS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    ".png": (("uint8", "uint16"), (1, 3, 4)),
    ".jpg": (("uint8",), (1, 3)),
    ".jpeg": (("uint8",), (1, 3)),
    ".bmp": (("uint8",), (1, 3, 4)),
}


def is_supported(path: str | os.PathLike) -> bool:
    """Whether ``path`` has a suffix this module reads and writes (case-insensitive)."""
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def is_readable(path: str | os.PathLike) -> bool:
    """Whether ``path`` has a suffix this module reads (:data:`READABLE_SUFFIXES`, case-insensitive)."""
    return Path(path).suffix.lower() in READABLE_SUFFIXES


def reads_upright(path: str | os.PathLike) -> bool:
    """Whether :func:`read_image` turns this file's pixels upright by its EXIF orientation (JPEG: as
    every viewer shows it), so that an output of them must say "upright"."""
    return Path(path).suffix.lower() in (".jpg", ".jpeg")


def output_name(path: str | os.PathLike) -> str:
    """The file name a restored ``path`` gets in an output folder: its own, or ``.png`` for a read-only type."""
    path = Path(path)
    return path.name if is_supported(path) else path.stem + ".png"


def _suffix(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    allowed = READABLE_SUFFIXES if what == "file" else SUPPORTED_SUFFIXES
    if suffix not in allowed:
        hint = "; convert it to PNG or TIFF and restore that" if what == "file" else ""
        raise ShapeError(f"{path}: unsupported {what} type {suffix or '(no suffix)'!r}; expected one of {', '.join(allowed)}{hint}")
    return suffix


def is_planar_rgb(tif) -> bool:
    """Whether an open ``tifffile.TiffFile``'s first series is RGB(A) stored as separate planes by
    other software (axes ``...SYX``), which :func:`read_image` returns with samples last.

    tifffile's own files keep the shape they were written with: its writer stores any
    ``(3, Y, X)`` array as planar RGB by default, a stack of three planes as often as not.
    Gray samples (:func:`samples_are_channels`) are no colour.
    """
    series = tif.series[0]
    return series.axes.endswith("SYX") and series.shape[-3] in (3, 4) and not tif.is_shaped and not samples_are_channels(tif)


def samples_are_channels(tif) -> bool:
    """Whether an open ``tifffile.TiffFile``'s first series holds gray channels as the samples of
    each pixel (photometric min-is-black or min-is-white with 2 or more samples, as some microscope
    software writes fluorescence channels), which :func:`read_image` returns as a channel axis
    before Y and X: ``(..., C, Y, X)``, each channel a gray plane, not colour.

    tifffile's own files count too: one written with ``photometric="minisblack",
    planarconfig="contig"`` from a ``(Y, X, C)`` array says its samples are gray, so it comes back
    as ``(C, Y, X)`` (before, its shape note kept ``(Y, X, 3)``, which the engine took for RGB).
    """
    import tifffile

    series = tif.series[0]
    page = series.keyframe
    return (
        page.samplesperpixel > 1
        and page.photometric in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.MINISWHITE)
        and series.axes[-3:] in ("SYX", "YXS")
        and "C" not in series.axes[:-3]
    )


def sample_axes_move(tif) -> tuple[int, int] | None:
    """``(source, destination)`` for ``numpy.moveaxis`` that puts the samples of the open
    ``tifffile.TiffFile`` ``tif``'s first series where the engine reads them: planar RGB(A) last
    (:func:`is_planar_rgb`), gray channels as an axis before Y and X (:func:`samples_are_channels`);
    ``None`` where the series is already laid out so."""
    if is_planar_rgb(tif):
        return (-3, -1)
    if samples_are_channels(tif) and tif.series[0].axes.endswith("YXS"):
        return (-1, -3)
    return None


def png_bit_depth(path: str | os.PathLike) -> int | None:
    """Bits per sample of a PNG file (its IHDR header: 1, 2, 4, 8 or 16), ``None`` for anything else."""
    try:
        with open(path, "rb") as f:
            head = f.read(26)
    except OSError:
        return None
    if len(head) < 26 or not head.startswith(b"\x89PNG\r\n\x1a\n") or head[12:16] != b"IHDR":
        return None
    return head[24]


def check_not_empty(path: str | os.PathLike) -> None:
    """Raise :class:`ShapeError` for an empty file, the same words wherever it is read first."""
    if Path(path).stat().st_size == 0:
        raise ShapeError(f"{path}: the file is empty (0 bytes); re-export or re-copy it")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as a numpy array.

    TIFF via tifffile (all pages of a stack, any dtype; RGB stored as separate planes comes back as
    ``(..., Y, X, 3|4)`` like interleaved RGB, gray channels stored as samples as ``(..., C, Y, X)``:
    :func:`samples_are_channels`); PNG/JPEG/BMP via OpenCV
    unchanged (16-bit PNG stays uint16, alpha kept), BGR(A) converted to RGB(A).

    Raises:
        FileNotFoundError: no such file.
        ShapeError: unsupported suffix, or a damaged / unreadable file (the message names it).
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    suffix = _suffix(path, "file")
    check_not_empty(path)
    if suffix in TIFF_SUFFIXES:
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                image, move = tif.series[0].asarray(), sample_axes_move(tif)
                others = [tuple(series.shape) for series in tif.series[1:] if not getattr(series, "is_pyramidal", False)]
        except Exception as exc:  # tifffile raises several types for damaged files
            raise ShapeError(f"{path}: not a readable TIFF file ({exc})") from exc
        if others:  # a reliability review: a file of 3 series came out with the first alone, without a word
            import warnings

            warnings.warn(f"{path.name} holds {len(others) + 1} image series; only the first, {tuple(image.shape)}, is read "
                          f"(the others, {', '.join(map(str, others))}, are left out): save each series as its own file "
                          "to restore it", UserWarning, stacklevel=2)
        return image if move is None else np.ascontiguousarray(np.moveaxis(image, *move))
    # imdecode of the bytes (not imread) also handles non-ASCII paths on Windows. A JPEG (no alpha)
    # is turned upright by its EXIF orientation, as every viewer shows it (IMREAD_UNCHANGED would not:
    # a phone photo came out sideways); its output's EXIF then says "upright" (io/exif.output_exif)
    flags = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH if reads_upright(path) else cv2.IMREAD_UNCHANGED
    try:
        image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), flags)
    except cv2.error:
        image = None
    if image is None:
        raise ShapeError(f"{path}: OpenCV could not read this file (damaged or not an image)")
    if image.ndim == 3 and image.shape[-1] == 3:
        image = image[..., ::-1]
    elif image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., [2, 1, 0, 3]]
    return np.ascontiguousarray(image)


def check_writable(path: str | os.PathLike, shape: tuple[int, ...], dtype: np.dtype | str) -> None:
    """Raise :class:`ShapeError` if an array of ``shape`` and ``dtype`` cannot be written to ``path``'s format.

    TIFF takes any integer or float array. PNG takes uint8/uint16, JPEG and BMP
    uint8, each as ``(Y, X)`` or ``(Y, X, C)`` (C: PNG 1/3/4, JPEG 1/3, BMP 1/3/4).
    """
    path = Path(path)
    suffix = _suffix(path, "output")
    dtype = np.dtype(dtype)
    if suffix in TIFF_SUFFIXES:
        if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
            raise ShapeError(f"{path}: cannot write a {dtype} array as TIFF; expected an integer or float array")
        return
    dtypes, channels = _OPENCV_LIMITS[suffix]
    fmt = suffix.lstrip(".").upper()
    if dtype.name not in dtypes:
        keeps = ".png or .tif (both keep 16 bits)" if dtype == np.uint16 else ".tif"
        raise ShapeError(f"{path}: {fmt} holds {' or '.join(dtypes)} images, got {dtype}; write {keeps} instead")
    if len(shape) == 2:
        return
    if len(shape) == 3 and shape[-1] in channels:
        return
    if len(shape) == 3 and shape[-1] == 4:
        raise ShapeError(f"{path}: {fmt} has no alpha channel and this image has one; write .png or .tif to keep it")
    raise ShapeError(
        f"{path}: {fmt} holds one 2-D image with {'/'.join(map(str, channels))} channel(s), got shape {tuple(shape)}; "
        "write stacks as .tif"
    )


def write_image(
    path: str | os.PathLike,
    image: np.ndarray,
    *,
    jpeg_quality: int = JPEG_QUALITY,
    tiff_metadata: TiffMetadata | None = None,
    icc_profile: bytes | None = None,
    photo: PhotoMetadata | None = None,
    overwrite: bool = False,
    provenance: dict | None = None,
) -> Path:
    """Write ``image`` (colour given as RGB/RGBA) atomically in the format of ``path``'s suffix.

    An existing ``path`` is left as it is (:class:`FileExistsError`), checked when the file is complete
    (:func:`~napari_hyperres.core.atomic.atomic_write`); ``overwrite=True`` replaces it. (The default was to
    replace: ``write_image(p, restore(read_image(p), …))`` destroyed its input, a reliability review.) ``provenance``: how the image was
    made (:func:`~napari_hyperres.io.provenance.record`), written into TIFF, PNG and JPEG files.

    TIFF: written as is, RGB(A) when the last axis has 3 or 4 channels (extra alpha
    sample), otherwise gray pages (a ``(Z, Y, X)`` stack becomes Z pages); with
    ``tiff_metadata`` (the input's, :func:`~napari_hyperres.io.tiff_meta.read_tiff_metadata`)
    its axes, pixel size and ImageJ entries too.

    ``icc_profile`` (the input's, :func:`~napari_hyperres.io.icc.read_icc_profile`) is embedded in
    TIFF, PNG and JPEG outputs whose channels it describes (BMP has no place for it). ``photo``
    (:func:`~napari_hyperres.io.exif.output_exif`: the input's EXIF, with its camera and capture date,
    its dots per inch and its XMP) goes into JPEG and PNG outputs.

    JPEG: quality ``jpeg_quality``, colour with full-resolution chroma (4:4:4, :data:`JPEG_QUALITY`).

    Raises:
        ShapeError: the format cannot hold this array (see :func:`check_writable`).
        OSError: the folder is not writable, the disk is full, ...
    """
    import cv2

    path = Path(path)
    image = np.asarray(image)
    check_writable(path, image.shape, image.dtype)
    suffix = path.suffix.lower()
    rgb = image.ndim >= 3 and image.shape[-1] in (3, 4)
    if icc_profile is not None and not profile_fits(icc_profile, image.shape[-1] if rgb else 1):
        icc_profile = None
    if suffix in TIFF_SUFFIXES:
        import tifffile

        photometric = "rgb" if rgb else "minisblack"
        options = tiff_metadata.write_options(image.shape, image.dtype) if tiff_metadata is not None else {}
        if icc_profile is not None:
            options["iccprofile"] = icc_profile
        options.update(tiff_options(provenance))
        atomic_write(path, lambda tmp: tifffile.imwrite(tmp, image, photometric=photometric, **options), replace=overwrite)
        return path
    data = image
    if data.ndim == 3 and data.shape[-1] == 3:
        data = data[..., ::-1]
    elif data.ndim == 3 and data.shape[-1] == 4:
        data = data[..., [2, 1, 0, 3]]
    params = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality), cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]

    def _write(tmp: str) -> None:
        ok, buf = cv2.imencode(suffix, np.ascontiguousarray(data), params)
        if not ok:
            raise ShapeError(f"{path}: OpenCV cannot write a {image.dtype} array of shape {image.shape} as {suffix}")
        encoded = buf.tobytes()
        if icc_profile is not None:
            encoded = embed_icc_profile(encoded, suffix, icc_profile)
        if photo is not None:
            encoded = embed_exif(encoded, suffix, photo)
        encoded = embed_provenance(encoded, suffix, provenance)
        Path(tmp).write_bytes(encoded)

    atomic_write(path, _write, replace=overwrite)
    return path


__all__ = [
    "JPEG_QUALITY", "READABLE_SUFFIXES", "SUPPORTED_SUFFIXES", "check_writable", "is_readable", "is_supported", "output_name",
    "read_image", "reads_upright", "write_image",
]
