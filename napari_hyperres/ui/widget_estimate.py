"""The widget's "Auto" button: set the level from the image, in a worker thread.

A mixin of :class:`napari_hyperres.ui.widget.RestoreWidget`; the level is found by
:func:`napari_hyperres.blind.levels.resolve_level` (through
:func:`napari_hyperres.ui.preview.estimate_request`).
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Any

from ..core.tasks import Task
from .labels import blocks_every_level, describe_estimate_error, format_level, is_image_conditioned
from .outputs import source_path
from .preview import Request, estimate_request
from .widget_workers import create_worker, while_open

if TYPE_CHECKING:
    from ..blind.levels import LevelChoice


class EstimateMixin:
    """``estimate()`` and its result handlers (needs the widget's ``auto_button``, ``_request`` and ``_show``)."""

    _estimating: bool

    @property
    def estimating(self) -> bool:
        """Whether an "Auto" level estimate is running."""
        return self._estimating

    def estimate(self, *_: Any, automatic: bool = False, since: float | None = None) -> None:
        """Set the level from the displayed plane, in a thread worker.

        ``dejpeg`` on a layer read from a JPEG file reads the quality exactly from the file;
        otherwise the task's level estimator runs on the plane (both through
        :func:`napari_hyperres.blind.levels.resolve_level`). An estimate outside the task's
        range is reported and the level left unchanged. ``automatic``: started by the panel (a photon task's layer
        chosen), not the Auto button: a result that arrives for a layer no longer chosen is dropped without a word,
        and one outside the range is said on the status line, with a preview at the level as it is; a level the user
        set after it was asked for (``since``: the level then, for one that waited for another to end) is kept.
        """
        task = self.task
        if is_image_conditioned(task):
            self._show("info", f"napari-hyperres: task {task.name!r} chooses its own weights from the image; there is no level to estimate")
            return
        if self._estimating:
            self._estimate_again = True  # one at a time: this one runs when the running one ends (its
            self._estimate_again_automatic = automatic and self._estimate_again_automatic
            self._estimate_again_since = self.level  # a diff review: a slider move while it waited was lost
            return  # request may differ: "noise follows brightness" ticked meanwhile, a review lost that)
        layer = self.layer_combo.value
        request = self._request(layer=layer)
        if request is None:
            return
        self._estimating = True
        self.auto_button.enabled = False
        self.say(f"estimating the {task.unit} level…")
        create_worker(
            estimate_request,
            request,
            path=source_path(layer),
            weights=self.estimators.get(task.name),
            by_brightness=bool(self.brightness_check.value and task.level_follows_brightness),
            _start_thread=True,
            _connect={
                "returned": partial(self._on_estimate, request, automatic=automatic, since=since),
                "errored": partial(self._on_estimate_error, request.task, request=request, automatic=automatic),
                "finished": self._on_estimate_finished,
            },
        )

    @while_open
    def _on_estimate(self, request: Request, choice: LevelChoice, automatic: bool = False, since: float | None = None) -> None:
        level, method = choice.estimate, choice.method
        task = request.task
        if self._estimate_is_stale(request):
            if automatic:  # the panel's own, for a layer clicked past (a diff review: a notification per click)
                return
            self._show("info",
                f"napari-hyperres: the {task.name} level estimate for {request.source!r} ({format_level(level)}) "
                "arrived after the task or the image changed; ignored"
            )
            return
        if automatic and self._slider_moved_since(request, since):  # the user's level wins over an Auto they did not ask for
            self.say(
                f"Auto reads {format_level(level)} {task.unit}; the level you set ({format_level(self.level)}) is kept "
                "(press Auto to use the reading)"
            )
            return
        low, high = task.level_range
        if choice.outside_range:
            message = f"estimated level {level:g} is outside {low:g}–{high:g} ({task.unit}); level left unchanged"
            if automatic:  # no popup for what the user did not ask; the preview comes at the level as it is
                self.say(message)
                self._maybe_preview()
            else:
                self._show("warning", f"napari-hyperres: {message}")
            return
        if choice.curve is not None:
            self._curves[(request.source_id, task.name)] = choice.curve
            changed = abs(self.level - level) > 1e-9
            self.level = level  # previews with the curve (moved to the slider's level)
            self._estimate_again_since = self.level  # the panel's own move: not the user's
            message = f"{choice.curve.describe(task)}; the slider moves them all"
            self._level_found = (task.name, self.level, "estimated by brightness", request.source_id)
            self.say(message)
            if not changed:
                self._maybe_preview()
            return
        changed = abs(self.level - level) > 1e-9
        self.level = level  # previews through the slider where the level changed
        self._estimate_again_since = self.level  # the panel's own move: not the user's
        if not changed:
            self._maybe_preview()  # a second JPEG of the same quality, newly chosen, had no preview (a review)
        source = {"quantisation tables": "read from the file's quantisation tables", "estimator": "estimated"}.get(method, method)
        message = f"{task.unit} = {format_level(level)} ({source})"
        caution = choice.caution(task)
        if caution is not None:
            message += f"; {caution}"
            self._show("warning", f"napari-hyperres: {message}")
            if choice.uneven is not None:  # the crops disagreed (a file's own caution may come with it)
                source += f"; parts read {choice.uneven[0]:.3g}–{choice.uneven[1]:.3g}"
        self._level_found = (task.name, self.level, source, request.source_id)  # the previews of this layer at this level still say where it came from
        self.say(message)

    def _slider_moved_since(self, request: Request, since: float | None = None) -> bool:
        """Whether the level was moved away from ``request.level`` (or from ``since``, the level when a queued
        estimate was asked for) while the estimate ran or waited (by the user: a task or layer change makes the
        request stale first, and the panel's own settings move ``since`` with them). A review's benchmark: the
        slider dragged while the panel's own Auto read the layer jumped back to the reading when it arrived."""
        before = request.level if since is None else self.task.check_level(since)
        return not math.isclose(self.task.check_level(self.level), before, rel_tol=1e-6, abs_tol=1e-9)

    def _estimate_is_stale(self, request: Request) -> bool:
        """Whether the task or the layer chosen has changed since ``request`` was made."""
        layer = self.layer_combo.value
        return self.task.name != request.task.name or layer is None or layer.unique_id != request.source_id

    @while_open
    def _on_estimate_error(self, task: Task, exc: BaseException, request: Request | None = None, automatic: bool = False) -> None:
        if automatic and request is not None and self._estimate_is_stale(request):
            return  # the panel's own Auto for a layer clicked past (a diff review: an error per click)
        message = describe_estimate_error(exc, task)
        if automatic and not blocks_every_level(exc, task):  # an Auto the user did not ask for: said on the status
            self.say(f"{message}; previewing at the level as it is")  # line, and the preview comes at the level as it is
            self._maybe_preview()
            return
        self.say(message)
        self._show("error", f"napari-hyperres: {message}")

    @while_open
    def _on_estimate_finished(self) -> None:
        self._estimating = False
        self.auto_button.enabled = True
        if self.status.value.endswith("…"):
            self.say("")
        if self._estimate_again and not self._released:
            self._estimate_again = False
            automatic, self._estimate_again_automatic = self._estimate_again_automatic, True
            self.estimate(automatic=automatic, since=self._estimate_again_since if automatic else None)

