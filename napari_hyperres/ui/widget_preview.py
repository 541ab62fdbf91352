"""The widget's live preview: the displayed plane restored at the slider's level.

A mixin of :class:`napari_hyperres.ui.widget.RestoreWidget`. Requests made while a preview
runs are coalesced (:class:`napari_hyperres.ui.preview.LatestOnly`): only the newest runs next.
A large plane shows the middle of the view first, then the view, then the rest
(:mod:`napari_hyperres.ui.progressive`); a new slider move stops it at its next tile.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from qtpy.QtCore import QTimer

from ..errors import HyperResError
from .geometry import output_geometry, yx_rotation_shear
from .labels import PRESS_AUTO, describe_selection, format_level, preview_name
from .outputs import OUTPUT_KEY, PREVIEW_KEY, find_layer, find_preview, place_output
from .preview import Request, Restored, reporting_errors
from .progressive import PreviewTile, preview_steps
from .widget_workers import create_worker


class PreviewMixin:
    """``preview()`` and its worker's handlers (needs the widget's ``_request``, ``_cache`` and labels)."""

    def preview(self, level: float | None = None, layer: Any = None) -> None:
        """Restore the displayed plane at ``level`` (default: the slider's) into the preview layer.

        ``layer`` defaults to the chosen one. Requests made while a preview runs are
        coalesced: only the newest one runs next.
        """
        if self._released:
            return
        target = self.layer_combo.value if layer is None else layer
        if target is not None and self._no_preview_in_this_view(target):
            return
        request = self._request(level, layer, quiet=True)
        if request is None:  # the settings were refused (a camera typed wrong): the preview of others must not stay
            self._drop_preview_of(self.layer_combo.value if layer is None else layer, stop=True)
            return
        if self._preview_queue.submit(request):
            self._start_preview(request)
        elif self._preview_worker is not None:
            self._preview_worker.quit()  # the running preview stops at its next tile: the newest level goes next

    def _start_preview(self, request: Request) -> None:
        self._preview_worker = create_worker(
            reporting_errors(preview_steps),
            self._cache,
            request,
            _start_thread=True,
            _connect={
                "yielded": partial(self._on_preview_tile, request),
                "returned": partial(self._on_preview_result, request),
                "errored": partial(self._on_preview_error, request),
                "finished": self._on_preview_finished,
            },
        )

    def _on_preview_tile(self, request: Request, tile: PreviewTile | None) -> None:
        """Restored pixels of the view: written into the preview layer at once, so the picture
        follows the slider. Elsewhere the layer keeps the previous level's pixels of the same
        plane, or shows the input (another plane or task: never another plane's pixels)."""
        if tile is None or self._overtaken(request):
            return
        source = find_layer(self.viewer.layers, request.source_id)
        if source is None or self._released or self._another_plane_shown(request, source):
            return
        layer = find_preview(self.viewer.layers, source)
        plane_shape = np.shape(request.data)[len(request.index) :]
        shown = layer.metadata.get(OUTPUT_KEY, {}) if layer is not None else {}
        same_plane = shown.get("plane") == list(request.index) and shown.get("task") == request.task.name
        if same_plane and layer.data.shape == plane_shape and layer.data.dtype == request.data.dtype:
            data = np.array(layer.data, copy=True)  # the last level's pixels until this level's tiles arrive
        else:
            data = np.array(request.data[request.index], copy=True)
        y0, y1, x0, x1 = tile.box
        data[y0:y1, x0:x1] = tile.data
        self._show_preview(request, source, data, None, complete=False)
        self.say(f"preview {request.task.name} {format_level(request.level)}: {tile.phase} pixels in {tile.seconds * 1000:.0f} ms")

    def _on_preview_result(self, request: Request, result: Restored) -> None:
        plane, seconds, selection = result
        self._last_preview_error = None
        source = find_layer(self.viewer.layers, request.source_id)
        if source is None or self._released or self._overtaken(request) or self._another_plane_shown(request, source):
            return
        self._show_preview(request, source, plane, selection)
        self._show_selection(request, selection)
        level = "" if request.shown_level is None else f" {format_level(request.level)}"
        if request.curve is not None:
            shown = request.restore_level()
            level += f" by brightness ({format_level(min(shown.levels))}–{format_level(max(shown.levels))})"
        found = self._level_found
        same = found is not None and (found[0], found[1], found[3]) == (request.task.name, request.level, request.source_id)
        origin = f" ({found[2]})" if same else ""
        message = f"preview {request.task.name}{level}{origin}: {seconds * 1000:.0f} ms{self._extrapolation(request)}"
        misfit = request.level_misfit()
        if misfit is not None:  # the CLI's LevelMismatchWarning, said where the slider is (no popup while dragging)
            message += f"; {misfit}: {PRESS_AUTO}"
        if self.busy:  # the running job's line stays first (a review saw "Restoring…" replaced by preview timings)
            message = f"{self._job_kind}…; {message}"
        self.say(message)

    def _another_plane_shown(self, request: Request, source: Any) -> bool:
        """Whether the viewer now shows another plane of ``source`` than the one ``request`` restored: its preview
        must not land over it (a review: after Apply, a level nudged and the time slider moved while the preview ran,
        and t = 3's restoration stayed over t = 2, unsaid). A preview of the plane shown is asked for instead."""
        now = self._shown_plane(source)
        if now is None or now == tuple(request.index):  # None: a layer that cannot be indexed now, kept as asked for
            return False
        QTimer.singleShot(0, self._maybe_preview)
        return True

    def _overtaken(self, request: Request) -> bool:
        """Whether an Apply asked for after this preview has placed its result (a plugin author's review:
        Apply clicked while the first preview ran, and the preview landed on top of the result, the status
        saying "preview" instead of "added"). The next slider move brings a preview back."""
        return request.serial < max(self._applied.get(request.source_id, 0), self._dropped.get(request.source_id, 0))

    def _show_preview(self, request: Request, source, plane: np.ndarray, selection, complete: bool = True) -> None:
        """Write ``plane`` (the displayed plane restored, or partly) into the source's preview layer."""
        spatial = slice(-3, -1) if request.rgb else slice(-2, None)
        in_yx = np.shape(request.data)[spatial]
        geometry = output_geometry(source.scale[-2:], source.translate[-2:], in_yx, plane.shape[spatial], yx_rotation_shear(source))
        metadata = request.metadata(selection=selection, extra=self._weights_extra(request) if selection is not None else None)
        metadata[PREVIEW_KEY] = request.source_id
        self._previewed[request.source_id] = request.serial
        metadata["hyperres"]["plane"] = list(request.index)
        metadata["hyperres"]["complete"] = complete
        shown = place_output(
            self.viewer, plane, source=source, rgb=request.rgb, geometry=geometry,
            name=preview_name(request.source, request.task.name, request.shown_level, request.level_note), metadata=metadata,
            replace=find_preview(self.viewer.layers, source),
        )
        self._own_previews.add(shown.unique_id)

    def _extrapolation(self, request: Request) -> str:
        """``" (below the trained … : extrapolated)"`` when the level lies outside the weights' training levels."""
        if request.shown_level is None:
            return ""
        info = self._cache.get(request.task, request.device, request.weights).info
        levels = [request.level] if request.curve is None else request.restore_level().levels_to_run(request.task)
        notes = dict.fromkeys(note for note in (info.extrapolation(level, request.task.unit) for level in levels) if note)
        return f" ({'; '.join(notes)})" if notes else ""

    def _weights_extra(self, request: Request) -> dict:
        """The metadata ``extra`` of the request's weights (its reference mixtures, for HAIR)."""
        return self._cache.get(request.task, request.device, request.weights).info.extra

    def _show_selection(self, request: Request, selection: np.ndarray | None, plane: tuple[int, ...] = ()) -> None:
        """Tell in ``selection_label`` what the image-conditioned network chose for ``plane``, in words
        when its weights record reference mixtures."""
        if selection is None:
            return
        try:
            text = describe_selection(np.asarray(selection)[plane], self._weights_extra(request))
        except (HyperResError, IndexError, ValueError) as exc:
            text = f"(mixture not readable: {exc})"
        self.selection_label.value = f"plane {', '.join(map(str, plane))}: {text}" if plane else text

    def _on_preview_error(self, request: Request, exc: BaseException) -> None:
        """Say what failed; the preview left from before goes: it shows other settings than those that failed
        (a review switched to a task without weights and kept seeing the denoise preview beside its error; a
        camera offset refused left the previous camera's preview on screen)."""
        self._notify_error(exc, request.task, quiet=True)
        self._drop_preview_of(find_layer(self.viewer.layers, request.source_id))

    def _drop_preview_of(self, source: Any, stop: bool = False) -> None:
        """Remove ``source``'s preview layer, if it has one (not after the panel was closed). ``stop``: the settings
        were refused, so a preview running or waiting with the settings before must not land after it (a review:
        the running preview came back over the refusal): the pending one is dropped, the running one told to
        stop, and whatever it still yields is stale (:meth:`_overtaken`)."""
        if source is None or self._released:
            return
        if stop:
            self._dropped[source.unique_id] = next(self._serials)
            self._preview_queue.clear()
            if self._preview_worker is not None:
                self._preview_worker.quit()
        stale = find_preview(self.viewer.layers, source)
        if stale is not None:
            selected = self.viewer.layers.selection.active is stale
            self.viewer.layers.remove(stale)
            if selected and source in self.viewer.layers:  # napari selects each new layer: its controls went blank
                self.viewer.layers.selection.active = source

    def _on_preview_finished(self) -> None:
        self._preview_worker = None
        request = self._preview_queue.finish()
        if request is None:
            return
        if self._released:
            self._preview_queue.finish()  # drop it: nothing is pending any more, so the queue goes idle
        else:
            self._start_preview(request)

