"""Fault injection: bad weights, broken plugins, bad files and arrays, signals during writes.

Every probe asserts the typed error (or exit 2 with one ``error:`` line and no traceback),
that the input is unchanged, and that nothing partial is left behind. BENCHMARKS.md
("Reliability") lists the catalogue.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import torch
from conftest import subprocess_env, write_image_folder
from safetensors.torch import save_file

from napari_hyperres import LevelRangeError, ShapeError, WeightsError, estimate_level
from napari_hyperres.cli.main import main
from napari_hyperres.core.atomic import remove_stale_temps
from napari_hyperres.core.weights import METADATA_KEY, WeightsInfo, load_model, save_weights
from napari_hyperres.engine import Restorer

ROOT = Path(__file__).resolve().parents[1]


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# --- weights -------------------------------------------------------------------------------------
def _tiny_state(channels: int = 3) -> tuple[dict, WeightsInfo]:
    from conftest import tiny_model

    model = tiny_model(channels)
    info = WeightsInfo(name="denoise.bad", task="denoise", architecture=model.arch.to_dict(), preset="tiny")
    return {k: v.clone() for k, v in model.state_dict().items()}, info


def test_weights_with_nan_are_refused(tmp_path):
    state, info = _tiny_state()
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first][...] = float("nan")
    path = tmp_path / "nan.safetensors"  # written past save_weights, which refuses NaN (test_trainer)
    save_file(state, path, metadata={METADATA_KEY: json.dumps(asdict(info))})
    with pytest.raises(WeightsError, match="NaN or infinite"):
        load_model(path)


def test_nan_weights_are_never_written(tmp_path):
    state, info = _tiny_state()
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first][0] = float("inf")
    with pytest.raises(WeightsError, match="NaN or infinite"):
        save_weights(tmp_path / "inf.safetensors", state, info)
    assert _files(tmp_path) == set()  # neither the file nor a temporary one


def test_weights_of_another_dtype_are_refused(tmp_path):
    state, info = _tiny_state()
    path = save_weights(tmp_path / "f64.safetensors", {k: v.double() for k, v in state.items()}, info)
    with pytest.raises(WeightsError, match="float64, expected torch.float32"):
        load_model(path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("blocks", 10**7, "outside"), ("features", -4, "outside"), ("blocks", 2.5, "whole number"), ("control_scale", 0.0, "positive number"),
     ("control_centre", float("inf"), "finite number"), ("control_centre", "0.1", "finite number")],
)
def test_hostile_architecture_is_refused_before_building(tmp_path, key, value, message):
    state, info = _tiny_state()
    info.architecture[key] = value
    path = save_weights(tmp_path / "arch.safetensors", state, info)
    with pytest.raises(WeightsError, match=message):
        load_model(path)


@pytest.mark.parametrize(
    ("kind", "architecture", "message"),
    [("hair", {"in_channels": 3, "features": 512, "candidates": 64, "stages": 16, "blocks": 32}, "4,923,200,387 parameters, more than"),
     ("hyperres", {"in_channels": 3, "features": 8, "blocks": 2, "head": "x"}, "does not fit model kind 'hyperres': expected a head")],
    ids=["each-size-in-bounds-but-19-GB", "bad-head"],
)
def test_an_architecture_too_big_or_invalid_is_one_weights_error(tmp_path, kind, architecture, message):
    state, info = _tiny_state()
    info.kind, info.architecture = kind, architecture
    path = save_weights(tmp_path / "arch.safetensors", state, info)
    with pytest.raises(WeightsError, match=message):
        load_model(path)


def test_a_baseline_of_trainer_compare_is_refused_with_what_to_pick(tmp_path):
    state, info = _tiny_state()
    info.kind = "adafm"
    path = save_weights(tmp_path / "adafm.safetensors", state, info)
    with pytest.raises(WeightsError, match="holds a 'adafm' model, expected 'hyperres'; pick weights made for it") as raised:
        Restorer("denoise", weights=str(path), device="cpu")
    assert "napari-hyperres weights" in str(raised.value) and "trainer compare" in str(raised.value)


class Payload:
    """Unpickling this runs ``touch MARKER``: a file that holds it must never be unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_is_never_unpickled_as_weights(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        load_model(path)
    assert not marker.exists()


def test_truncated_weights_name_the_file(tmp_path, tiny_weights):
    data = Path(tiny_weights["denoise"]).read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="cut.safetensors"):
        load_model(path)


