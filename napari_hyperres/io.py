"""Reading and writing image files: TIFF (tifffile) and PNG/JPEG/BMP (OpenCV), RGB channel order."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import ShapeError
from .weights import atomic_write

TIFF_SUFFIXES = (".tif", ".tiff")
OPENCV_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
SUPPORTED_SUFFIXES = TIFF_SUFFIXES + OPENCV_SUFFIXES


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as a numpy array (colour as RGB/RGBA; TIFF stacks keep all pages)."""
    import cv2
    import tifffile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        return tifffile.imread(path)
    if suffix not in OPENCV_SUFFIXES:
        raise ShapeError(f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ShapeError(f"{path}: OpenCV could not read this file (damaged or not an image)")
    if image.ndim == 3 and image.shape[-1] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.ndim == 3 and image.shape[-1] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write ``image`` atomically (a temporary file renamed on success); colour given as RGB/RGBA."""
    import cv2
    import tifffile

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        atomic_write(path, lambda tmp: tifffile.imwrite(tmp, image))
        return path
    if suffix not in OPENCV_SUFFIXES:
        raise ShapeError(f"{path}: unsupported output type {suffix!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    data = image
    if data.ndim == 3 and data.shape[-1] == 3:
        data = cv2.cvtColor(data, cv2.COLOR_RGB2BGR)
    elif data.ndim == 3 and data.shape[-1] == 4:
        data = cv2.cvtColor(data, cv2.COLOR_RGBA2BGRA)

    def _write(tmp: str) -> None:
        ok, buf = cv2.imencode(suffix, data)
        if not ok:
            raise ShapeError(f"{path}: OpenCV cannot write a {image.dtype} array of shape {image.shape} as {suffix}")
        Path(tmp).write_bytes(buf.tobytes())

    atomic_write(path, _write)
    return path
