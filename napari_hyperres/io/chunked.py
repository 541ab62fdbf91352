"""Images larger than memory: zarr / OME-Zarr stores and single huge TIFF pages, chunk by chunk.

- :func:`open_lazy` opens a ``.zarr`` store (a plain array, or an OME-Zarr image whose
  full-resolution level is read), or a TIFF whose pages are read tile by tile
  (``tifffile``'s zarr view), as a dask array: nothing is loaded until computed.
- :func:`write_zarr` computes a dask array into a new zarr store chunk by chunk (memory:
  a few chunks per worker, whatever the image size), as OME-Zarr (NGFF 0.4 ``multiscales``
  metadata, which napari-ome-zarr opens) when asked. It writes into a temporary folder
  next to the target and renames it at the end: a failed or cancelled run leaves no store.

The restoration itself is :meth:`napari_hyperres.engine.Restorer.restore_lazy` (chunks
overlap by the network's receptive field: the result equals restoring the whole image).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..core.atomic import atomic_write, exists_message, remove_stale_temps, temporary_sibling
from ..errors import ShapeError
from .provenance import KEYWORD, tiff_options
from .tiff_meta import IMAGEJ_DTYPES

ZARR_SUFFIX = ".zarr"
OME_VERSION = "0.4"
DEFAULT_AXES = {2: "yx", 3: "zyx", 4: "czyx", 5: "tczyx"}
"""OME axis names for an output without OME metadata of its own, by dimensionality."""


def is_zarr(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() == ZARR_SUFFIX


def _require_zarr():
    try:
        import zarr
    except ImportError:
        raise ShapeError('zarr stores need the zarr package: pip install "napari-hyperres[zarr]"') from None
    return zarr


def open_lazy(path: str | os.PathLike, chunk: int = 1024) -> tuple[Any, dict]:
    """``(dask array, metadata)`` of a zarr store or a TIFF file, read lazily.

    ``metadata``: ``{"axes": [...], "scale": [...]}`` from an OME-Zarr image (full resolution, and ``"units"``
    where its axes name them),
    else ``{}``. A PNG, JPEG or BMP picture is read whole (and then cut into chunks). A TIFF is memory-mapped where its pixels are stored uncompressed in one piece
    (a chunk then reads only its rows), else read through its zarr view, tile by tile.

    Raises:
        ShapeError: not a readable store/file, or a zarr group without an image in it.
    """
    import dask.array as da

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if not is_zarr(path):
        from .files import OPENCV_SUFFIXES, read_image

        if path.suffix.lower() in OPENCV_SUFFIXES:  # PNG / JPEG / BMP: one picture, read whole (e.g. for a .zarr output)
            image = read_image(path)
            return da.from_array(image, chunks=_plane_chunks(image.shape, chunk)), {}
        import tifffile

        from .files import sample_axes_move

        try:
            with tifffile.TiffFile(path) as tif:  # the header: where planar RGB or channels-as-samples go
                move = sample_axes_move(tif)
        except Exception as exc:  # tifffile raises several types for damaged files
            raise ShapeError(f"{path}: not a readable TIFF file ({exc})") from exc

        def engine_layout(array):  # as read_image lays the samples out
            return array if move is None else np.moveaxis(array, *move)

        try:
            # uncompressed, contiguous pixels (ImageJ's and tifffile's default: a page is one strip)
            # are mapped, so a chunk reads only its own rows; the zarr view would read a strip whole
            mapped = engine_layout(tifffile.memmap(str(path), mode="r"))
            return da.from_array(mapped, chunks=_plane_chunks(mapped.shape, chunk)), {}
        except ValueError:
            pass  # compressed or tiled: its zarr view reads tile by tile
        try:
            store = tifffile.imread(str(path), aszarr=True, series=0, level=0)  # a pyramid's full resolution
            array = engine_layout(da.from_zarr(store))
        except Exception as exc:  # tifffile raises several types for damaged files
            raise ShapeError(f"{path}: not a TIFF file that can be read tile by tile ({exc})") from exc
        return array.rechunk(_plane_chunks(array.shape, chunk)), {}
    zarr = _require_zarr()
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:
        raise ShapeError(f"{path}: not a readable zarr store ({exc})") from exc
    meta: dict = {}
    if isinstance(node, zarr.Group):
        multiscales = node.attrs.get("multiscales") or node.attrs.get("ome", {}).get("multiscales")
        if multiscales:
            image = multiscales[0]
            dataset = image["datasets"][0]
            node = node[dataset["path"]]
            meta["axes"] = [axis["name"] if isinstance(axis, dict) else str(axis) for axis in image.get("axes", [])]
            units = [axis.get("unit") if isinstance(axis, dict) else None for axis in image.get("axes", [])]
            if any(units):
                meta["units"] = units
            for transform in dataset.get("coordinateTransformations", []):
                if transform.get("type") == "scale":
                    meta["scale"] = list(transform["scale"])
        else:
            arrays = [name for name, _ in node.arrays()]
            if len(arrays) != 1:
                raise ShapeError(
                    f"{path}: a zarr group without OME-Zarr 'multiscales' metadata and {len(arrays)} arrays "
                    f"({', '.join(arrays) or 'none'}); give the array's own path, e.g. {path}/{arrays[0] if arrays else 'NAME'}"
                )
            node = node[arrays[0]]
    return da.from_zarr(node), meta


def _plane_chunks(shape: tuple[int, ...], chunk: int) -> tuple[int, ...]:
    """Chunks of one plane-row block: 1 along leading axes, ``chunk`` along Y and X (a trailing
    colour axis of 3 or 4 whole)."""
    rgb = len(shape) >= 3 and shape[-1] in (3, 4)
    spatial = len(shape) - (3 if rgb else 2)
    chunks = [1] * spatial + [chunk, chunk]
    return tuple(chunks + ([shape[-1]] if rgb else []))


AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}
"""NGFF axis types of the axis names this package writes."""


def ome_image(array: Any, rgb: bool, meta: dict, name: str, source_shape: tuple[int, ...] | None = None) -> tuple[Any, dict]:
    """``(array in NGFF axis order, NGFF 0.4 multiscales attributes)`` for a one-level OME-Zarr image.

    ``array``: the restored image as the engine gives it (a colour axis last when ``rgb``);
    ``meta``: the input's OME ``axes`` / ``scale`` (:func:`open_lazy`), or ``{}`` to name the axes
    by dimensionality; ``source_shape``: the input's shape, whose scale is divided by how much
    larger each axis came out (a ×2 super-resolved image has half the pixel size). NGFF wants time first, then channel, then space: an RGB image ``(Y, X, 3)``
    is written ``(3, Y, X)`` with axes ``c, y, x``, which napari-ome-zarr opens as three channels.
    """
    ndim = array.ndim
    axes = list(meta.get("axes") or [])
    scale = list(meta.get("scale") or [1.0] * ndim)
    if source_shape is not None and len(source_shape) == len(scale) == ndim:
        scale = [step * before / after for step, before, after in zip(scale, source_shape, array.shape, strict=True)]
    if len(axes) != ndim or len(scale) != ndim:
        spatial = ndim - (1 if rgb else 0)
        letters = DEFAULT_AXES.get(spatial, "yx".rjust(spatial, "?"))
        if rgb and "c" in letters:  # a stack's leading axis is time when the colour takes "c"
            letters = letters.replace("c", "t")
        axes, scale = list(letters) + (["c"] if rgb else []), [1.0] * ndim
    rank = {"time": 0, "space": 2}
    order = sorted(range(ndim), key=lambda i: rank.get(AXIS_TYPES.get(axes[i], ""), 1))  # stable: space keeps its order
    attrs = {
        "multiscales": [
            {
                "version": OME_VERSION,
                "name": name,
                "axes": [{"name": axes[i], **({"type": AXIS_TYPES[axes[i]]} if axes[i] in AXIS_TYPES else {})} for i in order],
                "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [scale[i] for i in order]}]}],
            }
        ]
    }
    return (array if order == list(range(ndim)) else array.transpose(order)), attrs


def write_zarr(
    array: Any,
    target: str | os.PathLike,
    *,
    ome: dict | None = None,
    compute: Callable[[Any], None] | None = None,
    overwrite: bool = False,
    provenance: dict | None = None,
) -> Path:
    """Compute ``array`` (dask) into the zarr store ``target`` chunk by chunk.

    Args:
        ome: ``multiscales`` attributes (:func:`ome_metadata`): then ``target`` is an OME-Zarr
            group with the image as array ``"0"``; ``None``: a plain zarr array.
        compute: how to run the write (``compute(delayed)``, e.g. on a dask.distributed
            client with a progress bar); default ``delayed.compute()``.

    Raises:
        ShapeError: ``target`` exists and ``overwrite`` is false.
    """
    zarr = _require_zarr()
    target = Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(errno.EEXIST, exists_message(target))
    remove_stale_temps(target)
    temporary = temporary_sibling(target, ".tmp")
    try:
        if ome is not None:
            group = zarr.open_group(str(temporary), mode="w", zarr_format=2)
            group.attrs.update(json.loads(json.dumps(ome)))
            out = group.create_array("0", shape=array.shape, chunks=array.chunksize, dtype=array.dtype, overwrite=True)
            attrs = group.attrs
        else:
            out = zarr.create_array(str(temporary), shape=array.shape, chunks=array.chunksize, dtype=array.dtype, zarr_format=2)
            attrs = out.attrs
        if provenance is not None:  # how it was made (io.provenance)
            attrs.update({KEYWORD: provenance})
        delayed = array.store(out, lock=False, compute=False)
        (compute or (lambda d: d.compute()))(delayed)
        if target.exists() and not overwrite:  # made meanwhile (another run into the same folder): left as it is
            raise FileExistsError(errno.EEXIST, exists_message(target))
        _replace_store(temporary, target)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)
    return target


def _replace_store(new: Path, target: Path) -> None:
    """Put the finished store ``new`` at ``target`` by renames only: an old ``target`` is moved
    aside first and deleted last, so an interruption leaves either store whole at ``target``."""
    if not target.exists():
        os.replace(new, target)
        return
    old = temporary_sibling(target, ".old")  # not ".tmp": never removed as stale, it may be the only copy
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)


def write_tiled_tiff(
    array: Any,
    target: str | os.PathLike,
    *,
    tile: int = 512,
    compute: Callable[[Any], Any] | None = None,
    options: dict | None = None,
    overwrite: bool = True,
    provenance: dict | None = None,
) -> Path:
    """Write ``array`` (dask, one plane ``(Y, X[, C])`` or a stack of them) as a tiled TIFF, one
    ``tile``² tile at a time: memory holds a tile row, whatever the image size. Atomic
    (``overwrite=False``: an existing ``target`` is left as it is, :class:`FileExistsError`).

    ``options``: more ``tifffile.imwrite`` keywords, the source's metadata
    (:meth:`~napari_hyperres.io.tiff_meta.TiffMetadata.write_options`: pixel size, axes, OME). An
    ImageJ hyperstack's (``imagej=True``) is written as ImageJ writes it, plane by plane without
    tiles (ImageJ's format has none; memory then holds a plane, so leave ``imagej`` out for planes
    too large for memory: their pixel size goes into the plain TIFF tags): a review found
    ``--workers`` outputs opening in Fiji as a flat stack with no z-spacing."""
    import tifffile

    options = {**(options or {}), **tiff_options(provenance)}
    if options.get("imagej") and array.dtype.name in IMAGEJ_DTYPES:
        rgb = array.ndim >= 3 and array.shape[-1] in (3, 4)
        lead = array.shape[: array.ndim - (3 if rgb else 2)]
        run = compute or (lambda work: work.compute())
        planes = (np.asarray(run(array[index])) for index in np.ndindex(*lead))
        atomic_write(
            target,
            lambda tmp: tifffile.imwrite(tmp, data=planes, shape=array.shape, dtype=array.dtype,
                                         photometric="rgb" if rgb else "minisblack", **options),
            replace=overwrite,
        )
        return Path(target)
    options.pop("imagej", None)

    compute = compute or (lambda work: work.compute())
    rgb = array.ndim >= 3 and array.shape[-1] in (3, 4)
    spatial = array.ndim - (3 if rgb else 2)
    h, w = array.shape[spatial], array.shape[spatial + 1]

    def tiles():
        for index in np.ndindex(*array.shape[:spatial]):
            plane = array[index]
            for y in range(0, h, tile):
                row = np.asarray(compute(plane[y : y + tile]))  # one row of tiles per computation
                for x in range(0, w, tile):
                    piece = row[:, x : x + tile]
                    pad = [(0, tile - piece.shape[0]), (0, tile - piece.shape[1])] + [(0, 0)] * (piece.ndim - 2)
                    yield np.pad(piece, pad)

    def write(tmp: str) -> None:
        tifffile.imwrite(tmp, data=tiles(), shape=array.shape, dtype=array.dtype, tile=(tile, tile),
                         photometric="rgb" if rgb else "minisblack", **options)

    atomic_write(target, write, replace=overwrite)
    return Path(target)


def regular_chunks(array: Any) -> Any:
    """``array`` rechunked to regular chunks (zarr needs them): each axis to its largest chunk."""
    return array.rechunk(tuple(max(c) for c in array.chunks))

