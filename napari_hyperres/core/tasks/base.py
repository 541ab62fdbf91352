"""The :class:`Task` record: what a restoration task is, in user units."""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch

from ...errors import LevelRangeError

TASK_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
"""What a task's name may be: the registry key, a CLI word and part of weights file names."""


DEGRADED_SCALE_LIMIT = 4.0
"""Largest mean |value| of a degraded batch (clean images are in [0, 1]; σ 100/255 noise adds
about 0.3): a function returning 0–255 values goes far past it."""


def _accepts(function: Callable, count: int) -> bool:
    """Whether ``function`` can be called with ``count`` positional arguments (``True`` where Python cannot tell)."""
    try:
        inspect.signature(function).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins)
        return True
    return True


def _name_of(function: Callable) -> str:
    """``module.qualname`` of a function, as messages and weights files name it."""
    module = getattr(function, "__module__", None)
    name = getattr(function, "__qualname__", None) or repr(function)
    return f"{module}.{name}" if module else name


def _level_text(level) -> str:
    """A level (a number, or one per sample as a tensor) for a message."""
    if isinstance(level, torch.Tensor) and level.numel() > 1:
        return f"{float(level.min()):g}–{float(level.max()):g} (one per sample)"
    return f"{float(level):g}"


def _spread(low: float, high: float) -> str:
    """Four levels spread over ``low``–``high``, as an example for a message."""
    return ", ".join(f"{low + (high - low) * f:.3g}" for f in (0.1, 0.35, 0.6, 0.9))


def _signature(function: Callable) -> str:
    try:
        return str(inspect.signature(function))
    except (TypeError, ValueError):
        return "(…)"


def divide_by_255(level: float) -> float:
    """The papers' level normalisation: ``c = level / 255`` for every task."""
    return float(level) / 255.0


def scaled_length(length: int, factor: float) -> int:
    """``length × factor`` pixels rounded half up (at least 1): 101 px × 2.5 → 253, 77 × 1.5 → 116, 25 × 2.3 → 58 (Python's
    ``round`` goes to the even neighbour, so a review saw ×2.5 round down beside ×1.5 rounding up)."""
    return max(1, math.floor(round(length * factor, 9) + 0.5))  # 25 × 2.3 is 57.499999… in binary: 58, not 57


@dataclass(frozen=True)
class FileLevel:
    """A level some files record exactly (a JPEG's quality in its quantisation tables).

    Attributes:
        suffixes: file suffixes (lower case, with the dot) that record it.
        read: ``read(path) -> level`` in the task's units; raises ``ShapeError`` for a damaged file.
        method: how it is read, for people (``"quantisation tables"``).
        saved_again_below: a file records its *last* save only. When the task's estimator reads the
            pixels at more than this much *below* the file's level, the file was saved again after a
            stronger degradation (a quality-20 photo re-saved at 90) and the estimator's reading is
            used. ``None``: the file's level is always used.
        worth_restoring: ``worth_restoring(level) -> bool``: whether a file recording this level is
            degraded enough that an image read from it should open on this task (the widget
            switches to it, :func:`napari_hyperres.blind.levels.task_for_file`). ``None``: never.
        caution: ``caution(level) -> str | None``: what "auto" says of a file recording ``level``
            where restoring it measured no gain (dejpeg above quality 85), else ``None``; also asked of
            the estimator's reading of a file of another kind (a PNG read as quality 93).
    """

    suffixes: tuple[str, ...]
    read: Callable[[str], float]
    method: str
    saved_again_below: float | None = None
    worth_restoring: Callable[[float], bool] | None = None
    caution: Callable[[float], str | None] | None = None

    def applies_to(self, path) -> bool:
        """Whether the file at ``path`` records the level (by its suffix)."""
        from pathlib import Path

        return bool(path) and Path(path).suffix.lower() in self.suffixes

    def level_alone(self, path) -> bool:
        """Whether the file at ``path`` tells the level without its pixels being read (its suffix
        records it and no :attr:`saved_again_below` check needs them)."""
        return self.applies_to(path) and self.saved_again_below is None


Degrade = Callable[..., torch.Tensor]
"""``degrade(clean, level, generator=None) -> degraded`` on ``(B, C, H, W)`` in ``[0, 1]``."""