# --- plugins (really installed packages) -------------------------------------------------------------
def _install_plugin(tmp_path: Path, name: str, hooks_source: str) -> Path:
    """pip-install a one-module package with a ``napari_hyperres`` entry point into ``tmp_path/site``."""
    source = tmp_path / name
    (source / name).mkdir(parents=True)
    (source / name / "__init__.py").write_text("")
    (source / name / "hooks.py").write_text(textwrap.dedent(hooks_source))
    (source / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name.replace('_', '-')}"
        version = "0.0.1"
        [project.entry-points."napari_hyperres"]
        {name} = "{name}.hooks"
        [tool.setuptools]
        packages = ["{name}"]
    """))
    target = tmp_path / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
           "--disable-pip-version-check", "--target", str(target), str(source)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return target


@pytest.mark.parametrize(
    ("name", "hooks", "says"),
    [
        ("broken_import", "raise ImportError('a dependency is missing')\n", "failed to import"),
        ("broken_hook", "import napari_hyperres\n@napari_hyperres.hookimpl\ndef hyperres_tasks():\n    raise RuntimeError('boom')\n", "hooks.py:4: boom"),  # where it raised
        ("garbage_hook", "import napari_hyperres\n@napari_hyperres.hookimpl\ndef hyperres_tasks():\n    return 'denoise'\n", "must return a list"),
        # reviewer: a misspelt hook name made pluggy's check_pending fail everything, built-ins and the widget included
        ("misspelt_hook", "import napari_hyperres\n@napari_hyperres.hookimpl\ndef hyperres_task():\n    return []\n",
         "unknown hook 'hyperres_task' (a misspelling?); the hooks are hyperres_tasks"),
        ("unmarked_hook", "def hyperres_tasks():\n    return []\n", "it has no hook: mark its function with @napari_hyperres.hookimpl"),
    ],
)
@pytest.mark.slow  # a subprocess or a process pool: seconds
def test_a_broken_installed_plugin_breaks_only_itself(tmp_path, tiny_weights, name, hooks, says):
    site = _install_plugin(tmp_path, name, hooks)
    env = subprocess_env(site)
    listed = subprocess.run([sys.executable, "-m", "napari_hyperres", "tasks"], capture_output=True, text=True, env=env, timeout=300)
    assert listed.returncode == 0, listed.stderr
    assert "denoise" in listed.stdout and "microscopy" in listed.stdout
    assert f"plugin {name!r} ({name.replace('_', '-')} 0.0.1)" in listed.stdout and says in listed.stdout
    image = tmp_path / "in.png"
    import cv2

    cv2.imwrite(str(image), np.full((32, 32), 100, np.uint8))
    restored = subprocess.run(
        [sys.executable, "-m", "napari_hyperres", "restore", str(image), str(tmp_path / "out.png"), "--task", "denoise",
         "--level", "25", "--weights", str(tiny_weights["denoise"]), "--quiet"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert restored.returncode == 0, restored.stderr
    assert (tmp_path / "out.png").is_file()
    strict = subprocess.run([sys.executable, "-m", "napari_hyperres", "tasks"], capture_output=True, text=True,
                            env={**env, "NAPARI_HYPERRES_STRICT_PLUGINS": "1"}, timeout=300)
    assert strict.returncode == 2 and strict.stderr.count("\n") == 1 and name in strict.stderr


# --- files and arrays ----------------------------------------------------------------------------------
def test_an_empty_file_is_one_line_and_a_folder_run_goes_on(tmp_path, tiny_weights, capsys):
    folder = write_image_folder(tmp_path / "in", count=2)
    (folder / "empty.png").write_bytes(b"")
    args = ["--task", "denoise", "--level", "25", "--weights", str(tiny_weights["denoise"]), "--quiet"]
    assert main(["restore", str(folder / "empty.png"), str(tmp_path / "x.png"), *args]) == 2
    assert "empty (0 bytes)" in _one_line_error(capsys)
    assert main(["restore", str(folder), str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert "empty.png" in err and "1 of 3 files failed" in err
    assert _files(tmp_path / "out") == {"image00.png", "image01.png"}


def test_estimate_on_a_tiny_image_is_an_error_not_nan(tmp_path, capsys):
    with pytest.raises(ShapeError, match="too small"):
        estimate_level(np.zeros((20, 20), np.uint8), "denoise")
    path = tmp_path / "tiny.png"
    import cv2

    cv2.imwrite(str(path), np.full((20, 20), 90, np.uint8))
    assert main(["restore", str(path), str(tmp_path / "o.png"), "--task", "denoise", "--level", "auto"]) == 2
    assert "too small" in _one_line_error(capsys)


def test_sr_auto_is_refused_by_the_cli_as_by_the_api(tmp_path, capsys):
    path = tmp_path / "low.png"
    import cv2

    cv2.imwrite(str(path), np.full((40, 40, 3), 90, np.uint8))
    with pytest.raises(LevelRangeError, match="cannot tell"):
        Restorer("sr", device="cpu").resolve_level(np.zeros((40, 40, 3), np.uint8), "auto")
    assert main(["restore", str(path), str(tmp_path / "o.png"), "--task", "sr", "--level", "auto"]) == 2
    assert "cannot tell" in _one_line_error(capsys)
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint32, np.int64, np.float16])
def test_odd_dtypes_come_back_in_their_range(dtype, tiny_weights):
    rng = np.random.default_rng(0)
    values = rng.integers(-50, 200, size=(24, 24)) if np.issubdtype(dtype, np.signedinteger) else rng.integers(10, 200, size=(24, 24))
    image = values.astype(dtype)
    original = image.copy()
    out = Restorer("denoise", weights=str(tiny_weights["denoise"]), device="cpu").restore(image, 25)
    assert out.dtype == dtype and np.array_equal(image, original)
    spread = float(values.max() - values.min())
    assert float(out.min()) >= float(values.min()) - spread and float(out.max()) <= float(values.max()) + spread


# --- signals and stale temporary files ------------------------------------------------------------------
def test_sigterm_during_a_streamed_write_leaves_nothing(tmp_path, tiny_weights):
    stack = np.random.default_rng(0).integers(0, 65535, size=(200, 96, 96), dtype=np.uint16)
    src, out = tmp_path / "stack.tif", tmp_path / "out"
    tifffile.imwrite(src, stack)
    out.mkdir()
    cmd = [sys.executable, "-m", "napari_hyperres", "restore", str(src), str(out / "r.tif"), "--task", "denoise", "--level", "25",
           "--weights", str(tiny_weights["denoise"]), "--memory-budget", "0.5", "--device", "cpu"]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env())
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".r.tif.") for p in out.iterdir()):
        time.sleep(0.05)
    assert any(p.name.startswith(".r.tif.") for p in out.iterdir()), "the streamed write never started"
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert _files(out) == set()  # no output, no temporary file
    assert tifffile.imread(src).shape == stack.shape


def test_a_temporary_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path, tiny_weights):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.tif.hyperres-{dead.pid}-abc123.tmp.tif"
    stale.write_bytes(b"half")
    live = tmp_path / f".out.tif.hyperres-{os.getpid()}-def456.tmp.tif"  # a write in progress in this process
    live.write_bytes(b"busy")
    assert remove_stale_temps(tmp_path / "out.tif") == [stale]
    assert not stale.exists() and live.exists()


# --- trainer ------------------------------------------------------------------------------------------
def _trainer(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainer", *args], capture_output=True, text=True, timeout=timeout,
                          env=subprocess_env(ROOT), cwd=ROOT)


@pytest.mark.slow  # a subprocess or a process pool: seconds
def test_trainer_refuses_a_malicious_checkpoint_in_one_safe_line(tmp_path):
    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"model": Payload(marker)}, run / "checkpoint.pt")
    data = write_image_folder(tmp_path / "data", count=2)
    done = _trainer("train", "--task", "denoise", "--data", str(data), "--preset", "tiny", "--steps", "2", "--batch", "2",
                    "--patch", "16", "--out", str(run), "--resume", "--no-progress")
    assert done.returncode == 2 and not marker.exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "checkpoint.pt" in lines[0] and "weights_only" not in lines[0] and "Traceback" not in done.stderr


@pytest.mark.slow  # a subprocess or a process pool: seconds
def test_trainer_resume_faults_are_one_line(tmp_path):
    data = write_image_folder(tmp_path / "data", count=2, height=12, width=12)  # smaller than half the patch
    run = tmp_path / "run"
    base = ["train", "--task", "denoise", "--data", str(data), "--steps", "2", "--batch", "2", "--patch", "32", "--out", str(run), "--no-progress"]
    missing = _trainer(*base, "--preset", "tiny", "--resume")
    assert missing.returncode == 2 and "no " in missing.stderr and "--resume" in missing.stderr
    trained = _trainer(*base, "--preset", "tiny")  # tiny images are mirror-padded up to the patch
    assert trained.returncode == 0, trained.stderr
    other = _trainer(*base, "--preset", "small", "--resume")
    assert other.returncode == 2 and "preset 'tiny' → 'small'" in other.stderr and len(other.stderr.strip().splitlines()) == 1
    (run / "checkpoint.pt").write_bytes((run / "checkpoint.pt").read_bytes()[:1000])
    cut = _trainer(*base, "--preset", "tiny", "--resume")
    assert cut.returncode == 2 and "checkpoint.pt" in cut.stderr and len(cut.stderr.strip().splitlines()) == 1


def mounted_tmpfs(mount: Path, options: str):
    """A tmpfs mounted on ``mount`` with ``options`` while the generator runs (needs root, as in
    CI's container); the test is skipped where it cannot be mounted."""
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({options}) here ({done.stderr.strip() or 'not root'})")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


@pytest.fixture
def full_disk(tmp_path):
    """A 256 KiB tmpfs."""
    yield from mounted_tmpfs(tmp_path / "small", "size=256k")


def test_a_full_disk_is_one_line_and_leaves_nothing(full_disk, tmp_path, tiny_weights, capsys):
    stack = np.random.default_rng(0).integers(0, 65535, size=(6, 160, 160), dtype=np.uint16)  # 300 KiB out > 256 KiB
    src = tmp_path / "stack.tif"
    tifffile.imwrite(src, stack)
    before = src.read_bytes()
    code = main(["restore", str(src), str(full_disk / "out.tif"), "--task", "denoise", "--level", "25",
                 "--weights", str(tiny_weights["denoise"]), "--device", "cpu", "--quiet"])
    assert code == 2
    assert f"no space left to write {full_disk / 'out.tif'} on its device" in _one_line_error(capsys)  # the file, named
    assert _files(full_disk) == set()  # neither a partial output nor a temporary file
    assert src.read_bytes() == before


@pytest.fixture
def read_only_folder(tmp_path):
    """A read-only tmpfs (root writes anywhere else)."""
    yield from mounted_tmpfs(tmp_path / "readonly", "ro,size=64k")


def test_an_unwritable_folder_is_named_not_a_temporary_file(read_only_folder, tmp_path, tiny_weights, capsys):
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), np.full((32, 32, 3), 100, np.uint8))
    code = main(["restore", str(src), str(read_only_folder / "out.png"), "--task", "denoise", "--level", "25",
                 "--weights", str(tiny_weights["denoise"]), "--device", "cpu", "--quiet"])
    error = _one_line_error(capsys)
    assert code == 2 and f"cannot write into {read_only_folder} (read-only file system)" in error
    assert "hyperres-" not in error and ".tmp" not in error


