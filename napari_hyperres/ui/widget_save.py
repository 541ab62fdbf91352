"""The widget's "Save…" button: a restored layer written as a file, with what its input file
said about its pixels (a TIFF's axes, pixel size, ImageJ or OME entries; a photo's colour profile).

napari's own TIFF writer keeps none of that (a review saved a restored hyperstack and got axes
``QSYX`` and a pixel size of 1), and napari's reader shows none of it, so the layer cannot carry
it: the output's metadata records the file it came from (``metadata["hyperres"]["source_file"]``)
and :func:`save_restored` reads that file's metadata again when writing.

A mixin of :class:`napari_hyperres.ui.widget.RestoreWidget`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .outputs import OUTPUT_KEY, PREVIEW_KEY
from .widget_workers import create_worker


def save_suffix(source_file: str | None, ndim: int, rgb: bool) -> str:
    """The suffix Save… suggests for a restored layer of ``ndim`` axes: a TIFF from a TIFF (or from no file); a
    photo as PNG (every pixel, and the orientation tag a TIFF cannot hold: a review's default .tif of a phone
    photo came out sideways), unless the layer holds several images (a Level sweep), which only a TIFF keeps
    (the suggested PNG was refused: a review)."""
    if not source_file or Path(source_file).suffix.lower() in (".tif", ".tiff"):
        return Path(source_file).suffix if source_file else ".tif"
    return ".png" if ndim <= (3 if rgb else 2) else ".tif"


def zarr_metadata(store: Path):
    """The :class:`~napari_hyperres.io.tiff_meta.TiffMetadata` a TIFF written from OME-Zarr ``store`` takes, or ``None``."""
    from ..io.chunked import open_lazy
    from ..io.tiff_meta import TiffMetadata

    try:
        array, meta = open_lazy(store)
    except Exception:  # noqa: BLE001 — metadata is a courtesy: a store that does not open gives none
        return None
    if not meta.get("axes"):
        return None
    return TiffMetadata.from_ngff(meta["axes"], meta.get("scale", []), tuple(array.shape), meta.get("units"))


def save_restored(path: str | Path, data: np.ndarray, source_file: str | None, made: dict | None = None,
                  pixel_size: tuple[float, float] | None = None) -> Path:
    """Write ``data`` to ``path`` (atomically; the format by its suffix) with the metadata of the
    file it was restored from, where that file still exists: a TIFF output gets the TIFF's axes,
    pixel size (finer after ``sr``) and ImageJ/OME entries, one channel's where ``data`` is one
    channel of it; any output the source's ICC colour profile. ``made``: the layer's
    ``metadata["hyperres"]`` (how it was made), recorded in the file (:mod:`napari_hyperres.io.provenance`).
    An OME-Zarr source gives its axes and voxel size; with no source to read them from, ``pixel_size`` (the
    layer's ``(Y, X)`` scale) is written as unitless resolution tags.
    Returns the path written."""
    from ..io.chunked import is_zarr
    from ..io.files import TIFF_SUFFIXES, write_image
    from ..io.icc import read_icc_profile
    from ..io.tiff_meta import TiffMetadata, read_tiff_metadata

    path, data = Path(path), np.asarray(data)
    source = Path(source_file) if source_file else None
    tiff_metadata = icc = photo = found = None
    to_tiff = path.suffix.lower() in TIFF_SUFFIXES
    if source is not None and source.is_file():
        if to_tiff and source.suffix.lower() in TIFF_SUFFIXES:
            found = read_tiff_metadata(source)
        icc = read_icc_profile(source)
        if source.suffix.lower() not in TIFF_SUFFIXES:
            photo = photo_metadata_for(source, data.shape)
    elif source is not None and to_tiff and is_zarr(source):  # an OME-Zarr's axes and voxel size (napari's reader drops them)
        found = zarr_metadata(source)
    if found is not None:
        sweep = (made or {}).get("axis0") == "level"  # a Level sweep: the levels, then the plane's axes
        tiff_metadata = found.for_sweep(data.shape) if sweep else found.for_shape(data.shape)
    if tiff_metadata is None and to_tiff and pixel_size is not None and tuple(pixel_size) != (1.0, 1.0):
        # no file to read it from: the layer's own Y and X scale, as resolution tags without a unit (napari keeps none
        # with it); before, an array added with a scale of 0.108 was saved with a pixel size of 1 (a review)
        tiff_metadata = TiffMetadata("Q" * (data.ndim - 2) + "YX", tuple(data.shape), (1.0 / pixel_size[1], 1.0 / pixel_size[0]), 1)
    provenance = None
    if made is not None:
        from ..io.provenance import record

        # the CLI's fields (cli.restore.output_record) where the layer knows them: a weights file by its name
        # (a path may hold a home folder), "by brightness" as a flag, the input file's name or none
        provenance = record(
            task=made.get("task"), level=made.get("level"), unit=made.get("unit"),
            by_brightness=True if made.get("by_brightness") else None,
            weights=Path(made["weights"]).name if made.get("weights") else None, weights_steps=made.get("weights_steps"),
            precision=made.get("precision"), noise=made.get("noise"), level_from=made.get("level_from"),
            self_ensemble=True if made.get("self_ensemble") else None, looks_like=made.get("looks_like"), after=made.get("after"),
            source_file=Path(source_file).name if source_file else None,
        )
    # the save dialog has asked whether to replace an existing file
    return write_image(path, data, tiff_metadata=tiff_metadata, icc_profile=icc, photo=photo, provenance=provenance, overwrite=True)


def photo_metadata_for(source: Path, shape: tuple[int, ...]):
    """The EXIF (camera, date, orientation), dpi and XMP of the photo ``source`` for an output of
    ``shape`` restored from a layer of it, or ``None``. napari's reader keeps a JPEG's pixels as
    stored, not turned upright by its EXIF orientation, so the output keeps that orientation tag
    (a review's Save… of an orientation-6 photo came out sideways, its EXIF gone); a layer whose
    pixels were turned (its sides swapped against the file's) says "upright"."""
    import cv2

    from ..io.exif import output_exif

    stored = cv2.imread(str(source), cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION)  # as stored, not turned
    if stored is None:
        return None
    height, width = stored.shape[:2]
    aspect = shape[0] / max(shape[1], 1)
    turned = height != width and abs(aspect - width / height) < abs(aspect - height / width)
    return output_exif(source, (width, height) if turned else (height, width), shape, turned=turned)


def ask_save_path(parent, suggested: str) -> str | None:
    """The file to write, from a save dialog (``None``: cancelled)."""
    from qtpy.QtWidgets import QFileDialog

    path, _ = QFileDialog.getSaveFileName(
        parent, "Save the restored layer", suggested, "TIFF (*.tif *.tiff);;PNG (*.png);;JPEG (*.jpg *.jpeg)"
    )
    return path or None


class SaveMixin:
    """``save_output()`` (needs the widget's viewer, status and ``_show``)."""

    def save_output(self, path: str | None = None, layer: Any = None) -> None:
        """Write ``layer`` (default: the layer selected in napari's list, which must be a restored
        one) to ``path`` (default: ask), with its input file's metadata (:func:`save_restored`)."""
        layer = layer if layer is not None else self.viewer.layers.selection.active
        if layer is None or OUTPUT_KEY not in getattr(layer, "metadata", {}):
            self._show("warning", "napari-hyperres: select a restored layer (made by Apply or Level sweep) in the layer list, then Save…")
            return
        if PREVIEW_KEY in layer.metadata:  # napari selects each new layer: a review saved one plane of a stack's preview
            self._show("warning", f"napari-hyperres: {layer.name!r} is a preview (the displayed plane only, replaced as the "
                                  "slider moves); press 'Apply to all', select its output in the layer list, then Save…")
            return
        made = layer.metadata[OUTPUT_KEY]
        source_file = made.get("source_file")
        stem = Path(source_file).stem if source_file else made.get("source", "restored")
        suffix = save_suffix(source_file, np.ndim(layer.data), bool(getattr(layer, "rgb", False)))
        path = path or ask_save_path(self.native, f"{stem}_{made.get('task', 'restored')}{suffix}")
        if not path:
            return
        if source_file and Path(path).resolve() == Path(source_file).resolve():
            self._show("warning", f"napari-hyperres: {path} is the input file; choose another name (the input is never overwritten)")
            return
        self.say(f"saving {layer.name}…")
        create_worker(
            save_restored, path, layer.data, source_file, dict(made),  # read in the worker: a lazy output computes there
            pixel_size=None if getattr(layer, "rgb", False) else tuple(float(v) for v in layer.scale[-2:]),
            _start_thread=True,
            _connect={"returned": partial(self._on_saved, layer.name), "errored": partial(self._notify_error, task=None)},
        )

    def _on_saved(self, name: str, path: Path) -> None:
        self.say(f"saved {name} to {Path(path).name}")
        self._show("info", f"napari-hyperres: wrote {path}")

