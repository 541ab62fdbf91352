"""Output layers: where a restored array goes in the viewer, and how it looks there.

Qt-free: the viewer and its layers are passed in (``napari.layers.Image`` objects or
anything with their attributes), nothing here imports napari.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .geometry import linear_kwargs

OUTPUT_KEY = "hyperres"
"""Layer-metadata key of every layer this plugin made (previews, Apply, sweeps): how it was made."""

PREVIEW_KEY = "hyperres_preview_of"
"""Layer-metadata key marking a preview layer, holding its input's ``unique_id``."""

SOURCE_FILE_KEY = "hyperres_source_file"
"""Layer-metadata key of a layer this plugin cut from a file's layer (one channel of a hyperstack,
"Split channels"): the file it came from, which napari records only for layers its readers made."""

HIDES_KEY = "hyperres_hides"
"""Layer-metadata key of an output shown in place of its additive input (that input's ``unique_id``): the input
is hidden while such an output is there (:func:`cover_additive_input`)."""

DEGRADATION_KEY = "degradation"
"""Layer-metadata key of sample data: ``{"task": ..., "level": ...}`` presets the widget."""


def source_path(layer: Any) -> str | None:
    """The file a layer was read from (``layer.source.path``; for a channel this plugin split from
    such a layer, its :data:`SOURCE_FILE_KEY` entry), or ``None``."""
    source = getattr(layer, "source", None)
    path = getattr(source, "path", None) or (getattr(layer, "metadata", None) or {}).get(SOURCE_FILE_KEY)
    return str(Path(path).absolute()) if path else None  # a relative path opened from a script means the folder of then


def origin_file(layer: Any) -> str | None:
    """The file a layer's pixels come from: its own (:func:`source_path`), or for this panel's output the file
    its input came from, through a chain of restorations (dejpeg, then sr: a review's Save… of the chain lost the
    photo's orientation, colour profile and EXIF)."""
    own = source_path(layer)
    made = (getattr(layer, "metadata", None) or {}).get(OUTPUT_KEY) or {}
    return own or made.get("source_file")


def restored_before(layer: Any) -> dict[str, Any] | None:
    """For this panel's output chosen as an input (a chain: sr after dejpeg), the restorations it came from,
    ``{"task", "level", "unit"[, "after"]}`` (recorded in the next output and in a saved file); else ``None``."""
    made = (getattr(layer, "metadata", None) or {}).get(OUTPUT_KEY)
    if not made:
        return None
    return {key: made[key] for key in ("task", "level", "unit", "after") if made.get(key) is not None}


def display_kwargs(source: Any) -> dict[str, Any]:
    """Display settings copied from the input layer so outputs look comparable: its colormap and contrast, and
    its blending (a channel of a composite is additive: an opaque output hid the other channels, a review)."""
    blending = {"blending": source.blending} if getattr(source, "blending", None) else {}
    gamma = {"gamma": float(source.gamma)} if getattr(source, "gamma", None) is not None else {}  # a review: never copied
    if source.rgb:
        return {"rgb": True, **blending, **gamma}
    return {"rgb": False, "colormap": source.colormap, "contrast_limits": list(source.contrast_limits), **blending, **gamma}


def layer_look(layer: Any) -> Any:
    """What an output copies from its input layer (:func:`display_kwargs`, its placement and turn), kept when a job
    starts: an input deleted while Apply ran gave an output at napari's defaults, off its place in the world and gray
    (a review). Its ``visible`` is False, so an output placed with it hides nothing."""
    from types import SimpleNamespace

    return SimpleNamespace(
        unique_id=layer.unique_id, rgb=bool(layer.rgb), colormap=layer.colormap, contrast_limits=list(layer.contrast_limits),
        blending=layer.blending, gamma=float(layer.gamma), scale=np.array(layer.scale), translate=np.array(layer.translate),
        rotate=np.array(layer.rotate), shear=np.array(layer.shear),
        affine=SimpleNamespace(affine_matrix=np.array(layer.affine.affine_matrix)), visible=False,
    )


