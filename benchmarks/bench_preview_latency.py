"""Slider-to-preview latency of the Restore widget on one plane (CPU by default).

Each "level change" asks for a level not seen before, so every sample pays what a
user dragging the slider pays: generating the level's network (``Restorer.network_for``,
k = c·w + b for every generated conv) plus restoring the plane. Prints one markdown row.

    python benchmarks/bench_preview_latency.py                      # worker path, lite preset, 512×512
    python benchmarks/bench_preview_latency.py --widget             # through the real widget (offscreen Qt)
    python benchmarks/bench_preview_latency.py --weights FILE.safetensors --task denoise
    python benchmarks/bench_preview_latency.py --size 2048 --viewport 512   # view first: first pixels, view, plane
    python benchmarks/bench_preview_latency.py --rgb --size 2048 --viewport 512 --until view   # colour; each preview stops after the view
    python benchmarks/bench_preview_latency.py --by-brightness      # "noise follows brightness" ticked: 3 restorations blended
    python benchmarks/bench_preview_latency.py --task microscopy --size 2048 --viewport 512   # uint16 camera counts

With ``--viewport V`` the plane is previewed as the widget does (:func:`napari_hyperres.ui.progressive.preview_steps`):
the columns then give the time to the first restored pixels (the middle of the V² view), to the
whole view, and to the whole plane.

A photon-limited task (``microscopy``) gets what a camera records: uint16 counts (gain 2 counts
per photon, offset 100, read noise 3.5 counts, 50 photons at white), and each preview uses the
whole layer's noise fit and range as the widget keeps them (read once, before the timed moves).

``--weights`` defaults to the task's shipped weights when they exist, else a randomly
initialised network of ``--preset`` (timing does not depend on the weights' values).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def make_weights(task_name: str, preset: str, folder: Path) -> str:
    """Weights file for ``task_name``: shipped if present, else random ``preset`` weights."""
    import torch

    from napari_hyperres.core.models.hyperres import HyperResNet, architecture_for
    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.core.weights import WeightsInfo, resolve_weights, save_weights

    task = get_task(task_name)
    if task.weights is not None:
        try:
            return str(resolve_weights(task.weights))
        except Exception:  # no shipped file yet
            pass
    torch.manual_seed(0)
    model = HyperResNet(architecture_for(preset, task.in_channels))
    info = WeightsInfo(name=f"{task_name}.{preset}-random", task=task_name, architecture=model.arch.to_dict(), preset=preset)
    return str(save_weights(folder / f"{task_name}.{preset}.safetensors", model.state_dict(), info))


CAMERA = {"gain": 2.0, "offset": 100.0, "read_noise": 3.5, "photons_at_white": 50.0}
"""The camera of a photon-limited task's plane: counts = gain × Poisson(photons) + offset + N(0, read_noise²)."""


def bench_image(task_name: str, size: int, level: float, rgb: bool = False) -> np.ndarray:
    """A plane of ``size``² (sr: the low-resolution input, ``size / 2`` on a side): uint8 gray
    (scikit-image's camera) or, with ``rgb``, colour ``(size, size, 3)`` (its astronaut); for a
    photon-limited task, the gray plane as uint16 camera counts (:data:`CAMERA`, seeded)."""
    from skimage import data
    from skimage.transform import resize

    from napari_hyperres.core.plugins import get_task

    image = data.astronaut() if rgb else data.camera()
    side = size if task_name != "sr" else max(2, round(size / level))
    plane = resize(image, (side, side), anti_aliasing=True, preserve_range=True)
    if not get_task(task_name).noise_parameters:
        return plane.astype(np.uint8)
    rng = np.random.default_rng(0)
    photons = rng.poisson(plane / 255.0 * CAMERA["photons_at_white"])
    counts = CAMERA["gain"] * photons + CAMERA["offset"] + rng.normal(0.0, CAMERA["read_noise"], plane.shape)
    return np.clip(np.round(counts), 0, 65535).astype(np.uint16)


def levels_for(task, n: int) -> list[float]:
    """``n`` distinct levels inside the task's range, alternating like a dragged slider."""
    low, high = task.level_range
    if task.level_scale == "log":  # a slider over decades (photons): the middle decades, as dragged
        values = np.geomspace(low * (high / low) ** 0.1, low * (high / low) ** 0.9, n)
    else:
        values = np.linspace(low + 0.1 * (high - low), high - 0.1 * (high - low), n)
    return [float(v) for v in np.concatenate([values[0::2], values[1::2][::-1]])]


