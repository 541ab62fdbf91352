"""The shipped weights: they load by default, and they restore (better than the degraded input).

Images come from scikit-image's bundled data (a test dependency), degraded with each
task's own evaluation protocol. The margins are far below what the trained weights
reach (BENCHMARKS.md) and far above what untrained weights give, so the tests fail
when a file is missing, damaged, or not really trained.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import quality_pins
import torch

from napari_hyperres.blind.mixtures import read_selections
from napari_hyperres.cli.main import main
from napari_hyperres.core.degradations import bicubic_resize
from napari_hyperres.core.plugins import get_task
from napari_hyperres.engine import Restorer
from napari_hyperres.io.files import read_image

data = pytest.importorskip("skimage.data")

pytestmark = pytest.mark.usefixtures("one_thread")

LEVEL_TASKS = ["denoise", "dejpeg", "sr"]
SAMPLES = Path(__file__).resolve().parents[1] / "napari_hyperres" / "_samples"


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    return float(10 * np.log10(peak**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def y_channel(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([65.481, 128.553, 24.966]) / 255.0 + 16.0


@pytest.mark.parametrize("task", LEVEL_TASKS)
def test_shipped_weights_load_by_default(task):
    restorer = Restorer(task, device="cpu")
    assert restorer.info.name == get_task(task).weights and restorer.info.kind == "hyperres"
    assert restorer.info.preset == "lite" and restorer.info.steps > 0 and restorer.info.training_data


def test_shipped_denoise_removes_noise():
    clean = data.camera()[128:384, 128:384]
    noisy = clean / 255.0 + 25 / 255.0 * np.random.default_rng(0).standard_normal(clean.shape)
    restored = Restorer("denoise", device="cpu").restore(noisy, 25, value_range=(0, 1))
    assert psnr(restored, clean / 255.0, 1.0) > psnr(noisy, clean / 255.0, 1.0) + 5.0


def test_shipped_dejpeg_removes_artifacts():
    clean = cv2.cvtColor(data.astronaut()[:256, :256], cv2.COLOR_RGB2GRAY)
    ok, encoded = cv2.imencode(".jpg", clean, [cv2.IMWRITE_JPEG_QUALITY, 10])
    degraded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    restored = Restorer("dejpeg", device="cpu").restore(degraded, 10)
    assert psnr(restored, clean) > psnr(degraded, clean) + 0.5


def test_shipped_sr_beats_bicubic():
    clean = data.astronaut()[:256, :256]
    x = torch.from_numpy(clean.transpose(2, 0, 1).astype(np.float32) / 255)[None]
    low = bicubic_resize(x, (128, 128))
    bicubic = bicubic_resize(low, (256, 256))[0].numpy().transpose(1, 2, 0) * 255
    low_u8 = np.clip(np.rint(low[0].numpy().transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
    restored = Restorer("sr", device="cpu").restore(low_u8, 2)
    assert restored.shape == clean.shape
    crop = (slice(2, -2), slice(2, -2))
    assert psnr(y_channel(restored)[crop], y_channel(clean)[crop]) > psnr(y_channel(bicubic)[crop], y_channel(clean)[crop]) + 0.3


def test_shipped_auto_restores_without_being_told_what_happened():
    """``auto.lite`` (HAIR): noise and JPEG on one picture, each restored with no level given."""
    clean = data.camera()[128:384, 128:384]
    noisy = clean / 255.0 + 25 / 255.0 * np.random.default_rng(0).standard_normal(clean.shape)
    ok, encoded = cv2.imencode(".jpg", clean, [cv2.IMWRITE_JPEG_QUALITY, 15])
    jpeg = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED) / 255.0
    restorer = Restorer("auto", device="cpu")
    assert restorer.info.name == get_task("auto").weights and restorer.info.kind == "hair"
    selections = []
    for degraded, margin in ((noisy, 5.0), (jpeg, 0.5)):
        restored, report = restorer.restore_with_report(degraded, "auto", value_range=(0, 1))
        assert psnr(restored, clean / 255.0, 1.0) > psnr(degraded, clean / 255.0, 1.0) + margin
        selections.append(report.selections)
    assert not np.allclose(selections[0], selections[1], atol=1e-3)  # the two images chose different mixtures
    noise_reading, jpeg_reading = (read_selections(s, restorer.info.extra)[0] for s in selections)
    assert noise_reading.kind == "noise" and noise_reading.confidence > 0.8
    assert jpeg_reading.kind == "jpeg" and jpeg_reading.describe().startswith("looks like JPEG compression, ")


def test_every_shipped_weights_file_has_a_quality_pin():
    shipped = {p.name.removesuffix(".safetensors") for p in (SAMPLES.parent / "pretrained").glob("*.safetensors")}
    pinned = {name.split(":")[0] for name in quality_pins.CASES}
    assert pinned == shipped, "add a case to tests/quality_pins.py for each shipped file, then --write"
    assert set(json.loads(quality_pins.PINS.read_text())) == set(quality_pins.CASES)


@pytest.mark.parametrize("case", list(quality_pins.CASES))
def test_shipped_quality_is_pinned(case):
    """Each shipped file on its fixed small case, within ±0.01 dB (estimators: ±0.5 %) of the pin."""
    (kind, pinned), = json.loads(quality_pins.PINS.read_text())[case].items()
    measured_kind, value = quality_pins.CASES[case]()
    assert measured_kind == kind
    tolerance = quality_pins.TOLERANCE[kind] * (abs(pinned) if kind == "estimate" else 1.0)
    assert abs(value - pinned) <= tolerance, (
        f"{case}: {value:.3f} against the pinned {pinned:.3f} ({kind}); if the weights or the engine changed on "
        "purpose, run `python tests/quality_pins.py --write` and say why in the commit"
    )


def test_readme_restore_command(tmp_path):
    """The README's first command: restore the noisy sample with the shipped denoise weights."""
    out = tmp_path / "restored.png"
    assert main(["restore", str(SAMPLES / "noisy_nuclei.png"), str(out), "--task", "denoise", "--level", "25", "--quiet"]) == 0
    noisy, restored = read_image(SAMPLES / "noisy_nuclei.png"), read_image(out)
    assert restored.shape == noisy.shape and restored.dtype == noisy.dtype
    # the noise is gone: neighbouring pixels differ much less than in the noisy sample
    def roughness(a):
        return np.abs(np.diff(a.astype(np.float64), axis=-1)).mean()
    assert roughness(restored) < 0.5 * roughness(noisy)
