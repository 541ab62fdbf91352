"""The README's Python section, run as written (a newcomer's first snippet must not need editing)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def python_section_block(heading: str = "## Python") -> str:
    """The first python block under the README's ``heading`` (a line starting with it)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(f"\n{heading}") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, f"README.md has no python block under {heading!r}"
    return match.group(1)


def test_the_microscopy_block_runs_as_written(one_thread):
    """A newcomer review: it used ``counts`` without saying where it came from (NameError)."""
    names: dict = {}
    exec(compile(python_section_block("## Microscopy"), "README.md: ## Microscopy", "exec"), names)
    assert names["clean"].shape == names["counts"].shape and names["clean"].dtype == np.uint16
    assert names["finer"].shape == names["counts"].shape and 10 < names["photons"] < 1000


def test_the_python_section_runs_as_written(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)  # it writes restored.png where it runs
    names: dict = {}
    exec(compile(python_section_block(), "README.md: ## Python", "exec"), names)
    noisy, clean = names["noisy"], names["clean"]
    assert clean.dtype == noisy.dtype == np.uint8 and clean.shape == noisy.shape
    assert names["x3"].shape[:2] == tuple(3 * n for n in names["low_res"].shape[:2])
    assert names["lazy"].compute().shape == noisy.shape and names["shadows"].shape == noisy.shape
    assert abs(names["sigma"] - 25) < 3  # the comment says ≈ 25
    assert (tmp_path / "restored.png").is_file()


def test_the_files_block_runs_as_written(tmp_path, monkeypatch, one_thread):
    """A batch review: the README's read_image → restore → write_image lost the axes and pixel size
    (axes QQQYX, size 1) and recorded nothing of how the file was made."""
    import tifffile

    monkeypatch.chdir(tmp_path)
    names: dict = {}
    exec(compile(python_section_block("### Files from a script"), "README.md: ### Files from a script", "exec"), names)
    with tifffile.TiffFile(tmp_path / "cells_restored.tif") as tif:
        assert tif.is_imagej and tif.series[0].axes == "ZYX" and tif.imagej_metadata["spacing"] == 0.3
    assert names["made"]["task"] == "microscopy" and names["made"]["software"].startswith("napari-hyperres")
