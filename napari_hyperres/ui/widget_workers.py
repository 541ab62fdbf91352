"""The widget's thread workers: napari's worker classes, created without napari's task-status hooks.

napari 0.9's ``napari.qt.threading.create_worker`` registers each worker in the window's activity
list and connects ``errored`` to a two-argument handler that Qt calls with three (the exception
too): every failed worker printed ``TypeError: create_worker.<locals>.<lambda>() takes 2 positional
arguments but 3 were given`` on the terminal. The widget reports errors and progress itself, so it
creates the same worker classes (which still relay uncaught errors and warnings to napari's
notifications) through superqt, where napari's own function ends up as well.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from napari.qt.threading import FunctionWorker, GeneratorWorker
from superqt.utils import create_worker as _superqt_create_worker


def create_worker(func: Callable, *args: Any, _start_thread: bool = False, _connect: dict | None = None, **kwargs: Any):
    """A napari ``FunctionWorker`` / ``GeneratorWorker`` running ``func(*args, **kwargs)``
    (signals in ``_connect`` connected; started at once with ``_start_thread``)."""
    worker_class = GeneratorWorker if inspect.isgeneratorfunction(func) else FunctionWorker
    return _superqt_create_worker(func, *args, _start_thread=_start_thread, _connect=_connect, _worker_class=worker_class, **kwargs)
