"""The restoration engine: run a task's network on any array.

Owns :class:`Restorer` (levels resolved, intensity maps, planes, tiles without seams,
devices, HAIR's per-image choice, dask arrays) and the one-call :func:`restore`.

May import: :mod:`napari_hyperres.core`, :mod:`napari_hyperres.blind` (to resolve
``"auto"``). Never I/O, ui or cli (``tests/test_layers.py``).
"""

from .restorer import Restorer, restore

__all__ = ["Restorer", "restore"]
