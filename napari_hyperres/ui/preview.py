"""The dock widget's logic that needs no Qt: request coalescing, plane picking,
output names, geometry and metadata, and the generators its workers run.

:mod:`napari_hyperres.ui.widget` is thin glue from napari/magicgui to these pieces,
so everything here is unit-tested without a viewer. Importing this module imports
neither napari nor Qt.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Iterator, NamedTuple, Sequence, TypeVar

import numpy as np

from ..core.tasks import Task
from ..errors import HyperResError, LevelRangeError, ShapeError, WeightsError

if TYPE_CHECKING:
    from ..blind.levels import LevelChoice
    from ..engine import Restorer

T = TypeVar("T")


class LatestOnly(Generic[T]):
    """Run one job at a time and keep only the newest request that arrives meanwhile.

    ``submit(request)`` returns True when the caller should start it now; otherwise the
    request waits as *pending*, replacing any older pending request. When the running job
    ends, ``finish()`` hands back the pending request to start next (or ``None``: idle).
    Call every method from one thread (the GUI thread).

    Example:
        >>> queue = LatestOnly()
        >>> queue.submit(10), queue.submit(20), queue.submit(30)
        (True, False, False)
        >>> queue.finish(), queue.finish()
        (30, None)
    """

    def __init__(self) -> None:
        self.running = False
        self.pending: T | None = None

    def submit(self, request: T) -> bool:
        """Start ``request`` now (True) or keep it as the pending one (False)."""
        if self.running:
            self.pending = request
            return False
        self.running = True
        return True

    def finish(self) -> T | None:
        """The running job ended: the pending request to start next, or ``None`` (now idle)."""
        request, self.pending = self.pending, None
        if request is None:
            self.running = False
        return request

    def clear(self) -> None:
        """Drop the pending request (the running job, if any, still has to call :meth:`finish`)."""
        self.pending = None


def format_level(level: float) -> str:
    """A level as shown in layer names: ``25``, ``2.5``, ``37.33``."""
    return f"{round(float(level), 2):g}"


def output_name(source: str, task: str, level: float | None) -> str:
    """Name of a restored layer: ``"<source> [<task> <level>]"``, or ``"<source> [<task>]"`` without a level."""
    return f"{source} [{_task_and_level(task, level)}]"


def preview_name(source: str, task: str, level: float | None) -> str:
    """Name of the (single, updated in place) preview layer of ``source``."""
    return f"{source} [{_task_and_level(task, level)} preview]"


def _task_and_level(task: str, level: float | None) -> str:
    return task if level is None else f"{task} {format_level(level)}"


def sweep_name(source: str, task: str, levels: Sequence[float]) -> str:
    """Name of a level-sweep layer: ``"<source> [<task> sweep 0–100]"``."""
    return f"{source} [{task} sweep {format_level(levels[0])}–{format_level(levels[-1])}]"


def slider_from_level(task: Task, level: float) -> float:
    """The slider position of ``level``: the level itself, or its log10 for a log-scale task."""
    return float(np.log10(level)) if task.level_scale == "log" else float(level)


def level_from_slider(task: Task, position: float) -> float:
    """The level at slider ``position`` (inverse of :func:`slider_from_level`), rounded to 3 significant digits on a log scale."""
    if task.level_scale != "log":
        return float(position)
    return float(f"{10.0 ** float(position):.3g}")


def level_label(task: Task) -> str:
    """The level slider's label: the task's unit, once (``σ (8-bit)``, ``photons``, ``JPEG quality``)."""
    return task.unit


def plane_index(data_point: Sequence[float], shape: Sequence[int], rgb: bool) -> tuple[int, ...]:
    """Index of the displayed 2-D plane along the leading axes of an array of ``shape``.

    Args:
        data_point: the viewer's position in the layer's data coordinates
            (``layer.world_to_data(viewer.dims.point)``), one value per non-channel axis.
        shape: the layer's data shape (``(..., Y, X)`` or ``(..., Y, X, 3|4)``).
        rgb: whether the last axis is colour.

    Returns:
        One integer per leading axis (Z, T, …), rounded like napari's slicing and
        clipped to the array; ``()`` for a single plane.
    """
    lead = len(shape) - (3 if rgb else 2)
    if lead < 0:
        raise ShapeError(f"expected an image with at least 2 spatial axes, got shape {tuple(shape)}")
    index = []
    for axis in range(lead):
        value = float(data_point[axis]) if axis < len(data_point) else 0.0
        index.append(int(np.clip(np.round(value), 0, shape[axis] - 1)))
    return tuple(index)


def output_geometry(
    scale: Sequence[float], translate: Sequence[float], in_yx: Sequence[int], out_yx: Sequence[int]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Scale and translate of a restored layer so that it overlays its input.

    Only the last two entries (Y, X) change, and only when the output has another
    size than the input (super-resolution): the pixel pitch becomes ``scale · in / out``
    and the grid is shifted so that both images cover the same extent (output pixel
    ``j`` is centred on input coordinate ``(j + 0.5) · in / out - 0.5``).

    Args:
        scale, translate: the input layer's (one value per non-channel axis).
        in_yx, out_yx: input and output plane sizes ``(height, width)``.
    """
    scale_out = [float(s) for s in scale]
    translate_out = [float(t) for t in translate]
    for k in (1, 2):
        n_in, n_out = int(in_yx[-k]), int(out_yx[-k])
        if n_in == n_out:
            continue
        pitch_ratio = n_in / n_out
        s = scale_out[-k]
        scale_out[-k] = s * pitch_ratio
        translate_out[-k] = translate_out[-k] + s * (0.5 * pitch_ratio - 0.5)
    return tuple(scale_out), tuple(translate_out)