def follow_display(preview: Any, source: Any) -> None:
    """Give ``preview`` its input's contrast and gamma, as they are now (a review: the input's contrast changed
    after the preview came, which covered it and kept the old, and Apply's output then looked much brighter)."""
    if not source.rgb:
        preview.contrast_limits = list(source.contrast_limits)
    preview.gamma = float(source.gamma)


def find_layer(layers: Any, unique_id: Any) -> Any:
    """The layer with ``unique_id``, or ``None`` (it was deleted)."""
    return next((layer for layer in layers if layer.unique_id == unique_id), None)


def find_preview(layers: Any, source: Any) -> Any:
    """The preview layer of ``source``, or ``None``."""
    return next((layer for layer in layers if layer.metadata.get(PREVIEW_KEY) == source.unique_id), None)


def place_output(
    viewer: Any,
    data: Any,
    *,
    source: Any,
    rgb: bool,
    geometry: tuple[Any, Any] | None,
    name: str,
    metadata: dict[str, Any],
    replace: Any = None,
    axis_labels: tuple[str, ...] | None = None,
) -> Any:
    """Show ``data`` as an image layer; the one place outputs (previews, Apply, sweeps) are written.

    Args:
        source: the input layer (its colormap and contrast are copied), or ``None`` when it
            was deleted meanwhile (then only ``rgb`` is kept).
        geometry: ``(scale, translate)`` of the output, or ``None`` for napari's default.
        replace: a layer to update in place (the preview layer), if it shows the same kind
            of image (gray/RGB); otherwise it is removed and a new layer added.
        axis_labels: the new layer's axis names (a sweep's "level" axis), or napari's.

    Returns:
        The layer showing ``data``.
    """
    scale, translate = geometry if geometry is not None else (None, None)
    n = np.ndim(data) - (1 if rgb else 0)
    linear = {} if source is None else linear_kwargs(source, n)  # a rotated, sheared or affine-placed input (a review)
    if replace is not None and replace.rgb == rgb:
        replace.data = data
        if source is not None:  # the input turned since (a diff review): the preview turns with it
            replace.rotate = linear.get("rotate", np.eye(n))
            replace.shear = linear.get("shear", np.eye(n))
            replace.affine = linear.get("affine", np.eye(n + 1))
        replace.scale, replace.translate = scale, translate
        replace.name = name
        replace.metadata.update(metadata)
        return replace
    display = {**display_kwargs(source), **linear} if source is not None else {"rgb": rgb}
    if axis_labels is not None:
        display["axis_labels"] = axis_labels
    layer = viewer.add_image(data, name=name, scale=scale, translate=translate, metadata=metadata, **display)
    cover_additive_input(viewer.layers, layer, source)  # before the replaced preview goes, which would show it again
    if replace is not None:
        viewer.layers.remove(replace)
    return layer


def cover_additive_input(layers: Any, output: Any, source: Any) -> None:
    """Hide ``source`` while ``output`` shows it restored, where ``source`` is additive (a channel of a composite):
    the output takes its blending so the other channels show through, and over its visible input it would show the
    sum of the noisy and the restored channel (a review). Opaque outputs cover their input anyway. The output
    records it (:data:`HIDES_KEY`); :func:`uncover_inputs` shows the input again when no such output is left.
    An input the user had hidden stays as it was."""
    if source is None or getattr(source, "blending", None) != "additive":
        return
    hidden_by_us = any((layer.metadata or {}).get(HIDES_KEY) == source.unique_id for layer in layers if layer is not output)
    if source.visible or hidden_by_us:
        output.metadata[HIDES_KEY] = source.unique_id
        source.visible = False


def uncover_inputs(layers: Any, removed: Any) -> None:
    """After ``removed`` left ``layers``: show the input it hid (:func:`cover_additive_input`) again, unless another
    output still stands in its place (an Apply's output, after its preview goes)."""
    hidden = (getattr(removed, "metadata", None) or {}).get(HIDES_KEY)
    if hidden is None or any((layer.metadata or {}).get(HIDES_KEY) == hidden for layer in layers):
        return
    source = find_layer(layers, hidden)
    if source is not None:
        source.visible = True
