"""The widget's thread workers: superqt's worker classes, with the package's warnings relayed to napari.

napari 0.9's ``napari.qt.threading.create_worker`` registers each worker in the window's activity
list and connects ``errored`` to a two-argument handler that Qt calls with three (the exception
too): every failed worker printed ``TypeError: create_worker.<locals>.<lambda>() takes 2 positional
arguments but 3 were given`` on the terminal. The widget reports errors and progress itself, so it
creates workers through superqt, where napari's own function ends up as well.

napari's worker classes were meant to relay warnings to its notifications, but their mixin's
``__init__`` never runs (it follows superqt's class in the bases, whose ``__init__`` does not call
on): a review found the "channels fitted together" warning reaching no one in the viewer. So the
plain superqt classes are used, and :func:`relay_warning` connected to every worker's ``warned``.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from functools import wraps
from typing import Any, Callable

from superqt.utils import FunctionWorker, GeneratorWorker
from superqt.utils import create_worker as _superqt_create_worker

from .. import errors


class ClosingGeneratorWorker(GeneratorWorker):
    """superqt's generator worker that closes its generator in its own thread when it stops: a stopped one was
    left to the garbage collector, and napari closing mid-Apply printed "Exception ignored in: generator
    Restorer._run_tiles … 'NoneType' object has no attribute 'is_scripting'" as the interpreter tore torch down
    (a review)."""

    def work(self) -> Any:
        try:
            return super().work()
        finally:
            try:
                self._gen.close()
            except Exception:  # noqa: BLE001 — a generator failing to close has nothing left to report to
                pass


def create_worker(func: Callable, *args: Any, _start_thread: bool = False, _connect: dict | None = None, **kwargs: Any):
    """A superqt ``FunctionWorker`` / ``GeneratorWorker`` running ``func(*args, **kwargs)``
    (signals in ``_connect`` connected, ``warned`` to :func:`relay_warning`; started at once with ``_start_thread``)."""
    worker_class = ClosingGeneratorWorker if inspect.isgeneratorfunction(func) else FunctionWorker
    worker = _superqt_create_worker(func, *args, _start_thread=False, _connect=_connect, _worker_class=worker_class, **kwargs)
    written: set[tuple[str, str, int]] = set()  # this worker's library warnings written so far
    worker.warned.connect(lambda args: relay_warning(args, written))
    if _start_thread:
        worker.start()
    return worker


def while_open(slot: Callable) -> Callable:
    """A panel's slot (a job's signal, a deferred call) that does nothing once the panel is released, or its Qt
    widgets are gone: napari closing while an Apply ran printed five "Internal C++ object (QProgressBar) already
    deleted" tracebacks from the job's last signals (a review)."""

    @wraps(slot)
    def guarded(self, *args: Any, **kwargs: Any) -> Any:
        if self._released:
            return None
        try:
            return slot(self, *args, **kwargs)
        except RuntimeError as exc:
            if "already deleted" in str(exc):
                return None
            raise

    return guarded


def relay_warning(show_warning_args: tuple, written: set | None = None) -> None:
    """A warning raised in a worker (``warnings.showwarning``'s arguments): the package's own
    (:mod:`napari_hyperres.errors`: a level outside the trained range, noise of several detectors
    fitted together) as a napari notification, which the viewer shows; any other (a library's
    deprecation) written to stderr as Python writes warnings (not through ``warnings.showwarning``,
    which a running worker has replaced process-wide by its own relay), once per place in
    ``written`` (the worker's), and none that Python's default filters hide (:data:`QUIET_BY_DEFAULT`)."""
    message, category, filename, lineno = show_warning_args[:4]
    if isinstance(category, type) and category.__module__ == errors.__name__:
        from napari.utils.notifications import notification_manager

        notification_manager.receive_warning(*show_warning_args)
        return
    # a library's: what Python's default filters show, once per place (a worker records every warning:
    # a review's Export… printed 53 ResourceWarnings of bioimageio's and a dozen torch.jit deprecations)
    if isinstance(category, type) and issubclass(category, QUIET_BY_DEFAULT):
        return
    place = (getattr(category, "__name__", str(category)), str(filename), int(lineno or 0))
    if written is not None:
        if place in written:
            return
        written.add(place)
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno))


QUIET_BY_DEFAULT = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
"""Warnings Python's default filters hide outside ``__main__`` (the CLI shows none of them either)."""
