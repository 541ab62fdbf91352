"""The dock widget's work, without Qt: request coalescing, the restorer cache, the requests
and the generators its workers run (preview, Apply, sweep, the "Auto" estimate).

Names and readings are in :mod:`napari_hyperres.ui.labels`, the slider scale and geometry
in :mod:`napari_hyperres.ui.geometry`.

:mod:`napari_hyperres.ui.widget` is thin glue from napari/magicgui to these pieces,
so everything here is unit-tested without a viewer. Importing this module imports
neither napari nor Qt.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterator, NamedTuple, Sequence, TypeVar

import numpy as np

from ..core.tasks import Task
from ..errors import WeightsError
from .labels import is_image_conditioned, output_metadata
from .outputs import OUTPUT_KEY

if TYPE_CHECKING:
    from ..blind.levels import LevelChoice
    from ..engine import Restorer

T = TypeVar("T")


class WorkerFailure(Exception):
    """A ``RuntimeError`` raised in a worker's generator (torch's out-of-memory errors among them),
    carried out as another type; the original is its ``__cause__``.

    superqt's generator worker takes any ``RuntimeError`` for "the worker was deleted": it
    drops it with a warning and emits neither ``errored`` nor ``finished``, so the widget
    would stay busy for ever and say nothing.
    """


def reporting_errors(steps: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """``steps`` (a generator function run by a napari worker) whose RuntimeErrors come out
    as :class:`WorkerFailure`, which the worker reports through ``errored``."""

    @functools.wraps(steps)
    def wrapped(*args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            return (yield from steps(*args, **kwargs))
        except RuntimeError as exc:
            raise WorkerFailure(str(exc)) from exc

    return wrapped


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


def estimator_weights(task: Task, weights: str | os.PathLike | None = None) -> str | None:
    """The level-estimator weights the "Auto" button would use for ``task``, if they exist.

    ``weights`` overrides the task's own (:attr:`Task.estimator`) or shipped ``"<task>.estimator"``
    (the name :func:`napari_hyperres.blind.estimate.estimator_weights_name` gives). Returns the name or
    path, or ``None`` when there is no such file (image-conditioned tasks never have one).
    """
    if is_image_conditioned(task):
        return None
    from ..blind.estimate import estimator_weights_name
    from ..core.weights import resolve_weights

    name = str(weights) if weights else estimator_weights_name(task)
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


def estimate_request(request: Request, *, path: str | None = None, weights: str | None = None, by_brightness: bool = False) -> LevelChoice:
    """The level of the request's image and how it was found (the "Auto" button).

    Runs in a worker thread, through :func:`napari_hyperres.blind.levels.resolve_level`:
    ``dejpeg`` on a layer read from a JPEG file (``path``) reads the quality exactly from
    the file's quantisation tables; a photon-limited task reads the photons of the layer's
    fit (``request.noise``); otherwise the task's estimator (``weights``: override of the
    shipped ones) runs on the displayed plane. The estimate comes back as found: one
    outside the task's range is for the caller to report. ``by_brightness``: the plane's level
    for each brightness (:attr:`LevelChoice.curve`).

    Raises:
        WeightsError: no estimator for the task; ShapeError: unreadable JPEG file.
    """
    from ..blind.brightness import BY_BRIGHTNESS
    from ..blind.levels import resolve_level

    value_range = None
    if request.task.noise_parameters:  # the layer's fit, read against the layer's range
        request = request.with_statistics()
        value_range = request.value_range
    in_file = request.task.level_in_file
    plane = None if in_file is not None and in_file.level_alone(path) else np.asarray(request.data[request.index])
    device = None if request.device == "auto" else request.device
    return resolve_level(
        request.task, BY_BRIGHTNESS if by_brightness else "auto", plane, path=path, rgb=request.rgb, value_range=value_range,
        weights=weights and str(weights), device=device, noise=request.noise,
    )


class RestorerCache:
    """One :class:`~napari_hyperres.engine.restorer.Restorer` per (task, device, weights), built on first use.

    Safe to call from worker threads (building is serialised); :meth:`release` frees
    every Restorer's cached networks and accelerator memory and forgets them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._restorers: dict[tuple[str, str, str | None], Restorer] = {}

    def get(self, task: Task, device: str = "auto", weights: str | None = None, self_ensemble: bool = False) -> Restorer:
        """The Restorer for ``task`` on ``device`` (``"auto"`` picks the best), built if needed;
        ``self_ensemble``: the same Restorer averaging the 8 rotations / mirrors (Apply's "best
        quality"; :meth:`~napari_hyperres.engine.restorer.Restorer.with_self_ensemble`, nothing loaded twice).

        Raises:
            WeightsError, DeviceError: as :class:`~napari_hyperres.engine.restorer.Restorer` does.
        """
        key = (task.name, device, None if weights is None else str(weights))
        with self._lock:
            restorer = self._restorers.get(key)
            if restorer is None or restorer.task.differs_beyond_chroma(task):  # a file's chroma: the same networks
                from ..engine import Restorer

                restorer = Restorer(task, weights=key[2], device=None if device == "auto" else device)
                self._restorers[key] = restorer
        return restorer.with_task(task).with_self_ensemble(self_ensemble)

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


