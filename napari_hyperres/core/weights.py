"""Weights files: tensors plus metadata in one safetensors file (no pickle, safe to load).

A weights file ``NAME.safetensors`` (``denoise.lite``, ``dejpeg.paper``) stores the
network's tensors and, under the metadata key ``"hyperres"``, a JSON
:class:`WeightsInfo`: task, model kind, architecture, training levels,
normalisation, training data and validation table. Shipped files live in
``napari_hyperres/pretrained/``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from ..errors import MissingWeightsError, WeightsError, WrongTaskWeightsError
from .atomic import atomic_write

PRETRAINED_DIR = Path(__file__).parents[1] / "pretrained"
METADATA_KEY = "hyperres"
FORMAT_VERSION = 1


@dataclass
class WeightsInfo:
    """What a weights file holds and how it was made.

    Attributes:
        name: registry name, ``"<task>.<preset>"`` for shipped files.
        task: the task the weights restore (or estimate) for.
        kind: the model family: ``"hyperres"``, ``"estimator"``, ``"hair"``, ``"dedicated"``, ``"adafm"``.
        architecture: keyword arguments that rebuild the network.
        preset: ``"paper"``, ``"lite"``, ``"tiny"`` or ``"custom"``.
        train_levels: levels trained on (user units).
        normalization: how a level becomes the control value ``c``.
        training_data: folders trained on (names, not paths of the trainer's machine).
        steps: optimiser steps.
        training_time_s: wall time of training.
        device: where it was trained.
        validation: ``{dataset: {level: {"psnr": .., "ssim": ..}}}``.
        extra: anything else a model kind needs (e.g. a level range for estimators).
    """

    name: str
    task: str
    kind: str = "hyperres"
    architecture: dict = field(default_factory=dict)
    preset: str = "custom"
    train_levels: list = field(default_factory=list)
    normalization: str = "level / 255"
    training_data: list = field(default_factory=list)
    steps: int = 0
    training_time_s: float = 0.0
    device: str = ""
    validation: dict = field(default_factory=dict)
    license: str = "BSD-3-Clause"
    extra: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def extrapolation(self, level: float, unit: str) -> str:
        """``""`` inside the levels these weights were trained on (or when they record none);
        else e.g. ``"below the trained σ (8-bit) 15–75: extrapolated"`` — restoration quality falls
        off away from the trained levels (BENCHMARKS.md measures by how much)."""
        levels = sorted(float(v) for v in self.train_levels or ())
        if self.kind != "hyperres" or len(levels) < 2:
            return ""
        # an estimate of σ 14.98 is σ 15, not "extrapolated"; the slack is each end's own share, not the span's
        # (a newcomer's review: 1 % of microscopy's 5–5,000 photons let every level down to 1 pass as trained)
        def slack(end: float) -> float:  # 1 % of the end level; of the span where the end is 0
            return EXTRAPOLATION_SLACK * (abs(end) or levels[-1] - levels[0])

        if levels[0] - slack(levels[0]) <= float(level) <= levels[-1] + slack(levels[-1]):
            return ""
        side = "below" if float(level) < levels[0] else "above"
        return f"{side} the trained {unit} {levels[0]:g}–{levels[-1]:g}: extrapolated"


EXTRAPOLATION_SLACK = 0.01
"""A level within this share of a trained end level beyond it is not called extrapolated (an
estimate's last digits; the quality measured there is the end level's)."""


def save_weights(path: str | os.PathLike, state_dict: dict[str, torch.Tensor], info: WeightsInfo) -> Path:
    """Write ``state_dict`` and ``info`` to a safetensors file atomically; returns the path.

    Raises:
        WeightsError: a tensor holds NaN or infinite values (nothing is written).
    """
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    check_tensors(tensors, {}, source=path)
    metadata = {METADATA_KEY: json.dumps(asdict(info))}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    return Path(path)


def training_hint(task: str) -> str:
    """What to do where ``task`` has no weights: the one wording of the hint (engine, CLI, widget)."""
    return f"train with `python -m trainer train --task {task} ...` and export the run with `python -m trainer export RUN`"


def resolve_weights(name_or_path: str | os.PathLike) -> Path:
    """The file for a weights name (``"denoise.lite"``) or an existing path.

    Raises:
        WeightsError: neither a file nor a shipped weights name.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = PRETRAINED_DIR / f"{name_or_path}.safetensors"
    if shipped.is_file():  # before a folder of the same name in the current folder (a run's --out "denoise.lite")
        return shipped
    if path.is_dir():  # a trainer run folder, most likely (a review got "it does not exist" for one that does)
        run = " (a training run: export it first, `python -m trainer export RUN --name NAME`)" if (path / "checkpoint.pt").exists() else ""
        raise MissingWeightsError(f"{path} is a folder{run}; give the .safetensors weights file")
    text = str(name_or_path)
    if text.endswith(".safetensors") or "/" in text or "\\" in text:  # a path: the shipped names would not help
        raise MissingWeightsError(f"no weights file {text!r}: it does not exist (a relative path is read from the current folder)")
    names = ", ".join(sorted(p.name.removesuffix(".safetensors") for p in PRETRAINED_DIR.glob("*.safetensors"))) or "none"
    raise MissingWeightsError(f"no weights file or shipped weights named {text!r} (shipped: {names})")


def read_info(path: str | os.PathLike) -> WeightsInfo:
    """Read only the metadata of a weights file."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises several types for damaged files
        if path.suffix == ".pt":  # a trainer checkpoint (a review was told to "re-download" it)
            raise WeightsError(f"{path}: a training checkpoint, not a weights file; export its run first: "
                               f"`python -m trainer export {path.parent} --name NAME`") from exc
        raise WeightsError(f"{path}: not a readable safetensors weights file ({exc}); re-download or re-export it") from exc
    if METADATA_KEY not in meta:
        raise WeightsError(f"{path}: no napari-hyperres metadata; export weights with `python -m trainer export`")
    try:
        data = json.loads(meta[METADATA_KEY])
        return WeightsInfo(**data)
    except (json.JSONDecodeError, TypeError) as exc:
        raise WeightsError(f"{path}: damaged metadata ({exc}); re-export the weights") from exc


def load_weights(name_or_path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], WeightsInfo]:
    """Tensors and metadata of a weights file.

    Raises:
        WeightsError: missing, corrupt or truncated file, or missing metadata; the
            message names the file.
    """
    from safetensors.torch import load_file

    path = resolve_weights(name_or_path)
    info = read_info(path)
    try:
        tensors = load_file(str(path))
    except Exception as exc:
        raise WeightsError(f"{path}: corrupt or truncated weights ({exc}); re-download or re-export it") from exc
    return tensors, info


ModelBuilders = Mapping[str, Callable[[dict], nn.Module]]
"""Model kind → how to build a fresh network of it from its architecture dict."""


def _hyperres(architecture: dict) -> nn.Module:
    from .models.hyperres import Architecture, HyperResNet

    return HyperResNet(Architecture(**architecture))


def _hair(architecture: dict) -> nn.Module:
    from .models.hair import HairArchitecture, HairNet

    return HairNet(HairArchitecture(**architecture))


def _estimator(architecture: dict) -> nn.Module:
    from .models.estimator import EstimatorArchitecture, LevelEstimator

    return LevelEstimator(EstimatorArchitecture(**architecture))


MODEL_BUILDERS: ModelBuilders = MappingProxyType({"hyperres": _hyperres, "hair": _hair, "estimator": _estimator})
"""The model kinds the library rebuilds from weights files (read-only; the trainer's baselines
pass theirs to :func:`load_model` as ``builders``)."""


ARCHITECTURE_BOUNDS: dict[str, tuple[int, int]] = {
    "in_channels": (1, 4),
    "features": (1, 512),
    "blocks": (1, 128),
    "candidates": (1, 64),
    "stages": (1, 16),
    "giv": (1, 4096),
}
"""Allowed ranges of the integer sizes in a weights file's architecture (the paper preset is
64 features × 16 blocks); checked before any network is built, so a damaged or hostile file
cannot make the loader allocate without end."""


MAX_PARAMETERS = 50_000_000
"""The most parameters a network rebuilt from a weights file may have (200 MB in float32; the paper
preset has a few million): the bounds above hold each size, this holds their product."""


ARCHITECTURE_REALS = {"control_centre": False, "control_scale": True}
"""Architecture values that are real numbers (the HyperRes control's centre and scale), each
with whether it must be positive; they must be finite."""


def check_architecture(architecture: object, source: str | os.PathLike = "weights") -> dict:
    """Return ``architecture`` if its sizes are integers inside :data:`ARCHITECTURE_BOUNDS` and its
    real numbers (:data:`ARCHITECTURE_REALS`) finite (switches and short names pass).

    Raises:
        WeightsError: not a dict, a size that is not a whole number, or one out of bounds; a
            real number that is not finite, or not positive where it must be.
    """
    if not isinstance(architecture, dict):
        raise WeightsError(f"{source}: the architecture in the metadata is not a dict ({type(architecture).__name__}); re-export the weights")
    for key, value in architecture.items():
        if key in ARCHITECTURE_REALS:
            positive = ARCHITECTURE_REALS[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (positive and value <= 0):
                raise WeightsError(f"{source}: architecture value {key}={value!r} is not a {'positive' if positive else 'finite'} number; re-export the weights")
            continue
        if isinstance(value, bool) or (isinstance(value, str) and len(value) <= 64):
            continue  # switches and names (e.g. an init scheme) are checked by the model's own constructor
        if not isinstance(value, int):
            raise WeightsError(f"{source}: architecture value {key}={value!r} is not a whole number; re-export the weights")
        low, high = ARCHITECTURE_BOUNDS.get(key, (0, 4096))
        if not low <= value <= high:
            raise WeightsError(f"{source}: architecture value {key}={value} is outside {low}–{high}; the file is damaged or not for this program")
    return architecture


def check_tensors(tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], source: str | os.PathLike = "weights") -> None:
    """Raise :class:`WeightsError` unless ``tensors`` have the dtypes of ``expected`` (a built model's state) and finite values."""
    for name, tensor in tensors.items():
        want = expected.get(name)
        if want is not None and tensor.dtype != want.dtype:
            raise WeightsError(f"{source}: tensor {name!r} is {tensor.dtype}, expected {want.dtype}; re-export the weights")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise WeightsError(f"{source}: tensor {name!r} holds NaN or infinite values; the weights are damaged (a diverged training?)")


class ShapesOnly(TorchFunctionMode):
    """Building a network on the meta device for its shapes alone: the values its initialisation
    computes are skipped (random tensors, in-place fills such as ``nn.init``'s, arithmetic with a number).

    On the meta device those go through torch's Python decompositions, whose first call imports
    ``torch._dynamo``: 1.6–2 s on this machine, paid by every process's first ``load_model`` (the CLI's
    every run, the widget's first preview). Anything not recognised here still runs as usual, only slower.
    """

    RANDOM = (torch.randn, torch.rand)
    WITH_A_NUMBER = frozenset({"mul", "__mul__", "__rmul__", "add", "__add__", "__radd__", "sub", "__sub__", "div", "__truediv__"})
    RESHAPING = frozenset({"resize_", "resize_as_", "unsqueeze_", "squeeze_", "t_", "transpose_", "swapdims_", "swapaxes_",
                           "as_strided_", "set_"})
    """In-place methods that change a tensor's shape: run as usual (a diff review)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.RANDOM:
            size = kwargs.get("size", args[0] if len(args) == 1 and not isinstance(args[0], int) else args)
            return torch.empty(size, dtype=kwargs.get("dtype"), device="meta")
        first = args[0] if args else next(iter(kwargs.values()), None)
        if isinstance(first, torch.Tensor) and first.is_meta:
            name = getattr(func, "__name__", "")
            if name.endswith("_") and not name.endswith("__") and name not in self.RESHAPING:  # a fill: nothing to fill
                return first
            if name in self.WITH_A_NUMBER and len(args) == 2 and isinstance(args[1], (int, float)) and not kwargs:
                return torch.empty_like(first)
        return func(*args, **kwargs)


def build_model(kind: str, architecture: dict, builders: ModelBuilders | None = None) -> nn.Module:
    """A freshly initialised network of ``kind`` with ``architecture`` (sizes checked first: each
    value against :data:`ARCHITECTURE_BOUNDS`, then the whole network's parameter count, counted
    on the meta device, against :data:`MAX_PARAMETERS`)."""
    check_architecture(architecture)
    known = {**MODEL_BUILDERS, **(builders or {})}
    if kind not in known:
        raise WeightsError(f"unknown model kind {kind!r}; known: {sorted(known)}")
    try:
        with torch.device("meta"), ShapesOnly():  # shapes only: nothing is allocated or computed
            count = sum(p.numel() for p in known[kind](architecture).parameters())
        if count > MAX_PARAMETERS:
            raise WeightsError(f"architecture {architecture} has {count:,} parameters, more than {MAX_PARAMETERS:,}; refused as damaged or hostile")
        return known[kind](architecture)
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"architecture {architecture} does not fit model kind {kind!r}: {exc}") from exc


def load_model(
    name_or_path: str | os.PathLike,
    *,
    task: str | tuple[str, ...] | None = None,
    kind: str | None = None,
    device: str | torch.device = "cpu",
    builders: ModelBuilders | None = None,
) -> tuple[nn.Module, WeightsInfo]:
    """Rebuild the network stored in a weights file, in eval mode on ``device``.

    Args:
        name_or_path: shipped name (``"denoise.lite"``) or a path.
        task: if given, the file must be for this task (or one of these tasks).
        kind: if given, the file must hold this model kind.
        builders: model kinds beyond :data:`MODEL_BUILDERS` (the trainer's baselines).

    Raises:
        WeightsError: unreadable file, or task / kind / architecture mismatch (named in the message).
    """
    tensors, info = load_weights(name_or_path)
    path = resolve_weights(name_or_path)
    accepted = (task,) if isinstance(task, str) else task
    if accepted is not None and info.task not in accepted:
        raise WrongTaskWeightsError(
            f"{path}: weights are for task {info.task!r}, not {' or '.join(map(repr, accepted))}; choose a file exported for "
            f"{accepted[0]!r}"
        )
    if kind is not None and info.kind != kind:
        raise WeightsError(
            f"{path}: holds a {info.kind!r} model, expected {kind!r}; pick weights made for it "
            f"(`napari-hyperres weights` lists the shipped ones; `python -m trainer export RUN` makes one of a "
            f"hyperres or hair run: the baselines of `python -m trainer compare` restore nothing alone)"
        )
    check_architecture(info.architecture, path)
    model = build_model(info.kind, info.architecture, builders)
    check_tensors(tensors, model.state_dict(), path)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise WeightsError(f"{path}: tensors do not match architecture {info.architecture} ({first})") from exc
    return model.to(device).eval(), info


def list_weights() -> list[WeightsInfo]:
    """Metadata of every shipped weights file."""
    return [read_info(p) for p in sorted(PRETRAINED_DIR.glob("*.safetensors"))]
