"""The restoration engine: any dtype, gray/RGB/RGBA, n-D stacks, tiling, devices.

The GUI, the CLI and the trainer's evaluation all go through :class:`Restorer`.
Importing this module imports neither napari nor Qt.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from ..blind.crops import grid_crops, trained_patch
from ..blind.levels import resolve_level
from ..blind.photon_fit import photon_setup
from ..core.color import rgb_to_ycbcr, ycbcr_to_rgb
from ..core.devices import select_device
from ..core.images import is_rgb_image, validate_image
from ..core.intensity import check_dtype, intensity_map_for, reads_data_range
from ..core.models.hyperres import GeneratedNet, HyperResNet, receptive_radius
from ..core.photon_noise import PoissonGaussian
from ..core.plugins import get_task
from ..core.stabilize import StabilizedMap, refuse_rgb
from ..core.tasks import Task
from ..core.weights import WeightsInfo, load_model
from ..errors import CancelledError, LevelRangeWarning, ShapeError, WeightsError

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after each tile, counted over all planes."""

DEFAULT_TILE = 512
"""Tile edge used when an image plane exceeds ``DEFAULT_TILE² · 4`` pixels and no tile is given."""

GENERATED_CACHE_SIZE = 8

SELECTION_CROP = 48
"""Edge of the crops HAIR's classifier sees when its weights do not record their training
patch (GIVs averaged over up to ``MAX_CROPS`` crops per plane)."""

Level = float | str
"""A level in the task's units, or ``"auto"`` (estimated from the image)."""


@dataclass(frozen=True)
class PlaneChoice:
    """A step of :meth:`Restorer.restore_steps` for image-conditioned tasks: the weights mixture
    ``(parts, N)`` (one row per generated part, N candidates) chosen for plane ``index``
    (flat index over the leading axes), yielded before that plane's first progress step."""

    index: int
    mixture: np.ndarray


@dataclass(frozen=True)
class Report:
    """What one restore did (:meth:`Restorer.restore_with_report`).

    Attributes:
        level: the level used, in the task's units ("auto" resolved; photons for ``microscopy``).
        selections: image-conditioned tasks: the mixtures, shape ``lead + (parts, N)``
            (``lead``: the input's leading axes); else ``None``.
        noise: photon-limited tasks: the Poisson–Gaussian parameters at that level; else ``None``.
    """

    level: float
    selections: np.ndarray | None = None
    noise: PoissonGaussian | None = None


def tile_boxes(height: int, width: int, tile: int) -> list[tuple[int, int, int, int]]:
    """Non-overlapping ``(y0, y1, x0, x1)`` boxes of edge ``tile`` (even) covering the plane."""
    return [(y, min(y + tile, height), x, min(x + tile, width)) for y in range(0, height, tile) for x in range(0, width, tile)]


