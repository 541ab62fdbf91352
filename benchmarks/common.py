"""Helpers shared by the benchmark scripts: flags, machine description, markdown, timing, images, weights, memory.

Every ``bench_*.py`` script builds its parser with :func:`base_parser`, collects its tables
in a :class:`Report`, and ends with :meth:`Report.emit`, which prints the markdown and writes
it to ``--out``. Nothing here runs a benchmark by itself.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
"""The repository root (benchmarks/ is one level below it)."""

RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "data"


# --- flags ------------------------------------------------------------------------------------------
def base_parser(doc: str, name: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every benchmark takes.

    ``--quick`` (tiny inputs, for checking that a script runs; its numbers mean nothing),
    ``--out`` (default ``benchmarks/results/NAME.md``, or ``NAME.quick.md`` with ``--quick``),
    ``--data-root``, ``--weights-dir``, ``--device`` and ``--threads``.
    """
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(bench_name=name)
    parser.add_argument("--quick", action="store_true", help="tiny inputs: checks the script runs; the numbers are not results")
    parser.add_argument("--out", type=Path, default=None, help=f"markdown output (default: benchmarks/results/{name}.md, {name}.quick.md with --quick)")
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA, help=f"folder holding val/ and microscopy/ (default: {DEFAULT_DATA})")
    parser.add_argument(
        "--weights-dir", type=Path, default=None,
        help="folder searched first for NAME.safetensors (denoise.lite, dejpeg.estimator, ...); then the shipped napari_hyperres/pretrained/",
    )
    parser.add_argument("--device", default="cpu", help="torch device for the networks: cpu (default), cuda, auto")
    parser.add_argument("--threads", type=int, default=None, help="torch and OpenCV threads (default: the libraries' own)")
    return parser


def out_path(args: argparse.Namespace) -> Path:
    """``--out``, or the default results file of the script (``.quick.md`` for quick runs)."""
    if args.out is not None:
        return args.out
    return RESULTS / f"{args.bench_name}{'.quick' if args.quick else ''}.md"


def setup_threads(threads: int | None) -> None:
    """Set torch's intra-op threads and OpenCV's threads (``None``: leave the libraries' defaults)."""
    if not threads:
        return
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def command_line() -> str:
    """The command that is running, relative to the repository root, for the report."""
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(ROOT)
    except ValueError:
        pass
    return " ".join(["python", str(script), *sys.argv[1:]])


