"""Restore a TIFF stack plane by plane, from file to file, without loading it whole.

:func:`stream_restore_tiff` reads one page (one 2-D gray or RGB plane) at a time,
restores it (tile by tile when large) and hands it to tifffile's writer as an iterator,
so memory holds about one input and one output plane, whatever the stack's size. The
output is written to a temporary file renamed onto the target at the end, so a
cancelled or failed run leaves no half-written file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..core.atomic import atomic_write
from ..core.images import is_rgb_image
from ..core.intensity import check_dtype
from ..core.photon_noise import PoissonGaussian
from ..engine import Progress, Restorer, output_shape
from ..engine.lazy import sample_planes
from ..errors import CancelledError, ShapeError
from .files import TIFF_SUFFIXES
from .provenance import tiff_options
from .tiff_meta import read_tiff_metadata


def tiff_layout(path: str | os.PathLike) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, pages)`` of a TIFF's first series, read from its header only."""
    import tifffile

    from .files import check_not_empty

    check_not_empty(path)
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            return tuple(series.shape), np.dtype(series.dtype), len(series.pages)
    except Exception as exc:  # tifffile raises several types for damaged files
        raise ShapeError(f"{path}: not a readable TIFF file ({exc})") from exc


def should_stream(path: str | os.PathLike, memory_budget_bytes: int) -> bool:
    """Whether ``path`` is a TIFF stack whose pixels exceed ``memory_budget_bytes`` and can be read page by page."""
    if Path(path).suffix.lower() not in TIFF_SUFFIXES:
        return False
    shape, dtype, pages = tiff_layout(path)
    if math.prod(shape) * dtype.itemsize <= memory_budget_bytes:
        return False
    rgb = is_rgb_image(shape, None)
    planes = math.prod(shape[: len(shape) - (3 if rgb else 2)])
    return pages == planes and planes > 1


def huge_single_page(path: str | os.PathLike, memory_budget_bytes: int) -> bool:
    """Whether ``path`` is a TIFF holding one plane larger than ``memory_budget_bytes`` (restored
    tile by tile through its zarr view, :mod:`napari_hyperres.io.chunked`, instead of loaded whole)."""
    if Path(path).suffix.lower() not in TIFF_SUFFIXES:
        return False
    shape, dtype, pages = tiff_layout(path)
    return pages == 1 and math.prod(shape) * dtype.itemsize > memory_budget_bytes


def page_sample(tif, planes: int, pages: list[int] | None = None) -> np.ndarray:
    """The sampled planes (:func:`~napari_hyperres.engine.lazy.sample_planes`) of an open TIFF stack
    of ``planes`` pages, one plane per page: what a streamed restoration settles on. ``pages``: sample
    only these page indices (one channel's, :func:`channel_pages`)."""
    pages = list(range(planes)) if pages is None else pages
    return sample_planes(lambda index: tif.series[0].pages[pages[index]].asarray(), len(pages))


def channel_pages(lead_shape: tuple[int, ...], channel_axis: int | None) -> list[list[int]]:
    """The page indices of each channel of a stack whose pages are its planes, in order
    (leading axes ``lead_shape``, channels along ``channel_axis`` among them); all pages as one
    channel when ``channel_axis`` is ``None``."""
    planes = math.prod(lead_shape)
    if channel_axis is None:
        return [list(range(planes))]
    of_page = np.unravel_index(np.arange(planes), lead_shape)[channel_axis]
    return [np.flatnonzero(of_page == c).tolist() for c in range(lead_shape[channel_axis])]