class Restorer:
    """A task's network on a device, restoring arrays at any level.

    Generated networks are cached per level (the last 8), on the device, so
    moving a slider back and forth does not regenerate kernels.

    Args:
        task: task name or :class:`Task`.
        weights: weights name or path; defaults to the task's shipped weights.
        device: ``None``/``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"``.
        model: an already-built network (the trainer's evaluation uses this): a
            :class:`HyperResNet` or anything with ``generate(c)``, or a HAIR
            :class:`~napari_hyperres.core.models.hair.HairNet` for image-conditioned tasks.
        half: run in float16 (default: on CUDA only; measured within 0.05 dB, BENCHMARKS.md).

    Raises:
        UnknownTaskError, WeightsError, DeviceError.
    """

    def __init__(
        self,
        task: str | Task,
        weights: str | None = None,
        device: str | torch.device | None = None,
        *,
        model: HyperResNet | None = None,
        half: bool | None = None,
    ) -> None:
        self.task = get_task(task)
        self.device = select_device(device)
        self.half = self.device.type == "cuda" if half is None else bool(half)
        if model is None:
            name = weights or self.task.weights
            if name is None:
                raise WeightsError(
                    f"task {self.task.name!r} has no weights yet: train with "
                    f"`python -m trainer train --task {self.task.name} ...` and pass the exported file as weights"
                )
            model, self.info = load_model(name, task=self.task.accepted_weights, device=self.device)
            expected = "hair" if self.task.conditioning == "image" else "hyperres"
            if self.info.kind != expected:
                raise WeightsError(f"{name}: holds a {self.info.kind!r} model; task {self.task.name!r} needs {expected!r} weights")
        else:
            model = model.to(self.device).eval()
            self.info = WeightsInfo(name="(in memory)", task=self.task.name, architecture=model.arch.to_dict())
        if model.arch.in_channels != self.task.in_channels:
            raise WeightsError(
                f"weights have {model.arch.in_channels} input channel(s) but task {self.task.name!r} "
                f"is {self.task.channels} ({self.task.in_channels})"
            )
        if self.half:
            model = model.half()
        self.model: HyperResNet = model
        self.dtype = torch.float16 if self.half else torch.float32
        self.overlap = receptive_radius(model.arch)
        self._generated: OrderedDict[float, GeneratedNet] = OrderedDict()
        self._lock = threading.Lock()  # dask may restore blocks from several threads

    def __getstate__(self) -> dict:
        """Pickle support (dask's process and distributed schedulers ship the Restorer to workers).

        The task travels by name (looked up in the worker's registry), the lock and the
        cache of generated networks are not sent.
        """
        state = self.__dict__.copy()
        state["task"] = self.task.name
        state["_generated"] = OrderedDict()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        state["task"] = get_task(state["task"])
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def image_conditioned(self) -> bool:
        """Whether the network picks its own weights from the image (HAIR; no level)."""
        return self.task.conditioning == "image"

    # --- networks -------------------------------------------------------------------------
    def network_for(self, level: float) -> GeneratedNet:
        """The plain network for ``level`` (task units), generated once and cached on the device."""
        return self._network_for_c(float(self.task.normalize(self.task.check_level(level))))

    def _network_for_c(self, c: float) -> GeneratedNet:
        """The plain network for control value ``c``, generated once and cached."""
        with self._lock:
            net = self._generated.pop(c, None)
            if net is None:
                net = self.model.generate(c).eval()
            self._generated[c] = net
            while len(self._generated) > GENERATED_CACHE_SIZE:
                self._generated.popitem(last=False)
        return net

    @torch.inference_mode()
    def network_for_image(self, x: torch.Tensor) -> tuple[GeneratedNet, np.ndarray]:
        """HAIR: the plain network selected by ``x`` ``(1, C, H, W)`` (GIV averaged over grid crops)
        and the mixture ``(parts, N)`` it chose (one row per generated block, plus one for a selected decoder)."""
        plane = x[0].numpy().transpose(1, 2, 0)
        crops = torch.from_numpy(grid_crops(plane, trained_patch(self.info, SELECTION_CROP))).to(self.device, self.dtype)
        net, selections = self.model.generate_for_image(crops)
        return net, selections.float().cpu().numpy()

    def resolve_level(
        self, image: np.ndarray, level: Level, rgb: bool | None = None, value_range: tuple[float, float] | None = None
    ) -> float:
        """``level`` as a checked float (:func:`napari_hyperres.blind.levels.resolve_level`);
        ``"auto"`` runs the task's level estimator on ``image`` (photon-limited tasks: the
        photons of the Poisson–Gaussian fit). An estimate outside the task's range is
        restored at the nearest end of the range, with a :class:`LevelRangeWarning`."""
        if self.task.noise_parameters:
            return self.photon_map(image, level, validate_image(image, rgb), value_range=value_range)[0]
        choice = resolve_level(self.task, level, image, rgb=rgb, value_range=value_range, device=str(self.device))
        if choice.outside_range:
            warnings.warn(choice.describe(self.task), LevelRangeWarning, stacklevel=3)
        return choice.level

    def settle(
        self,
        sample: np.ndarray,
        level: Level,
        is_rgb: bool,
        value_range: tuple[float, float] | None = None,
        noise: PoissonGaussian | None = None,
    ) -> tuple[float, tuple[float, float], PoissonGaussian | None]:
        """What every piece of a large image must share, read from ``sample`` (e.g. its first plane).

        Returns ``(level, value_range, noise)``: the numeric level ("auto" resolved), the
        intensity map's ``(black, white)`` and, for photon-limited tasks, the fitted noise at
        that level (else ``noise`` as given). Restoring each piece with these equals restoring
        the whole with them (the lazy and streaming paths use this).
        """
        if value_range is None:
            value_range = intensity_map_for(sample).value_range
        if self.task.noise_parameters:
            level, stabilized = self.photon_map(sample, level, is_rgb, noise=noise, value_range=value_range)
            return level, value_range, stabilized.noise
        return self.resolve_level(sample, level, is_rgb, value_range), value_range, noise

    def photon_map(
        self,
        image: np.ndarray,
        level: Level,
        is_rgb: bool = False,
        *,
        noise: PoissonGaussian | None = None,
        value_range: tuple[float, float] | None = None,
    ) -> tuple[float, StabilizedMap]:
        """Photon-limited tasks: the level in photons and the variance-stabilising map (fitted once for all of ``image``)."""
        if is_rgb:
            refuse_rgb(self.task.name, image.shape)
        return photon_setup(self.task, image, level, noise=noise, value_range=value_range)

    def release(self) -> None:
        """Drop cached generated networks and free accelerator memory."""
        self._generated.clear()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # --- tensors ---------------------------------------------------------------------------
    @torch.inference_mode()
    def _run_tiles(
        self, net: GeneratedNet, x: torch.Tensor, tile: int | None
    ) -> Iterator[tuple[int, int] | torch.Tensor]:
        """Run ``net`` on ``x`` ``(1, C, H, W)`` tile by tile; yields ``(done, total)`` then the output.

        A gray ``x`` (C = 1) for a 3-channel network runs through the network folded for
        gray (:meth:`GeneratedNet.for_gray`: the same result as replicating the channel and
        averaging the output, without the 3-channel copies). On the CPU tiles run in the
        channels-last layout, which oneDNN's convolutions run ~1.3× faster (BENCHMARKS.md).
        """
        if self.task.in_channels == 3 and x.shape[1] == 1:
            net = net.for_gray()
        layout = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format

        def run(piece: torch.Tensor) -> torch.Tensor:
            # a copy with channels-last strides even for one channel, where .contiguous() would
            # keep the NCHW strides and every convolution after the head would run NCHW
            laid_out = torch.empty(piece.shape, dtype=self.dtype, device=self.device, memory_format=layout)
            return net(laid_out.copy_(piece)).float().cpu().contiguous()

        h, w = x.shape[-2:]
        if tile is None and h * w <= 4 * DEFAULT_TILE**2:
            yield (0, 1)
            out = run(x)
            yield (1, 1)
            yield out
            return
        size = int(tile or DEFAULT_TILE)
        size += size % 2
        boxes = tile_boxes(h, w, size)
        m = self.overlap
        out = torch.empty_like(x, dtype=torch.float32)
        yield (0, len(boxes))
        for i, (y0, y1, x0, x1) in enumerate(boxes):
            ty0, tx0 = max(0, y0 - m), max(0, x0 - m)
            ty1, tx1 = min(h, y1 + m), min(w, x1 + m)
            piece = run(x[..., ty0:ty1, tx0:tx1])
            out[..., y0:y1, x0:x1] = piece[..., y0 - ty0 : y1 - ty0, x0 - tx0 : x1 - tx0]
            yield (i + 1, len(boxes))
        yield out

    def _restore_unit_plane(
        self, plane: np.ndarray, level: float, is_rgb: bool, tile: int | None, net: GeneratedNet | None = None
    ) -> Iterator[tuple[int, int] | PlaneChoice | np.ndarray]:
        """Restore one float ``[0, 1]`` plane ``(Y, X)`` or ``(Y, X, 3|4)``; yields progress, then the plane.

        ``net``: the network to run (default: the task's at ``level``, or HAIR's choice for
        this plane, announced first as a :class:`PlaneChoice` with index 0). The plane
        yielded is a new float32 array the caller may overwrite.
        """
        alpha = plane[..., 3] if is_rgb and plane.shape[-1] == 4 else None
        color = plane[..., :3] if is_rgb else plane
        chroma = None
        if self.task.in_channels == 1 and is_rgb:
            ycc = rgb_to_ycbcr(color)
            data, chroma = ycc[..., :1], ycc[..., 1:]
        else:
            data = color if is_rgb else color[..., None]  # gray for an RGB network: widened per tile
        x = torch.from_numpy(np.ascontiguousarray(data.transpose(2, 0, 1)))[None]
        del data
        if self.task.prepare is not None:
            x = self.task.prepare(x, level)
        if net is None and self.image_conditioned:
            net, mixture = self.network_for_image(x.expand(-1, self.task.in_channels, -1, -1))
            yield PlaneChoice(0, mixture)
        elif net is None:
            net = self._network_for_c(float(self.task.normalize(level)))  # level checked once, when resolved
        result = None
        for step in self._run_tiles(net, x, tile):
            if isinstance(step, torch.Tensor):
                result = step
            else:
                yield step
        del x
        out = result[0].numpy().transpose(1, 2, 0)
        size = out.shape[:2]
        if chroma is not None:
            out = ycbcr_to_rgb(np.concatenate([out, _resize_like(chroma, size)], axis=-1))
        if not is_rgb:
            out = out[..., 0]
        if alpha is not None:
            out = np.concatenate([out, np.clip(_resize_like(alpha[..., None], size), 0, 1)], axis=-1)
        yield out

    # --- arrays ----------------------------------------------------------------------------
    def restore_steps(
        self,
        image: np.ndarray,
        level: Level,
        *,
        tile: int | None = None,
        rgb: bool | None = None,
        value_range: tuple[float, float] | None = None,
        noise: PoissonGaussian | None = None,
    ) -> Iterator[tuple[int, int] | PlaneChoice | Report | np.ndarray]:
        """Restore ``image``, yielding ``(done, total)`` tile counts, and finally a :class:`Report`
        and the result array.

        Image-conditioned tasks also yield a :class:`PlaneChoice` per plane (before its first
        progress step). This generator is what the GUI's cancellable workers iterate;
        :meth:`restore` drives it.
        """
        image = np.asarray(image)
        is_rgb = validate_image(image, rgb)
        net = None
        if self.task.noise_parameters:
            level, mapping = self.photon_map(image, level, is_rgb, noise=noise, value_range=value_range)
            net = self._network_for_c(mapping.sigma / 255.0)  # a Gaussian denoiser's control: its σ / 255
        else:
            level = self.resolve_level(image, level, rgb, value_range)
            mapping = intensity_map_for(image, value_range)
        spatial_ndim = 3 if is_rgb else 2
        lead = image.shape[: image.ndim - spatial_ndim]
        planes = image.reshape((-1,) + image.shape[image.ndim - spatial_ndim :])
        result: np.ndarray | None = None  # allocated at the first plane; planes are written into it
        totals: list[int] = []
        done_before = 0
        mixtures = []
        for p in range(planes.shape[0]):
            for step in self._restore_unit_plane(mapping.to_unit(planes[p]), level, is_rgb, tile, net):
                if isinstance(step, PlaneChoice):
                    mixtures.append(step.mixture)
                    yield PlaneChoice(p, step.mixture)
                elif isinstance(step, np.ndarray):
                    if result is None:
                        result = np.empty((planes.shape[0],) + step.shape, dtype=mapping.dtype)
                    result[p] = mapping.from_unit(step, overwrite=True)
                    del step
                else:
                    done, total = step
                    if not totals:
                        totals.append(total * planes.shape[0])
                    yield (done_before + done, totals[0])
            done_before += total
        selections = np.stack(mixtures).reshape(lead + mixtures[0].shape) if mixtures else None
        yield Report(float(level), selections, mapping.noise if isinstance(mapping, StabilizedMap) else None)
        yield result.reshape(lead + result.shape[1:])

    def restore(
        self,
        image: np.ndarray,
        level: Level,
        *,
        tile: int | None = None,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
        rgb: bool | None = None,
        value_range: tuple[float, float] | None = None,
        noise: PoissonGaussian | None = None,
    ) -> np.ndarray:
        """Restore ``image`` at ``level`` (task units) and return a new array.

        Args:
            image: ``(..., Y, X)`` gray or ``(..., Y, X, 3|4)`` RGB(A), any integer or float dtype.
                Leading axes (Z, T, …) are restored plane by plane. Never modified.
            level: degradation level in the task's unit (e.g. σ = 25), or ``"auto"`` to
                estimate it from the image (:func:`napari_hyperres.estimate_level`);
                ignored by image-conditioned tasks (``auto``).
            tile: tile edge in pixels (overlapping by the receptive field, no seams);
                ``None`` tiles only planes larger than 1024×1024.
            progress: ``progress(done, total)`` after each tile.
            cancel: polled after each tile; returning True raises :class:`CancelledError`.
            rgb: whether the last axis is colour; ``None`` guesses (last axis 3 or 4).
            value_range: ``(black, white)`` of the data, overriding the dtype rule of
                :mod:`napari_hyperres.core.intensity` (e.g. ``(0, 4095)`` for 12-bit data in uint16).
            noise: photon-limited tasks (``microscopy``): Poisson–Gaussian parameters to use
                instead of fitting them to ``image`` (a :class:`~napari_hyperres.core.photon_noise.PoissonGaussian`;
                ``level`` then sets its gain, unless "auto").

        Returns:
            The restored array, same dtype and value range; for ``sr`` the spatial
            axes are scaled by ``level``. A dask array in gives a lazy dask array
            out (:meth:`restore_lazy`).
        """
        if is_dask_array(image):
            return self.restore_lazy(image, level, tile=tile, rgb=rgb, value_range=value_range, noise=noise)
        return self.restore_with_report(
            image, level, tile=tile, progress=progress, cancel=cancel, rgb=rgb, value_range=value_range, noise=noise
        )[0]

    def restore_with_report(
        self,
        image: np.ndarray,
        level: Level,
        *,
        tile: int | None = None,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
        rgb: bool | None = None,
        value_range: tuple[float, float] | None = None,
        noise: PoissonGaussian | None = None,
    ) -> tuple[np.ndarray, Report]:
        """:meth:`restore` (numpy arrays only), and a :class:`Report` of what it did: the level
        used, HAIR's mixtures, a photon task's fitted noise. Nothing is kept on the Restorer."""
        result = report = None
        for step in self.restore_steps(image, level, tile=tile, rgb=rgb, value_range=value_range, noise=noise):
            if isinstance(step, np.ndarray):
                result = step
            elif isinstance(step, Report):
                report = step
            elif isinstance(step, tuple):
                if progress is not None:
                    progress(*step)
                if cancel is not None and cancel():
                    raise CancelledError("restoration cancelled; no output was written")
        return result, report


    def restore_lazy(
        self,
        image,
        level: Level,
        *,
        tile: int | None = None,
        rgb: bool | None = None,
        value_range: tuple[float, float] | None = None,
        noise: PoissonGaussian | None = None,
    ):
        """Restore a dask array lazily: a dask array whose blocks are restored when computed.

        Built with ``dask.array.map_overlap`` (overlap = the network's receptive field on
        the spatial axes, no padding at the image's outer border), so computed values equal
        :meth:`restore` on the whole array. Spatial chunks are kept for level-conditioned
        tasks without resampling; ``sr`` and ``auto`` use whole-plane chunks (one selection
        per plane; a scaled output). Leading axes are chunked one plane per block.

        The intensity rule is applied to the first plane (pass ``value_range`` to set it;
        uint8 uses 0–255 as always), and so is the noise fit of photon-limited tasks. Works under a
        ``dask.distributed`` client: the Restorer is shipped to the workers with the graph.
        """
        import dask.array as da

        check_dtype(np.dtype(image.dtype))
        is_rgb = is_rgb_image(tuple(image.shape), rgb)
        spatial_ndim = 3 if is_rgb else 2
        if image.ndim < 2 or image.size == 0:
            raise ShapeError(f"expected a non-empty image with at least 2 dimensions (Y, X), got shape {image.shape}")
        lead = image.ndim - spatial_ndim
        sample = first_plane_sample(image, lead)
        level, value_range, noise = self.settle(sample, level, is_rgb, value_range, noise)
        y_axis = lead
        whole_plane = self.task.prepare is not None or self.image_conditioned
        chunks = {axis: 1 for axis in range(lead)}
        if is_rgb:
            chunks[image.ndim - 1] = -1
        if whole_plane:
            chunks.update({y_axis: -1, y_axis + 1: -1})
        else:
            for axis in (y_axis, y_axis + 1):
                size = max(int(tile or 0), *(c for c in image.chunks[axis]), 2 * self.overlap, 2)
                chunks[axis] = _even_chunks(image.shape[axis], size + size % 2, self.overlap)
        image = image.rechunk(chunks)

        def restore_block(block: np.ndarray) -> np.ndarray:
            return self.restore(block, level, tile=tile, rgb=is_rgb, value_range=value_range, noise=noise)

        if whole_plane:
            out_chunks = list(image.chunks)
            for axis in (y_axis, y_axis + 1):
                out_chunks[axis] = tuple(max(1, round(c * level)) if self.task.prepare is not None else c for c in image.chunks[axis])
            return da.map_blocks(restore_block, image, chunks=tuple(out_chunks), dtype=image.dtype)
        spatial = [a for a in (y_axis, y_axis + 1) if len(image.chunks[a]) > 1]  # one chunk: no overlap needed
        depth = {axis: (self.overlap if axis in spatial else 0) for axis in range(image.ndim)}
        return da.map_overlap(restore_block, image, depth=depth, boundary="none", trim=True, dtype=image.dtype)


