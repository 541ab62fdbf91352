"""The widget's "Split channels" button: a layer of a file whose axes name channels, split into one
layer per channel, so that each channel is fitted and restored on its own.

napari's reader opens an ImageJ ``ZCYX`` hyperstack (or an OME-TIFF with a ``C`` axis) as one 4-D
layer. Restored as one, its channels share one noise fit and one intensity range, and detectors
differ in gain, offset and brightness: a review measured 26.71 dB on a second channel fitted with
the first against 34.32 fitted alone (``MixedNoiseWarning`` says so, and pointed to a split the
viewer's menus do not offer along a middle axis). The command line and ``channel_axis=`` in
Python split such files themselves; this button does it in the viewer, where the slider and
"Auto" then belong to one channel at a time.

As napari's own **Layers ▸ Split Stack** and ``viewer.open(path, channel_axis=...)`` do, the channel
layers take the stack layer's place (its data and file are never changed; File ▸ Open brings it back):
kept hidden, its extra axis held the sliders, and the channels' Z moved onto its C slider (a review).
Each channel layer records the file it came from, so "Save…" writes a restored channel with the file's
axes (``C`` dropped) and pixel size.

A mixin of :class:`napari_hyperres.ui.widget.RestoreWidget`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .outputs import SOURCE_FILE_KEY, find_preview, source_path

CHANNEL_OF_KEY = "hyperres_channel_of"
"""Layer-metadata key of a channel layer "Split channels" made: the ``unique_id`` of the layer it came from."""


def file_channels(layer: Any, read_metadata=None) -> tuple[int, int] | None:
    """``(axis, count)`` of the channels of ``layer`` (an image layer read from a TIFF whose axes name
    ``C`` with more than one channel, its data the file's shape), else ``None``. ``read_metadata``:
    ``path → TiffMetadata | None`` (default :func:`~napari_hyperres.io.tiff_meta.read_tiff_metadata`)."""
    from ..io.files import TIFF_SUFFIXES

    path = source_path(layer)
    if layer is None or getattr(layer, "rgb", False) or not path or Path(path).suffix.lower() not in TIFF_SUFFIXES:
        return None
    if read_metadata is None:
        from ..io.tiff_meta import read_tiff_metadata as read_metadata
    metadata = read_metadata(path)
    if metadata is None or "C" not in metadata.axes:
        return None
    shape = tuple(layer.data.shape)
    axis = metadata.channel_axis(shape)
    if axis is None:  # channels stored as a page's samples: napari's reader keeps them last, (Y, X, C)
        c = metadata.axes.index("C")
        samples_last = metadata.shape[:c] + metadata.shape[c + 1 :] + (metadata.shape[c],)
        axis = len(shape) - 1 if shape == samples_last and shape[-1] > 1 else None
    return None if axis is None else (axis, shape[axis])


class ChannelsMixin:
    """``split_channels()`` and the button's visibility (needs the widget's viewer, layer box, status and ``_show``)."""

    def _channels_of(self, layer: Any) -> tuple[int, int] | None:
        """:func:`file_channels` of ``layer``, each file's header read once per modification time."""
        path = source_path(layer)
        if not path:
            return None
        try:
            key = (path, Path(path).stat().st_mtime_ns)
        except OSError:
            return None  # the file is gone: nothing to read the axes from

        def read(p: str) -> Any:
            if key not in self._file_metadata:
                from ..io.tiff_meta import read_tiff_metadata

                self._file_metadata[key] = read_tiff_metadata(p)
            return self._file_metadata[key]

        return file_channels(layer, read)

    def _already_split(self, layer: Any) -> bool:
        """Whether channel layers split from ``layer`` are in the viewer (a script splitting a layer it still holds
        a second time would duplicate them)."""
        return layer is not None and any(other.metadata.get(CHANNEL_OF_KEY) == layer.unique_id for other in self.viewer.layers)

    def _update_channels_button(self) -> None:
        """Show "Split channels" for a layer whose file names more than one channel (a split layer leaves the
        viewer); with a photon-limited task, say once per layer why (a review's two-detector stack, restored as one
        layer, fitted a gain of 0.34 for detectors of 2.2 and 8, and no warning said so)."""
        layer = self.layer_combo.value
        found = self._channels_of(layer)
        self.channels_button.visible = found is not None
        if found is not None and self.task.noise_parameters and layer.unique_id not in self._told_channels:
            self._told_channels.add(layer.unique_id)
            self._show("warning", f"napari-hyperres: {layer.name!r} holds {found[1]} channels (its file's C axis), fitted as "
                       f"one here: detectors differ in gain and offset (a second detector's channel fitted with the first "
                       f"lost 8–13 dB). Press 'Split {found[1]} channels' to restore each on its own")
        if found is not None:
            axis, count = found
            self.channels_button.text = f"Split {count} channels"
            self.channels_button.tooltip = (
                f"axis {axis} of this layer holds {count} channels (the file's C axis): one layer per channel, so that "
                "each is fitted and restored on its own (detectors differ in gain, offset and brightness; one fit for "
                "all can cost several dB). The channel layers take the layer's place in the list, as napari's Split Stack does."
            )

    def split_channels(self, layer: Any = None) -> list[Any]:
        """Add one layer per channel of ``layer`` (default: the chosen one) along its file's ``C`` axis in its
        place (``layer`` and its preview leave the list, as napari's Split Stack does; the data is not touched), and
        choose the first channel; returns the new layers (none where the file names no channels)."""
        from napari.layers.utils.stack_utils import stack_to_images

        layer = self.layer_combo.value if layer is None else layer
        if self._already_split(layer):
            self._show("info", f"napari-hyperres: {layer.name!r} is split already: its channel layers are in the layer list")
            return []
        found = self._channels_of(layer)
        if found is None:
            self._show("warning", f"napari-hyperres: {getattr(layer, 'name', 'this layer')!r} comes from no file whose axes name channels")
            return []
        axis, count = found
        path = source_path(layer)
        at = list(self.viewer.layers).index(layer) if layer in self.viewer.layers else len(self.viewer.layers)
        added = []
        for c, channel in enumerate(stack_to_images(layer, axis)):  # napari's colours, contrast and blending per channel
            channel.name = f"{layer.name} [channel {c}]"
            channel.metadata = {**channel.metadata, SOURCE_FILE_KEY: path, CHANNEL_OF_KEY: layer.unique_id}
            self.viewer.layers.insert(at + c, channel)
            added.append(channel)
        # the stack makes way for its channels, as napari's Layers ▸ Split Stack and viewer.open(path, channel_axis=)
        # do: kept hidden, it held the Z slider (the channels' Z went to its C slider, and Z moved nothing: a review)
        preview = find_preview(self.viewer.layers, layer)
        for gone in (preview, layer):
            if gone is not None:
                self.viewer.layers.remove(gone)
        self.viewer.layers.selection.active = added[0]  # the layer list and the panel agree (the box follows it)
        first = next((value for value in self.layer_combo.choices if value.unique_id == added[0].unique_id), None)
        if first is not None:
            self.layer_combo.value = first
        self.say(f"split {layer.name} into {count} channel layers, each fitted and restored on its own "
                 "(File ▸ Open brings the stack back; the file is unchanged)")
        if self.task.noise_parameters and self.auto_button.visible:
            self.estimate()  # the stack's level is none of the channels' (a review: 1,510 photons for channels of 69 and 19)
        return added
