"""The widget's Qt-free logic (napari_hyperres.ui.preview) and the sample data, without a viewer."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import napari_hyperres.blind.estimate as estimate_module
from napari_hyperres import LevelRangeError, ShapeError, WeightsError
from napari_hyperres.blind.estimate import estimate_level as real_estimate_level
from napari_hyperres.core.models.estimator import EstimatorArchitecture, LevelEstimator
from napari_hyperres.core.models.hair import HairNet, hair_architecture_for
from napari_hyperres.core.models.hyperres import HyperResNet, architecture_for
from napari_hyperres.core.tasks import AUTO, DEJPEG, DENOISE, SR
from napari_hyperres.core.weights import WeightsInfo, save_weights
from napari_hyperres.engine import Restorer
from napari_hyperres.ui.geometry import output_geometry, plane_index, sweep_levels
from napari_hyperres.ui.labels import (
    describe_error,
    describe_estimate_error,
    describe_selection,
    format_level,
    output_metadata,
    output_name,
    preview_name,
    status_text,
    sweep_name,
)
from napari_hyperres.ui.preview import (
    LatestOnly,
    Request,
    Restored,
    RestorerCache,
    can_estimate,
    estimate_request,
    estimator_weights,
    quality_from_file,
    restore_plane,
    restore_steps,
    sweep_steps,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_denoise(tmp_path_factory) -> str:
    torch.manual_seed(0)
    model = HyperResNet(architecture_for("tiny", 3))
    path = tmp_path_factory.mktemp("weights") / "denoise.tiny.safetensors"
    save_weights(path, model.state_dict(), WeightsInfo(name="denoise.tiny", task="denoise", architecture=model.arch.to_dict(), preset="tiny"))
    return str(path)


# --- LatestOnly ---------------------------------------------------------------------------
def test_latest_only_runs_first_and_keeps_only_newest_pending():
    queue: LatestOnly[int] = LatestOnly()
    assert queue.submit(1) is True
    assert queue.submit(2) is False
    assert queue.submit(3) is False
    assert queue.pending == 3
    assert queue.finish() == 3 and queue.running
    assert queue.finish() is None and not queue.running
    assert queue.submit(4) is True


def test_latest_only_clear_drops_pending():
    queue: LatestOnly[int] = LatestOnly()
    queue.submit(1)
    queue.submit(2)
    queue.clear()
    assert queue.finish() is None and not queue.running


# --- names and geometry -----------------------------------------------------------------------
def test_names():
    assert format_level(25.0) == "25" and format_level(2.3000000001) == "2.3"
    assert output_name("cells", "denoise", 25) == "cells [denoise 25]"
    assert preview_name("cells", "sr", 2.5) == "cells [sr 2.5 preview]"
    assert sweep_name("cells", "denoise", [0.0, 50.0, 100.0]) == "cells [denoise sweep 0–100]"
    # image-conditioned tasks have no level
    assert output_name("cells", "auto", None) == "cells [auto]"
    assert preview_name("cells", "auto", None) == "cells [auto preview]"
    assert _request(np.zeros((4, 4)), task=AUTO, level=0.0).shown_level is None
    assert _request(np.zeros((4, 4)), level=25.0).shown_level == 25.0


def test_output_metadata_of_an_image_conditioned_task():
    meta = output_metadata("x", AUTO, 0.0, "auto.tiny", np.array([[0.25, 0.75]], np.float32))["hyperres"]
    assert meta["level"] is None and meta["task"] == "auto"
    assert meta["selection"] == [[0.25, 0.75]] and isinstance(meta["selection"][0][0], float)
    assert "selection" not in output_metadata("x", DENOISE, 25, "w")["hyperres"]
    assert output_metadata("x", DENOISE, 25, "w")["hyperres"]["level"] == 25.0


def test_describe_selection():
    assert describe_selection([[0.2, 0.7, 0.1], [0.1, 0.5, 0.4], [0.6, 0.3, 0.1]]) == (
        "mixture: candidate 2 dominates (60%) in 2 of 3 generated parts"
    )
    assert describe_selection(np.array([[0.48, 0.52]])) == "mixture: candidate 2 dominates (52%) in 1 of 1 generated part"
    # a tie in part count goes to the candidate with the larger mean share
    assert describe_selection([[0.9, 0.1], [0.4, 0.6]]).startswith("mixture: candidate 1 dominates (90%)")
    with pytest.raises(ShapeError):
        describe_selection(np.zeros(3))


def test_plane_index_rounds_and_clips():
    assert plane_index([3.0, 10.2, 5.0], (5, 32, 32), rgb=False) == (3,)
    assert plane_index([7.9, 1.0, 0.0], (5, 32, 32), rgb=False) == (4,)
    assert plane_index([-2.0, 0.0, 0.0], (5, 32, 32), rgb=False) == (0,)
    assert plane_index([1.0, 2.0, 0.0, 0.0], (3, 4, 16, 16, 3), rgb=True) == (1, 2)
    assert plane_index([0.0, 0.0], (16, 16), rgb=False) == ()
    assert plane_index([0.0, 0.0], (16, 16, 3), rgb=True) == ()
    with pytest.raises(ShapeError):
        plane_index([0.0], (16, 3), rgb=True)


def test_output_geometry_identity_when_same_size():
    assert output_geometry((2.0, 0.5, 0.5), (1.0, 3.0, 4.0), (10, 12), (10, 12)) == ((2.0, 0.5, 0.5), (1.0, 3.0, 4.0))


def test_output_geometry_overlays_upscaled_output():
    scale, translate = output_geometry((2.0, 0.5, 0.5), (1.0, 3.0, 4.0), (10, 12), (20, 36))
    assert scale == pytest.approx((2.0, 0.25, 0.5 / 3))
    # the outer pixel edges of input and output coincide in world coordinates
    for axis, t_in, n_in, n_out in ((1, 3.0, 10, 20), (2, 4.0, 12, 36)):
        in_edges = (t_in - 0.5 * 0.5, t_in + (n_in - 0.5) * 0.5)
        out_edges = (translate[axis] - 0.5 * scale[axis], translate[axis] + (n_out - 0.5) * scale[axis])
        assert out_edges == pytest.approx(in_edges)


# --- sweeps and errors ------------------------------------------------------------------------
def test_sweep_levels_default_range_and_sub_range():
    assert sweep_levels(DENOISE, 5) == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert sweep_levels(SR, 3, 2.0, 4.0) == [2.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("n", "low", "high", "error"),
    [(1, None, None, ValueError), (3, -5.0, 50.0, LevelRangeError), (3, 50.0, 20.0, LevelRangeError), (3, 0.0, 101.0, LevelRangeError)],
)
def test_sweep_levels_rejects(n, low, high, error):
    with pytest.raises(error):
        sweep_levels(DENOISE, n, low, high)


def test_describe_error_adds_the_training_hint_for_missing_weights(tmp_path, tiny_denoise):
    from napari_hyperres.core.weights import load_model
    from napari_hyperres.errors import MissingWeightsError

    message = describe_error(MissingWeightsError("no weights file or shipped weights named 'denoise.lite'"), DENOISE)
    assert message.startswith("no weights yet for 'denoise': train with `python -m trainer train --task denoise")  # first: the status line is short
    assert message.count("python -m trainer train") == 1
    with pytest.raises(MissingWeightsError) as missing:  # the engine's own hint is not said twice
        Restorer(dataclasses.replace(DENOISE, weights=str(tmp_path / "x.safetensors")), device="cpu")
    again = describe_error(missing.value, DENOISE)
    assert again.count("python -m trainer train") == 1 and "x.safetensors" in again, again
    with pytest.raises(MissingWeightsError) as none_yet:  # a task with no weights at all (a plugin's, untrained)
        Restorer(dataclasses.replace(DENOISE, weights=None), device="cpu")
    untrained = describe_error(none_yet.value, DENOISE)
    assert untrained.count("python -m trainer train") == 1, untrained  # a review found it said twice
    assert describe_error(LevelRangeError("level 500 is outside 0–100"), DENOISE) == "level 500 is outside 0–100"
    with pytest.raises(WeightsError) as wrong:
        load_model(str(tiny_denoise), task="deblur")
    other = describe_error(wrong.value, DENOISE)
    assert "no weights yet" not in other and "choose a file exported for 'deblur' under 'weights'" in other  # reviewer: it contradicted the file just chosen
    # a damaged file is no missing one: re-export it, not "train" (an audit of the string tests found it told to train)
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError) as broken:
        load_model(str(damaged))
    assert "no weights yet" not in describe_error(broken.value, DENOISE) and "re-download or re-export" in describe_error(broken.value, DENOISE)
    assert describe_error(RuntimeError("boom")) == "RuntimeError: boom"


# --- restorer cache and worker functions --------------------------------------------------------
def test_restorer_cache_reuses_and_releases(tiny_denoise):
    cache = RestorerCache()
    first = cache.get(DENOISE, "cpu", tiny_denoise)
    assert cache.get(DENOISE, "cpu", tiny_denoise) is first
    assert cache.get(DENOISE, "auto", tiny_denoise) is not first
    first.network_for(25)
    cache.release()
    assert len(cache) == 0 and not first._generated


def test_restorer_cache_propagates_weights_error():
    cache = RestorerCache()
    with pytest.raises(WeightsError):
        cache.get(DENOISE, "cpu", "/nonexistent/denoise.safetensors")


def _request(data, level=25.0, index=(), rgb=False, weights=None, task=DENOISE, value_range=None) -> Request:
    return Request(task=task, level=level, device="cpu", weights=weights, data=data, rgb=rgb, index=index, source="x", value_range=value_range)


@pytest.fixture(scope="module")
def tiny_auto(tmp_path_factory) -> str:
    torch.manual_seed(0)
    model = HairNet(hair_architecture_for("tiny", 3))
    info = WeightsInfo(name="auto.tiny", task="auto", kind="hair", architecture=model.arch.to_dict(), preset="tiny", train_levels=[0.0])
    return str(save_weights(tmp_path_factory.mktemp("weights") / "auto.tiny.safetensors", model.state_dict(), info))


def test_image_conditioned_workers_return_each_planes_selection(tiny_auto):
    rng = np.random.default_rng(1)
    stack = rng.integers(0, 255, size=(2, 3, 40, 36), dtype=np.uint8)
    stack[1, 2] = 255 - stack[1, 2] // 4  # a plane unlike the others: its own mixture
    original = stack.copy()
    cache = RestorerCache()
    engine = Restorer(AUTO, weights=tiny_auto, device="cpu")
    expected = engine.restore(stack, 0.0)

    plane, _seconds, selection = restore_plane(cache, _request(stack, 0.0, index=(1, 2), weights=tiny_auto, task=AUTO))
    np.testing.assert_array_equal(plane, expected[1, 2])
    blocks, n = engine.model.arch.generated_blocks, engine.model.arch.candidates
    assert selection.shape == (blocks, n)
    np.testing.assert_allclose(selection.sum(axis=-1), 1.0, atol=1e-5)

    steps = restore_steps(cache, _request(stack, 0.0, weights=tiny_auto, task=AUTO))
    progress = []
    with pytest.raises(StopIteration) as stop:
        while True:
            progress.append(next(steps))
    result = stop.value.value
    np.testing.assert_array_equal(result.data, expected)
    assert result.selection.shape == (2, 3, blocks, n)
    np.testing.assert_allclose(result.selection[1, 2], selection, atol=1e-6)
    assert progress[-1] == (6, 6) and [done for done, _ in progress] == sorted(done for done, _ in progress)
    np.testing.assert_array_equal(stack, original)


def test_auto_button_availability(tmp_path, monkeypatch):
    assert estimator_weights(DENOISE, tmp_path / "missing.safetensors") is None
    model = LevelEstimator(EstimatorArchitecture(in_channels=3, features=8))
    info = WeightsInfo(name="denoise.estimator", task="denoise", kind="estimator", architecture=model.arch.to_dict(), preset="tiny")
    path = save_weights(tmp_path / "denoise.estimator.safetensors", model.state_dict(), info)
    assert estimator_weights(DENOISE, path) == str(path)
    assert can_estimate(DENOISE, path) and not can_estimate(AUTO, path)
    assert quality_from_file(DEJPEG, "/data/photo.JPG") and not quality_from_file(DEJPEG, "/data/photo.png")
    assert not quality_from_file(DENOISE, "/data/photo.jpg") and not quality_from_file(DEJPEG, None)
    assert can_estimate(DEJPEG, tmp_path / "missing.safetensors", "photo.jpeg")

    image = np.random.default_rng(0).integers(0, 255, size=(2, 64, 64), dtype=np.uint8)
    calls = []

    real_crop_readings = estimate_module.crop_readings

    def crop_readings(plane, task, **options):
        calls.append((plane, task, options))
        return real_crop_readings(plane, task, **options)

    monkeypatch.setattr(estimate_module, "crop_readings", crop_readings)
    choice = estimate_request(_request(image, index=(1,)), weights=str(path))
    [(plane, task, options)] = calls
    assert choice.method == "estimator" and choice.estimate == real_estimate_level(image[1], DENOISE, weights=str(path), rgb=False)
    np.testing.assert_array_equal(plane, image[1])
    assert task is DENOISE and options == {"rgb": False, "weights": str(path), "device": "cpu", "value_range": None}


def test_estimate_request_reads_jpeg_quality_from_the_file(tmp_path, monkeypatch):
    cv2 = pytest.importorskip("cv2")
    image = np.random.default_rng(0).integers(0, 255, size=(48, 64, 3), dtype=np.uint8)
    path = tmp_path / "photo.jpg"
    assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 30])
    request = _request(image, 50.0, rgb=True, task=DEJPEG)
    # the estimator only checks that the file was not saved again after a stronger compression
    monkeypatch.setattr(estimate_module, "estimate_level", lambda *a, **k: 24.0)
    choice = estimate_request(request, path=str(path))
    assert (choice.level, choice.method) == (30.0, "quantisation tables")
    monkeypatch.setattr(estimate_module, "estimate_level", lambda *a, **k: 12.0)  # 18 below the tables: saved again
    choice = estimate_request(request, path=str(path))
    assert choice.level == 12.0 and "saved again at 30" in choice.method

    def no_estimator(*args, **kwargs):
        raise WeightsError("no estimator")

    monkeypatch.setattr(estimate_module, "estimate_level", no_estimator)  # the file alone is enough
    assert estimate_request(request, path=str(path)).method == "quantisation tables"


def test_describe_estimate_error_says_what_to_do():
    from napari_hyperres.errors import MissingWeightsError

    message = describe_estimate_error(MissingWeightsError("no weights file named 'denoise.estimator'"), DENOISE)
    assert "python -m trainer train-estimator --task denoise" in message and "slider" in message
    damaged = describe_estimate_error(WeightsError("x.safetensors: damaged metadata; re-export the weights"), DENOISE)
    assert "train-estimator" not in damaged and "re-export" in damaged
    assert "RuntimeError: boom" in describe_estimate_error(RuntimeError("boom"), DENOISE)
    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.errors import NoiseFitError, ShapeError

    unfit = describe_estimate_error(NoiseFitError("read noise hides the shot noise from the fit"), get_task("microscopy"))
    assert "slider" not in unfit and "camera field" in unfit and "'denoise'" in unfit  # no level helps where the fit fails
    refused = describe_estimate_error(ShapeError("the camera offset given (100) lies above"), get_task("microscopy"))
    assert "could not fit" not in refused  # the camera's own refusal is said as it is


def test_worker_functions_match_the_engine(tiny_denoise):
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 65535, size=(3, 24, 20), dtype=np.uint16)
    original = stack.copy()
    cache = RestorerCache()
    expected = Restorer(DENOISE, weights=tiny_denoise, device="cpu").restore(stack, 25.0)
    from napari_hyperres.engine import whole_value_range

    whole = whole_value_range(stack)  # what the widget passes: the whole layer's intensity map

    plane, seconds, selection = restore_plane(cache, _request(stack, index=(1,), weights=tiny_denoise, value_range=whole))
    assert plane.dtype == np.uint16 and seconds >= 0 and selection is None
    np.testing.assert_array_equal(plane, expected[1])

    steps = restore_steps(cache, _request(stack, weights=tiny_denoise))
    progress = []
    with pytest.raises(StopIteration) as stop:
        while True:
            progress.append(next(steps))
    assert isinstance(stop.value.value, Restored) and stop.value.value.selection is None
    np.testing.assert_array_equal(stop.value.value.data, expected)
    assert progress[-1] == (3, 3)

    sweep = sweep_steps(cache, _request(stack, index=(2,), weights=tiny_denoise), [0.0, 50.0])
    with pytest.raises(StopIteration) as stop:
        while True:
            next(sweep)
    assert stop.value.value.shape == (2, 24, 20)
    np.testing.assert_array_equal(stack, original)


def test_a_plane_with_the_whole_value_range_equals_that_plane_of_the_whole():
    from napari_hyperres.core.weights import PRETRAINED_DIR
    from napari_hyperres.engine import whole_value_range

    weights = str(PRETRAINED_DIR / "denoise.lite.safetensors")  # trained: not near the identity
    rng = np.random.default_rng(1)
    stack = np.stack([rng.random((24, 20)) * 5, rng.random((24, 20)) * 900 + 100]).astype(np.float32)
    cache = RestorerCache()
    whole = Restorer(DENOISE, weights=weights, device="cpu").restore(stack, 25.0)
    value_range = whole_value_range(stack)
    plane = restore_plane(cache, _request(stack, index=(0,), weights=weights, value_range=value_range)).data
    np.testing.assert_allclose(plane, whole[0], rtol=0, atol=1e-4)
    own = restore_plane(cache, _request(stack, index=(0,), weights=weights)).data  # the plane's own intensity map
    assert np.abs(own - whole[0]).max() > 0.05
    assert whole_value_range(stack.astype(np.uint8)) == (0.0, 255.0)  # 8-bit: its dtype's range
    counts = stack.astype(np.uint16)  # other integers: their own range (percentiles), like floats
    assert whole_value_range(counts) == tuple(float(v) for v in np.percentile(counts, (0.1, 99.9)))
    dask = pytest.importorskip("dask.array")
    lazy = dask.from_array(stack, chunks=(1, 24, 20))
    assert whole_value_range(lazy) == whole_value_range(stack)  # the lazy path's rule: up to 8 sampled planes (here both)


# --- sample data ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("function", "shape", "dtype", "task", "level"),
    [
        ("noisy_nuclei", (256, 256), np.uint8, "denoise", 25.0),
        ("coffee_jpeg", (400, 600, 3), np.uint8, "dejpeg", 10.0),
        ("astronaut_lowres", (256, 256, 3), np.uint8, "sr", 2.0),
        ("noisy_stack", (8, 128, 128), np.uint16, "denoise", 15.0),
        ("fluorescence_stack", (10, 160, 160), np.uint16, "microscopy", 56.4),
    ],
)
def test_sample_data(function, shape, dtype, task, level):
    from napari_hyperres.ui import sample_data as _sample_data

    [(data, kwargs, kind)] = getattr(_sample_data, function)()
    assert kind == "image" and data.shape == shape and data.dtype == dtype
    assert kwargs["metadata"]["degradation"]["task"] == task
    assert kwargs["metadata"]["degradation"]["level"] == level
    assert kwargs["rgb"] == (len(shape) == 3 and shape[-1] == 3)


def test_sample_files_are_small():
    from napari_hyperres.ui.sample_data import SAMPLES_DIR

    assert sum(p.stat().st_size for p in SAMPLES_DIR.iterdir()) < 1_000_000


def test_manifest_is_valid_and_imports():
    npe2 = pytest.importorskip("npe2")
    manifest = npe2.PluginManifest.from_file(ROOT / "napari_hyperres" / "napari.yaml")
    assert manifest.name == "napari-hyperres"
    manifest.validate_imports()
    assert {w.display_name for w in manifest.contributions.widgets} == {"Restore"}
    assert len(manifest.contributions.sample_data) == 5
    top = ROOT / "napari.yaml"
    if top.is_symlink():
        assert top.resolve() == (ROOT / "napari_hyperres" / "napari.yaml").resolve()


def test_logic_modules_import_no_napari_or_qt():
    code = (
        "import sys, napari_hyperres.ui.preview, napari_hyperres.ui.sample_data\n"
        "bad = [m for m in ('napari', 'qtpy', 'PySide6', 'PyQt5', 'PyQt6', 'magicgui') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_fluorescence_sample_is_raw_counts_whose_fit_finds_its_camera():
    """The microscopy sample: uint16 counts with an offset and a known gain (2.2 counts per photo-electron)."""
    from napari_hyperres.blind.estimate import estimate_photon_noise
    from napari_hyperres.ui.sample_data import fluorescence_stack

    [(data, kwargs, _)] = fluorescence_stack()
    assert 80 <= data.min() and data.max() < 400  # a sliver of the uint16 range, above the camera offset
    photons, noise = estimate_photon_noise(data)
    assert noise.gain == pytest.approx(2.2, rel=0.15)
    assert photons == pytest.approx(kwargs["metadata"]["degradation"]["level"], rel=0.15)


def test_a_long_status_is_cut_at_a_word_not_in_the_middle_of_one():
    """The status line showed 120 characters: "...got an RGB image of shape (512, 640, 3): sp" (a review)."""
    message = "task 'microscopy' restores one fluorescence channel at a time " * 8 + "split the channels first"
    shown = status_text(message)
    assert len(shown) <= 320 and shown.endswith(" (…)") and not shown.endswith("…")  # "…" marks a job in progress
    assert shown[: -len(" (…)")] == message[: len(shown) - len(" (…)")] and message[len(shown) - len(" (…)")] == " "
    assert status_text("short   and\nwrapped") == "short and wrapped"
