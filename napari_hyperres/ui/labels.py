"""What the widget says: layer names, level labels, readings of errors and of HAIR's choice,
and the metadata recorded on output layers. Pure functions, no Qt."""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np

from ..core.tasks import Task
from ..core.weights import training_hint
from ..errors import (
    HyperResError,
    MissingWeightsError,
    NoiseFitError,
    ShapeError,
    WrongTaskWeightsError,
)
from .outputs import OUTPUT_KEY


def is_image_conditioned(task: Task) -> bool:
    """Whether ``task``'s network picks its own weights from the image (no level, no slider)."""
    return task.conditioning == "image"


def format_level(level: float) -> str:
    """A level as shown in layer names: ``25``, ``2.5``, ``37.33``, ``0.0123`` (three significant
    digits below 1, so a plugin's small levels are not all ``0.01``)."""
    level = float(level)
    if abs(level) < 1:
        return f"{float(f'{level:.3g}'):g}"
    return f"{round(level, 2):g}"


def output_name(source: str, task: str, level: float | None, note: str = "") -> str:
    """Name of a restored layer: ``"<source> [<task> <level><note>]"`` (note e.g. ``" by brightness"``),
    or ``"<source> [<task>]"`` without a level."""
    return f"{source} [{_task_and_level(task, level)}{note}]"


def preview_name(source: str, task: str, level: float | None, note: str = "") -> str:
    """Name of the (single, updated in place) preview layer of ``source``."""
    return f"{source} [{_task_and_level(task, level)}{note} preview]"


def _task_and_level(task: str, level: float | None) -> str:
    return task if level is None else f"{task} {format_level(level)}"


def sweep_name(source: str, task: str, levels: Sequence[float], note: str = "") -> str:
    """Name of a level-sweep layer: ``"<source> [<task> sweep 0–100<note>]"``."""
    return f"{source} [{task} sweep {format_level(levels[0])}–{format_level(levels[-1])}{note}]"


def describe_estimate_error(exc: BaseException, task: Task) -> str:
    """The message the widget shows when the "Auto" level estimate fails, with what to do."""
    message = str(exc) or type(exc).__name__
    if not isinstance(exc, HyperResError):
        message = f"{type(exc).__name__}: {message}"
    if isinstance(exc, MissingWeightsError) and "train-estimator" not in message:
        message += f"; train one with `python -m trainer train-estimator --task {task.name}`"
    if blocks_every_level(exc, task):
        return (f"could not fit the noise of this image for {task.name!r} ({message}); no level restores it without a fit: "
                "type your camera's GAIN READ_NOISE OFFSET in the camera field, or use the 'denoise' task with a σ")
    return f"could not estimate the level of {task.name!r} ({message}); set the level with the slider instead"


def blocks_every_level(exc: BaseException, task: Task) -> bool:
    """Whether the Auto error ``exc`` of ``task`` fails restoring at any level too: a photon task's noise fit, which the
    slider's level needs as well (a review)."""
    return bool(task.noise_parameters) and isinstance(exc, NoiseFitError)


def describe_selection(selection: Any, extra: dict | None = None) -> str:
    """A short reading of HAIR's mixtures ``(parts, N)``: what the image looks like when the
    weights file records reference mixtures (``extra``: its ``WeightsInfo.extra``; see
    :mod:`napari_hyperres.blind.mixtures`), else which candidate dominates, and where.

    A row is one generated part of the network: a residual block, or (with
    ``select_decoder``) the decoder's convs, which share one selecting net.

    Example:
        >>> describe_selection([[0.2, 0.7, 0.1], [0.1, 0.5, 0.4], [0.6, 0.3, 0.1]])
        'mixture: candidate 2 dominates (60%) in 2 of 3 generated parts'

    Candidates are numbered from 1; the share is the mean weight of the dominant
    candidate over the parts it dominates.
    """
    weights = np.asarray(selection, dtype=np.float64)
    if weights.ndim != 2 or weights.size == 0:
        raise ShapeError(f"expected mixtures of shape (parts, candidates), got shape {weights.shape}")
    if extra:
        from ..blind.mixtures import read_selections

        readings = read_selections(weights, extra)
        if readings:
            return readings[0].describe()
    parts = weights.shape[0]
    winners = weights.argmax(axis=1)
    best, best_key = 0, (-1, -1.0)
    for candidate in np.unique(winners):
        rows = winners == candidate
        key = (int(rows.sum()), float(weights[rows, candidate].mean()))
        if key > best_key:
            best, best_key = int(candidate), key
    count, share = best_key
    return f"mixture: candidate {best + 1} dominates ({share:.0%}) in {count} of {parts} generated part{'s' if parts != 1 else ''}"