def _even_chunks(length: int, size: int, minimum: int) -> tuple[int, ...]:
    """Chunks of even ``size`` along an axis of ``length``; a last piece shorter than ``minimum`` joins its neighbour.

    Every block then starts at an even offset (on the grid of the networks' stride-2 head)
    and none is shorter than the overlap (dask would otherwise re-chunk it unevenly).
    """
    chunks = [size] * (length // size)
    rest = length - size * len(chunks)
    if rest and chunks and rest < minimum:
        chunks[-1] += rest
    elif rest:
        chunks.append(rest)
    return tuple(chunks)


def first_plane_sample(image, lead: int) -> np.ndarray:
    """The first plane of ``image`` (``lead`` leading axes), subsampled to about 1 MP and read.

    What the lazy path reads to choose a float array's intensity map and an "auto" level.
    """
    plane = image[(0,) * lead]
    stride = max(1, int(np.sqrt(plane.shape[0] * plane.shape[1] / 2**20)))
    return np.asarray(plane[::stride, ::stride])


def whole_value_range(image, rgb: bool | None = None) -> tuple[float, float]:
    """The ``(black, white)`` that restoring all of ``image`` maps to ``[0, 1]``.

    uint8: 0–255. Anything else: the intensity rule on the whole array (numpy),
    or on the first plane's sample (dask, as :meth:`Restorer.restore_lazy`). Passing it as
    ``value_range`` when restoring one plane gives that plane exactly as in the whole result.
    """
    check_dtype(np.dtype(image.dtype))
    if is_dask_array(image) and reads_data_range(image.dtype):
        lead = image.ndim - (3 if is_rgb_image(tuple(image.shape), rgb) else 2)
        return intensity_map_for(first_plane_sample(image, lead)).value_range
    return intensity_map_for(image).value_range


def whole_noise(image, rgb: bool | None = None, task: str = "microscopy") -> PoissonGaussian:
    """The Poisson–Gaussian fit that restoring all of ``image`` with a photon-limited task uses.

    numpy: the whole array (up to 8 planes of a stack); dask: the first plane's sample, as
    :meth:`Restorer.restore_lazy`. Passing it as ``noise`` when restoring one plane gives
    that plane as in the whole result (with :func:`whole_value_range`). ``task``: the
    photon-limited task's name, for the error an RGB image gets.
    """
    from ..blind.photon_fit import fit_poisson_gaussian

    if is_rgb_image(tuple(image.shape), rgb):
        refuse_rgb(task, image.shape)
    if is_dask_array(image):
        return fit_poisson_gaussian(first_plane_sample(image, image.ndim - 2))
    return fit_poisson_gaussian(np.asarray(image))


def is_dask_array(image) -> bool:
    """Whether ``image`` is a dask array (napari hands plugins those for large or multi-file data)."""
    return type(image).__module__.startswith("dask.")


def _resize_like(channels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic-resize ``(H, W, C)`` float channels to ``size`` (identity when equal)."""
    if channels.shape[:2] == tuple(size):
        return channels
    from ..core.degradations import bicubic_resize

    t = torch.from_numpy(np.ascontiguousarray(channels.transpose(2, 0, 1)))[None]
    return bicubic_resize(t, size)[0].numpy().transpose(1, 2, 0)


def restore(
    image: np.ndarray,
    task: str | Task,
    level: Level,
    *,
    weights: str | None = None,
    device: str | None = None,
    tile: int | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    rgb: bool | None = None,
    value_range: tuple[float, float] | None = None,
    noise: PoissonGaussian | None = None,
) -> np.ndarray:
    """Restore ``image`` for ``task`` at ``level``; see :meth:`Restorer.restore`.

    Example:
        >>> clean = restore(noisy_uint8, "denoise", 25)
        >>> clean = restore(noisy_uint8, "denoise", "auto")  # level estimated from the image
        >>> clean = restore(camera_uint16, "microscopy", "auto")  # Poisson–Gaussian noise fitted, raw counts kept
    """
    return Restorer(task, weights=weights, device=device).restore(
        image, level, tile=tile, progress=progress, cancel=cancel, rgb=rgb, value_range=value_range, noise=noise
    )


def output_shape(task: Task, shape: tuple[int, ...], level: float, rgb: bool) -> tuple[int, ...]:
    """Shape :func:`restore` returns for an input of ``shape`` (sr scales the spatial axes)."""
    if task.prepare is None:
        return tuple(shape)
    spatial_at = len(shape) - (3 if rgb else 2)
    out = list(shape)
    for axis in (spatial_at, spatial_at + 1):
        out[axis] = max(1, round(shape[axis] * float(level)))
    return tuple(out)


__all__ = ["Restorer", "Report", "PlaneChoice", "restore", "output_shape", "validate_image", "tile_boxes"]
