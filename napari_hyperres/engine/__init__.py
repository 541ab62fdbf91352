"""The restoration engine: run a task's network on any array.

Owns :class:`Restorer` (:mod:`.restorer`: levels resolved, intensity maps, planes, devices,
HAIR's per-image choice), one plane's colour handling (:mod:`.planes`), tiles without seams
(:mod:`.tiling`), dask arrays (:mod:`.lazy`), what a restore reports (:mod:`.report`) and
the one-call :func:`restore`.

May import: :mod:`napari_hyperres.core`, :mod:`napari_hyperres.blind` (to resolve
``"auto"``). Never I/O, ui or cli (``tests/test_layers.py``).
"""

from .lazy import is_dask_array, stack_sample, whole_camera, whole_noise, whole_value_range
from .report import PlaneChoice, Report
from .restorer import Progress, Restorer, output_shape, restore
from .tiling import DEFAULT_TILE, tile_boxes

__all__ = [
    "DEFAULT_TILE",
    "PlaneChoice",
    "Progress",
    "Report",
    "Restorer",
    "stack_sample",
    "is_dask_array",
    "output_shape",
    "restore",
    "tile_boxes",
    "whole_camera",
    "whole_noise",
    "whole_value_range",
]