BRIGHTNESS_CURVE = ((0.1, 0.5, 0.9), (28.0, 10.0, 4.0))
"""``--by-brightness``: a curve as noise in the dark parts reads (σ 28 in the shadows, 4 in the highlights:
three restorations at every level the slider moves it to)."""


def curve_for(by_brightness: bool):
    from napari_hyperres.blind.brightness import LevelCurve

    return LevelCurve(*BRIGHTNESS_CURVE) if by_brightness else None


def bench_worker_path(
    task_name: str, weights: str, device: str, plane: np.ndarray, levels: list[float], by_brightness: bool = False
) -> tuple[list[float], float]:
    """The widget's worker function per level change; returns (latencies s, cold first s)."""
    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.ui.preview import LayerStatistics, Request, RestorerCache, restore_plane

    task = get_task(task_name)
    cache = RestorerCache()
    statistics = LayerStatistics()  # the widget's: the layer's range (and noise fit) read once, then kept

    def request(level: float) -> Request:
        return Request(
            task=task, level=level, device=device, weights=weights, data=plane, rgb=plane.ndim == 3, curve=curve_for(by_brightness),
            statistics=statistics, data_key=("bench", plane.shape, str(plane.dtype)),
        )

    start = time.perf_counter()
    restore_plane(cache, request(task.default_level).with_statistics())  # loads the weights, reads the layer, warms up
    cold = time.perf_counter() - start
    times = []
    for level in levels:
        start = time.perf_counter()
        restore_plane(cache, request(level).with_statistics())
        times.append(time.perf_counter() - start)
    cache.release()
    return times, cold


def bench_view_first(
    task_name: str, weights: str, device: str, plane: np.ndarray, levels: list[float], viewport: int, until: str = "plane",
    by_brightness: bool = False,
) -> dict[str, list[float]]:
    """``preview_steps`` per level change on a plane with a ``viewport``² view in its middle:
    seconds to the first tile, to the view, to the plane. ``until`` ("first", "view") stops each
    preview there, as the widget does when the slider moves on (the later columns are then absent)."""
    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.ui.preview import LayerStatistics, Request, RestorerCache
    from napari_hyperres.ui.progressive import preview_steps

    task = get_task(task_name)
    cache = RestorerCache()
    statistics = LayerStatistics()
    h, w = plane.shape[:2]
    y0, x0 = (h - viewport) // 2, (w - viewport) // 2
    view = (y0, y0 + viewport, x0, x0 + viewport)

    def one(level: float) -> dict[str, float]:
        request = Request(
            task=task, level=level, device=device, weights=weights, data=plane, rgb=plane.ndim == 3, viewport=view,
            curve=curve_for(by_brightness), statistics=statistics, data_key=("bench", plane.shape, str(plane.dtype)),
        )
        start, marks = time.perf_counter(), {}
        for tile in preview_steps(cache, request):
            if tile is None:
                continue
            if PHASES.index(tile.phase) > PHASES.index(until):
                return marks  # where the widget quits a preview when the slider moves on
            marks[tile.phase] = time.perf_counter() - start  # each phase done at its last tile (the view comes in tiles)
        marks["plane"] = time.perf_counter() - start
        marks.setdefault("view", marks["plane"])
        marks.setdefault("first", marks["view"])
        return marks

    one(task.default_level)  # loads the weights, warms up
    runs = [one(level) for level in levels]
    cache.release()
    return {key: [run[key] for run in runs] for key in ("first", "view", "plane") if key in runs[0]}


PHASES = ("first", "view", "plane")
"""The phases of a preview in the order they come (:class:`napari_hyperres.ui.progressive.PreviewTile`)."""


