"""One path from what a user asked for (a number, ``"auto"``) to the level a restoration runs at.

:func:`resolve_level` is what the engine, the command line and the widget's "Auto" button
all call. A level that was estimated (an estimator's reading, a JPEG file's quantisation
tables, the photons of a Poisson–Gaussian fit) comes back as found, beside the level used:
an estimate outside the task's range is *reported* (:attr:`LevelChoice.outside_range`,
:meth:`LevelChoice.describe`), and the level used is the nearest end of the range.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..core.photon_noise import PoissonGaussian
from ..core.plugins import get_task
from ..core.tasks import Task
from .brightness import (
    BY_BRIGHTNESS,
    LevelCurve,
    check_follows_brightness,
    is_by_brightness,
    level_curve,
)

AUTO = "auto"


def is_auto(level) -> bool:
    """Whether ``level`` asks for the level to be found from the data (``"auto"``, any case)."""
    return isinstance(level, str) and level.strip().lower() == AUTO


@dataclass(frozen=True)
class LevelChoice:
    """The level a restoration runs at, and where it came from.

    Attributes:
        level: the level used, in the task's units (always inside the task's range).
        method: ``"given"``, ``"estimator"``, ``"quantisation tables"`` (a task's
            :attr:`~napari_hyperres.core.tasks.Task.level_in_file` method),
            ``"Poisson–Gaussian fit: …"`` or ``"chosen from the image"`` (HAIR: no level).
        estimate: the level as found, when it was found from the data (may lie outside the range).
        noise: photon-limited tasks: the fitted Poisson–Gaussian parameters behind the level.
        uneven: ``(low, high)``, the 10th and 90th percentiles of the estimator's crop readings when
            they disagree (:func:`~napari_hyperres.blind.estimate.uneven_readings`: fine texture read
            as noise, or noise that varies with brightness); ``None`` when they agree.
        curve: ``"by-brightness"``: the level of each brightness (``level`` is its median), which the
            engine restores each pixel by; ``None`` for one level everywhere.
        note: what to check that the level's source says (a file whose recorded level, or whose estimator
            reading, lies where restoring measured no gain: :attr:`FileLevel.caution`), else ``None``.
    """

    level: float
    method: str
    estimate: float | None = None
    noise: PoissonGaussian | None = None
    uneven: tuple[float, float] | None = None
    curve: LevelCurve | None = None
    note: str | None = None

    @property
    def to_restore(self) -> float | LevelCurve:
        """What the engine restores at: the curve where there is one, else the level."""
        return self.level if self.curve is None else self.curve

    @property
    def outside_range(self) -> bool:
        """Whether an estimate fell outside the task's range (then ``level`` is the nearest end)."""
        return self.estimate is not None and self.estimate != self.level

    def describe(self, task: Task) -> str:
        """For people: ``estimated σ 23.4 (estimator)``; an estimate outside the range says
        what was used instead."""
        if self.curve is not None:
            return f"{self.curve.describe(task)} ({self.method})"
        if self.estimate is None:
            return f"{task.unit} {self.level:.4g} ({self.method})"
        text = f"estimated {task.unit} {self.estimate:.4g} ({self.method})"
        if self.outside_range:
            low, high = task.level_range
            text += f", outside the task's range {low:g}–{high:g}: restored at {self.level:g}"
        caution = self.caution(task)
        return text if caution is None else f"{text}; {caution}"

    def caution(self, task: Task) -> str | None:
        """What to check, for people: :attr:`note`, or what the estimator's crops disagreeing
        (:attr:`uneven`) means; else ``None``."""
        if self.note is not None:
            return self.note
        if self.uneven is None:
            return None
        low, high = (max(value, task.level_range[0]) for value in self.uneven)  # a crop may read below σ 0; none holds less
        if task.level_follows_brightness:
            return (
                f"parts of the image read {task.unit} {low:.3g} to {high:.3g}: fine texture can read as noise, and noise can "
                f"differ between dark and bright parts; check the result, or give the level as a number, or let it "
                f"follow brightness ('{BY_BRIGHTNESS}')"
            )
        return (
            f"parts of the image read {task.unit} {low:.3g} to {high:.3g} (the estimator's crops disagree: their content "
            f"can mislead it); check the result, or give the level as a number"
        )