def fail(message: str, code: int = 2) -> None:
    """End the program with ``error: message`` on stderr (no traceback), like the package's CLI."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


# --- the machine ------------------------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what :mod:`platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """CPU cores this process may run on (the affinity mask where there is one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def device_name(device: str) -> str:
    """``device`` in words: ``cpu``, or ``cuda (NVIDIA H100 …)``."""
    import torch

    from napari_hyperres.core.devices import select_device

    dev = select_device(device)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return dev.type


def auto_precision(device: str) -> str:
    """The dtype a Restorer's networks compute in on ``device`` by default (``precision="auto"``)."""
    from napari_hyperres.core.devices import select_device, select_precision

    try:
        return str(select_precision(select_device(device))).removeprefix("torch.")
    except Exception as exc:  # a device this machine lacks: the row says so instead of failing the run
        return f"n/a ({exc})"


def machine_rows(device: str) -> list[tuple[str, str]]:
    """``(what, value)`` rows describing the machine and libraries a benchmark ran on."""
    import torch

    rows = [
        ("CPU", cpu_model()),
        ("cores (usable / logical)", f"{usable_cores()} / {os.cpu_count()}"),
        ("torch threads", str(torch.get_num_threads())),
        ("torch", torch.__version__),
        ("device", device_name(device)),
        ("CUDA available", f"yes ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "no"),
        ("networks compute in (precision \"auto\")", auto_precision(device)),
        ("python", platform.python_version()),
    ]
    if hasattr(os, "getloadavg"):
        rows.append(("load average at start (1 min)", f"{os.getloadavg()[0]:.1f} (timings on a loaded machine are slower and noisier)"))
    rows.append(("date (UTC)", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")))
    return rows


# --- markdown --------------------------------------------------------------------------------------
def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table; floats are written as they are, so format them first (:func:`fmt`)."""
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value: float | None, digits: int = 2, signed: bool = False) -> str:
    """A number with ``digits`` decimals (``+`` shown when ``signed``); ``None``/NaN → ``n/a``."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


@dataclass
class Report:
    """One benchmark's markdown: a title, the command, the machine, then sections in order."""

    title: str
    description: str
    device: str = "cpu"
    parts: list[str] = field(default_factory=list)

    def section(self, heading: str, text: str = "") -> None:
        self.parts.append(f"### {heading}" + (f"\n\n{text}" if text else ""))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.parts.append(markdown_table(headers, rows))

    def text(self, text: str) -> None:
        self.parts.append(text)

    def notes(self, notes: Sequence[str]) -> None:
        if notes:
            self.parts.append("\n".join(f"- {n}" for n in notes))

    def render(self, quick: bool = False) -> str:
        head = [f"## {self.title}", "", self.description, "", f"Command: `{command_line()}`", ""]
        if quick:
            head += ["**Quick run** (`--quick`): tiny inputs to check the script; these numbers are not results.", ""]
        head.append(markdown_table(["machine", ""], machine_rows(self.device)))
        return "\n\n".join(["\n".join(head), *self.parts]) + "\n"

    def emit(self, args: argparse.Namespace) -> Path:
        """Print the markdown and write it to ``--out`` (atomically); returns the path written."""
        from napari_hyperres.core.atomic import atomic_write

        text = self.render(args.quick)
        print(text, flush=True)
        path = out_path(args)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        print(f"written: {path}", file=sys.stderr)
        return path


# --- timing -------------------------------------------------------------------------------------
def timed(fn: Callable[[], object], repeat: int, warmup: int = 1) -> list[float]:
    """Seconds of ``repeat`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


# --- images ----------------------------------------------------------------------------------------
def image_paths(folder: Path, limit: int | None = None) -> list[Path]:
    """Sorted image files of ``folder`` (non-recursive; the trainer's rule); a missing or empty
    folder ends the program."""
    from trainer.data import image_paths as training_image_paths

    if not folder.is_dir():
        fail(f"data folder {folder} does not exist; pass --data-root (the folder holding val/ and microscopy/)")
    try:
        return training_image_paths([str(folder)], limit)
    except FileNotFoundError as exc:
        fail(str(exc))


def load_image(path: Path, channels: str = "as-is") -> np.ndarray:
    """An image file as float32 in ``[0, 1]``: ``(H, W)`` gray or ``(H, W, 3)`` colour.

    ``channels``: ``"gray"`` (colour → BT.601 luma), ``"rgb"`` (gray → replicated) or ``"as-is"``
    (the trainer's reading, :func:`trainer.data.load_for_task`).
    """
    from trainer.data import load_for_task

    if channels == "as-is":
        image = load_for_task(path, "rgb")
        unit = image[0][..., 0] if image[1] else image[0]
    else:
        unit = load_for_task(path, channels)[0]
        unit = unit[..., 0] if channels == "gray" else unit
    return np.ascontiguousarray(unit)


def colour_images_8bit(folder: Path, limit: int | None = None) -> list[np.ndarray]:
    """The colour images of ``folder`` (gray ones, stored as RGB or not, left out) as uint8 ``(H, W, 3)``."""
    images = []
    for path in image_paths(folder, limit):
        image = np.round(load_image(path, "as-is") * 255).astype(np.uint8)
        if image.ndim == 3 and np.ptp(image.astype(int)[..., :3] - image[..., :1], axis=None) > 0:
            images.append(image[..., :3])
    return images


def w2s_clean(args: argparse.Namespace) -> Path:
    """The W2S 400-frame averages under ``--data-root`` (``microscopy/W2S/clean``); ends the program if absent."""
    folder = args.data_root / "microscopy" / "W2S" / "clean"
    if not folder.is_dir():
        fail(f"{folder} not found: pass --data-root (the folder holding microscopy/W2S)")
    return folder


def center_crop(image: np.ndarray, size: int | None) -> np.ndarray:
    """The central ``size``×``size`` of an ``(H, W[, C])`` image (unchanged when ``size`` is falsy or larger)."""
    if not size:
        return image
    h, w = image.shape[:2]
    y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[y : y + size, x : x + size]


def to_tensor(image: np.ndarray):
    """``(H, W)`` or ``(H, W, C)`` float array → ``(1, C, H, W)`` torch tensor."""
    from napari_hyperres.core.images import to_batch

    return to_batch(image)


def to_array(tensor) -> np.ndarray:
    """``(1, C, H, W)`` tensor → ``(H, W)`` (C = 1) or ``(H, W, C)`` float32 array."""
    array = tensor[0].detach().float().cpu().numpy().transpose(1, 2, 0)
    return np.ascontiguousarray(array[..., 0] if array.shape[-1] == 1 else array)


def add_noise(clean: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """The denoise protocol: ``clean + σ/255·N(0, 1)``, float, unclipped, torch generator seeded ``seed``.

    Gray images get one noise plane (what a gray image given to the RGB network looks like).
    """
    import torch

    from napari_hyperres.core.plugins import get_task

    noisy = get_task("denoise").simulate_input(to_tensor(clean), sigma, torch.Generator().manual_seed(seed))
    return to_array(noisy)


def noisy_8bit_file(clean: np.ndarray, sigma: float) -> np.ndarray:
    """What a noisy 8-bit file holds: ``clean`` in [0, 1] plus σ (0–255 scale) Gaussian noise
    (numpy seed 0), rounded and clipped to uint8."""
    noise = np.random.default_rng(0).standard_normal(clean.shape)
    return np.clip(np.round(clean.astype(np.float64) * 255 + sigma * noise), 0, 255).astype(np.uint8)


def psnr(restored: np.ndarray, clean: np.ndarray) -> float:
    """PSNR in dB of images in ``[0, 1]``: ``restored`` clipped to ``[0, 1]`` first, all channels,
    no border (the trainer's :func:`trainer.metrics.psnr`, in float64)."""
    from trainer.metrics import psnr as batch_psnr

    restored = np.clip(np.asarray(restored, dtype=np.float64), 0, 1)
    return float(batch_psnr(to_tensor(restored), to_tensor(np.asarray(clean, dtype=np.float64)))[0])


# --- weights ---------------------------------------------------------------------------------------
def find_weights(name: str, weights_dir: Path | None = None, override: str | Path | None = None) -> Path | None:
    """The weights file for ``name``: ``override``, else ``weights_dir/NAME.safetensors``, else shipped; ``None`` if none."""
    from napari_hyperres.core.weights import resolve_weights
    from napari_hyperres.errors import WeightsError

    if override is not None:
        path = Path(override)
        if not path.is_file():
            fail(f"weights file {path} does not exist")
        return path
    if weights_dir is not None and (weights_dir / f"{name}.safetensors").is_file():
        return weights_dir / f"{name}.safetensors"
    try:
        return resolve_weights(name)
    except WeightsError:
        return None


def require_weights(names: Sequence[str], weights_dir: Path | None, overrides: dict[str, str | Path | None] | None = None) -> dict[str, Path]:
    """Weights files for all ``names``; ends the program naming every missing one and how to pass it."""
    overrides = overrides or {}
    found = {name: find_weights(name, weights_dir, overrides.get(name)) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        where = f"{weights_dir} or " if weights_dir else ""
        fail(
            f"missing weights: {', '.join(missing)} (looked in {where}napari_hyperres/pretrained/). "
            "Train and export them (trainer/recipes/cpu_all.sh), or pass --weights-dir DIR holding NAME.safetensors"
        )
    return {name: path for name, path in found.items() if path is not None}


def weights_description(path: Path) -> str:
    """``name (kind, preset F×B, N steps) — file`` from a weights file's metadata."""
    from napari_hyperres.core.weights import read_info

    info = read_info(path)
    arch = info.architecture
    shape = f"{arch.get('features')}×{arch.get('blocks')}" if "blocks" in arch else f"{arch.get('features')} features"
    return f"{info.name} ({info.kind}, {info.preset} {shape}, {info.steps} steps) — `{_short(path)}`"


def _short(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def random_weights(task_name: str, preset: str, folder: Path, seed: int = 0) -> Path:
    """A randomly initialised HyperRes weights file of ``preset`` for ``task_name`` (timing only)."""
    import torch

    from napari_hyperres.core.models.hyperres import HyperResNet, architecture_for
    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.core.weights import WeightsInfo, save_weights

    task = get_task(task_name)
    torch.manual_seed(seed)
    model = HyperResNet(architecture_for(preset, task.in_channels))
    info = WeightsInfo(name=f"{task_name}.{preset}-random", task=task_name, architecture=model.arch.to_dict(), preset=preset)
    return save_weights(folder / f"{task_name}.{preset}-random.safetensors", model.state_dict(), info)


def weights_or_random(name: str, task_name: str, preset: str, args: argparse.Namespace, folder: Path) -> tuple[Path, bool]:
    """``(file, is_random)``: the weights ``name`` if found, else random ``preset`` weights (timing only)."""
    path = find_weights(name, args.weights_dir, getattr(args, "weights", None))
    if path is not None:
        return path, False
    return random_weights(task_name, preset, folder), True


# --- memory --------------------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (``ru_maxrss``)."""
    import resource

    return _maxrss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _maxrss_mb(value: int) -> float:
    """``ru_maxrss`` in MiB (Linux reports KiB, macOS bytes)."""
    return value / 2**20 if sys.platform == "darwin" else value / 1024


@dataclass
class Measured:
    """A finished child process: exit code, wall seconds, peak resident MiB, stdout and stderr."""

    returncode: int
    wall_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def run_measured(cmd: Sequence[str], env: dict[str, str] | None = None) -> Measured:
    """Run ``cmd`` and measure that one child's wall time and peak resident memory (``os.wait4``).

    The peak is the child's own ``ru_maxrss``, so children run one after another do not mix.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(child.returncode, wall, _maxrss_mb(usage.ru_maxrss), out.read(), err.read())


def last_lines(text: str, count: int = 5) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-count:])