def bench_widget(task_name: str, weights: str, device: str, plane: np.ndarray, levels: list[float]) -> tuple[list[float], float]:
    """Set the widget's slider and wait until the preview layer shows that level (offscreen Qt)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from napari.components import ViewerModel
    from qtpy.QtWidgets import QApplication

    from napari_hyperres.ui.labels import preview_name
    from napari_hyperres.ui.widget import PREVIEW_KEY, RestoreWidget

    app = QApplication.instance() or QApplication([])
    viewer = ViewerModel()
    viewer.add_image(plane, name="plane")
    widget = RestoreWidget(viewer, weights={task_name: weights})
    widget.task_combo.value = task_name
    widget.device_combo.value = device

    def wait_for(level: float) -> float:
        start = time.perf_counter()
        widget.level = level
        name = preview_name("plane", task_name, widget.level)  # the slider's own value (a log slider rounds it)
        while True:
            app.processEvents()
            previews = [layer for layer in viewer.layers if PREVIEW_KEY in layer.metadata]
            if previews and previews[0].name == name and not widget._preview_queue.running:
                return time.perf_counter() - start
            if time.perf_counter() - start > 120:
                raise TimeoutError(f"no preview for level {level} after 120 s: {widget.status.value}")
            time.sleep(0.0005)

    cold = wait_for(widget.task.default_level + widget.task.level_step)
    times = [wait_for(level) for level in levels]
    widget.close()
    return times, cold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="denoise")
    parser.add_argument("--preset", default="lite", help="architecture of random weights when none ship (paper, lite, tiny)")
    parser.add_argument("--weights", default=None, help="weights file (default: shipped, else random --preset)")
    parser.add_argument("--size", type=int, default=512, help="output plane edge in pixels")
    parser.add_argument("--changes", type=int, default=24, help="level changes to time (>= 20)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--widget", action="store_true", help="time through the real widget and Qt event loop")
    parser.add_argument("--viewport", type=int, default=None, help="preview view first with a V×V view in the plane's middle")
    parser.add_argument("--rgb", action="store_true", help="a colour plane (scikit-image's astronaut) instead of a gray one")
    parser.add_argument(
        "--until", choices=("first", "view", "plane"), default="plane",
        help="with --viewport: stop each preview after this phase (a 2048² colour plane takes ~20 s a level)",
    )
    parser.add_argument("--by-brightness", action="store_true", help="preview by brightness (a fixed 3-pass curve; worker paths only)")
    args = parser.parse_args()
    if args.by_brightness and args.widget:
        parser.error("--by-brightness times the worker paths (the widget reads a curve with Auto first)")

    import torch

    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.core.weights import read_info

    if args.threads:
        torch.set_num_threads(args.threads)
    task = get_task(args.task)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights or make_weights(args.task, args.preset, Path(tmp))
        levels = levels_for(task, max(20, args.changes))
        plane = bench_image(args.task, args.size, 2.0, args.rgb)
        info = read_info(weights)
        if args.viewport:
            marks = bench_view_first(args.task, weights, args.device, plane, levels, args.viewport, args.until, args.by_brightness)
            print("| task | weights | plane | view | device | threads | level changes | first pixels, median ms (p90) | view, median ms (p90) | plane, median ms |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            cells = []
            for key in ("first", "view", "plane"):
                if key not in marks:
                    cells.append("not timed")
                    continue
                ms = sorted(t * 1000 for t in marks[key])
                cells.append(f"{statistics.median(ms):.0f} ({ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]:.0f})")
            print(
                f"| {args.task} | {info.name} | {'×'.join(map(str, plane.shape))} {plane.dtype} | {args.viewport}² | {args.device} "
                f"| {torch.get_num_threads()} | {len(levels)} | {cells[0]} | {cells[1]} | {cells[2].split(' (')[0]} |"
            )
            return
        if args.widget:
            times, cold = bench_widget(args.task, weights, args.device, plane, levels)
        else:
            times, cold = bench_worker_path(args.task, weights, args.device, plane, levels, args.by_brightness)
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    path = "widget (Qt event loop + thread worker)" if args.widget else "worker function (restore_plane)"
    path += ", by brightness (3 passes)" if args.by_brightness else ""
    cpu = platform.processor() or platform.machine()
    print("| task | weights | plane | device | threads | path | level changes | median ms | p90 ms | first (cold) ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.task} | {info.name} ({info.architecture.get('features')}ch×{info.architecture.get('blocks')}) "
        f"| {'×'.join(map(str, plane.shape))} {plane.dtype} | {args.device} ({cpu}) | {torch.get_num_threads()} | {path} "
        f"| {len(ms)} | {statistics.median(ms):.0f} | {p90:.0f} | {cold * 1000:.0f} |"
    )


if __name__ == "__main__":
    main()
