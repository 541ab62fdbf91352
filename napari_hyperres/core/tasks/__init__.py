"""Restoration tasks. Built-ins are registered through the same hook as third parties."""

from __future__ import annotations

from ...hookspecs import hookimpl
from .auto import AUTO
from .base import FileLevel, Task, divide_by_255
from .dejpeg import DEJPEG
from .denoise import DENOISE
from .microscopy import MICROSCOPY
from .sr import SR

__all__ = ["Task", "FileLevel", "divide_by_255", "DENOISE", "DEJPEG", "SR", "AUTO", "MICROSCOPY"]


@hookimpl
def hyperres_tasks() -> list[Task]:
    """The built-in tasks: ``denoise``, ``microscopy``, ``dejpeg``, ``sr``, ``auto``."""
    return [DENOISE, MICROSCOPY, DEJPEG, SR, AUTO]
