"""The widget's "Split channels" button: a layer of a file whose axes name channels, split into one
layer per channel, so that each channel is fitted and restored on its own.

napari's reader opens an ImageJ ``ZCYX`` hyperstack (or an OME-TIFF with a ``C`` axis) as one 4-D
layer. Restored as one, its channels share one noise fit and one intensity range, and detectors
differ in gain, offset and brightness: a review measured 26.71 dB on a second channel fitted with
the first against 34.32 fitted alone (``MixedNoiseWarning`` says so, and pointed to a split the
viewer's menus do not offer along a middle axis). The command line and ``channel_axis=`` in
Python split such files themselves; this button does it in the viewer, where the slider and
"Auto" then belong to one channel at a time.

The input layer is kept (hidden), never changed; each channel layer records the file it came
from, so "Save…" writes a restored channel with the file's axes (``C`` dropped) and pixel size.

A mixin of :class:`napari_hyperres.ui.widget.RestoreWidget`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .outputs import SOURCE_FILE_KEY, source_path


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
    shape = tuple(layer.data.shape)
    axis = None if metadata is None else metadata.channel_axis(shape)
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

    def _update_channels_button(self) -> None:
        """Show "Split channels" for a layer whose file names more than one channel."""
        found = self._channels_of(self.layer_combo.value)
        self.channels_button.visible = found is not None
        if found is not None:
            axis, count = found
            self.channels_button.text = f"Split {count} channels"
            self.channels_button.tooltip = (
                f"axis {axis} of this layer holds {count} channels (the file's C axis): one layer per channel, so that "
                "each is fitted and restored on its own (detectors differ in gain, offset and brightness; one fit for "
                "all can cost several dB). The layer itself is kept, hidden."
            )

    def split_channels(self, layer: Any = None) -> list[Any]:
        """Add one layer per channel of ``layer`` (default: the chosen one) along its file's ``C`` axis,
        hide ``layer``, and choose the first channel; returns the new layers (none where the file names no channels)."""
        from napari.layers.utils.stack_utils import stack_to_images

        layer = self.layer_combo.value if layer is None else layer
        found = self._channels_of(layer)
        if found is None:
            self._show("warning", f"napari-hyperres: {getattr(layer, 'name', 'this layer')!r} comes from no file whose axes name channels")
            return []
        axis, count = found
        path = source_path(layer)
        channels = stack_to_images(layer, axis)
        added = []
        for c, channel in enumerate(channels):
            channel.name = f"{layer.name} [channel {c}]"
            channel.metadata = {**channel.metadata, SOURCE_FILE_KEY: path}
            added.append(self.viewer.add_layer(channel))
        layer.visible = False
        first = next((value for value in self.layer_combo.choices if value.unique_id == added[0].unique_id), None)
        if first is not None:
            self.layer_combo.value = first
        self.status.value = f"split {layer.name} into {count} channel layers: each is fitted and restored on its own"
        return added
