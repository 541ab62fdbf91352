"""napari_hyperres.io.bioimageio and ``napari-hyperres export-bioimageio``: one level as a bioimage.io model."""

from __future__ import annotations

import io
import sys
import zipfile

import numpy as np
import pytest

pytest.importorskip("bioimageio.core")

from napari_hyperres.cli.main import main  # noqa: E402
from napari_hyperres.engine import Restorer  # noqa: E402
from napari_hyperres.errors import HyperResError, LevelRangeError, ShapeError  # noqa: E402
from napari_hyperres.io.bioimageio import export_bioimageio  # noqa: E402

EXPORTS = [("denoise", 25.5), ("dejpeg", 30.0)]  # a slider's level: 25.5 failed on its decimal point (a review)


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, object]:
    """Each task of :data:`EXPORTS` exported once with its shipped weights."""
    folder = tmp_path_factory.mktemp("bioimageio")
    return {task: export_bioimageio(task, level, folder / f"{task}.zip") for task, level in EXPORTS}


def _npy(package: zipfile.ZipFile, name: str) -> np.ndarray:
    return np.load(io.BytesIO(package.read(name)))


@pytest.mark.parametrize(("task", "level"), EXPORTS)
def test_package_passes_bioimageio_test_and_equals_restore(packages, task, level):
    from bioimageio.core import test_model

    summary = test_model(packages[task])
    assert summary.status == "passed", summary.format() if hasattr(summary, "format") else summary

    with zipfile.ZipFile(packages[task]) as package:
        names = set(package.namelist())
        assert {"rdf.yaml", "weights.pt", "test_input.npy", "test_output.npy", "cover.png", "README.md"} <= names
        x, y = _npy(package, "test_input.npy"), _npy(package, "test_output.npy")
        rdf = package.read("rdf.yaml").decode()
        readme = package.read("README.md").decode()
    channels = 3 if task == "denoise" else 1
    assert x.shape == y.shape == (1, channels, 256, 256) and x.dtype == y.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert "format_version: 0.5." in rdf and "2206.05970" in rdf and "license: BSD-3-Clause" in rdf
    assert f"level: {level}" in rdf and "steps:" in rdf and "validation:" in rdf
    assert "## Validation" in readme and "## Training" in readme

    plane = x[0].transpose(1, 2, 0)
    restored = Restorer(task, device="cpu", precision="float32").restore(plane[..., 0] if channels == 1 else plane, level, value_range=(0, 1))
    restored = restored.reshape(256, 256, channels).transpose(2, 0, 1)[None]
    assert np.abs(restored - y).max() < 1e-4
    assert np.abs(y - x).mean() > 1e-3  # it restored something


def test_model_names_keep_to_bioimageios_characters():
    from napari_hyperres.io.bioimageio import model_name

    assert model_name("denoise", 25.5) == "HyperRes denoise at level 25p5"
    assert model_name("my.deblur", 1.25) == "HyperRes my_deblur at level 1p25"
    assert model_name("dejpeg", 30.0) == "HyperRes dejpeg at level 30"


def test_refusals_leave_no_file(tmp_path):
    out = tmp_path / "model.zip"
    with pytest.raises(ShapeError, match="no level"):
        export_bioimageio("auto", 25, out)
    with pytest.raises(ShapeError, match="resamples"):
        export_bioimageio("sr", 2, out)
    with pytest.raises(ShapeError, match="--task denoise"):
        export_bioimageio("microscopy", 30, out)
    with pytest.raises(LevelRangeError, match="outside"):
        export_bioimageio("denoise", 300, out)
    with pytest.raises(ShapeError, match=".zip"):
        export_bioimageio("denoise", 25, tmp_path / "model.yaml")
    assert list(tmp_path.iterdir()) == []


def test_missing_bioimageio_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "bioimageio.spec", None)  # import fails as if not installed
    with pytest.raises(HyperResError, match=r"napari-hyperres\[bioimageio\]"):
        export_bioimageio("denoise", 25, tmp_path / "model.zip")
    assert list(tmp_path.iterdir()) == []


def test_cli(tmp_path, capsys):
    out = tmp_path / "dejpeg30.zip"
    assert main(["export-bioimageio", "--task", "dejpeg", "--level", "30", str(out)]) == 0
    assert zipfile.is_zipfile(out)
    assert main(["export-bioimageio", "--task", "dejpeg", "--level", "30", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export-bioimageio", "--task", "auto", "--level", "1", str(tmp_path / "auto.zip")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dejpeg30.zip"]