@dataclass(frozen=True)
class Task:
    """A restoration task: its level in user units and how to simulate its degradation.

    Attributes:
        name: registry key, e.g. ``"denoise"`` (lower case, no spaces).
        title: human-readable name for menus.
        unit: what the level means, e.g. ``"σ (8-bit)"``.
        level_range: ``(low, high)`` levels a user may ask for; outside is an error.
        default_level: the slider's starting position.
        train_levels: the k levels the hypernetwork is trained on jointly.
        channels: ``"gray"`` (the network sees 1 channel; colour is restored on Y)
            or ``"rgb"`` (3 channels; gray images are replicated).
        degrade: ``degrade(clean, level, generator=None)``: ``(B, C, H, W)`` in
            ``[0, 1]`` → same shape, with ``level`` a float or a ``(B,)`` tensor.
        normalize: ``level -> c``, the network's control value (default ``level / 255``).
        weights: name of the pretrained weights (``"denoise.lite"``) or a path; ``None`` if none ship.
            A plugin ships its file in its own package and gives its absolute path
            (``str(Path(__file__).parent / "deblur.lite.safetensors")``); a relative path is read
            from the current folder.
        estimator: the level estimator's weights (name or path, as ``weights``) that "Auto" and
            ``--level auto`` use; ``None``: the shipped ``"<task>.estimator"``, if any.
        prepare: optional ``prepare(image, level) -> image`` the engine applies before
            the network (super-resolution upsamples the low-resolution input here).
        output_scale: ``level -> factor`` by which the output's height and width differ from
            the input's (super-resolution: the level itself); ``None``: same size. A task
            that resamples restores whole planes (no tiles across its resampling) and its
            level is the user's choice, never estimated from the image.
        make_input: optional ``make_input(clean, level, generator=None)``: what a user's
            file looks like (sr: the low-resolution image); defaults to ``degrade``.
            ``prepare(make_input(x)) == degrade(x)`` up to resampling.
        psnr_on: ``"all"`` channels or ``"y"`` (luma, BT.601) in evaluation tables.
        crop_border: ``level -> pixels`` cropped from each side before PSNR.
        eval_protocol: one sentence stating how evaluation degrades images.
        conditioning: ``"level"`` (a level-conditioned hypernetwork, the slider sets the
            level) or ``"image"`` (an image-conditioned network such as HAIR; no slider,
            the level is ignored).
        noise_parameters: ``None``, or ``"poisson-gaussian"``: the level comes with noise
            parameters fitted from the image (gain α and intercept β of ``var = α·y + β``,
            :mod:`napari_hyperres.core.photon_noise`). The engine then keeps the data in its own
            units, stabilises the variance (generalized Anscombe transform), runs the
            Gaussian denoiser of ``weights`` at the stabilised σ of the *fitted* noise
            (``c = σ / 255``, the Gaussian task's control) and inverts exactly. The level is
            then the photo-electrons between the data's black and white points (``level_range``
            is in photons). ``normalize`` (photons → ``c``) serves training on simulated noise
            only; it must give the same ``c`` for the task's simulated read noise (as
            ``MICROSCOPY``'s ``stabilized_control`` does), since restoring never calls it.
        weights_task: another task whose weights also serve this one (``microscopy`` can run
            the ``denoise`` network); weights trained for the task itself are accepted too.
        level_scale: ``"linear"`` or ``"log"``: how a slider should move through the range
            (a range over decades, such as photon counts, needs ``"log"``).
        level_in_file: a :class:`FileLevel` when some files record the level exactly (``dejpeg``:
            a JPEG's quality); "auto" then reads it instead of estimating.
        chroma: a gray network on a colour image restores luma (Y); ``"keep"`` passes Cb and Cr
            through, ``"subsampled"`` restores them too, with the same network at the same level,
            on the half-resolution grid they were coded on (JPEG's 4:2:0, as cameras and
            browsers write). Tiles and crops then need twice the context, on a 4-pixel grid
            (:attr:`napari_hyperres.engine.Restorer.context`). ``"full"``: the same at full
            resolution (JPEG's 4:4:4, as high-quality exports write).
        chroma_in_file: ``read(path) -> "subsampled" | "full" | None``: how a file coded its chroma,
            used for that file instead of ``chroma`` (:meth:`for_file`; ``dejpeg`` reads a JPEG's
            frame header).
        colour: how an RGB network restores a colour image: ``"joint"`` (R, G, B in, R, G, B
            out) or ``"opponent"``: each plane of the opponent colour space
            (:data:`napari_hyperres.core.color.OPPONENT`: mean, red − blue, red + blue − 2·green)
            goes alone through the network's gray path, at the level its noise has there
            (level × :data:`~napari_hyperres.core.color.OPPONENT_NOISE`), as colour BM3D works.
            Only for a level that is an additive noise σ (``denoise``): three passes instead
            of one, +1.19 / +0.71 / +0.22 dB on McMaster at σ 15 / 25 / 50 (BENCHMARKS.md).
        level_follows_brightness: the level may differ between an image's dark and bright parts
            (a camera's noise: photon noise, then the tone curve, is strongest in the shadows).
            ``level="by-brightness"`` then reads the level of each brightness from the level
            estimator's crops and restores each pixel at the level of its brightness
            (:mod:`napari_hyperres.blind.brightness`). Needs a level restored in place
            (conditioning ``"level"``, no resampling, no ``noise_parameters``).
    """

    name: str
    title: str
    unit: str
    level_range: tuple[float, float]
    default_level: float
    train_levels: tuple[float, ...]
    channels: Literal["gray", "rgb"]
    degrade: Degrade
    normalize: Callable[[float], float] = divide_by_255
    weights: str | None = None
    estimator: str | None = None
    prepare: Callable[[torch.Tensor, float], torch.Tensor] | None = None
    output_scale: Callable[[float], float] | None = None
    make_input: Degrade | None = None
    psnr_on: Literal["all", "y"] = "all"
    crop_border: Callable[[float], int] = field(default=lambda level: 0)
    eval_protocol: str = ""
    level_step: float = 1.0
    description: str = ""
    conditioning: Literal["level", "image"] = "level"
    noise_parameters: Literal["poisson-gaussian"] | None = None
    weights_task: str | None = None
    level_scale: Literal["linear", "log"] = "linear"
    level_in_file: FileLevel | None = None
    chroma: Literal["keep", "subsampled", "full"] = "keep"
    chroma_in_file: Callable[[str], str | None] | None = None
    colour: Literal["joint", "opponent"] = "joint"
    level_follows_brightness: bool = False

    def __post_init__(self) -> None:
        if not TASK_NAME.fullmatch(str(self.name)):
            raise ValueError(f"expected a task name in lower case without spaces (letters, digits, '-', '_', '.'), such as 'deblur'; got {self.name!r}")
        for field_name in ("degrade", "make_input"):
            function = getattr(self, field_name)
            if function is not None and not _accepts(function, 3):
                raise ValueError(
                    f"task {self.name!r}: {field_name} must accept (clean, level, generator=None); "
                    f"{_name_of(function)}{_signature(function)} does not"
                )
        for field_name, values in (("level_range", self.level_range), ("default_level", (self.default_level,)),
                                   ("train_levels", self.train_levels)):
            wrong = [v for v in values if isinstance(v, bool) or not isinstance(v, numbers.Real)]
            if wrong:  # a level_range of strings failed with "'<=' not supported between 'str' and 'float'"
                raise ValueError(f"task {self.name!r}: {field_name} must hold numbers, got {', '.join(map(repr, wrong))} "
                                 f"({type(wrong[0]).__name__}); write e.g. 0.5, not '0.5'")
        if len(self.level_range) != 2:
            raise ValueError(f"task {self.name!r}: expected level_range (low, high), got {self.level_range}")
        low, high = self.level_range
        if not low < high:
            raise ValueError(f"task {self.name!r}: expected level_range (low, high) with low < high, got {self.level_range}")
        if self.channels not in ("gray", "rgb"):
            raise ValueError(f"task {self.name!r}: expected channels 'gray' or 'rgb', got {self.channels!r}")
        if self.conditioning not in ("level", "image"):
            raise ValueError(f"task {self.name!r}: expected conditioning 'level' or 'image', got {self.conditioning!r}")
        if self.noise_parameters not in (None, "poisson-gaussian"):
            raise ValueError(f"task {self.name!r}: expected noise_parameters None or 'poisson-gaussian', got {self.noise_parameters!r}")
        if self.level_scale not in ("linear", "log"):
            raise ValueError(f"task {self.name!r}: expected level_scale 'linear' or 'log', got {self.level_scale!r}")
        if self.chroma not in ("keep", "subsampled", "full"):
            raise ValueError(f"task {self.name!r}: expected chroma 'keep', 'subsampled' or 'full', got {self.chroma!r}")
        if self.colour not in ("joint", "opponent"):
            raise ValueError(f"task {self.name!r}: expected colour 'joint' or 'opponent', got {self.colour!r}")
        if self.colour == "opponent" and (self.channels != "rgb" or self.conditioning != "level" or self.resamples or self.noise_parameters):
            raise ValueError(
                f"task {self.name!r}: colour 'opponent' needs an RGB network whose level is an additive noise σ "
                "(channels 'rgb', conditioning 'level', no resampling, no noise_parameters)"
            )
        if self.level_follows_brightness and (self.conditioning != "level" or self.resamples or self.noise_parameters):
            raise ValueError(
                f"task {self.name!r}: level_follows_brightness needs a level restored in place "
                "(conditioning 'level', no resampling, no noise_parameters)"
            )
        if self.level_scale == "log" and not low > 0:
            raise ValueError(f"task {self.name!r}: a log-scale level needs a positive range, got {self.level_range}")
        if self.conditioning == "level" and len(self.train_levels) < 1:
            raise ValueError(
                f"task {self.name!r}: train_levels is empty; give the levels the hypernetwork is trained on "
                f"jointly (three or four across level_range, e.g. {_spread(low, high)})"
            )
        for field_name, levels in (("default_level", (self.default_level,)), ("train_levels", self.train_levels)):
            outside = [level for level in levels if not low <= float(level) <= high]
            if outside:
                raise ValueError(
                    f"task {self.name!r}: {field_name} {', '.join(f'{level:g}' for level in outside)} outside its "
                    f"level_range {low:g}–{high:g}; widen the range or move the level"
                )

        self._check_normalize()

    def _check_normalize(self) -> None:
        """``normalize`` must give a finite control at every level and different controls for
        different levels (increasing or decreasing): a NaN would otherwise surface as "training
        diverged … lower --lr", a flat stretch as levels the network cannot tell apart."""
        if self.conditioning != "level":
            return
        low, high = (float(v) for v in self.level_range)
        probes = sorted({low, high, float(self.default_level), *(float(v) for v in self.train_levels),
                         *(low + (high - low) * i / 8 for i in range(1, 8))})
        where = f"task {self.name!r}: normalize {_name_of(self.normalize)}"
        controls = []
        for level in probes:
            try:
                controls.append(float(self.normalize(level)))
            except Exception as exc:  # noqa: BLE001 — a plugin's function; said in one line with its level
                raise ValueError(f"{where} raised {type(exc).__name__} {raised_at(exc, self.normalize)} for level {level:g}: {exc}; "
                                 f"it must map every level ({self.unit}) of {low:g}–{high:g} to a number") from exc
        bad = [f"{level:g} -> {c}" for level, c in zip(probes, controls, strict=True) if not math.isfinite(c)]
        if bad:
            raise ValueError(f"{where} gave non-finite controls ({', '.join(bad[:3])}); it must give a finite number at every level of {low:g}–{high:g}")
        steps = [b - a for a, b in zip(controls, controls[1:], strict=False)]
        if not (all(d > 0 for d in steps) or all(d < 0 for d in steps)):
            raise ValueError(
                f"{where} is not strictly increasing or decreasing over {low:g}–{high:g} "
                f"(controls {', '.join(f'{c:.4g}' for c in controls[:6])}…); different levels need different controls"
            )

    @property
    def normalization(self) -> str:
        """How :attr:`normalize` maps a level to the control ``c``, as weights files record it
        (:attr:`~napari_hyperres.core.weights.WeightsInfo.normalization`): ``"level / 255"``
        (the papers'), else the function's qualified name with ``(level)``."""
        if self.normalize is divide_by_255:
            return "level / 255"
        return f"{_name_of(self.normalize)}(level)"

    @property
    def accepted_weights(self) -> tuple[str, ...]:
        """Task names a weights file for this task may declare: its own, and ``weights_task``'s."""
        return (self.name,) if self.weights_task is None else (self.name, self.weights_task)

    def simulate_input(self, clean: torch.Tensor, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """The degraded image as a user would have it (``make_input``, else ``degrade``)."""
        return self._checked_call("make_input" if self.make_input else "degrade", clean, level, generator)

    def degraded(self, clean: torch.Tensor, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """``degrade(clean, level, generator)``, checked (:meth:`check_degraded`); an exception
        inside a plugin's function comes back as a ``ValueError`` naming it and the line it
        raised at (one line at the trainer's prompt instead of a traceback)."""
        return self._checked_call("degrade", clean, level, generator)

    def _checked_call(self, field_name: str, clean: torch.Tensor, level: float, generator) -> torch.Tensor:
        function = getattr(self, field_name)
        try:
            out = function(clean, level, generator)
        except Exception as exc:  # noqa: BLE001 — a plugin's code: named, with where it raised
            raise ValueError(
                f"task {self.name!r}: {field_name} {_name_of(function)} raised {type(exc).__name__} {raised_at(exc, function)} "
                f"for level {_level_text(level)} and input {tuple(clean.shape)}: {exc}"
            ) from exc
        return self.check_degraded(out, clean, field_name)

    def check_degraded(self, degraded, clean: torch.Tensor, field_name: str = "degrade") -> torch.Tensor:
        """``degraded`` if it is what ``field_name`` (``degrade`` / ``make_input``) must return for
        ``clean`` ``(B, C, H, W)``: a tensor of its batch and channels (``degrade``: of its size),
        finite, on the clean image's 0–1 scale. Else a ``ValueError`` naming the function, which
        a plugin author would otherwise meet as a torch error deep in the trainer, or not at all
        (a 0–255 output trains to nothing; a smaller one is scored on the overlap)."""
        function = _name_of(getattr(self, field_name))
        where = f"task {self.name!r}: {field_name} {function}"
        if not isinstance(degraded, torch.Tensor):
            raise ValueError(f"{where} returned a {type(degraded).__name__}; it must return a torch tensor shaped like its input")
        same_size = field_name == "degrade" or not self.resamples
        expected = tuple(clean.shape) if same_size else tuple(clean.shape[:2])
        if (tuple(degraded.shape) if same_size else tuple(degraded.shape[:2])) != expected or degraded.ndim != 4:
            raise ValueError(f"{where} returned shape {tuple(degraded.shape)} for an input of {tuple(clean.shape)}; it must keep (B, C, H, W)")
        if not degraded.is_floating_point():
            raise ValueError(f"{where} returned {degraded.dtype}; it must return floats on the clean image's 0–1 scale (e.g. x.float() / 255)")
        if degraded.dtype != clean.dtype:
            degraded = degraded.to(clean.dtype)  # float64 (numpy maths) or half: the network's dtype, in train and estimator alike
        if not bool(torch.isfinite(degraded).all()) and bool(torch.isfinite(clean).all()):  # NaN in, NaN out is the data's fault
            raise ValueError(f"{where} returned NaN or infinite values")
        magnitude = float(degraded.float().abs().mean())
        if magnitude > DEGRADED_SCALE_LIMIT:
            raise ValueError(
                f"{where} returned values of mean magnitude {magnitude:.3g}; images are on a 0–1 "
                "scale here (a 0–255 result? divide by 255)"
            )
        return degraded

    @property
    def resamples(self) -> bool:
        """Whether the output has another size than the input (:attr:`output_scale`)."""
        return self.output_scale is not None

    def output_size(self, height: int, width: int, level: float) -> tuple[int, int]:
        """``(height, width)`` of the output for an input plane of that size at ``level``."""
        if self.output_scale is None:
            return int(height), int(width)
        factor = float(self.output_scale(float(level)))
        return scaled_length(height, factor), scaled_length(width, factor)

    def passes(self, rgb: bool) -> float:
        """Network passes per input pixel to restore an image (gray or ``rgb``), relative to
        one pass of the network: 3 for colour as opponent planes (:attr:`colour`; 4 where
        pixels are clipped), 1.5 for a gray network restoring 4:2:0 chroma too (:attr:`chroma`), 3 for
        4:4:4 chroma, else 1."""
        if rgb and self.colour == "opponent":
            return 3.0
        if rgb and self.in_channels == 1 and self.chroma == "subsampled":
            return 1.5
        if rgb and self.in_channels == 1 and self.chroma == "full":
            return 3.0
        return 1.0

    def differs_beyond_chroma(self, other: "Task") -> bool:
        """Whether ``other`` differs from this task in more than :attr:`chroma` (a file's chroma
        runs the same networks), compared field by field without making a Task (whose checks,
        ``normalize`` probed at 11 levels among them, would run on every preview)."""
        return any(
            getattr(self, f.name) != getattr(other, f.name) for f in dataclasses.fields(self) if f.compare and f.name != "chroma"
        )

    def for_file(self, path) -> "Task":
        """This task as it should restore the file at ``path`` (its chroma as the file coded it,
        :attr:`chroma_in_file`); ``self`` where the file says nothing more."""
        if self.chroma_in_file is None or not path:
            return self
        coded = self.chroma_in_file(str(path))
        return self if coded in (None, self.chroma) else dataclasses.replace(self, chroma=coded)

    @property
    def level_from_image(self) -> bool:
        """Whether an image can tell its own level (so "auto" may estimate it).

        Not for image-conditioned tasks (no level) nor for resampling tasks such as ``sr``,
        whose level (how much to enlarge) is the user's choice, not a property of the image.
        """
        return self.conditioning == "level" and not self.resamples

    def check_auto(self) -> None:
        """Raise :class:`LevelRangeError` if "auto" may not estimate this task's level (see :attr:`level_from_image`)."""
        if self.conditioning == "image":
            raise LevelRangeError(f"task {self.name!r} chooses its restoration from the image itself and takes no level; leave the level out")
        if not self.level_from_image:
            low, high = self.level_range
            raise LevelRangeError(
                f"task {self.name!r}: the level ({self.unit}) says how much to enlarge the image, which the "
                f"low-resolution image itself cannot tell; give a number in {low:g}-{high:g}, e.g. {self.default_level:g}"
            )

    @property
    def in_channels(self) -> int:
        """Channels the task's network sees (1 for gray, 3 for rgb)."""
        return 1 if self.channels == "gray" else 3

    def check_level(self, level: float) -> float:
        """Return ``level`` as a float, or raise :class:`LevelRangeError` if outside ``level_range``."""
        low, high = self.level_range
        try:
            if isinstance(level, (bool, np.bool_)):  # True is no σ 1 (a reliability review)
                raise TypeError
            value = float(level)
        except (TypeError, ValueError):
            raise LevelRangeError(f"task {self.name!r}: expected a number for the level ({self.unit}), got {level!r}") from None
        if not low <= value <= high:
            shown = f"{value:g}" if f"{value:g}" not in (f"{low:g}", f"{high:g}") else repr(value)  # not "100 is outside 0–100"
            raise LevelRangeError(
                f"task {self.name!r}: level {shown} is outside {low:g}–{high:g} ({self.unit}); "
                f"pick a level in that range"
            )
        return value


def raised_at(exc: BaseException, origin: Callable | None = None) -> str:
    """``"at FILE:LINE"``: where a plugin's code raised ``exc``: the innermost frame in the folder of
    ``origin``'s source file (the plugin's function: numpy's line says nothing to its author), else the
    innermost frame outside this package, else the innermost one."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "(no traceback)"
    try:
        home = Path(inspect.getsourcefile(origin)).resolve().parent if origin is not None else None
    except (TypeError, OSError):  # a builtin or a C function: no source file
        home = None
    package = Path(__file__).resolve().parents[2]  # napari_hyperres/

    def under(frame, folder: Path) -> bool:
        return Path(frame.filename).resolve().is_relative_to(folder)

    own = [f for f in frames if under(f, home)] if home is not None else []
    outside = [f for f in frames if not under(f, package)]
    frame = (own or outside or frames)[-1]
    return f"at {frame.filename}:{frame.lineno}"
