"""Sample data contributions: four small degraded images with their known levels.

The files live in ``napari_hyperres/_samples/`` (package data, so they install with
the wheel) and are built by ``sample_data/build_samples.py``. Each layer carries
``metadata["degradation"] = {"task", "level", "unit", ...}``; the Restore widget
presets its task and level from it. Importing this module imports neither napari nor Qt.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

SAMPLES_DIR = Path(__file__).parents[1] / "_samples"


@lru_cache(maxsize=1)
def _manifest() -> dict[str, dict[str, Any]]:
    path = SAMPLES_DIR / "samples.json"
    entries = json.loads(path.read_text(encoding="utf-8"))["samples"]
    return {entry["key"]: entry for entry in entries}


def _read(path: Path) -> np.ndarray:
    """A sample file as the Open dialog would read it (:func:`napari_hyperres.io.files.read_image`)."""
    from ..io.files import read_image

    try:
        return read_image(path)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"cannot read sample image {path}; rebuild it with `python sample_data/build_samples.py`") from exc


def sample_image(key: str) -> np.ndarray:
    """The pixels of sample ``key`` (``"noisy_nuclei"``, ``"coffee_jpeg"``, ``"astronaut_lowres"``,
    ``"noisy_stack"``, ``"fluorescence_stack"``), as the file holds them (uint8 / uint16)."""
    if key not in _manifest():
        raise KeyError(f"no sample image {key!r}; the samples are {', '.join(_manifest())}")
    return _read(SAMPLES_DIR / _manifest()[key]["file"])


def load_sample(key: str) -> list[tuple[np.ndarray, dict[str, Any], str]]:
    """The sample ``key`` as napari LayerData: ``[(data, kwargs, "image")]``."""
    entry = _manifest()[key]
    data = sample_image(key)
    degradation = {k: entry[k] for k in ("task", "level", "unit", "source", "how")}
    kwargs: dict[str, Any] = {
        "name": entry["display_name"],
        "metadata": {"degradation": degradation, "sample_file": entry["file"]},
        "rgb": data.ndim == 3 and data.shape[-1] in (3, 4) and "axes" not in entry,
    }
    if "scale" in entry:
        kwargs["scale"] = tuple(entry["scale"])
    return [(data, kwargs, "image")]


def noisy_nuclei() -> list[tuple[np.ndarray, dict[str, Any], str]]:
    """Synthetic fluorescence-like nuclei with Gaussian noise σ = 25 (8-bit scale)."""
    return load_sample("noisy_nuclei")


def coffee_jpeg() -> list[tuple[np.ndarray, dict[str, Any], str]]:
    """scikit-image's coffee photo saved as a JPEG at quality 10 (OpenCV/libjpeg)."""
    return load_sample("coffee_jpeg")


def astronaut_lowres() -> list[tuple[np.ndarray, dict[str, Any], str]]:
    """scikit-image's astronaut downscaled ×2 (antialiased bicubic)."""
    return load_sample("astronaut_lowres")


def noisy_stack() -> list[tuple[np.ndarray, dict[str, Any], str]]:
    """A synthetic 8 × 128 × 128 uint16 nuclei stack with Gaussian noise σ = 15 (8-bit scale)."""
    return load_sample("noisy_stack")


def fluorescence_stack() -> list[tuple[np.ndarray, dict[str, Any], str]]:
    """A synthetic 10 × 160 × 160 stack in raw uint16 camera counts with Poisson–Gaussian noise (the microscopy task)."""
    return load_sample("fluorescence_stack")


__all__ = ["SAMPLES_DIR", "load_sample", "noisy_nuclei", "coffee_jpeg", "astronaut_lowres", "noisy_stack", "fluorescence_stack"]