def stream_restore_tiff(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    restorer: Restorer,
    level: float,
    *,
    tile: int | None = None,
    value_range: tuple[float, float] | None = None,
    noise: PoissonGaussian | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    channel_axis: int | None = None,
    overwrite: bool = True,
    provenance: dict | None = None,
) -> tuple[int, ...]:
    """Restore every page of the TIFF stack ``src`` into the TIFF ``dst``; returns the output shape.
    ``overwrite=False``: a ``dst`` that exists when it is complete is left as it is (:class:`FileExistsError`).

    The intensity rule of :mod:`napari_hyperres.core.intensity` (and, for photon-limited tasks,
    the noise fit) is applied to up to 8 evenly spaced planes (:func:`page_sample`) and used for all (pass ``value_range`` to
    set it, and ``noise``, a fit already made on the same planes, not to fit again; uint8 is always
    0–255). ``progress(done, total)`` counts planes.

    ``channel_axis``: a leading axis of the stack that holds channels (``1`` for ``TCYX``): each
    channel settles on its own sampled pages, as :meth:`Restorer.restore` with ``channel_axis``
    does in memory (detectors differ in gain and offset). ``level`` and ``noise`` may then be
    lists, one per channel.

    Raises:
        ShapeError: ``dst`` is not a TIFF, or ``src``'s pages are not its planes.
        CancelledError: ``cancel()`` returned True (``dst`` is left untouched).
    """
    import tifffile

    if Path(dst).suffix.lower() not in TIFF_SUFFIXES:
        raise ShapeError(f"{dst}: streaming writes TIFF only; give OUT a .tif suffix")
    shape, dtype, pages = tiff_layout(src)
    check_dtype(dtype)
    rgb = is_rgb_image(shape, None)
    spatial = 3 if rgb else 2
    planes = math.prod(shape[: len(shape) - spatial])
    if pages != planes:
        raise ShapeError(f"{src}: {pages} pages for {planes} planes; only stacks stored one plane per page can be streamed")
    lead_shape = tuple(shape[: len(shape) - spatial])
    if channel_axis is not None and not 0 <= channel_axis < len(lead_shape):
        raise ShapeError(f"{src}: channel_axis {channel_axis} is not a leading axis of its shape {shape}")
    groups = channel_pages(lead_shape, channel_axis)
    levels = level if isinstance(level, list) else [level] * len(groups)
    noises = noise if isinstance(noise, list) else [noise] * len(groups)
    if len(levels) != len(groups) or len(noises) != len(groups):
        raise ShapeError(f"expected one level and one noise per channel ({len(groups)} along axis {channel_axis}), got "
                         f"{len(levels)} and {len(noises)}: pass lists of {len(groups)}, or one value for all")
    out_shape = output_shape(restorer.task, shape, levels[0], rgb)

    def restored_planes(tif: tifffile.TiffFile) -> Iterator[np.ndarray]:
        # sampled planes set the intensity map (and a photon task's noise) for all, as in memory; each channel its own
        settled = {}
        for pages, channel_level, channel_noise in zip(groups, levels, noises, strict=True):
            found = restorer.settle(page_sample(tif, planes, pages), channel_level, rgb, value_range, channel_noise)
            settled.update(dict.fromkeys(pages, found))
        for index in range(planes):
            if cancel is not None and cancel():
                raise CancelledError("restoration cancelled; no output was written")
            plane = tif.series[0].pages[index].asarray()
            page_level, page_range, page_noise = settled[index]
            yield restorer.restore(plane, page_level, tile=tile, rgb=rgb, value_range=page_range, noise=page_noise)
            if progress is not None:
                progress(index + 1, planes)

    photometric = "rgb" if rgb else "minisblack"
    metadata = read_tiff_metadata(src)
    options = metadata.write_options(out_shape, dtype) if metadata is not None else {}
    if "imagej" not in options:  # an ImageJ hyperstack above 4 GB is written as ImageJ does (contiguous), not BigTIFF
        options["bigtiff"] = True
    options.update(tiff_options(provenance))  # how it was made (io.provenance)
    with tifffile.TiffFile(src) as tif:
        atomic_write(
            dst,
            lambda tmp: tifffile.imwrite(tmp, restored_planes(tif), shape=out_shape, dtype=dtype, photometric=photometric, **options),
            replace=overwrite,
        )
    return out_shape