def resolve_level(
    task: str | Task,
    level: float | str | LevelCurve,
    image: np.ndarray | None = None,
    *,
    path=None,
    rgb: bool | None = None,
    value_range: tuple[float, float] | None = None,
    weights: str | None = None,
    device: str | None = None,
    noise: PoissonGaussian | None = None,
    restoring: bool = True,
) -> LevelChoice:
    """The level to restore ``image`` at, checked once.

    Args:
        task: task name or :class:`Task`.
        level: a number in the task's units, or ``"auto"``: read from the file at ``path``
            when the task's files record it (:attr:`Task.level_in_file`), else fitted
            (photon-limited tasks: the photons of a Poisson–Gaussian fit of the whole image)
            or estimated by the task's trained estimator on ``image`` (a stack: its first plane);
            or ``"by-brightness"`` (tasks whose :attr:`~Task.level_follows_brightness`): a level for
            each brightness of ``image`` (:func:`~napari_hyperres.blind.brightness.level_curve`),
            or such a :class:`LevelCurve` already read.
        image: the decoded image (needed for ``"auto"`` unless the file records the level).
        path, rgb, value_range, weights, device: as for :func:`~napari_hyperres.blind.estimate.estimate_level`.
        noise: photon-limited tasks: a Poisson–Gaussian fit already made (of the whole layer), not fitted again.
        restoring: the level is for restoring (``"auto"`` refused where the image cannot tell it,
            :meth:`Task.check_auto`); ``False`` only reports what the estimator reads (``estimate
            --task sr``: by how much an image was already enlarged).

    Raises:
        LevelRangeError: a given level outside the task's range, or a photon fit outside it.
        ShapeError / WeightsError: ``"auto"`` where the level cannot be found.
    """
    from .estimate import (
        crop_readings,
        describe_fit,
        estimate_photon_noise,
        estimator_weights_name,
        uneven_readings,
    )

    task = get_task(task)
    if task.conditioning == "image":
        return LevelChoice(task.default_level, "chosen from the image")
    if isinstance(level, LevelCurve):
        check_follows_brightness(task)
        return LevelChoice(level.level, "by brightness", curve=level)
    method = "estimator"
    if weights is None and path is not None:
        for_file = estimator_weights_name(task, None, path)
        if for_file != estimator_weights_name(task, None):  # the file's kind has its own: a JPEG file's smoothed noise
            weights, method = for_file, "estimator for JPEG files"
    if is_by_brightness(level):
        curve = level_curve(_required(image, task), task, weights=weights, device=device, rgb=rgb, value_range=value_range)
        return LevelChoice(curve.level, f"{method}, by brightness", estimate=curve.level, curve=curve)
    if not is_auto(level):  # a camera's noise given with it (--camera) travels along: the level sets the strength
        return LevelChoice(task.check_level(level), "given", noise=noise if task.noise_parameters else None)
    if restoring:
        task.check_auto()
    if task.noise_parameters:
        photons, used = estimate_photon_noise(_required(image, task), task, rgb=rgb, value_range=value_range, noise=noise)
        method = f"camera given: {used.describe()}" if used.camera else describe_fit(used)  # nothing fitted (a review)
        return LevelChoice(photons, method, estimate=photons, noise=used)
    if task.level_in_file is not None and task.level_in_file.applies_to(path):
        in_file = task.level_in_file
        recorded = float(in_file.read(path))
        if in_file.saved_again_below is not None and image is not None:
            seen = _estimated_or_none(image, task, weights=weights, device=device, rgb=rgb, value_range=value_range)
            if seen is not None and seen < recorded - in_file.saved_again_below:
                return _within_range(task, seen, f"estimator: the file was saved again at {recorded:g} after a stronger degradation")
        note = None if in_file.caution is None else in_file.caution(recorded)
        return replace(_within_range(task, recorded, in_file.method), note=note)
    readings = crop_readings(_required(image, task), task, weights=weights, device=device, rgb=rgb, value_range=value_range)
    choice = _within_range(task, float(np.median(readings)), method, uneven=uneven_readings(readings, task))
    in_file = task.level_in_file
    caution = None if in_file is None or in_file.caution is None else in_file.caution(float(f"{choice.level:.3g}"))
    if caution is not None:  # a file of another kind read as one the task's files record (a noisy PNG read as q 87: a review)
        suffix = Path(path).suffix.lstrip(".").upper() if path is not None else ""
        kind = f"this {suffix} file" if suffix else "this image"
        uneven = choice.caution(task)  # the crops' disagreement, said too
        note = f"{kind} reads as if saved at {task.unit} {choice.level:.3g}: {caution}"
        return replace(choice, note=note if uneven is None else f"{note}; {uneven}")
    return choice


def task_for_file(path, tasks) -> tuple[Task, float] | None:
    """``(task, level)``: the first of ``tasks`` whose files record their level
    (:attr:`Task.level_in_file`) and for which the file at ``path`` records one worth restoring
    (:attr:`FileLevel.worth_restoring`: a JPEG saved at quality ≤ 75 → ``dejpeg``); else ``None``.

    Reads only what the file records (a JPEG's tables), never its pixels, so it is quick enough
    to run when a layer is chosen; a file that cannot be read suggests nothing.
    """
    from ..errors import HyperResError

    if not path:
        return None
    for task in tasks:
        in_file = task.level_in_file
        if in_file is None or in_file.worth_restoring is None or not in_file.applies_to(path):
            continue
        try:
            level = float(in_file.read(path))
        except (HyperResError, OSError, ValueError):
            continue
        if in_file.worth_restoring(level):
            return task, level
    return None


def _estimated_or_none(image, task: Task, **options) -> float | None:
    """The estimator's reading of ``image``, or ``None`` where the task has no estimator to ask or
    the image is too small for it (a 20×20 JPEG: its file's quality stands unchecked, not refused)."""
    from ..errors import ShapeError, WeightsError
    from .estimate import estimate_level

    try:
        return float(estimate_level(image, task, **options))
    except (WeightsError, ShapeError):
        return None


def _within_range(task: Task, estimate: float, method: str, uneven: tuple[float, float] | None = None) -> LevelChoice:
    low, high = task.level_range
    return LevelChoice(float(np.clip(estimate, low, high)), method, estimate=float(estimate), uneven=uneven)


def _required(image, task: Task) -> np.ndarray:
    if image is None:
        from ..errors import ShapeError

        raise ShapeError(f"task {task.name!r}: 'auto' needs the image to estimate its level from")
    return image