def content_sample(data: Any, rgb: bool = False, per_axis: int = 32) -> int | None:
    """A hash of a strided sample of a numpy layer's pixels (at most ``per_axis`` per spatial axis, 4 per
    leading axis), which tells data edited in place from the data read before (a review: after ``a[:] *= 50``
    Apply used the old intensity range and came out below its noisy input). ``None`` for lazy (dask) data:
    reading it would compute it."""
    if not isinstance(data, np.ndarray) or data.size == 0:
        return None
    spatial = 3 if rgb else 2
    lead = data.ndim - spatial
    steps = [max(1, n // 4) for n in data.shape[:lead]] + [max(1, n // per_axis) for n in data.shape[lead : lead + 2]]
    steps += [1] * (data.ndim - len(steps))
    return hash(np.ascontiguousarray(data[tuple(slice(None, None, step) for step in steps)]).tobytes())


class LayerStatistics:
    """The whole layer's intensity range and noise fit, per layer data, for the last few layers used.

    They make a previewed plane equal that plane of Apply's result. Reading them takes
    seconds for a large stack (percentiles of a 20 × 2048² uint16 stack: 1.6 s), so they are
    computed in the worker that first needs them, never on the GUI thread, and kept while
    the user switches between layers. Safe to call from worker threads (one computes at a time).
    """

    def __init__(self, size: int = 8) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._values: OrderedDict[Any, Any] = OrderedDict()

    def peek(self, key: Any) -> Any:
        """The value kept under ``key``, or ``None``: nothing is computed (for the GUI thread)."""
        with self._lock:
            return self._values.get(key)

    def get(self, key: Any, compute: Callable[[], T]) -> T:
        """The value kept under ``key``, else ``compute()`` kept (the least recently used goes beyond ``size``)."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            value = compute()
            self._values[key] = value
            if len(self._values) > self._size:
                self._values.popitem(last=False)
            return value


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
    source_file: str | None = None
    """The file the input layer's pixels come from (:func:`~napari_hyperres.ui.outputs.origin_file`: through a
    chain of restorations too), recorded in outputs: "Save…" writes them with its axes, pixel size and colour profile."""
    after: Any = None
    """The restorations the input layer came from, where it is this panel's output (a chain:
    :func:`~napari_hyperres.ui.outputs.restored_before`), recorded in outputs as ``"after"``."""
    value_range: tuple[float, float] | None = None
    """``(black, white)`` for the whole layer (:func:`napari_hyperres.engine.restorer.whole_value_range`):
    a previewed plane then equals that plane of Apply's result, also for float layers."""
    noise: Any = None
    """Photon-limited tasks: the whole layer's Poisson–Gaussian fit
    (:func:`napari_hyperres.engine.restorer.whole_noise`), for the same reason."""
    viewport: tuple[int, int, int, int] | None = None
    """``(y0, y1, x0, x1)``: the part of the plane on screen (previews restore it first)."""
    self_ensemble: bool = False
    """Apply averages the network over the 8 rotations / mirrors (8× slower); previews never do."""
    curve: Any = None
    """Noise that follows brightness: the layer's :class:`~napari_hyperres.blind.brightness.LevelCurve`,
    restored moved to :attr:`level` (:meth:`restore_level`); ``None``: one level everywhere."""
    statistics: LayerStatistics | None = dataclasses.field(default=None, compare=False, repr=False)
    """Where :meth:`with_statistics` keeps what it computes (the widget's), or ``None``."""
    data_key: Any = None
    """What identifies the layer's data for :attr:`statistics` (layer id, data id, shape, dtype)."""
    serial: int = dataclasses.field(default=0, compare=False)
    """The widget's count of requests when this one was made: a preview asked for before an Apply whose
    result is already shown is stale (it would be placed over the result)."""

    def with_statistics(self) -> Request:
        """This request with the whole layer's ``value_range`` (:func:`~napari_hyperres.engine.whole_value_range`)
        and, for photon-limited tasks, ``noise`` (:func:`~napari_hyperres.engine.whole_noise`) filled in.

        Called first thing in each worker: the reading runs on the worker's thread, and is
        taken from :attr:`statistics` when this layer's data was read before.
        """
        from ..engine import whole_camera, whole_noise, whole_value_range

        def kept(what: str, compute: Callable[[], Any]) -> Any:
            if self.statistics is None or self.data_key is None:
                return compute()
            return self.statistics.get(self._statistics_key(what), compute)

        value_range = self.value_range
        if value_range is None:
            counts = bool(self.task.noise_parameters)  # photon counts: a float layer in [0, 1] is read by its range
            value_range = kept("range", lambda: whole_value_range(self.data, self.rgb, counts=counts))
        noise = self.noise
        if noise is None and self.task.noise_parameters:
            noise = kept("noise", lambda: whole_noise(self.data, self.rgb, self.task.name))
        elif noise is not None and noise.camera and self.task.noise_parameters:  # the camera field: checked on the layer once
            camera = noise
            noise = kept(("camera", camera.gain, camera.beta, camera.offset),
                         lambda: whole_camera(camera, self.data, value_range, self.rgb, self.task.name))
        return dataclasses.replace(self, value_range=value_range, noise=noise)

    def _statistics_key(self, what: str | tuple) -> tuple:
        """Where :attr:`statistics` keeps ``what`` ("range", "noise", or a camera's key) of this layer's data: the range per
        rule (photon counts or not), so one key serves :meth:`with_statistics` and :meth:`kept_noise`."""
        return (self.data_key, ("range", bool(self.task.noise_parameters)) if what == "range" else what)

    def level_misfit(self) -> str | None:
        """Photon-limited tasks at one level: what is wrong with :attr:`level` where it lies far from what the
        layer's noise fit reads (:func:`~napari_hyperres.blind.photon_fit.level_misfit`), else ``None``. Reads
        only what :attr:`statistics` keeps (no fit on the GUI thread): ``None`` before a worker has read it."""
        kept = self.kept_noise() if self.curve is None else None
        if kept is None:
            return None
        from ..blind.photon_fit import level_misfit

        noise, (black, white) = kept
        return level_misfit(self.level, noise.photons(black, white), self.task.level_range)

    def kept_noise(self) -> tuple[Any, tuple[float, float]] | None:
        """Photon-limited tasks: ``(noise fit, (black, white))`` of the whole layer as a worker read them
        (:meth:`with_statistics`), without reading anything; ``None`` before that or for other tasks."""
        if not self.task.noise_parameters:
            return None
        noise, value_range = self.noise, self.value_range
        if self.statistics is not None and self.data_key is not None:
            noise = noise if noise is not None else self.statistics.peek(self._statistics_key("noise"))
            value_range = value_range if value_range is not None else self.statistics.peek(self._statistics_key("range"))
        return None if noise is None or value_range is None else (noise, value_range)

    def restore_level(self, level: float | None = None):
        """What the engine restores at for ``level`` (default :attr:`level`): the level, or the
        curve moved to it (:meth:`~napari_hyperres.blind.brightness.LevelCurve.scaled`)."""
        level = self.level if level is None else level
        return level if self.curve is None else self.curve.scaled(level, self.task)

    def passes(self) -> float:
        """Network passes per pixel of the displayed plane: the task's (:meth:`Task.passes`), times the
        levels a curve runs at (:meth:`~napari_hyperres.blind.brightness.LevelCurve.levels_to_run`)."""
        per_level = self.task.passes(self.rgb)
        return per_level if self.curve is None else per_level * len(self.restore_level().levels_to_run(self.task))

    @property
    def level_note(self) -> str:
        """What names add after the level: ``" by brightness"`` for a curve, else nothing."""
        return "" if self.curve is None else " by brightness"

    @property
    def shown_level(self) -> float | None:
        """The level as names show it: ``None`` for image-conditioned tasks (they have none)."""
        return None if is_image_conditioned(self.task) else self.level

    def metadata(self, level: float | None = None, selection: Any = None, extra: dict | None = None) -> dict[str, Any]:
        """:func:`output_metadata` of an output of this request (at ``level``, default its own;
        ``extra``: the weights file's, whose reference mixtures read ``selection``)."""
        from ..blind.mixtures import read_selections

        weights = str(self.weights or self.task.weights)
        readings = read_selections(selection, extra or {}) if selection is not None else None
        metadata = output_metadata(
            self.source, self.task, self.level if level is None else level, weights, selection, readings, self.self_ensemble,
            curve=None if self.curve is None else self.restore_level(level),
        )
        if self.source_file:
            metadata[OUTPUT_KEY]["source_file"] = self.source_file
        if self.after:
            metadata[OUTPUT_KEY]["after"] = self.after
        return metadata


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
        plane, request.restore_level(), rgb=request.rgb, value_range=request.value_range, noise=request.noise
    )
    return Restored(result, time.perf_counter() - start, report.selections)


