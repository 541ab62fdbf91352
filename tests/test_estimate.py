"""napari_hyperres.blind: the level estimators (estimate), resolve_level (levels) and the crops
they look through, through the engine and the CLI's estimate command."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import smooth_image

import napari_hyperres.blind.estimate as estimate_module
from napari_hyperres.blind.estimate import estimate_level
from napari_hyperres.blind.levels import LevelChoice, resolve_level
from napari_hyperres.cli.main import main as cli_main
from napari_hyperres.core.models.estimator import EstimatorArchitecture, LevelEstimator
from napari_hyperres.core.plugins import get_task
from napari_hyperres.core.tasks import DENOISE
from napari_hyperres.core.weights import PRETRAINED_DIR, WeightsInfo, save_weights
from napari_hyperres.engine import Restorer
from napari_hyperres.errors import LevelRangeError, LevelRangeWarning, ShapeError, WeightsError
from napari_hyperres.io.files import read_image

pytestmark = pytest.mark.usefixtures("one_thread")


def _photo(height: int = 40, width: int = 48, channels: int = 3, seed: int = 0) -> np.ndarray:
    """A uint8 ``(H, W, 3)`` or ``(H, W)`` test picture."""
    image = smooth_image(height, width, channels, seed=seed)[0].numpy().transpose(1, 2, 0)
    image = np.round(image * 255).astype(np.uint8)
    return image if channels == 3 else image[..., 0]



# --- level estimator -------------------------------------------------------------------------------
def _estimator_file(path: Path, task: str = "denoise", channels: int = 3, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = LevelEstimator(EstimatorArchitecture(in_channels=channels, features=8))
    info = WeightsInfo(name=f"{task}.estimator", task=task, kind="estimator", architecture=model.arch.to_dict(), preset="estimator")
    return save_weights(path, model.state_dict(), info)


@pytest.fixture(scope="module")
def untrained_estimator(tmp_path_factory) -> Path:
    return _estimator_file(tmp_path_factory.mktemp("estimator") / "denoise.estimator.safetensors")


@pytest.fixture(scope="module")
def trained_estimator(tmp_path_factory, one_thread) -> Path:
    """A tiny denoise estimator trained for 100 steps on synthetic pictures (about 2 s on a CPU).

    Measured with seeds 0–13: every one gave estimates increasing with σ (0 < 25 < 75).
    """
    from conftest import write_image_folder

    from trainer.estimator import EstimatorConfig, train_estimator

    base = tmp_path_factory.mktemp("estimator_run")
    data = write_image_folder(base / "data", count=3, height=48, width=56)
    cfg = EstimatorConfig(task="denoise", data=[str(data)], out=str(base / "denoise.estimator.safetensors"), steps=100, batch=8, patch=32, lr=2e-3, features=8, device="cpu")
    return train_estimator(cfg, progress=False)


def test_estimator_shape(seed):
    model = LevelEstimator(EstimatorArchitecture(in_channels=3, features=8)).eval()
    with torch.no_grad():
        out = model(torch.rand(5, 3, 32, 40))
    assert out.shape == (5,) and out.dtype == torch.float32 and torch.isfinite(out).all()


@pytest.mark.parametrize(
    "image",
    [
        np.random.default_rng(0).integers(0, 255, (48, 52, 3), dtype=np.uint8),
        np.random.default_rng(1).integers(0, 65535, (2, 40, 36), dtype=np.uint16),  # a stack: first plane
        np.random.default_rng(2).random((300, 280)).astype(np.float32) * 4000,  # several crops, any float range
    ],
    ids=["rgb-uint8", "gray-stack-uint16", "float-large"],
)
def test_estimate_is_as_found_and_the_level_used_is_in_range(untrained_estimator, image):
    level = estimate_level(image, "denoise", weights=str(untrained_estimator), device="cpu")
    assert isinstance(level, float) and np.isfinite(level)  # an untrained estimator's reading, unclipped
    choice = resolve_level("denoise", "auto", image, weights=str(untrained_estimator), device="cpu")
    low, high = DENOISE.level_range
    assert choice.estimate == level and low <= choice.level <= high
    assert choice.outside_range == (not low <= level <= high)


def _noisy(sigma: float, seed: int = 1) -> np.ndarray:
    clean = smooth_image(96, 96, 3, seed=5)[0].numpy().transpose(1, 2, 0)
    noise = np.random.default_rng(seed).normal(0, sigma / 255, clean.shape)
    return np.clip(clean + noise, 0, 1).astype(np.float32)


def test_trained_estimator_is_monotonic(trained_estimator):
    estimates = [estimate_level(_noisy(sigma), "denoise", weights=str(trained_estimator), device="cpu") for sigma in (0, 25, 75)]
    assert estimates[0] < estimates[1] < estimates[2], estimates
    assert estimates[2] - estimates[0] > 3, estimates


SHIPPED_DENOISE_ESTIMATOR = PRETRAINED_DIR / "denoise.estimator.safetensors"


def test_shipped_denoise_estimator_is_monotonic_and_close():
    estimates = [estimate_level(_noisy(sigma), "denoise", device="cpu") for sigma in (5, 25, 50)]
    assert estimates[0] < estimates[1] < estimates[2], estimates
    # σ 25 on a picture with texture that reads about σ 9 alone (σ 5 reads 9.2): 26.2 measured; σ 50 clipped at
    # 0 and 1 (np.clip above: less than 50 left): 47.9. An audit found the test accepting 14–38 at σ 25
    assert abs(estimates[1] - 26.2) < 1.0 and abs(estimates[2] - 47.9) < 2.0, estimates


def test_restore_auto_level_uses_the_estimator(untrained_estimator, tiny_weights, monkeypatch):
    monkeypatch.setattr(estimate_module, "estimator_weights_name", lambda task, dtype=None, path=None: str(untrained_estimator))
    image = _photo(48, 52)
    restorer = Restorer("denoise", weights=str(tiny_weights["denoise"]), device="cpu")
    level = resolve_level("denoise", "auto", image, weights=str(untrained_estimator), device="cpu").level
    assert np.array_equal(restorer.restore(image, "auto"), restorer.restore(image, level))
    assert np.array_equal(restorer.restore(image, " AUTO "), restorer.restore(image, level))


def test_cli_restore_denoise_level_auto_uses_the_estimator(tmp_path, untrained_estimator, tiny_weights, monkeypatch, capsys):
    monkeypatch.setattr(estimate_module, "estimator_weights_name", lambda task, dtype=None, path=None: str(untrained_estimator))
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    assert cv2.imwrite(str(src), _photo(48, 52)[..., ::-1])
    weights = str(tiny_weights["denoise"])
    code = cli_main(["restore", str(src), str(dst), "--task", "denoise", "--level", "auto", "--weights", weights, "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0, err
    image = read_image(src)
    choice = resolve_level("denoise", "auto", image, weights=str(untrained_estimator), device="cpu")
    assert f"in.png: {choice.describe(DENOISE)}" in err  # an estimate outside the range says so
    assert np.array_equal(read_image(dst), Restorer("denoise", weights=weights, device="cpu").restore(image, choice.level))


def test_restore_auto_level_without_estimator_says_how_to_train(tiny_weights, monkeypatch):
    monkeypatch.setattr(estimate_module, "estimator_weights_name", lambda task, dtype=None, path=None: "no-such.estimator")
    restorer = Restorer("denoise", weights=str(tiny_weights["denoise"]), device="cpu")
    with pytest.raises(WeightsError, match="train-estimator --task denoise"):
        restorer.restore(_photo(), "auto")


def test_estimator_weights_of_another_task_are_refused(tmp_path):
    path = _estimator_file(tmp_path / "dejpeg.estimator.safetensors", task="dejpeg", channels=1)
    with pytest.raises(WeightsError, match="weights are for task 'dejpeg', not 'denoise'; choose a file exported for 'denoise'"):
        estimate_level(_photo(), "denoise", weights=str(path), device="cpu")  # not "has no estimator: train one"


def test_resolve_level_reads_files_and_reports_estimates_outside_the_range(tmp_path, untrained_estimator):
    jpg = tmp_path / "q.jpg"
    assert cv2.imwrite(str(jpg), _photo(), [cv2.IMWRITE_JPEG_QUALITY, 40])
    assert resolve_level("dejpeg", "auto", path=jpg) == LevelChoice(40.0, "quantisation tables", estimate=40.0)
    low_jpg = tmp_path / "low.jpg"
    assert cv2.imwrite(str(low_jpg), _photo(), [cv2.IMWRITE_JPEG_QUALITY, 2])
    low = resolve_level("dejpeg", "auto", path=low_jpg)
    assert low.estimate < 5 and low.level == 5.0 and low.outside_range  # reported, not clipped silently
    assert "outside the task's range 5–95: restored at 5" in low.describe(get_task("dejpeg"))
    photo = _photo()
    found = resolve_level("denoise", "auto", photo, weights=str(untrained_estimator), device="cpu")
    assert found.method == "estimator"
    assert found.estimate == estimate_level(photo, "denoise", weights=str(untrained_estimator), device="cpu")  # as found
    assert resolve_level("denoise", 25) == LevelChoice(25.0, "given")
    with pytest.raises(LevelRangeError):
        resolve_level("denoise", 500)
    with pytest.raises(ShapeError, match="needs the image"):
        resolve_level("denoise", "auto")


def test_engine_restores_an_estimate_outside_the_range_at_its_end_and_warns(monkeypatch):
    monkeypatch.setattr(estimate_module, "crop_readings", lambda image, task, **options: np.array([140.0]))
    restorer = Restorer("denoise", device="cpu")
    with pytest.warns(LevelRangeWarning, match="estimated σ \\(8-bit\\) 140 .*restored at 100"):
        assert restorer.resolve_level(_photo(), "auto") == 100.0



def test_cli_estimate_dejpeg_prints_quality(tmp_path, capsys):
    path = tmp_path / "photo.jpg"
    assert cv2.imwrite(str(path), _photo(), [cv2.IMWRITE_JPEG_QUALITY, 63])
    assert cli_main(["estimate", str(path), "--task", "dejpeg"]) == 0
    assert capsys.readouterr().out == f"{path}\t63\tquantisation tables\n"


def test_cli_estimate_with_estimator_weights(tmp_path, untrained_estimator, capsys):
    path = tmp_path / "photo.png"
    assert cv2.imwrite(str(path), _photo())
    assert cli_main(["estimate", str(path), "--task", "denoise", "--weights", str(untrained_estimator), "--device", "cpu"]) == 0
    name, level, method = capsys.readouterr().out.strip().split("\t")
    assert name == str(path) and np.isfinite(float(level))
    assert method == "estimator" if 0 <= float(level) <= 100 else method == "estimator (outside the task's range 0–100)"


def test_cli_estimate_auto_is_refused(tmp_path, capsys):
    path = tmp_path / "photo.png"
    assert cv2.imwrite(str(path), _photo())
    assert cli_main(["estimate", str(path), "--task", "auto"]) == 2
    assert "no level to estimate" in capsys.readouterr().err


def test_cli_estimate_sr_says_by_how_much_an_image_was_already_enlarged(tmp_path, capsys):
    """README: `estimate --task sr` answers how much a bicubic-enlarged image was enlarged (restore refuses `--level auto` for sr)."""
    low = cv2.resize(_photo(), None, fx=1 / 3, fy=1 / 3, interpolation=cv2.INTER_AREA)
    path = tmp_path / "enlarged.png"
    assert cv2.imwrite(str(path), cv2.resize(low, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC))
    assert cli_main(["estimate", str(path), "--task", "sr", "--device", "cpu"]) == 0  # the shipped sr.estimator
    name, level, method = capsys.readouterr().out.strip().split("\t")
    assert name == str(path) and method.startswith("estimator") and np.isfinite(float(level))


def test_cli_restore_auto_refuses_a_level_it_would_ignore(tmp_path, capsys):
    path = tmp_path / "photo.png"
    assert cv2.imwrite(str(path), _photo())
    for level in ("0.7", "auto"):
        assert cli_main(["restore", str(path), str(tmp_path / "out.png"), "--task", "auto", "--level", level]) == 2
        err = capsys.readouterr().err
        assert "takes no level; leave the level out" in err and "enlarge" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_cli_restore_dejpeg_level_auto_reads_the_tables(tmp_path, tiny_weights, capsys):
    src, dst = tmp_path / "in.jpg", tmp_path / "out.png"
    assert cv2.imwrite(str(src), _photo(40, 48, channels=1), [cv2.IMWRITE_JPEG_QUALITY, 27])
    code = cli_main(["restore", str(src), str(dst), "--task", "dejpeg", "--level", "auto", "--weights", str(tiny_weights["dejpeg"]), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "in.jpg: estimated JPEG quality 27 (quantisation tables)" in err
    expected = Restorer("dejpeg", weights=str(tiny_weights["dejpeg"]), device="cpu").restore(read_image(src), 27)
    assert np.array_equal(read_image(dst), expected)



def test_sr_level_auto_is_refused_with_a_hint(tiny_weights):
    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.core.tasks import SR
    from napari_hyperres.errors import LevelRangeError
    from napari_hyperres.ui.preview import can_estimate

    restorer = Restorer("sr", weights=str(tiny_weights["sr"]), device="cpu")
    with pytest.raises(LevelRangeError, match="how much to enlarge"):
        restorer.restore(np.zeros((16, 16), np.uint8), "auto")
    assert not can_estimate(SR)
    assert not SR.level_from_image and get_task("denoise").level_from_image and not get_task("auto").level_from_image



# --- crops the estimator looks through ---------------------------------------------------------------
@pytest.mark.parametrize("shape", [(256, 256, 1), (301, 517, 3), (70, 64, 1)])
def test_grid_crops_lie_on_the_jpeg_block_grid(shape):
    from napari_hyperres.blind.crops import JPEG_BLOCK, grid_crops

    plane = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    crops = grid_crops(plane, 64, 64)
    corners = {tuple(int(v) for v in np.argwhere(plane[..., 0] == crop[0, 0, 0])[0]) for crop in crops}
    assert len(corners) == len(crops) and all(y % JPEG_BLOCK == 0 and x % JPEG_BLOCK == 0 for y, x in corners)
    assert all(y + 64 <= shape[0] and x + 64 <= shape[1] for y, x in corners)


def test_a_cropped_jpeg_is_read_on_its_own_block_grid():
    """A JPEG cut 5 rows and 3 columns off its corner (a crop saved as PNG) has its 8×8 grid there:
    crops snapped to the image corner read quality 100.8 for a q20 photo (a review); on the grid, 20."""
    from skimage import data

    from napari_hyperres.blind.crops import block_grid_phase

    photo = np.ascontiguousarray(data.chelsea()[:, :, ::-1])
    ok, encoded = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 20])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
    cropped = np.ascontiguousarray(decoded[5:, 3:])
    assert block_grid_phase(decoded) == (0, 0) and block_grid_phase(cropped) == (3, 5)
    noise = np.random.default_rng(0).normal(128, 10, (256, 256)).astype(np.float32)
    assert block_grid_phase(noise) == (0, 0)  # no grid: the corner, as before
    assert abs(estimate_level(cropped, "dejpeg", device="cpu") - 20) < 4
    assert abs(estimate_level(np.ascontiguousarray(decoded), "dejpeg", device="cpu") - 20) < 4


def test_estimate_level_looks_through_crops_of_the_training_patch(tmp_path, monkeypatch):
    """The pooled statistics depend on the crop size: crops are the recorded training patch (64 if none)."""
    model = LevelEstimator(EstimatorArchitecture(in_channels=3, features=8))
    sizes = []
    forward = LevelEstimator.forward
    monkeypatch.setattr(LevelEstimator, "forward", lambda self, x: sizes.append(tuple(x.shape[-2:])) or forward(self, x))
    image = np.random.default_rng(0).integers(0, 255, (200, 180, 3), dtype=np.uint8)
    for extra, expected in (({"patch": 48}, (48, 48)), ({}, (64, 64))):
        info = WeightsInfo(name="denoise.estimator", task="denoise", kind="estimator", architecture=model.arch.to_dict(), preset="estimator", extra=extra)
        path = save_weights(tmp_path / f"est{len(extra)}.safetensors", model.state_dict(), info)
        sizes.clear()
        estimate_level(image, "denoise", weights=str(path), device="cpu")
        assert sizes == [expected]


def test_an_8bit_image_is_read_by_the_estimator_trained_on_8bit_files():
    """Noise in an 8-bit file is rounded and clipped: the general estimator reads σ 60 low, the 8-bit one does not."""
    from conftest import smooth_image

    from napari_hyperres.blind.estimate import estimator_weights_name
    from napari_hyperres.core.tasks import DENOISE

    assert estimator_weights_name(DENOISE, np.uint8) == "denoise.estimator-8bit"
    assert estimator_weights_name(DENOISE, np.float32) == estimator_weights_name(DENOISE, np.uint16) == "denoise.estimator"
    clean = smooth_image(192, 192, 1)[0, 0].numpy() * 255
    noisy = np.clip(np.round(clean + 60 * np.random.default_rng(0).standard_normal(clean.shape)), 0, 255).astype(np.uint8)
    eight_bit = estimate_level(noisy, "denoise")
    general = estimate_level(noisy, "denoise", weights="denoise.estimator")
    assert abs(eight_bit - 60) < abs(general - 60) and abs(eight_bit - 60) < 4


def test_only_the_first_plane_of_a_stack_becomes_float(monkeypatch):
    """The level of a stack is read from its first plane (mapped by the whole stack's range), and only
    that plane is converted: a 4 GB uint16 stack must not need 8 GB more for ``--level auto``."""
    from napari_hyperres.core.intensity import IntensityMap

    converted, original = [], IntensityMap.to_unit
    monkeypatch.setattr(IntensityMap, "to_unit", lambda self, a: converted.append(a.shape) or original(self, a))
    stack = np.random.default_rng(0).integers(100, 4000, size=(5, 40, 48), dtype=np.uint16)
    plane = estimate_module.prepare_plane(stack, DENOISE)
    assert converted == [(40, 48)] and plane.shape[:2] == (40, 48)
    whole = original(estimate_module.intensity_map_for(stack), stack)[0]
    np.testing.assert_array_equal(plane[..., 0], whole)


@pytest.mark.parametrize("image, words", [
    (np.zeros((64, 64), np.uint8), "the image is flat (every pixel is 0)"),
    (np.full((64, 64, 3), 255, np.uint8), "the image is flat (every pixel is 255, 255, 255)"),
    (np.full((64, 64, 3), (200, 0, 0), np.uint8), "the image is flat (every pixel is 200, 0, 0)"),  # pure red read σ 5.7
    (np.concatenate([np.full((1, 64, 64), 700), np.arange(64 * 64).reshape(1, 64, 64)]).astype(np.uint16),
     "the first plane of this stack is flat (every pixel is 700)"),
])
def test_auto_on_a_flat_image_says_there_is_nothing_to_read(image, words):
    """An all-black PNG read σ 10.7 and was restored at it (a QA review): a flat image holds no level."""
    for task in ("denoise", "dejpeg", "sr"):
        with pytest.raises(ShapeError, match="give the level as a number") as raised:
            resolve_level(task, "auto", image, restoring=False)
        assert words in str(raised.value)


def test_uneven_readings_are_those_that_disagree_by_ratio_and_by_amount():
    from napari_hyperres.blind.estimate import uneven_readings

    assert uneven_readings(np.linspace(24, 27, 50), DENOISE) is None  # white noise: crops agree
    assert uneven_readings(np.linspace(0.3, 0.9, 50), DENOISE) is None  # a clean photo: 3× apart, but by under σ 1
    low, high = uneven_readings(np.r_[np.full(30, 3.0), np.full(20, 28.0)], DENOISE)
    assert (low, high) == (3.0, 28.0)


def test_auto_says_when_parts_of_a_photo_read_different_noise(capsys):
    """Reviewer: noise only in a photo's dark parts was read as one σ without a word. The shipped
    estimator's crops now say so (scikit-image's astronaut; σ 30 below luma 90, σ 3 above);
    the same photo with σ 25 everywhere gives no caution."""
    from skimage import data

    photo = data.astronaut().astype(np.float64)
    rng = np.random.default_rng(0)
    dark = photo.mean(axis=-1, keepdims=True) < 90
    dark_noisy = np.clip(np.round(photo + rng.normal(size=photo.shape) * np.where(dark, 30.0, 3.0)), 0, 255).astype(np.uint8)
    even_noisy = np.clip(np.round(photo + rng.normal(size=photo.shape) * 25.0), 0, 255).astype(np.uint8)
    choice = resolve_level("denoise", "auto", dark_noisy)
    assert choice.uneven is not None and choice.uneven[1] > 2 * choice.uneven[0]
    assert "parts of the image read σ (8-bit)" in choice.describe(DENOISE) and "give the level as a number" in choice.describe(DENOISE)
    even = resolve_level("denoise", "auto", even_noisy)
    assert even.uneven is None and abs(even.level - 25) < 2.5 and "parts of the image" not in even.describe(DENOISE)
    # a review: a clean photo's crops "read σ (8-bit) -1.14 to 7.87"; and sr's caution spoke of noise
    from napari_hyperres.core.tasks import SR

    assert "read σ (8-bit) 0 to 7.87" in LevelChoice(3.0, "estimator", estimate=3.0, uneven=(-1.14, 7.87)).describe(DENOISE)
    sr_caution = LevelChoice(2.0, "estimator", estimate=2.0, uneven=(1.2, 3.4)).describe(SR)
    assert "crops disagree" in sr_caution and "noise" not in sr_caution and "brightness" not in sr_caution


def test_a_noisy_photo_saved_as_jpeg_is_read_by_the_estimator_for_jpeg_files(tmp_path, capsys):
    """A review: a noisy photo saved by a camera at quality 90 (4:2:0) read σ 1.97 where its PNG read
    8.02: JPEG removes most of the noise's fine grain. An image read from a .jpg file is now read by
    ``denoise.estimator-jpeg`` (trained on noisy crops saved as JPEG files), arrays and other files as before."""
    from skimage import data

    from napari_hyperres.blind.estimate import estimator_weights_name
    from napari_hyperres.cli.main import main
    from napari_hyperres.core.tasks import DENOISE

    assert estimator_weights_name(DENOISE, np.uint8, tmp_path / "x.JPG") == "denoise.estimator-jpeg"
    assert estimator_weights_name(DENOISE, np.uint8, tmp_path / "x.png") == estimator_weights_name(DENOISE, np.uint8) == "denoise.estimator-8bit"
    photo = data.astronaut().astype(np.float64)
    noisy = np.clip(np.round(photo + 15.0 * np.random.default_rng(0).standard_normal(photo.shape)), 0, 255).astype(np.uint8)
    path = tmp_path / "camera.jpg"
    assert cv2.imwrite(str(path), noisy[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    saved = cv2.imread(str(path))[..., ::-1]
    as_file = resolve_level("denoise", "auto", saved, path=path)
    as_array = resolve_level("denoise", "auto", saved)
    assert as_file.method == "estimator for JPEG files" and as_array.method == "estimator"
    assert abs(as_file.level - 15) < 0.15 * 15 and abs(as_file.level - 15) < abs(as_array.level - 15)
    assert main(["estimate", str(path), "--task", "denoise"]) == 0
    assert "estimator for JPEG files" in capsys.readouterr().out


def test_a_jpeg_too_small_for_the_estimator_is_restored_at_its_files_quality(tmp_path):
    """A review: a 20×20 JPEG was refused as "too small to estimate" although its tables record
    quality 30; only the check for a re-save needs the estimator, and it is skipped there."""
    path = tmp_path / "tiny.jpg"
    assert cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (20, 20, 3), dtype=np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 30])
    image = cv2.imread(str(path))[..., ::-1]
    choice = resolve_level("dejpeg", "auto", image, path=path)
    assert choice.level == 30.0 and "quantisation tables" in choice.method and choice.note is None


def test_auto_cautions_on_a_jpeg_saved_above_where_dejpeg_helps(tmp_path):
    """A review: a camera's quality-90 file through dejpeg auto lost 0.7 dB with only an
    "extrapolated" note. Measured on 30 photos: −0.15 dB at 90, −0.77 at 95 (GAIN_UP_TO = 85)."""
    from skimage import data

    photo = data.astronaut()
    for quality, cautioned in ((85, False), (92, True)):
        path = tmp_path / f"q{quality}.jpg"
        assert cv2.imwrite(str(path), photo[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        choice = resolve_level("dejpeg", "auto", cv2.imread(str(path))[..., ::-1], path=path)
        assert choice.level == quality and (choice.note is not None) == cautioned
        assert ("keep the file as it is" in choice.describe(get_task("dejpeg"))) == cautioned


def test_a_plugin_task_names_its_own_estimator_for_auto(tmp_path):
    """Reviewer: an estimator trained for a plugin task could only be given with --weights to
    ``estimate``; Auto and ``--level auto`` looked for a shipped file in napari_hyperres only."""
    import dataclasses

    from napari_hyperres.ui.preview import can_estimate, estimator_weights

    own = _estimator_file(tmp_path / "deblur.estimator.safetensors")  # recorded as a denoise estimator: the same net
    task = dataclasses.replace(DENOISE, estimator=str(own))
    photo = _photo(64, 64)
    assert estimate_level(photo, task) == estimate_level(photo, DENOISE, weights=str(own)) != estimate_level(photo, DENOISE)
    assert resolve_level(task, "auto", photo).estimate == estimate_level(photo, task)
    assert estimator_weights(task) == str(own) and can_estimate(task)
    missing = dataclasses.replace(DENOISE, estimator=str(tmp_path / "missing.safetensors"))
    assert not can_estimate(missing)
    with pytest.raises(WeightsError, match=r"missing.safetensors.*--data FOLDER --out FILE.*Task\(estimator=FILE\)"):
        estimate_level(photo, missing)


def test_dejpeg_auto_on_a_file_that_reads_above_where_dejpeg_helps_says_so(tmp_path):
    """A review: a noisy PNG read as JPEG quality 87 was restored at it with no word that dejpeg helps little
    there (a JPEG file of that quality gets the caution from its tables)."""
    clean = smooth_image(192, 192, 3)[0].numpy().transpose(1, 2, 0) * 255
    noisy = np.clip(np.round(clean + 10 * np.random.default_rng(0).standard_normal(clean.shape)), 0, 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "noisy.png"), noisy)
    choice = resolve_level("dejpeg", "auto", read_image(tmp_path / "noisy.png"), path=tmp_path / "noisy.png")
    assert choice.level > 85 and "this PNG file reads as if saved at JPEG quality" in choice.describe(get_task("dejpeg"))
    ok, encoded = cv2.imencode(".jpg", clean.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 20])
    blocky = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    assert resolve_level("dejpeg", "auto", blocky).note is None  # saved for the web: worth restoring, no caution
