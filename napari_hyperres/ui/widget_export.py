"""The widget's "Export…" button: the current task's network at the current level as a
bioimage.io model package (:func:`napari_hyperres.io.bioimageio.export_bioimageio`), in a worker.

A mixin of :class:`napari_hyperres.ui.widget.RestoreWidget`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from ..core.tasks import Task
from ..errors import HyperResError
from ..io.bioimageio import check_exportable
from .labels import format_level
from .widget_workers import create_worker


def exportable(task: Task) -> bool:
    """Whether ``task`` has one plain network per level to export (not ``auto``, ``sr``, ``microscopy``)."""
    try:
        check_exportable(task)
    except HyperResError:
        return False
    return True


def ask_export_path(parent, suggested: str) -> str | None:
    """The ``.zip`` to write, from a save dialog (``None``: cancelled)."""
    from qtpy.QtWidgets import QFileDialog

    path, _ = QFileDialog.getSaveFileName(parent, "Export for bioimage.io", suggested, "bioimage.io model (*.zip)")
    return path or None


class ExportMixin:
    """``export_model()`` (needs the widget's task, level, weights, status and ``_show``)."""

    def export_model(self, path: str | None = None) -> None:
        """Export the chosen task's network at the chosen level to ``path`` (default: ask)."""
        task: Task = self.task
        try:
            check_exportable(task)
            level = task.check_level(self.level)
        except HyperResError as exc:
            self._show("warning", f"napari-hyperres: {exc}")
            return
        path = path or ask_export_path(self.native, f"{task.name}-{format_level(level)}.zip")
        if not path:
            return
        if not path.lower().endswith(".zip"):
            path += ".zip"
        self.say(f"exporting {task.name} {format_level(level)}…")
        from ..io.bioimageio import export_bioimageio

        create_worker(
            export_bioimageio,
            task.name,
            level,
            path,
            weights=self.weights.get(task.name),
            _start_thread=True,
            _connect={"returned": partial(self._on_exported, task, level), "errored": partial(self._notify_error, task=task)},
        )

    def _on_exported(self, task: Task, level: float, path: Path) -> None:
        self.say(f"exported {task.name} {format_level(level)} to {Path(path).name}")
        self._show("info", f"napari-hyperres: wrote the bioimage.io model {path} ({task.name}, {task.unit} {format_level(level)})")
