"""Shared fixtures: seed, device, small images, tiny models and weights files, the example plugin."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from napari_hyperres.core.models.hyperres import HyperResNet, architecture_for
from napari_hyperres.core.plugins import reset_plugin_manager
from napari_hyperres.core.weights import WeightsInfo, save_weights

ROOT = Path(__file__).resolve().parents[1]

# Networks compute in float32 unless a test asks for another precision (tests/test_precision.py):
# the same numbers on CI machines with and without native bfloat16, and tiles, crops and dask
# chunks that equal the whole image to float32 rounding. Set it to bfloat16 to run the suite so.
os.environ.setdefault("NAPARI_HYPERRES_PRECISION", "float32")
EXAMPLE_PLUGIN = ROOT / "examples" / "hyperres-poisson"


@pytest.fixture
def seed() -> int:
    """Seed torch and numpy's legacy global generator; returns the seed."""
    torch.manual_seed(0)
    np.random.seed(0)
    return 0


@pytest.fixture
def rng(seed) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture
def device() -> str:
    """Tests run on the CPU (GPU tests are marked ``gpu`` and ask for ``cuda`` themselves)."""
    return "cpu"


def smooth_image(height: int = 64, width: int = 64, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """A deterministic natural-ish ``(1, C, H, W)`` image in ``[0, 1]``: gradients, edges, texture."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    planes = []
    for c in range(channels):
        base = 0.5 + 0.3 * torch.sin(6.0 * x + 2.0 * c) * torch.cos(4.0 * y)
        square = ((x - 0.5).abs() < 0.2) & ((y - 0.4).abs() < 0.15)
        base = torch.where(square, 0.85 - 0.1 * c, base)
        planes.append(base + 0.03 * torch.randn(height, width, generator=g))
    return torch.stack(planes)[None].clamp(0.02, 0.98)


@pytest.fixture
def clean_gray() -> torch.Tensor:
    return smooth_image(64, 64, 1)


@pytest.fixture
def clean_rgb() -> torch.Tensor:
    return smooth_image(64, 64, 3)


def tiny_model(channels: int, seed: int = 0, preset: str = "tiny") -> HyperResNet:
    """An untrained ``tiny`` HyperResNet (8 features, 2 blocks; ``tiny+unshuffle``: FFDNet's head) in eval mode."""
    torch.manual_seed(seed)
    return HyperResNet(architecture_for(preset, channels)).eval()


def identity_model(channels: int) -> HyperResNet:
    """A tiny model whose output equals its input at every level (tail conv zeroed)."""
    model = tiny_model(channels)
    with torch.no_grad():
        model.shared.tail.weight.zero_()
        model.shared.tail.bias.zero_()
    return model


def strong_model(channels: int, gain: float = 4.0, preset: str = "tiny") -> HyperResNet:
    """A tiny model with enlarged weights, so each output pixel depends visibly on its surroundings."""
    model = tiny_model(channels, preset=preset)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(gain)
    return model


@pytest.fixture
def make_tiny_model() -> Callable[[int], HyperResNet]:
    return tiny_model


def write_tiny_weights(path: Path, task: str, channels: int, model: HyperResNet | None = None) -> Path:
    """Save a tiny model for ``task`` with :func:`save_weights`; returns the file."""
    model = model or tiny_model(channels)
    info = WeightsInfo(
        name=f"{task}.tiny", task=task, architecture=model.arch.to_dict(), preset="tiny", train_levels=[15.0, 50.0]
    )
    return save_weights(path, model.state_dict(), info)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> dict[str, Path]:
    """Tiny untrained weights files for the built-in tasks (denoise, sr: RGB; dejpeg: gray)."""
    folder = tmp_path_factory.mktemp("weights")
    return {
        "denoise": write_tiny_weights(folder / "denoise.tiny.safetensors", "denoise", 3),
        "sr": write_tiny_weights(folder / "sr.tiny.safetensors", "sr", 3),
        "dejpeg": write_tiny_weights(folder / "dejpeg.tiny.safetensors", "dejpeg", 1),
    }


@pytest.fixture(scope="session")
def poisson_plugin(tmp_path_factory) -> Path:
    """The example third-party package ``examples/hyperres-poisson``, really pip-installed.

    Installed with ``pip install --target`` into a temporary folder put on ``sys.path``
    (and ``PYTHONPATH`` for subprocesses) rather than into the venv itself, so that
    other test sessions and the developer's environment never see a stray ``poisson``
    task. Entry points are found through the installed ``*.dist-info`` exactly as for a
    venv install. Returns the folder.
    """
    base = tmp_path_factory.mktemp("plugin")
    source, target = base / "src", base / "site"
    shutil.copytree(EXAMPLE_PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
           "--disable-pip-version-check", "--target", str(target), str(source)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"pip install of {EXAMPLE_PLUGIN.name} failed:\n{done.stdout}\n{done.stderr}")
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    reset_plugin_manager()
    yield target
    sys.path.remove(str(target))
    for name in [m for m in sys.modules if m == "hyperres_poisson" or m.startswith("hyperres_poisson.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    reset_plugin_manager()


def subprocess_env(*extra_paths: Path) -> dict[str, str]:
    """Environment for ``python -m napari_hyperres`` subprocesses, with ``extra_paths`` importable."""
    env = dict(os.environ)
    paths = [str(p) for p in extra_paths] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


# --- HAIR, the level estimator and small image folders (trainer and blind-mode tests) ---------------
def tiny_hair_model(channels: int = 3, seed: int = 0):
    """An untrained ``tiny`` HAIR network (8 features, 2 blocks, 2 candidates) in eval mode."""
    from napari_hyperres.core.models.hair import HairNet, hair_architecture_for

    torch.manual_seed(seed)
    return HairNet(hair_architecture_for("tiny", channels)).eval()


def write_tiny_hair_weights(path: Path, channels: int = 3, model=None) -> Path:
    """Save a tiny HAIR model for the ``auto`` task (kind ``"hair"``) with :func:`save_weights`."""
    model = model or tiny_hair_model(channels)
    info = WeightsInfo(name="auto.tiny", task="auto", kind="hair", architecture=model.arch.to_dict(), preset="tiny", train_levels=[0.0])
    return save_weights(path, model.state_dict(), info)


@pytest.fixture(scope="session")
def tiny_hair_weights(tmp_path_factory) -> Path:
    """A tiny untrained HAIR weights file for the ``auto`` task."""
    return write_tiny_hair_weights(tmp_path_factory.mktemp("hair") / "auto.tiny.safetensors")


def write_image_folder(folder: Path, count: int = 3, height: int = 48, width: int = 56, gray: int = 1, seed: int = 0) -> Path:
    """Write ``count`` small uint8 PNGs (the last ``gray`` of them gray, the rest BGR) into ``folder``."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = smooth_image(height, width, 1 if i >= count - gray else 3, seed=seed + i)[0].numpy()
        array = np.round(image.transpose(1, 2, 0) * 255).astype(np.uint8)
        if not cv2.imwrite(str(folder / f"image{i:02d}.png"), array[..., ::-1] if array.shape[-1] == 3 else array[..., 0]):
            raise OSError(f"could not write {folder / f'image{i:02d}.png'}")
    return folder


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """A folder of three small synthetic PNGs (two colour, one gray), for training runs."""
    return write_image_folder(tmp_path_factory.mktemp("images") / "train")


@pytest.fixture(scope="session")
def val_folder(tmp_path_factory) -> Path:
    """A folder of two small synthetic PNGs (one colour, one gray), for evaluation."""
    return write_image_folder(tmp_path_factory.mktemp("images") / "val", count=2, height=40, width=44, seed=10)


@pytest.fixture(scope="module")
def one_thread():
    """Run torch on one CPU thread for a module, restored afterwards.

    Tiny networks gain nothing from more threads, and on a loaded machine two spinning
    OpenMP threads measured 100× slower (a 0.6-s estimator run took 60 s).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_folder(relative: str) -> Path:
    """``../shared/data/<relative>``, a folder the test needs.

    Skips when absent, except under ``HYPERRES_REQUIRE_DATA=1`` (set by ``.ci/run``, where the
    data is always beside the clone), which turns a missing folder into a failure.
    """
    root = SHARED_DATA / relative
    if not root.is_dir():
        if os.environ.get("HYPERRES_REQUIRE_DATA") == "1":
            pytest.fail(f"HYPERRES_REQUIRE_DATA=1 but {root} is missing")
        pytest.skip(f"data not found at {root}")
    return root


@pytest.fixture(scope="session")
def w2s_root() -> Path:
    """``../shared/data/microscopy/W2S`` (real widefield frames and their 400-frame averages)."""
    return shared_folder("microscopy/W2S/noisy").parent


@pytest.fixture(scope="session")
def set12_root() -> Path:
    """``../shared/data/val/Set12`` (the gray validation images)."""
    return shared_folder("val/Set12")
