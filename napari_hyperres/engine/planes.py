"""One plane through a network: colour handling (Y only for gray networks, opponent planes one
by one where the task asks, alpha kept), the task's preparation (super-resolution's upsampling),
HAIR's choice, tiles."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from ..core.color import rgb_to_ycbcr, ycbcr_to_rgb
from ..core.images import from_batch, is_neutral_colour, to_batch
from ..core.models.hyperres import GeneratedNet
from .report import PlaneChoice


def restore_unit_plane(
    restorer, plane: np.ndarray, level: float, is_rgb: bool, tile: int | None, net: GeneratedNet | None = None,
    neutral_as_gray: bool = True,
) -> Iterator[tuple[int, int] | PlaneChoice | np.ndarray]:
    """``restorer`` on one float ``[0, 1]`` plane ``(Y, X)`` or ``(Y, X, 3|4)``; yields progress, then the plane.

    ``net``: the network to run (default: the task's at ``level``, or HAIR's choice for
    this plane, announced first as a :class:`PlaneChoice` with index 0). The plane
    yielded is a new float32 array the caller may overwrite. ``neutral_as_gray``: a colour plane
    whose channels are equal (:func:`~napari_hyperres.core.images.is_neutral_colour`) is restored as
    gray and given back as colour; ``False`` for a piece of a plane that is colour elsewhere (a preview
    crop, a dask chunk), which must be restored as the whole plane is.
    """
    if is_rgb and neutral_as_gray and is_neutral_colour(plane[..., :3]):
        yield from _as_gray(restorer, plane, level, tile, net)
        return
    alpha = plane[..., 3] if is_rgb and plane.shape[-1] == 4 else None
    color = plane[..., :3] if is_rgb else plane
    if is_rgb and net is None and restorer.task.colour == "opponent":
        net = restorer.opponent_network(level)  # RGB in, RGB out: then as any RGB network
    chroma = None
    if restorer.task.in_channels == 1 and is_rgb:
        ycc = rgb_to_ycbcr(color)
        data, chroma = ycc[..., :1], ycc[..., 1:]
    else:
        data = color if is_rgb else color[..., None]  # gray for an RGB network: widened per tile
    x = to_batch(data)
    del data
    if restorer.task.prepare is not None:
        x = restorer.task.prepare(x, level)
    if net is None and restorer.image_conditioned:
        net, mixture = restorer.network_for_image(x.expand(-1, restorer.task.in_channels, -1, -1))
        yield PlaneChoice(0, mixture)
    elif net is None:
        net = restorer._network_for_c(float(restorer.task.normalize(level)))  # level checked once, when resolved
    result = None
    # a colour plane of a gray task restores its chroma too, two more passes: the progress counts them (their
    # tiles in the luma's units) and a Cancel acts between their tiles as well (it did not, and the line read 100 %)
    restore_chroma = None if chroma is None else {"subsampled": _restore_subsampled_chroma, "full": _restore_full_chroma}.get(
        restorer.task.chroma)
    passes = 1 if restore_chroma is None else 3
    luma_total = 1
    for step in restorer._run_tiles(net, x, tile):
        if isinstance(step, torch.Tensor):
            result = step
        else:
            luma_total = step[1]
            yield (step[0], luma_total * passes)
    del x
    out = result[0].numpy().transpose(1, 2, 0)
    size = out.shape[:2]
    if chroma is not None:
        for step in restore_chroma(restorer, chroma, net, tile) if restore_chroma is not None else ():
            if isinstance(step, np.ndarray):
                chroma = step
            else:
                (channel, (done, total)) = step
                yield (luma_total * (1 + channel) + done * luma_total // max(total, 1), luma_total * passes)
        out = ycbcr_to_rgb(np.concatenate([out, _resize_like(chroma, size)], axis=-1))
    if not is_rgb:
        out = out[..., 0]
    if alpha is not None:
        out = np.concatenate([out, np.clip(_resize_like(alpha[..., None], size), 0, 1)], axis=-1)
    yield out


def _as_gray(restorer, plane: np.ndarray, level: float, tile: int | None, net: GeneratedNet | None):
    """:func:`restore_unit_plane` of an RGB(A) plane whose colour channels are equal: its gray channel restored, given
    back in three channels (alpha kept, resized with the plane). The colour denoiser took their noise, the same in
    the three, for far less than it was and tinted it (``benchmarks/bench_gray_as_colour.py``: 4.9–7.7 dB lost)."""
    for step in restore_unit_plane(restorer, np.ascontiguousarray(plane[..., 0]), level, False, tile, net):
        if isinstance(step, np.ndarray):
            colour = np.repeat(step[..., None], 3, axis=-1)
            if plane.shape[-1] == 4:
                colour = np.concatenate([colour, np.clip(_resize_like(plane[..., 3:], step.shape[:2]), 0, 1)], axis=-1)
            step = colour
        yield step


def _resize_like(channels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic-resize ``(H, W, C)`` float channels to ``size`` (identity when equal)."""
    if channels.shape[:2] == tuple(size):
        return channels
    from ..core.degradations import bicubic_resize

    return from_batch(bicubic_resize(to_batch(channels), size))


