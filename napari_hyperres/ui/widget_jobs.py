"""The widget's cancellable jobs: "Apply to all" (every plane of a layer) and the level sweep.

A mixin of :class:`napari_hyperres.ui.widget.RestoreWidget`: it reads the widget's controls
and writes output layers through :func:`napari_hyperres.ui.outputs.place_output`.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

import numpy as np
from napari.utils.progress import cancelable_progress

from ..core.tasks import Task
from ..engine import output_shape
from ..engine.ensemble import DIHEDRAL_TRANSFORMS
from ..errors import HyperResError
from .geometry import output_geometry, sweep_levels, yx_rotation_shear
from .labels import (
    PRESS_AUTO,
    format_level,
    is_image_conditioned,
    output_name,
    sweep_name,
)
from .outputs import HIDES_KEY, OUTPUT_KEY, find_layer, find_preview, layer_look, place_output
from .preview import Request, Restored, reporting_errors, restore_steps, sweep_steps
from .widget_workers import create_worker, while_open


class _JobProgress(cancelable_progress):
    """napari's progress bar whose own Cancel button stops the job at once."""

    def cancel(self) -> None:
        super().cancel()
        if self.cancel_callback is not None:
            self.cancel_callback()


class JobsMixin:
    """Apply, sweep, cancel and their progress (needs the widget's buttons, ``_request`` and ``_show``)."""

    _job: Any
    _job_kind: str
    _progress: _JobProgress | None

    @property
    def busy(self) -> bool:
        """Whether an "Apply to all" or sweep job is running."""
        return self._job is not None

    def apply(self, level: float | None = None, layer: Any = None) -> None:
        """Restore a whole layer (all planes; default: the chosen one) into a new layer, in a cancellable worker.

        The input is never modified; the output keeps its dtype, scale and translate
        (super-resolution divides the spatial scale so that the output overlays the input).
        """
        if self.busy:
            self._show("warning", "napari-hyperres: a restoration is already running; cancel it or wait")
            return
        request = self._request(level, layer)
        if request is None:
            return
        request = dataclasses.replace(request, self_ensemble=bool(self.ensemble_check.value))  # Apply only
        self._keep_look(request)
        worker = create_worker(
            reporting_errors(restore_steps),
            self._cache,
            request,
            _start_thread=False,
            _connect={"returned": partial(self._on_apply_result, request), "errored": partial(self._on_job_error, request.task)},
        )
        level = "" if request.shown_level is None else f" {format_level(request.level)}{request.level_note}"
        passes = f", {DIHEDRAL_TRANSFORMS} passes" if request.self_ensemble else ""
        self._start_job(worker, f"Restoring {request.source} ({request.task.name}{level}{passes})")

    def sweep(self, n: int | None = None, low: float | None = None, high: float | None = None, layer: Any = None) -> None:
        """Restore the displayed plane at ``n`` levels from ``low`` to ``high`` into one layer.

        The new layer's leading axis runs over the levels, listed in ``metadata["hyperres"]["levels"]``.
        """
        if self.busy:
            self._show("warning", "napari-hyperres: a restoration is already running; cancel it or wait")
            return
        task = self.task
        if is_image_conditioned(task):
            self._show("warning", f"napari-hyperres: task {task.name!r} chooses its own weights from the image and has no level to sweep")
            return
        try:
            levels = sweep_levels(
                task,
                self.sweep_count.value if n is None else n,
                self.sweep_from.value if low is None else low,
                self.sweep_to.value if high is None else high,
            )
        except (HyperResError, ValueError) as exc:
            self._notify_error(exc, task)
            return
        request = self._request(levels[0], layer)
        if request is None:
            return
        plane_shape = np.shape(request.data)[len(request.index) :]
        if output_shape(task, plane_shape, levels[0], request.rgb) != output_shape(task, plane_shape, levels[-1], request.rgb):
            self._show("warning",
                f"napari-hyperres: a level sweep stacks outputs of one size, but {task.name!r} changes the "
                "image size with the level; use 'Apply to all' at each level instead"
            )
            return
        self._keep_look(request)
        worker = create_worker(
            reporting_errors(sweep_steps),
            self._cache,
            request,
            levels,
            _start_thread=False,
            _connect={"returned": partial(self._on_sweep_result, request, levels), "errored": partial(self._on_job_error, task)},
        )
        self._start_job(worker, f"Level sweep of {request.source} ({task.name}, {len(levels)} levels)")

    def _keep_look(self, request: Request) -> None:
        """Keep how the request's layer looks and lies now (:func:`~napari_hyperres.ui.outputs.layer_look`), for an
        output whose input is deleted before it lands."""
        source = find_layer(self.viewer.layers, request.source_id)
        self._job_look = None if source is None else layer_look(source)

    def _source_of(self, request: Request) -> Any:
        """The request's layer, or how it looked when the job started (it was deleted meanwhile)."""
        source = find_layer(self.viewer.layers, request.source_id)
        look = self._job_look
        return source if source is not None else (look if look is not None and look.unique_id == request.source_id else None)

    def cancel(self, *_: Any) -> None:
        """Stop the running job at its next tile; no output layer is added."""
        if self._job is not None:
            self._job.quit()
            self.say("cancelling…")

    def _start_job(self, worker: Any, description: str) -> None:
        """Start ``worker`` (created with "returned" and "errored" handlers, which stop errors re-raising)."""
        self._job = worker
        self._job_kind = description
        worker.yielded.connect(self._on_job_progress)
        worker.aborted.connect(self._on_job_aborted)
        worker.finished.connect(self._on_job_finished)
        self.apply_button.enabled = self.sweep_button.enabled = False
        self.cancel_button.enabled = True
        self.progress_bar.max, self.progress_bar.value = 1, 0
        self.progress_bar.visible = True
        self._progress = _JobProgress(total=0, desc=description, cancel_callback=self.cancel)
        self.say(description + "…")
        worker.start()

    @while_open
    def _on_job_progress(self, step: tuple[int, int]) -> None:
        done, total = step
        self.progress_bar.max = max(1, total)
        self.progress_bar.value = min(done, total)
        if self._progress is not None:
            if self._progress.total != total:
                self._progress.total = total
            self._progress.update(done - self._progress.n)

    @while_open
    def _on_apply_result(self, request: Request, restored: Restored) -> None:
        result, seconds, selection = restored
        source = self._source_of(request)
        spatial = slice(-3, -1) if request.rgb else slice(-2, None)
        geometry = None
        if source is not None:
            geometry = output_geometry(source.scale, source.translate, np.shape(request.data)[spatial], result.shape[spatial],
                                       yx_rotation_shear(source))
        self._show_selection(request, selection, request.index)
        name = output_name(request.source, request.task.name, request.shown_level, request.level_note)
        metadata = request.metadata(selection=selection, extra=self._weights_extra(request) if selection is not None else None)
        metadata[OUTPUT_KEY].update(self._how_computed(request))
        output = place_output(self.viewer, result, source=source, rgb=request.rgb, geometry=geometry, name=name, metadata=metadata)
        hides = f"; {request.source!r} is hidden so the composite shows it restored (its eye shows it again)" if HIDES_KEY in output.metadata else ""
        lazy = "; lazy (larger than a quarter of the free memory): napari restores each plane as it shows it" if (
            not isinstance(result, np.ndarray)) else ""
        self.say(f"added {output.name!r} ({seconds:.1f} s){lazy}{hides}")  # napari numbers a repeated name: the layer's own
        self._applied[request.source_id] = request.serial  # a preview still running from before lands nowhere
        misfit = request.level_misfit()  # the worker has read the layer's fit by now, previewed before or not
        if misfit is not None:  # what the CLI and Python warn (LevelMismatchWarning), once the result is there
            self._show("warning", f"napari-hyperres: {request.source}: {misfit}: {PRESS_AUTO}")
        preview = find_preview(self.viewer.layers, source) if find_layer(self.viewer.layers, request.source_id) else None
        if preview is not None and self._previewed.get(request.source_id, 0) < request.serial:
            # the result replaces it, as a filter dialog's OK does; the next slider move brings it back. A preview of a
            # slider move made while Apply ran stays (a review: the move was thrown away, the slider at 45, the
            # screen at Apply's 25)
            self.viewer.layers.remove(preview)

    def _how_computed(self, request: Request) -> dict:
        """What Apply's output records beyond the request (Save… writes it into the file, as the CLI does):
        the precision the network computed in, the weights' training steps, where the level came from
        (Auto's reading, where the level is still the one it found) and, for photon tasks at one level,
        the noise model at that level."""
        restorer = self._cache.get(request.task, request.device, request.weights, request.self_ensemble)
        made: dict = {"precision": str(restorer.dtype).removeprefix("torch.")}
        if restorer.info.steps:
            made["weights_steps"] = int(restorer.info.steps)
        found = self._level_found
        if request.shown_level is not None:
            same = found is not None and (found[0], found[1], found[3]) == (request.task.name, request.level, request.source_id)
            made["level_from"] = found[2] if same else "given"
        kept = request.kept_noise() if request.curve is None else None
        if kept is not None:
            noise, (black, white) = kept
            made["noise"] = noise.with_photons(request.level, black, white).describe()
        return made

    @while_open
    def _on_sweep_result(self, request: Request, levels: list[float], stack: np.ndarray) -> None:
        source = self._source_of(request)
        stack, geometry = sweep_layout(stack, request.index, source)
        metadata = request.metadata(levels[0])
        metadata["hyperres"].pop("level")
        metadata["hyperres"].update(levels=list(levels), plane=list(request.index), axis0="level")
        if request.curve is not None:  # each level of the sweep moves the whole curve
            metadata["hyperres"]["by_brightness"] = {
                "brightness": list(request.curve.brightness),
                "levels": [list(request.restore_level(level).levels) for level in levels],
            }
        name = sweep_name(request.source, request.task.name, levels, request.level_note)
        labels = None if source is None else ("level", *getattr(source, "axis_labels", ())[-(stack.ndim - 1 - request.rgb):])
        if labels is not None and len(labels) != stack.ndim - request.rgb:
            labels = None
        output = place_output(self.viewer, stack, source=source, rgb=request.rgb, geometry=geometry, name=name, metadata=metadata,
                              axis_labels=labels)  # the dims slider says "level" (a review saw "-4")
        self.say(f"added {output.name!r} ({len(levels)} levels along its first axis)")

    @while_open
    def _on_job_error(self, task: Task, exc: BaseException) -> None:
        self._notify_error(exc, task)

    @while_open
    def _on_job_aborted(self) -> None:
        self.say("cancelled; no layer was added")
        self._show("info", f"napari-hyperres: {self._job_kind} cancelled; no layer was added")

    def _on_job_finished(self) -> None:
        self._job = None
        if self._progress is not None:  # napari's activity dock outlives the panel: its bar goes either way
            try:
                self._progress.close()
            except RuntimeError:
                pass
            self._progress = None
        self._on_job_finished_in_panel()

    @while_open
    def _on_job_finished_in_panel(self) -> None:
        self.apply_button.enabled = self.sweep_button.enabled = True
        self.cancel_button.enabled = False
        self.progress_bar.visible = False
        if self.status.value.endswith("…"):
            self.say("")


def sweep_layout(levels_stack: np.ndarray, index: tuple[int, ...], source: Any) -> tuple[np.ndarray, tuple | None]:
    """A sweep's ``(N, [Y, X | Y, X, C])`` planes laid out as a layer with a new leading level axis: for a
    plane of a stack, one axis of size 1 per stack axis, placed at that plane (``index``) in the source's
    world. Before, the level axis took the stack's first axis (a newcomer's review: sweep levels 0–4 lay
    over Z 0–4, and the Z slider moved the input's plane and the level together)."""
    if source is None:
        return levels_stack, None
    lead = len(index)
    data = levels_stack.reshape(levels_stack.shape[:1] + (1,) * lead + levels_stack.shape[1:])
    scale = (1.0, *source.scale)
    translate = (0.0, *(t + i * sc for t, i, sc in zip(source.translate[:lead], index, source.scale[:lead], strict=True)),
                 *source.translate[lead:])
    return data, (scale, translate)