def test_an_output_under_a_file_says_the_file_is_not_a_folder(tmp_path, tiny_weights, capsys):
    src = tmp_path / "good.png"
    cv2.imwrite(str(src), np.full((32, 32, 3), 100, np.uint8))
    (tmp_path / "notes.txt").write_text("x")
    for out in (src / "o.png", tmp_path / "notes.txt" / "o.png"):  # under the input, and under another file
        code = main(["restore", str(src), str(out), "--task", "denoise", "--level", "25",
                     "--weights", str(tiny_weights["denoise"]), "--device", "cpu", "--quiet"])
        assert code == 2 and "is a file, not a folder" in _one_line_error(capsys)


@pytest.mark.slow  # a subprocess or a process pool: seconds
def test_trainer_names_an_empty_image_in_its_data(tmp_path):
    data = write_image_folder(tmp_path / "data", count=2)
    (data / "broken.png").write_bytes(b"")
    done = _trainer("train", "--task", "denoise", "--data", str(data), "--preset", "tiny", "--steps", "2", "--batch", "2",
                    "--patch", "16", "--out", str(tmp_path / "run"), "--no-progress")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "broken.png" in lines[0] and "empty" in lines[0]


@pytest.mark.slow  # a subprocess or a process pool: seconds
def test_trainer_names_a_float_image_outside_zero_to_one(tmp_path):
    data = write_image_folder(tmp_path / "data", count=2)
    tifffile.imwrite(data / "counts.tif", np.full((40, 40), 250.0, np.float32))  # 0–255 saved as float
    done = _trainer("train", "--task", "denoise", "--data", str(data), "--preset", "tiny", "--steps", "2", "--batch", "2",
                    "--patch", "16", "--out", str(tmp_path / "run"), "--no-progress")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "counts.tif" in lines[0] and "[0, 1]" in lines[0] and "250" in lines[0]


@pytest.mark.parametrize("error", [MemoryError(), torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")])
def test_out_of_memory_is_one_line_with_what_to_do(tmp_path, tiny_weights, capsys, monkeypatch, error):
    def exhausted(*args, **kwargs):
        raise error

    monkeypatch.setattr(Restorer, "restore_with_report", exhausted)
    src = tmp_path / "in.png"
    assert cv2.imwrite(str(src), np.zeros((32, 32), np.uint8))
    code = main(["restore", str(src), str(tmp_path / "out.png"), "--task", "denoise", "--level", "25",
                 "--weights", str(tiny_weights["denoise"]), "--device", "cpu", "--quiet"])
    assert code == 2
    line = _one_line_error(capsys)
    assert "out of memory" in line and "--tile 512" in line
    assert _files(tmp_path) == {"in.png"}