def _run_planes(restorer, planes: np.ndarray, net: GeneratedNet, tile: int | None):
    """``net`` on each plane of ``planes`` ``(H, W, N)`` (tiled as the luma is); yields ``(plane, (done, total))``
    after each tile, then the ``N`` tensors ``(1, 1, H, W)`` in a list."""
    restored = []
    for c in range(planes.shape[-1]):
        x = torch.from_numpy(np.ascontiguousarray(planes[..., c]))[None, None]
        for step in restorer._run_tiles(net, x, tile):
            if isinstance(step, torch.Tensor):
                restored.append(step)
            else:
                yield (c, step)
    yield restored


def _restore_subsampled_chroma(restorer, chroma: np.ndarray, net: GeneratedNet, tile: int | None):
    """Cb and Cr ``(H, W, 2)`` restored on the grid they were coded on (4:2:0: half resolution); yields
    :func:`_run_planes`' steps, then the ``(H, W, 2)`` result.

    Each plane is averaged over 2×2 pixels (an odd edge repeated first), which undoes the
    decoder's upsampling closely enough to give back the coded plane with its 8×8 blocks;
    the gray network runs there at the same level and the result is upsampled bicubically.
    """
    from ..core.degradations import bicubic_resize

    h, w = chroma.shape[:2]
    even = np.pad(chroma, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    coded = even.reshape(even.shape[0] // 2, 2, even.shape[1] // 2, 2, 2).mean(axis=(1, 3), dtype=np.float32)
    for step in _run_planes(restorer, coded, net, tile):
        if isinstance(step, list):
            yield np.stack([bicubic_resize(plane, even.shape[:2])[0, 0, :h, :w].numpy() for plane in step], axis=-1)
        else:
            yield step


def _restore_full_chroma(restorer, chroma: np.ndarray, net: GeneratedNet, tile: int | None):
    """Cb and Cr ``(H, W, 2)`` restored at full resolution, each as the luma is (JPEG's 4:4:4); yields
    :func:`_run_planes`' steps, then the ``(H, W, 2)`` result."""
    for step in _run_planes(restorer, chroma, net, tile):
        yield np.stack([plane[0, 0].numpy() for plane in step], axis=-1) if isinstance(step, list) else step


def with_alpha(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``color`` ``(..., Y', X', 3)`` with ``alpha`` ``(..., Y, X)`` (same dtype, its own units) as a 4th
    channel, resized bicubically to ``(Y', X')`` where the restoration changed the size."""
    size = color.shape[-3:-1]
    if alpha.shape[-2:] != size:
        planes = alpha.reshape((-1,) + alpha.shape[-2:]).astype(np.float32)
        resized = np.stack([_resize_like(plane[..., None], size)[..., 0] for plane in planes])
        if np.issubdtype(alpha.dtype, np.integer):
            resized = np.round(resized)
        alpha = np.clip(resized, alpha.min(), alpha.max()).astype(alpha.dtype).reshape(alpha.shape[:-2] + size)
    return np.concatenate([color, alpha[..., None]], axis=-1)
