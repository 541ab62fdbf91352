"""napari-hyperres: one-slider image restoration with level-conditioned hypernetworks.

Public API::

    from napari_hyperres import restore, Restorer, Task, hookimpl, get_tasks, estimate_level
    clean = restore(noisy, "denoise", 25)
    clean = restore(noisy, "denoise", "auto")   # level from estimate_level

Importing this package imports neither napari nor Qt (the dock widget lives in
``napari_hyperres.ui.widget``), nor torch: the names below that need it are imported on
first use, so ``napari-hyperres --help`` starts in a fraction of a second.
"""

import importlib

from .errors import (
    CameraMismatchWarning,
    CancelledError,
    DeviceError,
    HyperResError,
    LevelMismatchWarning,
    LevelRangeError,
    LevelRangeWarning,
    MissingWeightsError,
    MixedBrightnessWarning,
    MixedNoiseWarning,
    NoiseFitError,
    PluginError,
    ShapeError,
    UnknownTaskError,
    WeightsError,
    WrongTaskWeightsError,
)
from .hookspecs import hookimpl

_LAZY = {
    "Restorer": ".engine",
    "restore": ".engine",
    "estimate_level": ".blind.estimate",
    "get_task": ".core.plugins",
    "get_tasks": ".core.plugins",
    "Task": ".core.tasks",
    "PoissonGaussian": ".core.photon_noise",
    "list_weights": ".core.weights",
    "load_model": ".core.weights",
    "read_image": ".io.files",
    "read_provenance": ".io.provenance",
    "read_tiff_metadata": ".io.tiff_meta",
    "write_image": ".io.files",
    "sample_image": ".ui.sample_data",
}


def __getattr__(name: str):
    """Import the torch-based parts of the public API on first use (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "CameraMismatchWarning",
    "CancelledError",
    "DeviceError",
    "estimate_level",
    "get_task",
    "get_tasks",
    "hookimpl",
    "HyperResError",
    "LevelMismatchWarning",
    "LevelRangeError",
    "LevelRangeWarning",
    "list_weights",
    "load_model",
    "MissingWeightsError",
    "MixedBrightnessWarning",
    "MixedNoiseWarning",
    "PluginError",
    "PoissonGaussian",
    "read_image",
    "read_provenance",
    "read_tiff_metadata",
    "restore",
    "Restorer",
    "sample_image",
    "NoiseFitError",
    "ShapeError",
    "Task",
    "UnknownTaskError",
    "WeightsError",
    "write_image",
    "WrongTaskWeightsError",
]