def restore_steps(cache: RestorerCache, request: Request) -> Iterator[tuple[int, int]]:
    """Restore the whole array, yielding ``(done, total)`` tiles; the return value is a :class:`Restored`.

    A generator worker that is asked to quit stops at the next yield, so nothing is returned.
    """
    from ..engine import is_dask_array

    start = time.perf_counter()
    request = request.with_statistics()
    restorer = cache.get(request.task, request.device, request.weights, request.self_ensemble)
    if is_dask_array(request.data) and not restorer.image_conditioned:
        # a dask layer (big or multi-file data): restored lazily, plane by plane. Where the output fits
        # EAGER_MEMORY_SHARE of the free memory, the planes are computed here, with progress and Cancel; napari
        # computes a lazy layer's planes on its GUI thread as it shows them (a review: Apply "done" in 0.2 s,
        # then 4 s frozen, 1.8 s per new frame, and Cancel could not stop it). Larger outputs stay lazy.
        yield (0, 1)
        lazy = restorer.restore_lazy(request.data, request.restore_level(), rgb=request.rgb, value_range=request.value_range, noise=request.noise)
        if lazy.nbytes > EAGER_MEMORY_SHARE * free_memory():
            yield (1, 1)
            return Restored(lazy, time.perf_counter() - start)
        lead = lazy.ndim - (3 if request.rgb else 2)
        bands = np.cumsum((0,) + tuple(lazy.chunks[lead]))  # each plane a band of chunk rows at a time (a diff review:
        pieces = [(index, slice(int(top), int(bottom)))  # one large plane was one compute, no progress nor Cancel)
                  for index in np.ndindex(*lazy.shape[:lead]) for top, bottom in zip(bands[:-1], bands[1:], strict=True)]
        result = np.empty(lazy.shape, lazy.dtype)
        for done, (index, rows) in enumerate(pieces):
            yield (done, len(pieces))  # a worker asked to quit stops here: no layer is added
            result[index + (rows,)] = lazy[index + (rows,)].compute(scheduler="synchronous")
        yield (len(pieces), len(pieces))
        return Restored(result, time.perf_counter() - start)
    return (yield from drain_restore_steps(restorer, np.asarray(request.data), request, start))