def sweep_levels(task: Task, n: int, low: float | None = None, high: float | None = None) -> list[float]:
    """``n`` evenly spaced levels from ``low`` to ``high`` (default: the task's whole range).

    Raises:
        LevelRangeError: ``low``/``high`` outside the task's range, or ``low >= high``.
        ValueError: ``n < 2``.
    """
    if int(n) < 2:
        raise ValueError(f"expected at least 2 levels for a sweep, got {n}")
    lo = task.check_level(task.level_range[0] if low is None else low)
    hi = task.check_level(task.level_range[1] if high is None else high)
    if not lo < hi:
        raise LevelRangeError(f"task {task.name!r}: expected a sweep from a lower to a higher level, got {lo:g} to {hi:g}")
    spaced = np.geomspace if task.level_scale == "log" else np.linspace  # log tasks: equal ratios
    return [float(np.round(v, 6)) for v in spaced(lo, hi, int(n))]


def is_image_conditioned(task: Task) -> bool:
    """Whether ``task``'s network picks its own weights from the image (no level, no slider)."""
    return task.conditioning == "image"


def estimator_weights(task: Task, weights: str | os.PathLike | None = None) -> str | None:
    """The level-estimator weights the "Auto" button would use for ``task``, if they exist.

    ``weights`` overrides the shipped ``"<task>.estimator"`` (the name
    :func:`napari_hyperres.blind.estimate.estimator_weights_name` gives). Returns the name or
    path, or ``None`` when there is no such file (image-conditioned tasks never have one).
    """
    if is_image_conditioned(task):
        return None
    from ..core.weights import resolve_weights

    name = str(weights) if weights else f"{task.name}.estimator"
    try:
        resolve_weights(name)
    except WeightsError:
        return None
    return name


def quality_from_file(task: Task, path: str | os.PathLike | None) -> bool:
    """Whether ``task``'s level can be read exactly from the file at ``path`` (:attr:`Task.level_in_file`)."""
    return task.level_in_file is not None and task.level_in_file.applies_to(path)


def can_estimate(task: Task, weights: str | os.PathLike | None = None, path: str | os.PathLike | None = None) -> bool:
    """Whether the "Auto" button can set ``task``'s level: from the file at ``path`` or from an estimator.

    Only for tasks whose level an image can tell (:attr:`Task.level_from_image`).
    """
    if not task.level_from_image:
        return False
    if task.noise_parameters:
        return True  # fitted from the image, no network
    return quality_from_file(task, path) or estimator_weights(task, weights) is not None