def describe_error(exc: BaseException, task: Task | None = None) -> str:
    """The message the widget shows for ``exc``: the library's own message, plus what to do."""
    if type(exc).__name__ == "WorkerFailure" and exc.__cause__ is not None:  # preview.WorkerFailure: the RuntimeError inside
        exc = exc.__cause__
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":  # the host's, or torch's (CUDA or CPU)
        return (f"out of memory ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}): choose the cpu "
                "device, or restore a smaller layer (a crop, or fewer planes); the input is unchanged")
    message = str(exc) or type(exc).__name__
    if isinstance(exc, WrongTaskWeightsError):  # another task's file needs no training hint
        message += " under 'weights'"
    elif isinstance(exc, MissingWeightsError) and task is not None:
        # what to do first: the status line shows only its start (a review saw the shipped names, not the hint);
        # the engine's own hint is left out of what was found, not said twice
        found = message.split(training_hint(task.name))[0].rstrip(" ;:,")
        message = (f"no weights yet for {task.name!r}: {training_hint(task.name)}, then choose the exported "
                   f".safetensors file under 'weights' ({found})")
    if not isinstance(exc, HyperResError):
        message = f"{type(exc).__name__}: {message}"
    return message


def output_metadata(
    source: str,
    task: Task,
    level: float,
    weights: str,
    selection: Any = None,
    readings: list | None = None,
    self_ensemble: bool = False,
    curve: Any = None,
) -> dict[str, Any]:
    """Layer metadata recording how an output was made (under the key ``"hyperres"``).

    Image-conditioned tasks have no level (``"level": None``); their ``selection`` (HAIR's
    mixtures, ``(parts, N)`` per plane) is stored as a nested list under ``"selection"``,
    and what each plane looks like (:class:`~napari_hyperres.blind.mixtures.DegradationReading`)
    under ``"looks_like"`` (one dict per plane). An output averaged over the 8 rotations /
    mirrors says so (``"self_ensemble": True``). An output restored by brightness records its
    curve (``"by_brightness": {"brightness": [...], "levels": [...]}``, ``level`` its median).
    """
    image = is_image_conditioned(task)
    metadata: dict[str, Any] = {
        "source": source,
        "task": task.name,
        "level": None if image else float(level),
        "unit": task.unit,
        "weights": weights,
    }
    if selection is not None:
        metadata["selection"] = np.asarray(selection, dtype=np.float64).tolist()
    if readings:
        metadata["looks_like"] = [reading.to_dict() for reading in readings]
    if self_ensemble:
        metadata["self_ensemble"] = True
    if curve is not None:
        metadata["by_brightness"] = {"brightness": list(curve.brightness), "levels": list(curve.levels)}
    return {OUTPUT_KEY: metadata}


PRESS_AUTO = "press Auto for the level the image reads"
"""What the panel adds to a far-off level's text (:func:`~napari_hyperres.blind.photon_fit.level_misfit`), in the
status and on Apply alike."""

STATUS_LIMIT = 320
"""Characters of a message the status line shows (it wraps); the whole message is its tooltip."""


def status_text(message: str, limit: int = STATUS_LIMIT) -> str:
    """``message`` for the status line: whole, or cut at a word boundary before ``limit``, marked " (…)"."""
    message = " ".join(message.split())
    if len(message) <= limit:
        return message
    cut = message[: limit - 1]
    return (cut[: cut.rfind(" ")] if " " in cut else cut) + " (…)"


def task_choices(tasks) -> list[tuple[str, str]]:
    """``(label, name)`` for the task box: each task's title, with its name added where another task has the
    same title (magicgui keeps one choice per label: a plugin titled "Denoise (Gaussian)" hid the built-in
    ``denoise``, and opening a sample that chose it then failed)."""
    tasks = list(tasks)
    titles = Counter(task.title for task in tasks)
    return [(task.title if titles[task.title] == 1 else f"{task.title} [{task.name}]", task.name) for task in tasks]
