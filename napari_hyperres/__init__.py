"""napari-hyperres: one-slider image restoration with level-conditioned hypernetworks.

Public API::

    from napari_hyperres import restore, Restorer, Task, hookimpl, get_tasks, estimate_level
    clean = restore(noisy, "denoise", 25)
    clean = restore(noisy, "denoise", "auto")   # level from estimate_level

Importing this package imports neither napari nor Qt; the dock widget lives in
``napari_hyperres._widget``.
"""

from .engine import Restorer, restore
from .errors import (
    CancelledError,
    DeviceError,
    HyperResError,
    LevelRangeError,
    PluginError,
    ShapeError,
    UnknownTaskError,
    WeightsError,
)
from .estimate import estimate_level
from .hookspecs import hookimpl
from .plugins import get_task, get_tasks
from .tasks import Task
from .weights import list_weights, load_model

__version__ = "0.1.0"

__all__ = [
    "CancelledError",
    "DeviceError",
    "HyperResError",
    "LevelRangeError",
    "PluginError",
    "Restorer",
    "ShapeError",
    "Task",
    "UnknownTaskError",
    "WeightsError",
    "estimate_level",
    "get_task",
    "get_tasks",
    "hookimpl",
    "list_weights",
    "load_model",
    "restore",
]
