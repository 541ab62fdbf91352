"""The "Restore" dock widget: thin glue from the napari viewer to the engine.

Everything that needs no Qt (coalescing, names, geometry, the worker generators)
lives in :mod:`napari_hyperres.ui.preview`; this module only builds the magicgui
controls, starts napari thread workers and turns their results into layers and
their errors into notifications. Nothing here blocks the GUI thread.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSlider,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
    SpinBox,
)
from napari.layers import Image
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning
from napari.utils.progress import cancelable_progress
from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtWidgets import QComboBox

from ..core.devices import available_devices
from ..core.plugins import get_tasks
from ..core.tasks import DEJPEG, DENOISE, SR, Task
from ..engine.restorer import output_shape, whole_noise, whole_value_range
from ..errors import HyperResError, ShapeError
from .preview import (
    LatestOnly,
    Request,
    Restored,
    RestorerCache,
    can_estimate,
    describe_error,
    describe_estimate_error,
    describe_selection,
    estimate_request,
    format_level,
    is_image_conditioned,
    level_from_slider,
    level_label,
    output_geometry,
    output_metadata,
    output_name,
    plane_index,
    preview_name,
    restore_plane,
    restore_steps,
    slider_from_level,
    sweep_levels,
    sweep_name,
    sweep_steps,
)

if TYPE_CHECKING:
    import napari

    from ..blind.levels import LevelChoice

PREVIEW_KEY = "hyperres_preview_of"
"""Layer-metadata key marking a preview layer, holding its input's ``unique_id``."""

DEGRADATION_KEY = "degradation"
"""Layer-metadata key of sample data: ``{"task": ..., "level": ...}`` presets the widget."""


class _JobProgress(cancelable_progress):
    """napari's progress bar whose own Cancel button stops the job at once."""

    def cancel(self) -> None:
        super().cancel()
        if self.cancel_callback is not None:
            self.cancel_callback()


class _ShowHideFilter(QObject):
    """Event filter: the first time the panel is shown, ``shown()`` (the first preview); when it
    is hidden, closed or undocked, ``release()`` (cached networks, rebuilt on the next use, so
    hiding the panel frees GPU memory at no risk)."""

    def __init__(self, parent: Any, release: Callable[[], None], shown: Callable[[], None]) -> None:
        super().__init__(parent)
        self._release = release
        self._shown = shown

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.Hide, QEvent.Type.Close):
            self._release()
        elif event.type() == QEvent.Type.Show and self._shown is not None:
            shown, self._shown = self._shown, None
            QTimer.singleShot(0, shown)  # after the event loop has run once: the layer and level are settled
        return False


