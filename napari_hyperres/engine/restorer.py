"""The restoration engine: any dtype, gray/RGB/RGBA, n-D stacks, tiling, devices.

The GUI, the CLI and the trainer's evaluation all go through :class:`Restorer`.
Importing this module imports neither napari nor Qt.
"""

from __future__ import annotations

import copy
import os
import threading
import warnings
from collections import OrderedDict
from typing import Callable, Iterator

import numpy as np
import torch

from ..blind.brightness import LevelCurve, check_follows_brightness, is_by_brightness
from ..blind.crops import grid_crops, trained_patch
from ..blind.levels import resolve_level
from ..blind.photon_fit import photon_setup
from ..core.color import OPPONENT_NOISE
from ..core.devices import select_device, select_precision
from ..core.images import split_channels, validate_image
from ..core.impulses import fill_impulses, fill_padding, impulse_mask, padding_mask, saturated_mask
from ..core.intensity import intensity_map_for, reads_data_range
from ..core.line_defects import REACH as LINE_REACH
from ..core.line_defects import add_offsets, fill_lines, find_defect_lines
from ..core.models.hyperres import GeneratedNet, HyperResNet, receptive_radius
from ..core.models.opponent import CLIPPED_RADIUS, OpponentNet
from ..core.photon_noise import PoissonGaussian
from ..core.plugins import get_task
from ..core.stabilize import StabilizedMap, refuse_rgb
from ..core.tasks import Task
from ..core.weights import WeightsInfo, load_model, training_hint
from ..errors import (
    CancelledError,
    LevelRangeError,
    LevelRangeWarning,
    MissingWeightsError,
    ShapeError,
    WeightsError,
)
from .by_brightness import restore_unit_plane_by_brightness
from .ensemble import dihedral_tiles
from .lazy import is_dask_array, restore_lazy
from .planes import restore_unit_plane, with_alpha
from .report import PlaneChoice, Report
from .tiling import check_tile, run_tiles, tile_boxes

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after each tile, counted over all planes."""

GENERATED_CACHE_SIZE = 8

SELECTION_CROP = 48
"""Edge of the crops HAIR's classifier sees when its weights do not record their training
patch (GIVs averaged over up to ``MAX_CROPS`` crops per plane)."""

Level = float | str | LevelCurve
"""A level in the task's units, ``"auto"`` (estimated from the image), or ``"by-brightness"`` /
a :class:`~napari_hyperres.blind.brightness.LevelCurve` (a level for each brightness, tasks whose
level follows brightness)."""


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
        precision: what the networks compute in: ``"auto"`` (default: float16 on CUDA, bfloat16
            on CPUs where it was measured faster, else float32; :func:`~napari_hyperres.core.devices.select_precision`),
            ``"float32"``, ``"bfloat16"`` or ``"float16"``. The image, the global residual and the
            output stay float32 whatever the precision. bfloat16 on a Zen 4 CPU: 2.1× faster,
            −0.001 dB on Set12, −0.003 to −0.004 dB on McMaster (BENCHMARKS.md, "Precision"); ``"float32"`` reproduces the validation tables.
        self_ensemble: restore each plane in its 8 rotations and mirror images and average them
            back (:mod:`napari_hyperres.engine.ensemble`): a little better, 8× slower; progress
            and cancel still come after every tile.

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
        precision: str | None = None,
        self_ensemble: bool = False,
    ) -> None:
        self.task = get_task(task)
        self.self_ensemble = bool(self_ensemble)
        self.device = select_device(device)
        self.dtype = select_precision(self.device, precision)  # the networks'; tensors in and out stay float32
        given_model = model is not None
        if model is None:
            name = weights or self.task.weights
            if name is None:
                raise MissingWeightsError(
                    f"task {self.task.name!r} has no weights yet: {training_hint(self.task.name)}, and pass the file as weights"
                )
            expected = "hair" if self.task.conditioning == "image" else "hyperres"
            try:
                model, self.info = load_model(name, task=self.task.accepted_weights, kind=expected, device=self.device)
            except MissingWeightsError as exc:
                if weights is not None:
                    raise
                raise MissingWeightsError(  # the task's own file is missing: say how to make one, as the CLI does
                    f"task {self.task.name!r}: {exc}; {training_hint(self.task.name)} to that file, or pass another file as weights"
                ) from exc
            if expected == "hyperres" and self.info.task == self.task.name:
                check_controls(self.info, self.task, name)
        else:
            model = model.to(self.device).eval()
            self.info = WeightsInfo(name="(in memory)", task=self.task.name, architecture=model.arch.to_dict())
        if model.arch.in_channels != self.task.in_channels:
            raise WeightsError(
                f"weights have {model.arch.in_channels} input channel(s) but task {self.task.name!r} "
                f"is {self.task.channels} ({self.task.in_channels}); pass weights trained for this task "
                f"(`python -m trainer train --task {self.task.name}`)"
            )
        if any(p.is_floating_point() and p.dtype != self.dtype for p in model.parameters()):
            # a model passed in is the caller's (a training run's): cast a copy, never it
            model = (copy.deepcopy(model) if given_model else model).to(self.dtype)
        self.model: HyperResNet = model
        self.overlap = receptive_radius(model.arch)  # in the network's input pixels
        if self.task.colour == "opponent":
            self.overlap += CLIPPED_RADIUS  # the window that weighs in the joint network where clipped
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
    def context(self) -> int:
        """Pixels of the image each output pixel depends on, on each side: the receptive field,
        doubled where chroma is restored at half resolution (:attr:`Task.chroma`), and for photon tasks the pixels a
        camera's defective line is decided from (:data:`~napari_hyperres.core.line_defects.REACH`)."""
        context = self.overlap * (2 if self.task.chroma == "subsampled" else 1) + (LINE_REACH if self.task.noise_parameters else 0)
        return -(-context // self.grid) * self.grid  # on the grid: a chunk's overlap starts where the whole plane's cells do

    @property
    def grid(self) -> int:
        """Crops and chunks that start on multiples of this restore exactly as the whole image
        (the stride-2 head; ×2 for half-resolution chroma)."""
        return 4 if self.task.chroma == "subsampled" else 2

    @property
    def image_conditioned(self) -> bool:
        """Whether the network picks its own weights from the image (HAIR; no level)."""
        return self.task.conditioning == "image"

    def with_self_ensemble(self, on: bool = True) -> "Restorer":
        """This Restorer with :attr:`self_ensemble` set to ``on``: the same model, cache of
        generated networks and lock (nothing is loaded or generated again); ``self`` if unchanged."""
        if self.self_ensemble == bool(on):
            return self
        twin = object.__new__(Restorer)  # not copy.copy: pickling (__getstate__) drops the cache and the lock
        twin.__dict__.update(self.__dict__, self_ensemble=bool(on))
        return twin

    def with_task(self, task: Task) -> "Restorer":
        """This Restorer for a variant of its task that runs the same networks (:meth:`Task.for_file`:
        the chroma a file coded); shares the model, the generated networks and the lock; ``self`` if equal."""
        if task == self.task:
            return self
        if task.differs_beyond_chroma(self.task):
            raise ValueError(f"task {task.name!r} differs from this Restorer's in more than its chroma; build a Restorer for it")
        twin = object.__new__(Restorer)
        twin.__dict__.update(self.__dict__, task=task)
        return twin

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

    def opponent_network(self, level: float) -> OpponentNet:
        """The colour network for ``level`` of a task restoring opponent planes (:attr:`Task.colour`):
        gray paths at each plane's noise level, the joint RGB network where pixels are clipped."""
        c = float(self.task.normalize(level))
        planes = [self._network_for_c(c * float(gain)).for_gray() for gain in OPPONENT_NOISE]
        return OpponentNet(planes, self._network_for_c(c)).to(self.device)

    @torch.inference_mode()
    def network_for_image(self, x: torch.Tensor) -> tuple[GeneratedNet, np.ndarray]:
        """HAIR: the plain network selected by ``x`` ``(1, C, H, W)`` (GIV averaged over grid crops)
        and the mixture ``(parts, N)`` it chose (one row per generated block, plus one for a selected decoder)."""
        plane = x[0].numpy().transpose(1, 2, 0)
        crops = torch.from_numpy(grid_crops(plane, trained_patch(self.info, SELECTION_CROP))).to(self.device)  # float32: the head casts
        net, selections = self.model.generate_for_image(crops)
        return net, selections.float().cpu().numpy()

    def resolve_level(
        self, image: np.ndarray, level: Level, rgb: bool | None = None, value_range: tuple[float, float] | None = None
    ) -> float | LevelCurve:
        """``level`` as a checked float (:func:`napari_hyperres.blind.levels.resolve_level`);
        ``"auto"`` runs the task's level estimator on ``image`` (photon-limited tasks: the
        photons of the Poisson–Gaussian fit). An estimate outside the task's range is
        restored at the nearest end of the range, with a :class:`LevelRangeWarning`.
        ``"by-brightness"`` gives the image's :class:`LevelCurve` (a curve given stays as it is)."""
        if self.task.noise_parameters:
            return self.photon_map(image, level, validate_image(image, rgb), value_range=value_range)[0]
        choice = resolve_level(self.task, level, image, rgb=rgb, value_range=value_range, device=str(self.device))
        if choice.outside_range:
            warnings.warn(choice.describe(self.task), LevelRangeWarning, stacklevel=3)
        return choice.to_restore

    def settle(
        self,
        sample: np.ndarray,
        level: Level,
        is_rgb: bool,
        value_range: tuple[float, float] | None = None,
        noise: PoissonGaussian | None = None,
    ) -> tuple[float | LevelCurve, tuple[float, float], PoissonGaussian | None]:
        """What every piece of a large image must share, read from ``sample`` (its sampled planes).

        Returns ``(level, value_range, noise)``: the numeric level ("auto" resolved; "by-brightness": the curve), the
        intensity map's ``(black, white)`` and, for photon-limited tasks, the noise the data holds (the fit, or the
        camera given, checked; with the level it gives the same map) (else ``noise`` as given). Restoring each piece
        with these equals restoring the whole with them (the lazy and streaming paths use this).
        """
        given_range = value_range
        if value_range is None:
            value_range = intensity_map_for(sample, counts=bool(self.task.noise_parameters)).value_range
        if self.task.noise_parameters:  # the sample stands for the whole image: a given camera is checked on it, as in memory
            level, stabilized = self.photon_map(sample, level, is_rgb, noise=noise, value_range=given_range)
            return level, value_range, stabilized.data_noise
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
        """Drop cached generated networks and free accelerator memory (safe from any thread)."""
        with self._lock:  # a worker may be in _network_for_c
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
        Tiles go in as float32: the network computes in :attr:`dtype` from its head on and adds
        its global residual to the float32 input (:meth:`GeneratedNet.forward`).
        """
        if self.task.in_channels == 3 and x.shape[1] == 1:
            net = net.for_gray()
        layout = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format

        def run(piece: torch.Tensor) -> torch.Tensor:
            # a copy with channels-last strides even for one channel, where .contiguous() would
            # keep the NCHW strides and every convolution after the head would run NCHW
            laid_out = torch.empty(piece.shape, dtype=torch.float32, device=self.device, memory_format=layout)
            return net(laid_out.copy_(piece)).float().cpu().contiguous()

        yield from (dihedral_tiles if self.self_ensemble else run_tiles)(run, x, tile, self.overlap)

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
        neutral_as_gray: bool = True,
    ) -> Iterator[tuple[int, int] | PlaneChoice | Report | np.ndarray]:
        """Restore ``image``, yielding ``(done, total)`` tile counts, and finally a :class:`Report`
        and the result array. ``neutral_as_gray``: as :meth:`restore`.

        Image-conditioned tasks also yield a :class:`PlaneChoice` per plane (before its first
        progress step). This generator is what the GUI's cancellable workers iterate;
        :meth:`restore` drives it.
        """
        check_tile(tile)
        if is_by_brightness(level) or isinstance(level, LevelCurve):
            check_follows_brightness(self.task)  # before a photon task's fit reads it as a number
        image = np.asarray(image)
        is_rgb = validate_image(image, rgb)
        if is_rgb and image.shape[-1] == 4:
            warn_if_alpha_is_a_channel(image[..., 3])
        if is_rgb and image.shape[-1] == 4 and reads_data_range(image.dtype):
            # alpha is no intensity: kept in its own units, out of the colour's intensity map (a
            # uint16 alpha of 65535 made colour in 100–4000 fill 6 % of [0, 1])
            for step in self.restore_steps(image[..., :3], level, tile=tile, rgb=True, value_range=value_range, noise=noise,
                                           neutral_as_gray=neutral_as_gray):
                yield with_alpha(step, image[..., 3]) if isinstance(step, np.ndarray) else step
            return
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
            plane, impulses, offsets = planes[p], None, None
            if isinstance(mapping, StabilizedMap):  # kept out of the network (core.impulses): hot pixels, cosmic rays,
                held = mapping.data_noise  # found against the data's noise, not the level's model of it
                lines = find_defect_lines(plane, held)  # (first: a hot column hides the impulses beside it)
                if lines:  # defective columns and rows, restored less their offset over their neighbours, then given it back
                    plane, offsets = fill_lines(plane, lines)
                impulses = impulse_mask(plane, held)  # and padding below the camera's black (stitched tiles' zeros)
                impulses = impulses if impulses.any() else None
                plane = plane if impulses is None else fill_impulses(plane, impulses)
                padding = padding_mask(plane, held)
                if padding.any():
                    plane = fill_padding(plane, padding, held.offset)
                    impulses = padding if impulses is None else impulses | padding
                saturated = saturated_mask(planes[p], held)  # inside a clipped patch: kept as recorded, as impulses are
                if saturated is not None:
                    impulses = saturated if impulses is None else impulses | saturated
            unit = mapping.to_unit(plane)
            steps = (
                restore_unit_plane_by_brightness(self, unit, level, is_rgb, tile, neutral_as_gray)
                if isinstance(level, LevelCurve)
                else restore_unit_plane(self, unit, level, is_rgb, tile, net, neutral_as_gray)
            )
            for step in steps:
                if isinstance(step, PlaneChoice):
                    mixtures.append(step.mixture)
                    yield PlaneChoice(p, step.mixture)
                elif isinstance(step, np.ndarray):
                    if result is None:
                        result = np.empty((planes.shape[0],) + step.shape, dtype=mapping.dtype)
                    result[p] = mapping.from_unit(step, overwrite=True)
                    if offsets is not None:
                        add_offsets(result[p], offsets)
                    if isinstance(mapping, StabilizedMap):  # nothing above a saturated camera's ceiling (photon tasks)
                        mapping.noise.within_ceiling(result[p])
                    if impulses is not None:  # an impulse, padding or saturation keeps what was recorded
                        result[p][impulses] = planes[p][impulses]
                    del step
                else:
                    done, total = step
                    if not totals:
                        totals.append(total * planes.shape[0])
                    yield (done_before + done, totals[0])
            done_before += total
        selections = np.stack(mixtures).reshape(lead + mixtures[0].shape) if mixtures else None
        curve = level if isinstance(level, LevelCurve) else None
        yield Report(
            float(level) if curve is None else curve.level, selections, mapping.data_noise if isinstance(mapping, StabilizedMap) else None, curve
        )
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
        channel_axis: int | None = None,
        neutral_as_gray: bool = True,
    ) -> np.ndarray:
        """Restore ``image`` at ``level`` (task units) and return a new array.

        Args:
            image: ``(..., Y, X)`` gray or ``(..., Y, X, 3|4)`` RGB(A), any integer or float dtype.
                Leading axes (Z, T, …) are restored plane by plane. Never modified.
            level: degradation level in the task's unit (e.g. σ = 25), or ``"auto"`` to
                estimate it from the image (:func:`napari_hyperres.estimate_level`);
                ignored by image-conditioned tasks (``auto``). ``"by-brightness"`` (``denoise``):
                noise that differs between dark and bright parts, as a camera's does; each pixel
                is restored at the level read for its brightness (:mod:`napari_hyperres.blind.brightness`;
                a few passes, blended).
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
            neutral_as_gray: a colour plane whose channels are equal (gray stored as RGB) is restored as
                gray and given back as colour, deciding plane by plane (4.9–7.7 dB better on Set12 with 8-bit
                noise); ``False`` for a piece of a plane that is colour elsewhere (the panel's preview crops,
                a dask array's chunks), which must come out as in the whole plane.
            channel_axis: a leading axis that holds channels (``1`` for a ``ZCYX`` stack): each
                channel is restored on its own, with its own intensity map, noise fit
                (``microscopy``: detectors differ in gain and offset) and "auto" level; ``level``
                may then be a list of one level per channel (``[40, "auto"]``).

        Returns:
            The restored array, same dtype and value range; for ``sr`` the spatial
            axes are scaled by ``level``. A dask array in gives a lazy dask array
            out (:meth:`restore_lazy`).
        """
        refuse_file_name(image)
        if isinstance(level, (list, tuple, np.ndarray)) and channel_axis is None:
            raise LevelRangeError(
                f"a list of levels ({list(np.ravel(level))}) is one per channel: pass channel_axis= (the leading axis that "
                "holds the channels), or one level for the whole image"
            )
        if channel_axis is not None:
            return self._restore_channels(
                np.asarray(image), level, channel_axis, tile=tile, progress=progress, cancel=cancel, rgb=rgb,
                value_range=value_range, noise=noise, neutral_as_gray=neutral_as_gray,
            )
        if is_dask_array(image):
            return self.restore_lazy(image, level, tile=tile, rgb=rgb, value_range=value_range, noise=noise)
        return self.restore_with_report(
            image, level, tile=tile, progress=progress, cancel=cancel, rgb=rgb, value_range=value_range, noise=noise,
            neutral_as_gray=neutral_as_gray,
        )[0]

    def _restore_channels(self, image: np.ndarray, level, channel_axis: int, *, progress=None, **options) -> np.ndarray:
        """:meth:`restore` of each channel along the leading axis ``channel_axis``, stacked back; ``level``
        one for all, or a list or tuple of one per channel."""
        channels = split_channels(image, channel_axis, options.get("rgb"))
        count = len(channels)
        levels = list(np.ravel(level).tolist()) if isinstance(level, np.ndarray) else list(level) if isinstance(level, (list, tuple)) else [level] * count
        if len(levels) != count:
            raise LevelRangeError(f"expected one level per channel ({count} along axis {channel_axis}), got {len(levels)}: {level}")
        parts = []
        for c, channel in enumerate(channels):
            report = None if progress is None else (lambda done, total, c=c: progress(c * total + done, count * total))
            parts.append(self.restore(channel, levels[c], progress=report, **options))
        return np.stack(parts, axis=channel_axis % image.ndim)

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
        neutral_as_gray: bool = True,
    ) -> tuple[np.ndarray, Report]:
        """:meth:`restore` (numpy arrays only), and a :class:`Report` of what it did: the level
        used, HAIR's mixtures, a photon task's fitted noise. Nothing is kept on the Restorer."""
        result = report = None
        for step in self.restore_steps(image, level, tile=tile, rgb=rgb, value_range=value_range, noise=noise,
                                       neutral_as_gray=neutral_as_gray):
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

        The intensity rule is applied to up to 8 evenly spaced planes (pass ``value_range`` to set
        it; uint8 uses 0–255 as always), and so is the noise fit of photon-limited tasks. Works under a
        ``dask.distributed`` client: the Restorer is shipped to the workers with the graph.
        """
        return restore_lazy(self, image, level, tile=tile, rgb=rgb, value_range=value_range, noise=noise)


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
    self_ensemble: bool = False,
    channel_axis: int | None = None,
) -> np.ndarray:
    """Restore ``image`` for ``task`` at ``level``; see :meth:`Restorer.restore` (and the
    Restorer's ``self_ensemble``: 8 rotations / mirrors averaged, 8× slower).

    Example:
        >>> clean = restore(noisy_uint8, "denoise", 25)
        >>> clean = restore(noisy_uint8, "denoise", "auto")  # level estimated from the image
        >>> clean = restore(camera_uint16, "microscopy", "auto")  # Poisson–Gaussian noise fitted, raw counts kept
        >>> clean = restore(zcyx_uint16, "microscopy", "auto", channel_axis=1)  # one fit per channel
    """
    refuse_file_name(image)  # before loading any weights
    return Restorer(task, weights=weights, device=device, self_ensemble=self_ensemble).restore(
        image, level, tile=tile, progress=progress, cancel=cancel, rgb=rgb, value_range=value_range, noise=noise,
        channel_axis=channel_axis,
    )


def refuse_file_name(image) -> None:
    """Raise :class:`ShapeError` for a file name given where an image array belongs ("got dtype <U37; convert it
    first" said nothing useful: a review)."""
    if isinstance(image, (str, os.PathLike)):
        raise ShapeError(
            f"restore takes an image array, not a file name ({str(image)!r}): read it first "
            "(napari_hyperres.read_image(path)), or restore files from the command line (napari-hyperres restore IN OUT)"
        )


def output_shape(task: Task, shape: tuple[int, ...], level: float, rgb: bool) -> tuple[int, ...]:
    """Shape :func:`restore` returns for an input of ``shape`` (a resampling task scales the
    spatial axes, :meth:`Task.output_size`)."""
    spatial_at = len(shape) - (3 if rgb else 2)
    out = list(shape)
    out[spatial_at : spatial_at + 2] = task.output_size(shape[spatial_at], shape[spatial_at + 1], level)
    return tuple(out)


__all__ = ["Restorer", "Report", "PlaneChoice", "restore", "output_shape", "validate_image", "tile_boxes"]


def warn_if_alpha_is_a_channel(alpha: np.ndarray) -> None:
    """Warn where the 4th channel of an ``(…, Y, X, 4)`` image looks like a fourth image rather than transparency:
    alpha is kept as it is, so a fourth noisy channel comes back noisy (a reliability review: four gray channels,
    the 4th returned at its input's 20.8 dB while the others reached 36). Transparency mostly sits at its two ends
    (opaque, clear) or changes smoothly (a soft edge, a fade); an image channel does neither."""
    plane = np.asarray(alpha).reshape((-1,) + alpha.shape[-2:])[0].astype(np.float64)
    h, w = plane.shape
    crop = plane[max(0, h // 2 - 32) : h // 2 + 32, max(0, w // 2 - 32) : w // 2 + 32]
    if crop.size < 64:
        return
    low, high = crop.min(), crop.max()
    if low == high or np.mean((crop == low) | (crop == high)) >= 0.5:
        return
    if np.mean(np.abs(np.diff(crop, axis=-1))) < 0.1 * crop.std():  # smooth (a fade, a soft edge): not noisy data
        return
    import warnings

    warnings.warn(
        "the 4th channel of this image varies like an image, not like transparency (alpha): it is kept as it is, not "
        "restored. If the image holds 4 channels of data, restore them as a stack (Python: np.moveaxis(image, -1, 0) "
        "with rgb=False; napari: the layer's channel_axis)",
        UserWarning,
        stacklevel=3,
    )


CONTROL_TOLERANCE = 1e-6
"""How far (relative) the control a task computes now may lie from the one its weights record."""


def check_controls(info: WeightsInfo, task, name) -> None:
    """Refuse weights whose task now computes the control ``c`` otherwise than in training: by the values
    at the trained levels that newer files record (``extra["controls"]``; a lambda's name says nothing when
    it changes, and a renamed function with the same values is the same control), else by the function's name.

    Raises:
        WeightsError: naming both ways of computing ``c``.
    """
    advice = ("the network would be driven by control values it never learned. Give the task the normalize "
              "it was trained with, or train it again")
    trained = [float(c) for c in (info.extra or {}).get("controls") or []]
    if len(trained) != len(info.train_levels):  # a file from before controls were recorded: the name is all there is
        if info.normalization != task.normalization:
            raise WeightsError(f"{name}: these weights were trained with the control c = {info.normalization}, but task "
                               f"{task.name!r} now computes c = {task.normalization}: {advice}")
        return
    # the recorded values decide, not the function's name (a plugin author's review: renaming blur_control to
    # blur_ctrl, the same values, made the lab's trained weights unusable)
    now = [float(task.normalize(float(level))) for level in info.train_levels]
    if any(abs(a - b) > CONTROL_TOLERANCE * max(1.0, abs(a)) for a, b in zip(trained, now, strict=True)):
        pairs = ", ".join(f"{float(level):g}: {a:.4g} → {b:.4g}" for level, a, b in zip(info.train_levels, trained, now, strict=True))
        was = f"trained with c = {info.normalization}; " if info.normalization != task.normalization else ""
        raise WeightsError(f"{name}: {was}task {task.name!r}'s normalize ({task.normalization}) now gives other controls than in "
                           f"training (level: trained → now: {pairs}): {advice}")
