"""The hook module named by the ``napari_hyperres`` entry point in ``pyproject.toml``."""

from __future__ import annotations

import napari_hyperres

from .task import POISSON


@napari_hyperres.hookimpl
def hyperres_tasks() -> list[napari_hyperres.Task]:
    """This package's tasks: ``poisson``."""
    return [POISSON]