class RestoreWidget(Container):
    """Dock widget: pick an image layer, a task and a level; preview, apply, sweep.

    Image-conditioned tasks (``auto``) have no level: the level controls and the sweep are
    hidden, and a label tells which mixture of its candidate weights the network chose.

    Args:
        napari_viewer: the viewer (a ``ViewerModel`` works too, for tests and scripts).
        weights: optional ``{task name: weights file or name}`` overriding the tasks'
            shipped weights (the "weights" file field edits the same mapping).
        estimators: optional ``{task name: weights file or name}`` overriding the tasks'
            shipped level estimators (``"<task>.estimator"``) used by the "Auto" button.
    """

    def __init__(
        self,
        napari_viewer: napari.viewer.Viewer,
        *,
        weights: Mapping[str, str] | None = None,
        estimators: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.weights: dict[str, str] = {k: str(v) for k, v in (weights or {}).items()}
        self.estimators: dict[str, str] = {k: str(v) for k, v in (estimators or {}).items()}
        self._cache = RestorerCache()
        self._tasks: dict[str, Task] = {}
        self._preview_queue: LatestOnly[Request] = LatestOnly()
        self._preview_worker = None
        self._last_preview_error: str | None = None
        self._job = None
        self._job_kind = ""
        self._estimating = False
        self._value_range: tuple[Any, tuple[float, float]] | None = None  # (layer key, whole_value_range)
        self._noise: tuple[Any, Any] | None = None  # (layer key, whole_noise) for photon-limited tasks
        self._progress: _JobProgress | None = None
        self._syncing = False
        self._released = False
        self._ready = False  # no preview while the controls are being built

        self.layer_combo = ComboBox(label="image", choices=self._layer_choices)
        self.task_combo = ComboBox(label="task", choices=self._task_choices)
        self.level_slider = FloatSlider(label="", readout=False, tracking=True)
        self.level_field = FloatSpinBox(label="")
        self.level_field.max_width = 110  # the slider takes the rest of the row (110: "10000.00" fits in every Qt style)
        self.level_row = Container(layout="horizontal", labels=False, widgets=[self.level_slider, self.level_field])
        self.level_row.margins = (0, 0, 0, 0)
        self.auto_button = PushButton(
            text="Auto",
            tooltip="estimate the level from the displayed plane (dejpeg on a JPEG file: read its quality exactly)",
        )
        self.level_row.append(self.auto_button)
        self.auto_button.changed.connect(self.estimate)
        self.device_combo = ComboBox(label="device", choices=["auto", *available_devices()], value="auto")
        self.weights_file = FileEdit(
            label="weights", mode="r", filter="*.safetensors", nullable=True,
            tooltip="a .safetensors file exported by `python -m trainer`; empty = the task's shipped weights",
        )
        self.live_check = CheckBox(text="live preview of the displayed plane", value=True)
        self.apply_button = PushButton(text="Apply to all")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.buttons = Container(layout="horizontal", labels=False, widgets=[self.apply_button, self.cancel_button])
        self.buttons.margins = (0, 0, 0, 0)
        self.sweep_count = SpinBox(label="sweep levels", min=2, max=32, value=5)
        self.sweep_from = FloatSpinBox(label="from")
        self.sweep_to = FloatSpinBox(label="to")
        self.sweep_button = PushButton(text="Level sweep")
        self.progress_bar = ProgressBar(label="progress", min=0, max=1, value=0, visible=False)
        self.selection_label = Label(label="network chose", value="", visible=False)
        self.selection_label.tooltip = (
            "the network read the degradation from the image and mixed its candidate weight sets; "
            "the full mixtures are in the output layer's metadata['hyperres']['selection']"
        )
        self.status = Label(label="", value="")
        for combo in (self.layer_combo, self.task_combo):  # long layer names do not widen the dock
            combo.native.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.native.setMinimumContentsLength(24)
        for label in (self.selection_label, self.status):  # long texts wrap instead of widening the dock
            label.native.setWordWrap(True)
            label.native.setMinimumWidth(260)  # a wrapping label may otherwise shrink to nothing
        self.extend(
            [
                self.layer_combo,
                self.task_combo,
                self.level_row,
                self.device_combo,
                self.weights_file,
                self.live_check,
                self.buttons,
                self.sweep_count,
                self.sweep_from,
                self.sweep_to,
                self.sweep_button,
                self.progress_bar,
                self.selection_label,
                self.status,
            ]
        )
        self._on_task_changed()

        self.task_combo.changed.connect(self._on_task_changed)
        self.layer_combo.changed.connect(self._on_layer_changed)
        self.level_slider.changed.connect(self._on_slider)
        self.level_field.changed.connect(self._on_field)
        self.device_combo.changed.connect(self._on_settings_changed)
        self.weights_file.changed.connect(self._on_weights_file)
        self.apply_button.changed.connect(self._on_apply_clicked)
        self.cancel_button.changed.connect(self.cancel)
        self.sweep_button.changed.connect(self._on_sweep_clicked)

        events = self.viewer.layers.events
        for emitter in (events.inserted, events.removed, events.reordered):
            emitter.connect(self.reset_choices)
        self.viewer.dims.events.current_step.connect(self._on_dims)
        self.viewer.layers.selection.events.active.connect(self._on_active_layer)
        self._on_active_layer()
        self._release_filter = _ShowHideFilter(self.native, self._cache.release, self._maybe_preview)  # first preview on show
        self.native.installEventFilter(self._release_filter)
        self.native.destroyed.connect(self._cache.release)
        self._on_layer_changed()
        self._ready = True

    def _on_active_layer(self, *_: Any) -> None:
        """The image box follows the layer selected in the layer list (when it is an image)."""
        active = self.viewer.layers.selection.active
        if isinstance(active, Image) and PREVIEW_KEY not in active.metadata and active is not self.layer_combo.value:
            if any(value is active for _, value in self._layer_choices()):
                self.layer_combo.value = active

    # --- choices --------------------------------------------------------------------------
    def _layer_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        """Image layers of the viewer, except this widget's preview layers."""
        return [
            (layer.name, layer)
            for layer in self.viewer.layers
            if isinstance(layer, Image) and PREVIEW_KEY not in layer.metadata
        ]

    def _task_choices(self, _widget: Any = None) -> list[tuple[str, str]]:
        """Registered tasks (third-party ones included), read again at every reset."""
        try:
            tasks = get_tasks()
        except HyperResError as exc:
            show_error(f"napari-hyperres: {exc}; showing the built-in tasks only")
            tasks = {t.name: t for t in (DENOISE, DEJPEG, SR)}
        self._tasks = dict(tasks)
        return [(task.title, name) for name, task in tasks.items()]

    @property
    def task(self) -> Task:
        """The chosen :class:`Task`."""
        return self._tasks[self.task_combo.value]

    @property
    def level(self) -> float:
        """The chosen level, in the task's unit."""
        return level_from_slider(self.task, self.level_slider.value)

    @level.setter
    def level(self, value: float) -> None:
        self.level_slider.value = slider_from_level(self.task, float(value))

    # --- control events -------------------------------------------------------------------
    def _on_task_changed(self, *_: Any) -> None:
        task = self.task
        low, high = task.level_range
        self._syncing = True
        try:
            for widget in (self.level_field, self.sweep_from, self.sweep_to):
                widget.range = (low, high)
                widget.step = task.level_step
            # a log-scale task's slider moves through log10(level): equal steps per decade
            self.level_slider.range = (slider_from_level(task, low), slider_from_level(task, high))
            self.level_slider.step = 0.01 if task.level_scale == "log" else task.level_step
            self.level_field.value = task.default_level
            self.level_slider.value = slider_from_level(task, task.default_level)
            self.sweep_from.value, self.sweep_to.value = low, high
            self.level_row.label = level_label(task)
            with self.weights_file.changed.blocked():
                self.weights_file.value = self.weights.get(task.name)
        finally:
            self._syncing = False
        has_level = not is_image_conditioned(task)
        for widget in (self.level_row, self.sweep_count, self.sweep_from, self.sweep_to, self.sweep_button):
            widget.visible = has_level  # hidden, not disabled: an image-conditioned task has no level
        self.selection_label.visible = not has_level
        self.selection_label.value = ""
        self._on_settings_changed()

    def _on_layer_changed(self, *_: Any) -> None:
        layer = self.layer_combo.value
        preset = layer.metadata.get(DEGRADATION_KEY) if layer is not None else None
        if isinstance(preset, Mapping) and preset.get("task") in self._tasks:
            task = self._tasks[preset["task"]]
            with self.task_combo.changed.blocked():
                self.task_combo.value = task.name
            self._on_task_changed()
            level = preset.get("level")
            if level is not None and task.level_range[0] <= float(level) <= task.level_range[1]:
                self.level = float(level)
            return
        self._on_settings_changed()

    def _on_slider(self, value: float) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.level_field.value = level_from_slider(self.task, value)
        finally:
            self._syncing = False
        self._maybe_preview()

    def _on_field(self, value: float) -> None:
        if self._syncing:
            return
        self.level_slider.value = slider_from_level(self.task, value)  # previews through _on_slider

    def _on_weights_file(self, value: Any) -> None:
        if value:
            self.weights[self.task.name] = str(value)
        else:
            self.weights.pop(self.task.name, None)
        self._on_settings_changed()

    def _on_settings_changed(self, *_: Any) -> None:
        self._last_preview_error = None
        self._update_auto_button()
        self._maybe_preview()

    def _update_auto_button(self) -> None:
        """Show "Auto" for level tasks that have an estimator, or dejpeg on a layer read from a JPEG file."""
        task = self.task
        self.auto_button.visible = can_estimate(task, self.estimators.get(task.name), _source_path(self.layer_combo.value))

    def _on_dims(self, *_: Any) -> None:
        layer = self.layer_combo.value
        if layer is not None and self._find_preview(layer) is not None:
            self._maybe_preview()

    def _maybe_preview(self) -> None:
        if self._ready and self.live_check.value and not self._syncing and self.layer_combo.value is not None:
            self.preview()

    def _on_apply_clicked(self, *_: Any) -> None:
        self.apply()

    def _on_sweep_clicked(self, *_: Any) -> None:
        self.sweep()

    # --- requests -------------------------------------------------------------------------
    def _request(self, level: float | None = None, layer: Any = None, *, quiet: bool = False) -> Request | None:
        """Capture what to restore on the GUI thread; ``None`` (after a notification) if impossible."""
        layer = self.layer_combo.value if layer is None else layer
        task = self.task
        try:
            if layer is None:
                raise ShapeError("no image layer chosen: open an image or choose one under 'image'")
            if not isinstance(layer, Image):
                raise ShapeError(f"layer {layer.name!r} is a {type(layer).__name__} layer; choose an Image layer")
            if layer.multiscale:
                raise ShapeError(f"layer {layer.name!r} is multiscale, which is not supported yet; open one resolution level")
            if is_image_conditioned(task):
                level = task.default_level  # the network ignores it
            else:
                level = task.check_level(self.level if level is None else level)
            data = layer.data
            rgb = bool(layer.rgb)
            index = plane_index(layer.world_to_data(self.viewer.dims.point), data.shape, rgb)
            value_range = self._layer_value_range(layer)
            noise = self._layer_noise(layer, task.name) if task.noise_parameters else None
        except HyperResError as exc:
            self._notify_error(exc, task, quiet=quiet)
            return None
        return Request(
            task=task,
            level=level,
            device=str(self.device_combo.value),
            weights=self.weights.get(task.name),
            data=data,
            rgb=rgb,
            index=index,
            source=layer.name,
            source_id=layer.unique_id,
            value_range=value_range,
            noise=noise,
        )

    def _layer_noise(self, layer: Image, task_name: str):
        """The whole layer's Poisson–Gaussian fit (:func:`whole_noise`), kept while the layer's data is the same."""
        key = (layer.unique_id, id(layer.data), layer.data.shape, str(layer.data.dtype))
        if self._noise is None or self._noise[0] != key:
            self._noise = (key, whole_noise(layer.data, bool(layer.rgb), task_name))
        return self._noise[1]

    def _layer_value_range(self, layer: Image) -> tuple[float, float]:
        """The whole layer's ``(black, white)`` (:func:`whole_value_range`), kept while the layer's data is the same.

        A float layer's percentiles are read once (the whole array; a dask layer's first plane),
        not on every slider move; previews and Apply then use the same intensity map.
        """
        key = (layer.unique_id, id(layer.data), layer.data.shape, str(layer.data.dtype))
        if self._value_range is None or self._value_range[0] != key:
            self._value_range = (key, whole_value_range(layer.data, bool(layer.rgb)))
        return self._value_range[1]

    def _notify_error(self, exc: BaseException, task: Task | None, *, quiet: bool = False) -> None:
        message = describe_error(exc, task)
        self.status.value = message[:120]
        if quiet and message == self._last_preview_error:
            return  # a dragged slider must not stack the same error dozens of times
        if quiet:
            self._last_preview_error = message
        show_error(message)

    # --- live preview ---------------------------------------------------------------------
    def preview(self, level: float | None = None, layer: Any = None) -> None:
        """Restore the displayed plane at ``level`` (default: the slider's) into the preview layer.

        ``layer`` defaults to the chosen one. Requests made while a preview runs are
        coalesced: only the newest one runs next.
        """
        if self._released:
            return
        request = self._request(level, layer, quiet=True)
        if request is not None and self._preview_queue.submit(request):
            self._start_preview(request)

    def _start_preview(self, request: Request) -> None:
        self._preview_worker = create_worker(
            restore_plane,
            self._cache,
            request,
            _start_thread=True,
            _connect={
                "returned": partial(self._on_preview_result, request),
                "errored": partial(self._on_preview_error, request),
                "finished": self._on_preview_finished,
            },
        )

    def _on_preview_result(self, request: Request, result: Restored) -> None:
        plane, seconds, selection = result
        self._last_preview_error = None
        source = self._find_layer(request.source_id)
        if source is None or self._released:
            return
        spatial = slice(-3, -1) if request.rgb else slice(-2, None)
        in_yx = np.shape(request.data)[spatial]
        scale, translate = output_geometry(source.scale[-2:], source.translate[-2:], in_yx, plane.shape[spatial])
        name = preview_name(request.source, request.task.name, request.shown_level)
        metadata = output_metadata(
            request.source, request.task, request.level, str(request.weights or request.task.weights), selection
        )
        metadata[PREVIEW_KEY] = request.source_id
        metadata["hyperres"]["plane"] = list(request.index)
        layer = self._find_preview(source)
        if layer is not None and layer.rgb == request.rgb:
            layer.data = plane
            layer.scale, layer.translate = scale, translate
            layer.name = name
            layer.metadata.update(metadata)
        else:
            if layer is not None:
                self.viewer.layers.remove(layer)
            self.viewer.add_image(
                plane, name=name, scale=scale, translate=translate, metadata=metadata, **_display_kwargs(source)
            )
        self._show_selection(selection)
        level = "" if request.shown_level is None else f" {format_level(request.level)}"
        self.status.value = f"preview {request.task.name}{level}: {seconds * 1000:.0f} ms"

    def _show_selection(self, selection: np.ndarray | None, plane: tuple[int, ...] = ()) -> None:
        """Tell in ``selection_label`` what the image-conditioned network chose for ``plane``."""
        if selection is None:
            return
        try:
            text = describe_selection(np.asarray(selection)[plane])
        except (HyperResError, IndexError, ValueError) as exc:
            text = f"(mixture not readable: {exc})"
        self.selection_label.value = f"plane {', '.join(map(str, plane))}: {text}" if plane else text

    def _on_preview_error(self, request: Request, exc: BaseException) -> None:
        self._notify_error(exc, request.task, quiet=True)

    def _on_preview_finished(self) -> None:
        self._preview_worker = None
        request = self._preview_queue.finish()
        if request is None:
            return
        if self._released:
            self._preview_queue.finish()  # drop it: nothing is pending any more, so the queue goes idle
        else:
            self._start_preview(request)

    def _find_layer(self, unique_id: Any) -> Any:
        for layer in self.viewer.layers:
            if layer.unique_id == unique_id:
                return layer
        return None

    def _find_preview(self, source: Any) -> Any:
        """The preview layer of ``source``, or ``None``."""
        for layer in self.viewer.layers:
            if layer.metadata.get(PREVIEW_KEY) == source.unique_id:
                return layer
        return None

    # --- apply and sweep (cancellable jobs) ---------------------------------------------
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
            show_warning("napari-hyperres: a restoration is already running; cancel it or wait")
            return
        request = self._request(level, layer)
        if request is None:
            return
        worker = create_worker(
            restore_steps,
            self._cache,
            request,
            _start_thread=False,
            _connect={"returned": partial(self._on_apply_result, request), "errored": partial(self._on_job_error, request.task)},
        )
        level = "" if request.shown_level is None else f" {format_level(request.level)}"
        self._start_job(worker, f"Restoring {request.source} ({request.task.name}{level})")

    def sweep(self, n: int | None = None, low: float | None = None, high: float | None = None, layer: Any = None) -> None:
        """Restore the displayed plane at ``n`` levels from ``low`` to ``high`` into one layer.

        The new layer's leading axis runs over the levels, listed in ``metadata["hyperres"]["levels"]``.
        """
        if self.busy:
            show_warning("napari-hyperres: a restoration is already running; cancel it or wait")
            return
        task = self.task
        if is_image_conditioned(task):
            show_warning(f"napari-hyperres: task {task.name!r} chooses its own weights from the image and has no level to sweep")
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
            show_warning(
                f"napari-hyperres: a level sweep stacks outputs of one size, but {task.name!r} changes the "
                "image size with the level; use 'Apply to all' at each level instead"
            )
            return
        worker = create_worker(
            sweep_steps,
            self._cache,
            request,
            levels,
            _start_thread=False,
            _connect={"returned": partial(self._on_sweep_result, request, levels), "errored": partial(self._on_job_error, task)},
        )
        self._start_job(worker, f"Level sweep of {request.source} ({task.name}, {len(levels)} levels)")

    def cancel(self, *_: Any) -> None:
        """Stop the running job at its next tile; no output layer is added."""
        if self._job is not None:
            self._job.quit()
            self.status.value = "cancelling…"

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
        self.status.value = description + "…"
        worker.start()

    def _on_job_progress(self, step: tuple[int, int]) -> None:
        done, total = step
        self.progress_bar.max = max(1, total)
        self.progress_bar.value = min(done, total)
        if self._progress is not None:
            if self._progress.total != total:
                self._progress.total = total
            self._progress.update(done - self._progress.n)

    def _on_apply_result(self, request: Request, restored: Restored) -> None:
        result, _seconds, selection = restored
        source = self._find_layer(request.source_id)
        shape = np.shape(request.data)
        spatial = slice(-3, -1) if request.rgb else slice(-2, None)
        if source is not None:
            scale, translate = output_geometry(source.scale, source.translate, shape[spatial], result.shape[spatial])
            display = _display_kwargs(source)
        else:
            scale = translate = None
            display = {"rgb": request.rgb}
        metadata = output_metadata(
            request.source, request.task, request.level, str(request.weights or request.task.weights), selection
        )
        self._show_selection(selection, request.index)
        self.viewer.add_image(
            result,
            name=output_name(request.source, request.task.name, request.shown_level),
            scale=scale,
            translate=translate,
            metadata=metadata,
            **display,
        )

    def _on_sweep_result(self, request: Request, levels: list[float], stack: np.ndarray) -> None:
        source = self._find_layer(request.source_id)
        if source is not None:
            scale = (1.0, *source.scale[-2:])
            translate = (0.0, *source.translate[-2:])
            display = _display_kwargs(source)
        else:
            scale = translate = None
            display = {"rgb": request.rgb}
        metadata = output_metadata(request.source, request.task, levels[0], str(request.weights or request.task.weights))
        metadata["hyperres"].pop("level")
        metadata["hyperres"].update(levels=list(levels), plane=list(request.index), axis0="level")
        self.viewer.add_image(
            stack,
            name=sweep_name(request.source, request.task.name, levels),
            scale=scale,
            translate=translate,
            metadata=metadata,
            **display,
        )

    def _on_job_error(self, task: Task, exc: BaseException) -> None:
        self._notify_error(exc, task)

    def _on_job_aborted(self) -> None:
        show_info(f"napari-hyperres: {self._job_kind} cancelled; no layer was added")

    def _on_job_finished(self) -> None:
        self._job = None
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        self.apply_button.enabled = self.sweep_button.enabled = True
        self.cancel_button.enabled = False
        self.progress_bar.visible = False
        if self.status.value.endswith("…"):
            self.status.value = ""

    # --- level estimate (the "Auto" button) ----------------------------------------------------
    @property
    def estimating(self) -> bool:
        """Whether an "Auto" level estimate is running."""
        return self._estimating

    def estimate(self, *_: Any) -> None:
        """Set the level from the displayed plane, in a thread worker.

        ``dejpeg`` on a layer read from a JPEG file reads the quality exactly from the file;
        otherwise the task's level estimator runs on the plane (both through
        :func:`napari_hyperres.blind.levels.resolve_level`). An estimate outside the task's
        range is reported and the level left unchanged.
        """
        task = self.task
        if is_image_conditioned(task):
            show_info(f"napari-hyperres: task {task.name!r} chooses its own weights from the image; there is no level to estimate")
            return
        if self._estimating:
            return  # one estimate at a time; its result arrives shortly
        layer = self.layer_combo.value
        request = self._request(layer=layer)
        if request is None:
            return
        self._estimating = True
        self.auto_button.enabled = False
        self.status.value = f"estimating the {task.unit} level…"
        create_worker(
            estimate_request,
            request,
            path=_source_path(layer),
            weights=self.estimators.get(task.name),
            _start_thread=True,
            _connect={
                "returned": partial(self._on_estimate, request),
                "errored": partial(self._on_estimate_error, request.task),
                "finished": self._on_estimate_finished,
            },
        )

    def _on_estimate(self, request: Request, choice: LevelChoice) -> None:
        level, method = choice.estimate, choice.method
        task = request.task
        if self._released:
            return
        layer = self.layer_combo.value
        if self.task.name != task.name or layer is None or layer.unique_id != request.source_id:
            show_info(
                f"napari-hyperres: the {task.name} level estimate for {request.source!r} ({format_level(level)}) "
                "arrived after the task or the image changed; ignored"
            )
            return
        low, high = task.level_range
        if choice.outside_range:
            show_warning(
                f"napari-hyperres: estimated level {level:g} is outside {low:g}–{high:g} ({task.unit}); level left unchanged"
            )
            return
        self.level = level
        source = {"quantisation tables": "read from the file's quantisation tables", "estimator": "estimated"}.get(method, method)
        self.status.value = f"{task.unit} = {format_level(level)} ({source})"

    def _on_estimate_error(self, task: Task, exc: BaseException) -> None:
        message = describe_estimate_error(exc, task)
        self.status.value = message[:120]
        show_error(f"napari-hyperres: {message}")

    def _on_estimate_finished(self) -> None:
        self._estimating = False
        self.auto_button.enabled = True
        if self.status.value.endswith("…"):
            self.status.value = ""

    # --- teardown ---------------------------------------------------------------------------
    def release(self) -> None:
        """Stop workers and free the cached networks (GPU memory included). Called when the widget closes."""
        self._released = True
        self._preview_queue.clear()
        if self._job is not None:
            self._job.quit()
        try:
            self.viewer.dims.events.current_step.disconnect(self._on_dims)
            events = self.viewer.layers.events
            for emitter in (events.inserted, events.removed, events.reordered):
                emitter.disconnect(self.reset_choices)
        except (AttributeError, RuntimeError, TypeError, ValueError):  # viewer already torn down
            pass
        self._cache.release()

    def close(self) -> None:
        """Release resources and close the widget."""
        self.release()
        super().close()


def _source_path(layer: Any) -> str | None:
    """The file a layer was read from (``layer.source.path``), or ``None``."""
    source = getattr(layer, "source", None)
    path = getattr(source, "path", None)
    return str(path) if path else None


def _display_kwargs(source: Any) -> dict[str, Any]:
    """Display settings copied from the input layer so outputs look comparable."""
    if source.rgb:
        return {"rgb": True}
    return {"rgb": False, "colormap": source.colormap, "contrast_limits": list(source.contrast_limits)}


__all__ = ["RestoreWidget"]