def estimate_request(request: Request, *, path: str | None = None, weights: str | None = None) -> LevelChoice:
    """The level of the request's image and how it was found (the "Auto" button).

    Runs in a worker thread, through :func:`napari_hyperres.blind.levels.resolve_level`:
    ``dejpeg`` on a layer read from a JPEG file (``path``) reads the quality exactly from
    the file's quantisation tables; a photon-limited task reads the photons of the layer's
    fit (``request.noise``); otherwise the task's estimator (``weights``: override of the
    shipped ones) runs on the displayed plane. The estimate comes back as found: one
    outside the task's range is for the caller to report.

    Raises:
        WeightsError: no estimator for the task; ShapeError: unreadable JPEG file.
    """
    from ..blind.levels import LevelChoice, resolve_level

    if request.task.noise_parameters and request.noise is not None:
        from ..blind.estimate import describe_fit
        from ..core.stabilize import fitted_photons
        from ..engine import whole_value_range

        black, white = request.value_range or whole_value_range(request.data, request.rgb)
        photons = fitted_photons(request.task, request.noise, black, white)
        return LevelChoice(photons, describe_fit(request.noise), estimate=photons, noise=request.noise)
    plane = None if quality_from_file(request.task, path) else np.asarray(request.data[request.index])
    device = None if request.device == "auto" else request.device
    return resolve_level(request.task, "auto", plane, path=path, rgb=request.rgb, weights=weights and str(weights), device=device)


def describe_estimate_error(exc: BaseException, task: Task) -> str:
    """The message the widget shows when the "Auto" level estimate fails, with what to do."""
    message = str(exc) or type(exc).__name__
    if not isinstance(exc, HyperResError):
        message = f"{type(exc).__name__}: {message}"
    if isinstance(exc, WeightsError) and "train-estimator" not in message:
        message += f"; train one with `python -m trainer train-estimator --task {task.name}`"
    return f"could not estimate the level of {task.name!r} ({message}); set the level with the slider instead"


def describe_selection(selection: Any) -> str:
    """A short reading of HAIR's mixtures ``(parts, N)``: which candidate dominates, and where.

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
    message = str(exc) or type(exc).__name__
    if isinstance(exc, WeightsError) and task is not None:
        if "python -m trainer" not in message:
            message += f"; no weights yet for {task.name!r}: train with `python -m trainer train --task {task.name} ...`"
        message += " (then choose the exported .safetensors file under 'weights')"
    if not isinstance(exc, HyperResError):
        message = f"{type(exc).__name__}: {message}"
    return message


def output_metadata(source: str, task: Task, level: float, weights: str, selection: Any = None) -> dict[str, Any]:
    """Layer metadata recording how an output was made (under the key ``"hyperres"``).

    Image-conditioned tasks have no level (``"level": None``); their ``selection`` (HAIR's
    mixtures, ``(parts, N)`` per plane) is stored as a nested list under ``"selection"``.
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
    return {"hyperres": metadata}


class RestorerCache:
    """One :class:`~napari_hyperres.engine.restorer.Restorer` per (task, device, weights), built on first use.

    Safe to call from worker threads (building is serialised); :meth:`release` frees
    every Restorer's cached networks and accelerator memory and forgets them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._restorers: dict[tuple[str, str, str | None], Restorer] = {}

    def get(self, task: Task, device: str = "auto", weights: str | None = None) -> Restorer:
        """The Restorer for ``task`` on ``device`` (``"auto"`` picks the best), built if needed.

        Raises:
            WeightsError, DeviceError: as :class:`~napari_hyperres.engine.restorer.Restorer` does.
        """
        key = (task.name, device, None if weights is None else str(weights))
        with self._lock:
            restorer = self._restorers.get(key)
            if restorer is None or restorer.task != task:
                from ..engine import Restorer

                restorer = Restorer(task, weights=key[2], device=None if device == "auto" else device)
                self._restorers[key] = restorer
            return restorer

    def __len__(self) -> int:
        return len(self._restorers)

    def release(self) -> None:
        """Free all cached networks (GPU memory included) and forget the Restorers."""
        with self._lock:
            restorers, self._restorers = list(self._restorers.values()), {}
        for restorer in restorers:
            restorer.release()
        if restorers:
            import gc

            gc.collect()
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()


@dataclass(frozen=True)
class Request:
    """What the widget asks a worker to do, captured on the GUI thread."""

    task: Task
    level: float
    device: str
    weights: str | None
    data: Any
    rgb: bool
    index: tuple[int, ...] = ()
    source: str = ""
    source_id: Any = None
    value_range: tuple[float, float] | None = None
    """``(black, white)`` for the whole layer (:func:`napari_hyperres.engine.restorer.whole_value_range`):
    a previewed plane then equals that plane of Apply's result, also for float layers."""
    noise: Any = None
    """Photon-limited tasks: the whole layer's Poisson–Gaussian fit
    (:func:`napari_hyperres.engine.restorer.whole_noise`), for the same reason."""

    @property
    def shown_level(self) -> float | None:
        """The level as names show it: ``None`` for image-conditioned tasks (they have none)."""
        return None if is_image_conditioned(self.task) else self.level

    def metadata(self, level: float | None = None, selection: Any = None) -> dict[str, Any]:
        """:func:`output_metadata` of an output of this request (at ``level``, default its own)."""
        weights = str(self.weights or self.task.weights)
        return output_metadata(self.source, self.task, self.level if level is None else level, weights, selection)


