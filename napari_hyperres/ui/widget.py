"""The "Restore" dock widget: thin glue from the napari viewer to the engine.

Everything that needs no Qt (coalescing, names, geometry, the worker generators)
lives in :mod:`napari_hyperres.ui.preview`; this module only builds the magicgui
controls, starts napari thread workers and turns their results into layers and
their errors into notifications. Nothing here blocks the GUI thread.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
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
    LineEdit,
    ProgressBar,
    PushButton,
    SpinBox,
)
from napari.layers import Image
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtWidgets import QComboBox

from ..blind.levels import task_for_file
from ..core.devices import available_devices
from ..core.images import channels_last
from ..core.photon_noise import PoissonGaussian
from ..core.plugins import broken_plugins, get_tasks
from ..core.tasks import Task
from ..core.tasks import hyperres_tasks as builtin_tasks
from ..core.tasks.sr import SR_ON_JPEG
from ..errors import HyperResError, ShapeError
from .geometry import (
    field_step,
    level_from_slider,
    level_label,
    plane_index,
    slider_from_level,
    sweep_bounds,
    unplaned_view,
)
from .labels import describe_error, is_image_conditioned, status_text, task_choices
from .outputs import (
    DEGRADATION_KEY,
    OUTPUT_KEY,
    PREVIEW_KEY,
    find_preview,
    follow_display,
    origin_file,
    restored_before,
    source_path,
    uncover_inputs,
)
from .preview import (
    LatestOnly,
    LayerStatistics,
    Request,
    RestorerCache,
    can_estimate,
    content_sample,
)
from .widget_channels import ChannelsMixin
from .widget_estimate import EstimateMixin
from .widget_export import ExportMixin, exportable
from .widget_jobs import JobsMixin
from .widget_preview import PreviewMixin
from .widget_save import SaveMixin
from .widget_workers import while_open

if TYPE_CHECKING:
    import napari

WORKER_EXIT_WAIT_S = 5.0
"""How long a closing panel waits for its workers (they stop at their next tile, well under this)."""


class _ShowHideFilter(QObject):
    """Event filter: the first time the panel is shown, ``shown()`` (the first preview); when it
    is hidden, closed or undocked, ``release()`` (cached networks, rebuilt on the next use, so
    hiding the panel frees GPU memory at no risk)."""

    def __init__(self, parent: Any, release: Callable[[], None], shown: Callable[[], None],
                 removed: Callable[[], None] | None = None) -> None:
        super().__init__(parent)
        self._release = release
        self._shown = shown
        self._removed = removed
        self._panel = parent
        self._docked = False  # shown in napari's window once: leaving it later is a removal

    def _check_removed(self) -> None:
        """``removed()`` when the panel has left napari's window (its dock closed with "x": napari takes the
        panel out and hides it, and never destroys it; a review saw such a panel keep previewing, and fight
        the panel opened next over one preview layer), not when it was only hidden or floated."""
        try:
            gone = not in_a_dock(self._panel)
        except RuntimeError:  # the Qt object is already deleted: _on_destroyed has run
            return
        if gone and self._removed is not None:
            removed, self._removed = self._removed, None
            removed()

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.Hide, QEvent.Type.Close):
            self._release()
            if self._removed is not None and self._docked:
                QTimer.singleShot(0, self._check_removed)  # once napari has finished taking the dock apart
        elif event.type() == QEvent.Type.Show:
            self._docked = self._docked or in_a_dock(obj)
        if event.type() == QEvent.Type.Show and self._shown is not None:
            shown, self._shown = self._shown, None
            QTimer.singleShot(0, shown)  # after the event loop has run once: the layer and level are settled
        return False


def in_a_dock(panel: Any) -> bool:
    """Whether ``panel`` (a Qt widget) is inside a main window or a dock widget (floating or not)."""
    from qtpy.QtWidgets import QDockWidget, QMainWindow

    return isinstance(panel.window(), (QMainWindow, QDockWidget))


class RestoreWidget(PreviewMixin, JobsMixin, EstimateMixin, ExportMixin, SaveMixin, ChannelsMixin, Container):
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
        self._job_look: Any = None  # how the running job's input looked when it started (JobsMixin._keep_look)
        self._estimating = False
        self._removing = False  # layers are being removed: the new choice is followed after (_on_removing)
        self._chosen_layer: Any = None  # unique_id of the layer a sample's or a file's task was last set for
        self._told_sr_on_jpeg: set[Any] = set()  # layers whose "sr on a JPEG" note was shown (_note_sr_on_jpeg)
        self._told_channels: set[Any] = set()  # layers whose "holds N channels" warning was shown (_update_channels_button)
        self._told_file_task: set[Any] = set()  # layers whose file's task was announced (_open_on_the_files_task)
        self._estimate_again = False  # an "Auto" asked for while one ran: run when it ends
        self._estimate_again_automatic = True  # …and whether every one asked for meanwhile was the panel's own
        self._estimate_again_since: float | None = None  # …and the level then (the user's moves since are kept)
        self._level_found: tuple[str, float, str, Any] | None = None  # (task, level, where "Auto" found it, layer id)
        self._statistics = LayerStatistics()  # each layer's whole range / noise fit, read off the GUI thread
        self._sweep_by_hand = False  # the sweep's from / to typed in: they no longer follow the level
        self._told_depth: set[Any] = set()  # layers told that napari's reader dropped their PNG's 16 bits
        self._watched: Any = None  # the layer whose data events bring a new preview
        self._serials = itertools.count(1)  # each request's place in time (Request.serial)
        self._applied: dict[Any, int] = {}  # layer id → serial of the last Apply placed: older previews are stale
        self._previewed: dict[Any, int] = {}  # layer id → serial of the request its preview layer shows
        self._cameras: dict[Any, str] = {}  # layer id → the camera field's text for it (_keep_camera_of)
        self._own_previews: set[Any] = set()  # unique ids of the preview layers this panel placed
        self._dropped: dict[Any, int] = {}  # layer id → serial when its settings were refused: older previews are stale
        self._file_metadata: dict[tuple[str, int], Any] = {}  # (path, mtime) → its TiffMetadata ("Split channels")
        self._progress = None  # napari's progress bar of the running job
        self._syncing = False
        self._released = False
        self._ready = False  # no preview while the controls are being built

        self.layer_combo = ComboBox(label="image", choices=self._layer_choices)
        self.layer_combo.tooltip = (
            "the image to restore; it follows the layer selected in the layer list, except this panel's outputs: "
            "to restore an output further (sr after dejpeg, say), choose it here"
        )
        self.channels_button = PushButton(text="Split channels", visible=False)  # a file whose axes name C (_update_channels_button)
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
        self.brightness_check = CheckBox(
            text="noise follows brightness", value=False,
            tooltip="a camera's noise is strongest in the shadows: Auto reads the level of each brightness and each "
            "pixel is restored at its own (up to three passes, blended: slower); the slider then moves them all together",
        )
        self.camera_edit = LineEdit(
            label="camera", value="",
            tooltip="photon-limited tasks: your camera's GAIN READ_NOISE OFFSET in counts (e.g. 2.2 3.5 100: counts per "
            "photo-electron, read noise σ, counts at zero light), used instead of the image's own noise fit (the CLI's "
            "--camera). Needed where the fit fails (a few photons under read noise); empty: fitted from the image",
        )
        self._curves: dict[tuple[Any, str], Any] = {}  # (layer id, task) → the LevelCurve "Auto" read by brightness
        self._before_file_task: tuple[str, float] | None = None  # (task, level) shown before a file's task replaced them
        self.device_combo = ComboBox(
            label="device", choices=["auto", *available_devices()], value="auto",
            tooltip="auto: CUDA > MPS > CPU. The network computes in float16 on CUDA and in bfloat16 on CPUs where it "
            "is measured faster (about 2× there, ≤ 0.01 dB); set NAPARI_HYPERRES_PRECISION=float32 before starting napari for float32",
        )
        self.weights_file = FileEdit(
            label="weights", mode="r", filter="*.safetensors", nullable=True,
            tooltip="a .safetensors file exported by `python -m trainer`; empty = the task's shipped weights",
        )
        self.live_check = CheckBox(text="live preview of the displayed plane", value=True)
        self.ensemble_check = CheckBox(
            text="best quality for Apply (8× slower)", value=False,
            tooltip="Apply averages the network over the 8 rotations and mirror images of the image "
            "(denoise: +0.06 to +0.08 dB on Set12); the live preview stays a single pass",
        )
        self.apply_button = PushButton(text="Apply to all")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.export_button = PushButton(text="Export…", tooltip="this task's network at this level as a bioimage.io model (.zip)")
        self.save_button = PushButton(
            text="Save…", tooltip="the restored layer selected in the layer list, as a file with its input file's axes, "
            "pixel size and colour profile (napari's own TIFF writer keeps none of them)",
        )
        self.buttons = Container(
            layout="horizontal", labels=False, widgets=[self.apply_button, self.cancel_button, self.save_button, self.export_button]
        )
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
                self.channels_button,
                self.task_combo,
                self.level_row,
                self.brightness_check,
                self.camera_edit,
                self.device_combo,
                self.weights_file,
                self.live_check,
                self.ensemble_check,
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

        self.task_combo.changed.connect(self._on_task_chosen)
        self.layer_combo.changed.connect(self._on_layer_changed)
        self.level_slider.changed.connect(self._on_slider)
        self.level_field.changed.connect(self._on_field)
        self.device_combo.changed.connect(self._on_settings_changed)
        self.brightness_check.changed.connect(self._on_brightness_toggled)
        self.camera_edit.native.editingFinished.connect(self._on_settings_changed)  # once typed, not per keystroke
        self.weights_file.changed.connect(self._on_weights_file)
        self.apply_button.changed.connect(self._on_apply_clicked)
        self.export_button.changed.connect(lambda *_: self.export_model())
        self.save_button.changed.connect(lambda *_: self.save_output())
        self.channels_button.changed.connect(lambda *_: self.split_channels())
        self.cancel_button.changed.connect(self.cancel)
        self.sweep_button.changed.connect(self._on_sweep_clicked)
        self.sweep_from.changed.connect(self._on_sweep_bounds)
        self.sweep_to.changed.connect(self._on_sweep_bounds)

        events = self.viewer.layers.events
        for emitter in (events.inserted, events.removed, events.reordered):
            emitter.connect(self.reset_choices)
        events.removed.connect(self._on_layer_removed)
        events.removed.connect(self._on_removing, position="first")  # before the image box follows the removal
        self.viewer.dims.events.current_step.connect(self._on_dims)
        # on the next turn of the event loop: napari changes the dims from inside a layer's removal, and a layer
        # removed from there crashed vispy (as _drop_orphan_previews)
        self.viewer.dims.events.ndisplay.connect(self._on_view_later)
        self.viewer.dims.events.order.connect(self._on_view_later)
        self.viewer.layers.selection.events.active.connect(self._on_active_layer)
        self._on_active_layer()
        self._release_filter = _ShowHideFilter(self.native, self._cache.release, self._maybe_preview,  # first preview on show
                                               self._on_panel_removed)
        self.native.installEventFilter(self._release_filter)
        self.native.destroyed.connect(self._on_destroyed)
        self._on_layer_changed()
        self._ready = True
        for plugin in broken_plugins():  # PluginWarning goes to the terminal; a napari user reads notifications
            self._show("warning", plugin.notice())

    def _on_layer_removed(self, event: Any) -> None:
        # the orphan previews later, not inside napari's removal: a layer removed from within its "removed" event
        # crashed a review's napari under Xvfb (a 3-D stack's preview, drawn by vispy, segfaulted 3 times of 3)
        QTimer.singleShot(0, self._drop_orphan_previews)
        uncover_inputs(self.viewer.layers, event.value)  # an additive input hidden for the layer removed

    def _on_panel_removed(self) -> None:
        """The panel was closed with its dock's "x": stop as if destroyed, and take its own previews with it (not
        another panel's: a diff review)."""
        self._on_destroyed()
        for layer in [layer for layer in self.viewer.layers if layer.unique_id in self._own_previews]:
            self.viewer.layers.remove(layer)

    @while_open
    def _drop_orphan_previews(self, *_: Any) -> None:
        """Remove the preview layers whose input layer was removed (they would stay behind, named
        after an image that is gone, and be taken for an output)."""
        present = {layer.unique_id for layer in self.viewer.layers}
        for layer in [layer for layer in self.viewer.layers if PREVIEW_KEY in layer.metadata]:
            if layer.metadata[PREVIEW_KEY] not in present:
                self.viewer.layers.remove(layer)

    def _on_active_layer(self, *_: Any) -> None:
        """The image box follows the layer selected in the layer list (when it is an image), except
        for this plugin's outputs: napari selects each new layer, and an Apply or a sweep must not
        make its own output the next input (choose an output in the box to restore it further)."""
        active = self.viewer.layers.selection.active
        if not isinstance(active, Image) or OUTPUT_KEY in active.metadata:
            return
        # by unique_id, not identity: napari hands plugins a proxy of the viewer, whose every
        # access to a layer returns a new proxy object (an identity test never matched there)
        current = self.layer_combo.value
        if current is not None and current.unique_id == active.unique_id:
            return
        match = next((value for value in self.layer_combo.choices if value.unique_id == active.unique_id), None)
        if match is not None:
            self.layer_combo.value = match

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
            tasks = {t.name: t for t in builtin_tasks()}
        self._tasks = dict(tasks)
        return task_choices(tasks.values())

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
    def _on_task_chosen(self, *_: Any) -> None:
        """A task chosen in the list: it stays when a layer's file calls for none (:meth:`_open_on_the_files_task`).
        A photon task's level is the layer's own (photons between its black and white): Auto reads it first, and
        the preview comes at it, not at the task's default (a review: the first preview ran at 30 photons where the
        layer read 153, and Apply without Auto at 30)."""
        self._before_file_task = None
        if self.task.noise_parameters and self.layer_combo.value is not None and self._ready:
            self._switch_task(self.task, preview=False)
            self.estimate(automatic=True)
            return
        self._on_task_changed()

    def _on_task_changed(self, *_: Any) -> None:
        task = self.task
        low, high = task.level_range
        self._syncing = True
        try:
            step = field_step(task)
            for widget in (self.level_field, self.sweep_from, self.sweep_to):
                widget.step = step  # first: it sets the decimals the range is shown in
                widget.range = (low, high)
            # a log-scale task's slider moves through log10(level): equal steps per decade
            self.level_slider.range = (slider_from_level(task, low), slider_from_level(task, high))
            self.level_slider.step = 0.01 if task.level_scale == "log" else step
            curve = self._curve_for(self.layer_combo.value, task)  # back on a task whose curve was read: at its level
            start = task.default_level if curve is None else curve.level
            self.level_field.value = start
            self.level_slider.value = slider_from_level(task, start)
            self.sweep_from.value, self.sweep_to.value = sweep_bounds(task, start)
            self._sweep_by_hand = False
            self.level_row.label = level_label(task)
            with self.weights_file.changed.blocked():
                self.weights_file.value = self.weights.get(task.name)
        finally:
            self._syncing = False
        has_level = not is_image_conditioned(task)
        self.level_row.visible = has_level  # hidden, not disabled: an image-conditioned task has no level
        sweeps = has_level and task.output_scale is None  # a sweep stacks outputs of one size: not sr's
        for widget in (self.sweep_count, self.sweep_from, self.sweep_to, self.sweep_button):
            widget.visible = sweeps
        self.selection_label.visible = not has_level
        self.selection_label.value = ""
        self.brightness_check.visible = task.level_follows_brightness
        self.camera_edit.visible = bool(task.noise_parameters)
        self.export_button.enabled = exportable(task)
        self._on_settings_changed()

    def _on_removing(self, *_: Any) -> None:
        """A layer is being removed: the image box's new choice is followed once the event loop turns
        again, not at once. napari closing (or ``layers.clear()``) removes every layer in one go, and
        the panel switched tasks and started estimates for layers about to go (a review saw
        "Signal source has been deleted" from such a worker)."""
        if not self._removing:
            self._removing = True
            QTimer.singleShot(0, self._after_removing)

    def _after_removing(self) -> None:
        self._removing = False
        if self._released:
            return
        layer = self.layer_combo.value
        if layer is not None and OUTPUT_KEY in layer.metadata and layer.unique_id != self._chosen_layer:
            # the input went and the box fell on a restoration's output: not restored again unasked (last stop's
            # leftover: an Auto and a preview of restoring the result came up), though it can be, by the user's move
            self._keep_camera_of(self._watched, layer)
            self._chosen_layer = layer.unique_id
            self._watch_data_of(layer)
            self._update_auto_button()
            self._update_channels_button()
            self.say(f"the image being restored was removed; {layer.name!r} is chosen: a slider move or Apply restores it further")
            return
        self._on_layer_changed()

    def _on_layer_changed(self, *_: Any) -> None:
        if self._removing:
            return  # followed after the removals (_after_removing)
        layer = self.layer_combo.value
        chosen = None if layer is None else layer.unique_id
        newly_chosen, self._chosen_layer = chosen != self._chosen_layer, chosen
        if not newly_chosen:  # the box re-set to the same layer (an Apply's output inserted, its preview removed):
            self._update_auto_button()  # the task chosen stays, and no preview comes back over the result (a review
            self._update_channels_button()  # saw one within 3 s; the README says the next slider move brings it)
            return
        self._keep_camera_of(self._watched, layer)
        self._watch_data_of(layer)
        self._note_lost_depth(layer)
        preset = layer.metadata.get(DEGRADATION_KEY) if layer is not None else None
        if isinstance(preset, Mapping) and preset.get("task") in self._tasks:
            task = self._tasks[preset["task"]]
            self._switch_task(task)
            level = preset.get("level")
            if level is not None and task.level_range[0] <= float(level) <= task.level_range[1]:
                self.level = float(level)
            return
        if layer is not None and self._open_on_the_files_task(layer):
            return
        self._follow_brightness_of(layer)
        if layer is not None and self.task.noise_parameters and self._ready:
            self._last_preview_error = None
            self._update_auto_button()
            self._update_channels_button()
            self.estimate(automatic=True)  # each layer its own photons (a review: channel 1 at channel 0's 72, reading 211)
            return
        self._on_settings_changed()

    def _keep_camera_of(self, previous: Any, layer: Any) -> None:
        """The camera field belongs to a layer: kept for ``previous``, and ``layer``'s shown (empty for a layer given
        none: its own fit). A review restored a second detector's channel with the first's camera, typed for it, at
        −7.1 dB without a warning at Apply."""
        if previous is not None:
            self._cameras[previous.unique_id] = self.camera_edit.value
        self.camera_edit.value = "" if layer is None else self._cameras.get(layer.unique_id, "")

    def _watch_data_of(self, layer: Any) -> None:
        """Follow the chosen layer's data: new data (``layer.data = …``) brings a new preview where one is shown
        (a review: the old preview stayed, of another shape, until the slider moved)."""
        if self._watched is not None:
            for event, handler in self._watched_events():
                try:
                    event.disconnect(handler)
                except (RuntimeError, TypeError, ValueError):
                    pass
        self._watched = layer
        if layer is not None:
            for event, handler in self._watched_events():
                event.connect(handler)

    def _watched_events(self) -> list:
        """``(event, handler)`` of the watched layer: its data, and its contrast and gamma, which its preview follows."""
        events = self._watched.events
        return [(events.data, self._on_layer_data), (events.contrast_limits, self._on_layer_display),
                (events.gamma, self._on_layer_display)]

    def _on_layer_display(self, *_: Any) -> None:
        layer = self._watched
        preview = None if layer is None or self._released else find_preview(self.viewer.layers, layer)
        if preview is not None:
            follow_display(preview, layer)

    def _on_layer_data(self, *_: Any) -> None:
        layer = self.layer_combo.value
        if layer is not None and find_preview(self.viewer.layers, layer) is not None:
            self._maybe_preview()

    def _note_lost_depth(self, layer: Any) -> None:
        """Once per layer: napari's reader opens a 16-bit colour PNG as 8-bit (imageio through Pillow), so restoring
        the layer cannot give back the lower 8 bits; say so, and how to keep them."""
        from ..io.files import png_bit_depth

        path = source_path(layer) if layer is not None else None
        if not path or layer.unique_id in self._told_depth or np.dtype(layer.data.dtype) != np.uint8:
            return
        if (png_bit_depth(path) or 0) > 8:
            self._told_depth.add(layer.unique_id)
            self._show("warning", f"napari-hyperres: {Path(path).name} is a 16-bit PNG, but napari's reader opened it as 8-bit: "
                       "restoring this layer cannot give the lower bits back. Restore the file itself (napari-hyperres restore "
                       f"{Path(path).name} OUT.png …), or open it whole: viewer.add_image(napari_hyperres.read_image(path), rgb=True)")

    def _follow_brightness_of(self, layer: Any) -> None:
        """With "noise follows brightness" ticked: the slider to ``layer``'s curve, read first where
        it was not (another layer's curve is never used, nor its level kept)."""
        if layer is None or not self.brightness_check.value or not self.task.level_follows_brightness:
            return
        curve = self._curve_for(layer, self.task)
        if curve is None:
            self.estimate()  # sets the level and previews when the curve arrives
        else:
            self.level = curve.level

    def _open_on_the_files_task(self, layer: Image) -> bool:
        """Switch to the task the layer's file calls for (a JPEG saved at quality ≤ 75 → dejpeg,
        :func:`~napari_hyperres.blind.levels.task_for_file`) and set its level as "Auto" does
        (which also checks for a re-save), also where that task is shown already (the previous
        file's quality is not this one's). A layer whose file calls for none after such a switch
        goes back to the task and level shown before it (a camera's quality-90 JPEG stays on
        denoise); a task chosen by hand is kept. ``False`` where nothing changed.

        This panel's own outputs change nothing: one is chosen to restore it further (sr after dejpeg), and a
        review saw the chain's dejpeg output switch the task "back to denoise". Each note is shown once per
        layer (a review got four for two round trips between two layers)."""
        if OUTPUT_KEY in layer.metadata:
            return False
        path = source_path(layer)
        suggestion = task_for_file(path, self._tasks.values())
        told = layer.unique_id in self._told_file_task
        self._told_file_task.add(layer.unique_id)
        if suggestion is None:
            if self._before_file_task is None:
                return False
            name, level = self._before_file_task
            self._before_file_task = None
            if name not in self._tasks or name == self.task.name:
                return False
            self._switch_task(self._tasks[name], level, preview=False)
            if not told:
                self._show("info", f"napari-hyperres: {layer.name} calls for no task of its own: back to {self.task.title!r}")
            self._on_settings_changed()
            return True
        task, level = suggestion
        if task.name != self.task.name:
            if self._before_file_task is None:
                self._before_file_task = (self.task.name, self.level)
        # set at the file's level without a preview at the task's default first (a review: every JPEG was previewed
        # at dejpeg 30 before its own quality, 4–5 s of a 512² photo on a loaded CPU); "Auto" previews
        self._switch_task(task, level, preview=False)
        if not told:
            self._show("info", f"napari-hyperres: {Path(path).name} records {task.unit} {level:g}: task set to {task.title!r}")
        self.estimate()
        return True

    def _switch_task(self, task: Task, level: float | None = None, *, preview: bool = True) -> None:
        """Show ``task`` as if chosen in the list (without the list's own change event), at ``level`` if given;
        ``preview=False``: no preview yet (the caller's estimate brings it)."""
        with self.task_combo.changed.blocked():
            self.task_combo.value = task.name
        held, self._ready = self._ready, self._ready and preview
        try:
            self._on_task_changed()
            if level is not None and task.level_range[0] <= level <= task.level_range[1]:
                self.level = level
        finally:
            self._ready = held

    def _on_slider(self, value: float) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.level_field.value = level = level_from_slider(self.task, value)
            if not self._sweep_by_hand:  # the sweep's bounds follow the level until they are typed in
                self.sweep_from.value, self.sweep_to.value = sweep_bounds(self.task, level)
        finally:
            self._syncing = False
        self._maybe_preview()

    def _on_sweep_bounds(self, *_: Any) -> None:
        if not self._syncing:
            self._sweep_by_hand = True

    def _on_field(self, value: float) -> None:
        if self._syncing:
            return
        self.level_slider.value = slider_from_level(self.task, value)  # previews through _on_slider

    def _on_brightness_toggled(self, on: bool) -> None:
        """On: read the layer's level by brightness ("Auto") unless read before; off: one level again."""
        layer = self.layer_combo.value
        if on and layer is not None and self.task.level_follows_brightness and self._curve_for(layer, self.task) is None:
            self.estimate()  # previews with the curve when it arrives
            return
        self._maybe_preview()

    def _curve_for(self, layer: Any, task: Task) -> Any:
        """The level curve "Auto" read for ``layer`` and ``task`` while "noise follows brightness" is on, else ``None``."""
        if layer is None or not self.brightness_check.value or not task.level_follows_brightness:
            return None
        return self._curves.get((layer.unique_id, task.name))

    def _on_weights_file(self, value: Any) -> None:
        if value:
            self.weights[self.task.name] = str(value)
        else:
            self.weights.pop(self.task.name, None)
        self._on_settings_changed()

    def _on_settings_changed(self, *_: Any) -> None:
        self._last_preview_error = None
        self._update_auto_button()
        self._update_channels_button()
        self._note_sr_on_jpeg()
        self._maybe_preview()

    def _note_sr_on_jpeg(self) -> None:
        """Once per layer: ``sr`` chosen for a layer read from a JPEG file enlarges its compression blocks too
        (a review: sr alone on a quality-75 comic scored below bicubic, 24.15 against 24.28 dB; dejpeg first 24.57)."""
        from ..blind.estimate import is_jpeg_file

        layer = self.layer_combo.value
        path = source_path(layer)
        if self.task.name != "sr" or not path or not is_jpeg_file(path) or layer.unique_id in self._told_sr_on_jpeg:
            return
        self._told_sr_on_jpeg.add(layer.unique_id)
        how = "task 'Remove JPEG artifacts', Auto, Apply, then choose that output under 'image'"
        self._show("info", f"napari-hyperres: {Path(path).name} is a JPEG: {SR_ON_JPEG.format(how=how)}")

    def _update_auto_button(self) -> None:
        """Show "Auto" for level tasks that have an estimator, or dejpeg on a layer read from a JPEG file."""
        task = self.task
        self.auto_button.visible = can_estimate(task, self.estimators.get(task.name), source_path(self.layer_combo.value))

    def _on_dims(self, *_: Any) -> None:
        layer = self.layer_combo.value
        if layer is None:
            return
        preview = find_preview(self.viewer.layers, layer)
        if self.live_check.value and (preview is not None or self._preview_queue.running):
            self._maybe_preview()  # a preview on its way counts too: it would land over another plane (a review)
        elif preview is not None and self._stale_plane(layer, preview):
            # live preview off: a preview of another plane must not stay over this one (a review: plane 3's pixels
            # shown at z = 7); removed on the next turn of the event loop, never inside napari's own events
            QTimer.singleShot(0, lambda: self._drop_stale_preview(layer))

    @while_open
    def _drop_stale_preview(self, layer: Any) -> None:
        preview = find_preview(self.viewer.layers, layer)
        if preview is not None and self._stale_plane(layer, preview):
            self._drop_preview_of(layer, stop=True)
            self.say("preview removed: it showed another plane; tick 'live preview' to preview this one")

    def _on_view_later(self, *_: Any) -> None:
        QTimer.singleShot(0, self._on_view)

    @while_open
    def _on_view(self, *_: Any) -> None:
        """The display changed (3-D, or other axes shown): a preview goes where it cannot be right; back in a Y–X view
        it comes back with live preview."""
        layer = self.layer_combo.value
        if layer is not None and not self._no_preview_in_this_view(layer):
            self._maybe_preview()

    def _no_preview_in_this_view(self, layer: Any) -> bool:
        """Where the viewer does not show ``layer``'s Y–X planes (:func:`~napari_hyperres.ui.geometry.unplaned_view`):
        its preview goes, the status line says why, and True."""
        dims = self.viewer.dims
        reason = unplaned_view(dims.ndisplay, tuple(dims.displayed), dims.ndim, int(layer.ndim))
        if reason is not None:
            self._drop_preview_of(layer, stop=True)
            self.say(f"no preview in {reason}: it shows a Y–X plane in a 2-D view; Apply restores the whole image")
        return reason is not None

    def _shown_plane(self, layer: Any) -> tuple[int, ...] | None:
        """The index of ``layer``'s plane the viewer displays now, or ``None`` where it cannot be read."""
        try:
            return plane_index(layer.world_to_data(self.viewer.dims.point), np.shape(layer.data), bool(getattr(layer, "rgb", False)))
        except Exception:  # noqa: BLE001 — a layer without data to index: nothing to compare
            return None

    def _stale_plane(self, layer: Any, preview: Any) -> bool:
        """Whether ``preview`` shows another plane of ``layer`` than the one displayed now."""
        shown, now = (preview.metadata.get(OUTPUT_KEY) or {}).get("plane"), self._shown_plane(layer)
        return shown is not None and now is not None and tuple(shown) != now

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
            task = task.for_file(source_path(layer))  # a 4:4:4 JPEG's chroma at full resolution
            data = layer.data
            rgb = bool(layer.rgb)
            if not rgb and channels_last(tuple(data.shape)):
                raise ShapeError(  # a review: a gray PNG with transparency previewed as 256 planes 2 pixels wide
                    f"layer {layer.name!r} has a last axis of {data.shape[-1]} (shape {tuple(data.shape)}): napari opens a gray "
                    "image with transparency as gray + alpha that way, and each row would be restored as an image "
                    f"{data.shape[-1]} pixel(s) wide. Open the file as RGBA instead: "
                    "viewer.add_image(napari_hyperres.read_image(path), rgb=True)"
                )
            index = plane_index(layer.world_to_data(self.viewer.dims.point), data.shape, rgb)
            camera = PoissonGaussian.camera_from_text(self.camera_edit.value) if task.noise_parameters else None
        except Exception as exc:  # noqa: BLE001 — a Qt slot must not raise: every failure (a fit's LinAlgError too) is a notification
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
            source_file=origin_file(layer),
            after=restored_before(layer),
            viewport=self._viewport(layer),
            curve=self._curve_for(layer, task),
            noise=camera,  # a camera typed in: checked on the whole layer by the worker (Request.with_statistics)
            statistics=self._statistics,  # the whole layer's range / noise fit: read in the worker, kept per layer
            data_key=(layer.unique_id, id(data), data.shape, str(data.dtype), content_sample(data, rgb)),
            serial=next(self._serials),
        )

    def _viewport(self, layer: Image) -> tuple[int, int, int, int] | None:
        """``(y0, y1, x0, x1)`` of ``layer``'s displayed plane on screen (napari's ``corner_pixels``),
        or ``None`` when the displayed axes are not the plane's last two."""
        ndim = layer.ndim
        if tuple(self.viewer.dims.displayed) != (ndim - 2, ndim - 1):
            return None
        try:
            corners = np.asarray(layer.corner_pixels)[:, -2:]
        except (AttributeError, IndexError, ValueError):
            return None
        (y0, x0), (y1, x1) = corners.astype(int)
        return (int(y0), int(y1) + 1, int(x0), int(x1) + 1)

    def say(self, message: str) -> None:
        """Put ``message`` on the status line (cut to fit: :func:`status_text`), whole in its tooltip: the
        tooltip always belongs to the line shown (a diff review: "added …" kept a far-off level's tooltip)."""
        self.status.value = status_text(message)
        self.status.tooltip = message

    def _show(self, kind: str, message: str) -> None:
        """A napari notification (``kind``: "error", "warning" or "info")."""
        {"error": show_error, "warning": show_warning, "info": show_info}[kind](message)

    def _notify_error(self, exc: BaseException, task: Task | None, *, quiet: bool = False) -> None:
        message = describe_error(exc, task)
        self.say(message)
        if quiet and message == self._last_preview_error:
            return  # a dragged slider must not stack the same error dozens of times
        if quiet:
            self._last_preview_error = message
        show_error(message)

    # --- teardown ---------------------------------------------------------------------------
    def release(self) -> None:
        """Stop workers and free the cached networks (GPU memory included). Called when the widget closes."""
        self._released = True
        self._watch_data_of(None)  # the layer outlives the panel: no handler of a closed panel left on it
        self._preview_queue.clear()
        if self._preview_worker is not None:
            self._preview_worker.quit()  # stops at its next tile: no signal reaches a closed widget's labels
        if self._job is not None:
            self._job.quit()
        try:
            self.viewer.dims.events.current_step.disconnect(self._on_dims)
            self.viewer.dims.events.ndisplay.disconnect(self._on_view_later)
            self.viewer.dims.events.order.disconnect(self._on_view_later)
            events = self.viewer.layers.events
            for emitter in (events.inserted, events.removed, events.reordered):
                emitter.disconnect(self.reset_choices)
            events.removed.disconnect(self._on_layer_removed)  # a closed panel stays referenced by none (a diff review)
            events.removed.disconnect(self._on_removing)
            self.viewer.layers.selection.events.active.disconnect(self._on_active_layer)  # nor follows the selection
        except (AttributeError, RuntimeError, TypeError, ValueError):  # viewer already torn down
            pass
        self._cache.release()

    def _on_destroyed(self, *_: Any) -> None:
        """The panel is gone (napari closing, or the dock removed): stop the workers and wait a
        moment for them, so that none emits into signal objects Qt deletes next (closing napari
        while a preview ran printed "Signal source has been deleted", or aborted the process)."""
        workers = [worker for worker in (self._preview_worker, self._job) if worker is not None]
        self.release()  # asks them to stop at their next tile
        deadline = time.monotonic() + WORKER_EXIT_WAIT_S
        while any(worker.is_running for worker in workers) and time.monotonic() < deadline:
            time.sleep(0.01)  # this panel's workers only: another panel's job goes on
        if workers:
            time.sleep(0.05)  # their last 'finished' signal is sent just after is_running falls

    def close(self) -> None:
        """Release resources and close the widget."""
        self.release()
        super().close()


__all__ = ["RestoreWidget"]
