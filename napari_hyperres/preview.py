"""The dock widget's logic that needs no Qt: request coalescing, plane picking,
output names, geometry and metadata, and the generators its workers run.

:mod:`napari_hyperres._widget` is thin glue from napari/magicgui to these pieces,
so everything here is unit-tested without a viewer. Importing this module imports
neither napari nor Qt.
"""

from __future__ import annotations

import importlib
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterator, Sequence, TypeVar

import numpy as np

from .errors import HyperResError, LevelRangeError, ShapeError, WeightsError
from .tasks import Task

if TYPE_CHECKING:
    from .engine import Restorer

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


def output_name(source: str, task: str, level: float) -> str:
    """Name of a restored layer: ``"<source> [<task> <level>]"``."""
    return f"{source} [{task} {format_level(level)}]"


def preview_name(source: str, task: str, level: float) -> str:
    """Name of the (single, updated in place) preview layer of ``source``."""
    return f"{source} [{task} {format_level(level)} preview]"


def sweep_name(source: str, task: str, levels: Sequence[float]) -> str:
    """Name of a level-sweep layer: ``"<source> [<task> sweep 0–100]"``."""
    return f"{source} [{task} sweep {format_level(levels[0])}–{format_level(levels[-1])}]"


def level_label(task: Task) -> str:
    """The level slider's label, with the task's unit."""
    return f"level ({task.unit})"


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
    return [float(np.round(v, 6)) for v in np.linspace(lo, hi, int(n))]


def find_estimator() -> Callable[..., float] | None:
    """``napari_hyperres.estimate.estimate_level`` if that module exists, else ``None``.

    The widget shows its "Auto" level button only when this returns a function; it is
    called as ``estimate_level(plane, task_name) -> level`` (task units).
    """
    try:
        module = importlib.import_module(f"{__package__}.estimate")
    except ImportError:
        return None
    function = getattr(module, "estimate_level", None)
    return function if callable(function) else None


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


def output_metadata(source: str, task: Task, level: float, weights: str) -> dict[str, Any]:
    """Layer metadata recording how an output was made (under the key ``"hyperres"``)."""
    return {"hyperres": {"source": source, "task": task.name, "level": float(level), "unit": task.unit, "weights": weights}}


class RestorerCache:
    """One :class:`~napari_hyperres.engine.Restorer` per (task, device, weights), built on first use.

    Safe to call from worker threads (building is serialised); :meth:`release` frees
    every Restorer's cached networks and accelerator memory and forgets them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._restorers: dict[tuple[str, str, str | None], Restorer] = {}

    def get(self, task: Task, device: str = "auto", weights: str | None = None) -> Restorer:
        """The Restorer for ``task`` on ``device`` (``"auto"`` picks the best), built if needed.

        Raises:
            WeightsError, DeviceError: as :class:`~napari_hyperres.engine.Restorer` does.
        """
        key = (task.name, device, None if weights is None else str(weights))
        with self._lock:
            restorer = self._restorers.get(key)
            if restorer is None or restorer.task != task:
                from .engine import Restorer

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


def restore_plane(cache: RestorerCache, request: Request) -> tuple[np.ndarray, float]:
    """Restore the plane ``request.data[request.index]``; returns ``(result, seconds)``.

    Runs in a worker thread; reading the plane (dask arrays too) happens here.
    """
    start = time.perf_counter()
    restorer = cache.get(request.task, request.device, request.weights)
    plane = np.asarray(request.data[request.index])
    result = restorer.restore(plane, request.level, rgb=request.rgb)
    return result, time.perf_counter() - start


def restore_steps(cache: RestorerCache, request: Request) -> Iterator[tuple[int, int]]:
    """Restore the whole array, yielding ``(done, total)`` tiles; the return value is the result.

    A generator worker that is asked to quit stops at the next yield, so nothing is returned.
    """
    restorer = cache.get(request.task, request.device, request.weights)
    result = None
    for step in restorer.restore_steps(np.asarray(request.data), request.level, rgb=request.rgb):
        if isinstance(step, np.ndarray):
            result = step
        else:
            yield step
    return result


def sweep_steps(cache: RestorerCache, request: Request, levels: Sequence[float]) -> Iterator[tuple[int, int]]:
    """Restore the plane at each of ``levels``, yielding ``(done, len(levels))``; returns ``(N, ...)``."""
    restorer = cache.get(request.task, request.device, request.weights)
    plane = np.asarray(request.data[request.index])
    outputs = []
    yield (0, len(levels))
    for i, level in enumerate(levels):
        outputs.append(restorer.restore(plane, level, rgb=request.rgb))
        yield (i + 1, len(levels))
    return np.stack(outputs)


__all__ = [
    "LatestOnly",
    "Request",
    "RestorerCache",
    "describe_error",
    "find_estimator",
    "format_level",
    "level_label",
    "output_geometry",
    "output_metadata",
    "output_name",
    "plane_index",
    "preview_name",
    "restore_plane",
    "restore_steps",
    "sweep_levels",
    "sweep_name",
    "sweep_steps",
]