class Restored(NamedTuple):
    """What a restore worker returns.

    Attributes:
        data: the restored plane or array.
        seconds: wall time of the restoration.
        selection: image-conditioned tasks only: HAIR's mixtures, ``(parts, N)`` for a
            plane, ``(*leading axes, parts, N)`` for a stack (one per plane); else ``None``.
    """

    data: np.ndarray
    seconds: float
    selection: np.ndarray | None = None


def restore_plane(cache: RestorerCache, request: Request) -> Restored:
    """Restore the plane ``request.data[request.index]``; returns ``Restored(result, seconds, selection)``.

    Runs in a worker thread; reading the plane (dask arrays too) happens here.
    """
    start = time.perf_counter()
    restorer = cache.get(request.task, request.device, request.weights)
    plane = np.asarray(request.data[request.index])
    result, report = restorer.restore_with_report(
        plane, request.level, rgb=request.rgb, value_range=request.value_range, noise=request.noise
    )
    return Restored(result, time.perf_counter() - start, report.selections)


def restore_steps(cache: RestorerCache, request: Request) -> Iterator[tuple[int, int]]:
    """Restore the whole array, yielding ``(done, total)`` tiles; the return value is a :class:`Restored`.

    A generator worker that is asked to quit stops at the next yield, so nothing is returned.
    """
    from ..engine import Report, is_dask_array

    start = time.perf_counter()
    restorer = cache.get(request.task, request.device, request.weights)
    if is_dask_array(request.data) and not restorer.image_conditioned:
        # a dask layer (big or multi-file data): the output is lazy too, and napari computes
        # only the planes it shows; nothing is loaded whole
        yield (0, 1)
        result = restorer.restore_lazy(request.data, request.level, rgb=request.rgb, value_range=request.value_range, noise=request.noise)
        yield (1, 1)
        return Restored(result, time.perf_counter() - start)
    data = np.asarray(request.data)
    result = report = None
    for step in restorer.restore_steps(data, request.level, rgb=request.rgb, value_range=request.value_range, noise=request.noise):
        if isinstance(step, np.ndarray):
            result = step
        elif isinstance(step, Report):
            report = step
        elif isinstance(step, tuple):
            yield step
    return Restored(result, time.perf_counter() - start, report.selections)


def sweep_steps(cache: RestorerCache, request: Request, levels: Sequence[float]) -> Iterator[tuple[int, int]]:
    """Restore the plane at each of ``levels``, yielding ``(done, len(levels))``; returns ``(N, ...)``."""
    restorer = cache.get(request.task, request.device, request.weights)
    plane = np.asarray(request.data[request.index])
    outputs = []
    yield (0, len(levels))
    for i, level in enumerate(levels):
        outputs.append(restorer.restore(plane, level, rgb=request.rgb, value_range=request.value_range, noise=request.noise))
        yield (i + 1, len(levels))
    return np.stack(outputs)


__all__ = [
    "LatestOnly",
    "Request",
    "Restored",
    "RestorerCache",
    "can_estimate",
    "describe_error",
    "describe_estimate_error",
    "describe_selection",
    "estimate_request",
    "estimator_weights",
    "format_level",
    "is_image_conditioned",
    "level_label",
    "output_geometry",
    "output_metadata",
    "output_name",
    "plane_index",
    "preview_name",
    "quality_from_file",
    "restore_plane",
    "restore_steps",
    "sweep_levels",
    "sweep_name",
    "sweep_steps",
]