EAGER_MEMORY_SHARE = 0.25
"""The share of the free memory an Apply output of a dask layer may take to be computed by Apply itself (in its
worker, with progress and Cancel) rather than left lazy for napari to compute plane by plane as it shows them."""


def free_memory() -> int:
    """Bytes of memory free now (psutil, which napari installs; 1 GiB where it cannot tell)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 — no psutil, or no answer: a modest guess
        return 2**30


def drain_restore_steps(restorer: Restorer, data: np.ndarray, request: Request, start: float) -> Iterator[tuple[int, int]]:
    """:meth:`Restorer.restore_steps` of ``data`` at ``request``'s settings: yields its ``(done, total)``
    steps; returns a :class:`Restored` (timed from ``start``, with HAIR's selections)."""
    from ..engine import Report

    result = report = None
    for step in restorer.restore_steps(data, request.restore_level(), rgb=request.rgb, value_range=request.value_range, noise=request.noise):
        if isinstance(step, np.ndarray):
            result = step
        elif isinstance(step, Report):
            report = step
        elif isinstance(step, tuple):
            yield step
    return Restored(result, time.perf_counter() - start, report.selections)


def sweep_steps(cache: RestorerCache, request: Request, levels: Sequence[float]) -> Iterator[tuple[int, int]]:
    """Restore the plane at each of ``levels``, yielding ``(done, len(levels))``; returns ``(N, ...)``."""
    request = request.with_statistics()
    restorer = cache.get(request.task, request.device, request.weights)
    plane = np.asarray(request.data[request.index])
    outputs = []
    yield (0, len(levels))
    for i, level in enumerate(levels):
        outputs.append(restorer.restore(plane, request.restore_level(level), rgb=request.rgb, value_range=request.value_range, noise=request.noise))
        yield (i + 1, len(levels))
    return np.stack(outputs)
