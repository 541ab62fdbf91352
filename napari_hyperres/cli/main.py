"""Command line: ``python -m napari_hyperres`` (also installed as ``napari-hyperres``).

Subcommands::

    napari-hyperres tasks
    napari-hyperres restore IN OUT --task denoise --level 25|auto [--weights W] [--device auto]
                                   [--tile N] [--value-range BLACK WHITE] [--overwrite] [--quiet]
    napari-hyperres estimate IN --task denoise [--weights W] [--device auto]
    napari-hyperres weights

Every subcommand is registered by a small ``add_*_command(subparsers)`` function
listed in :data:`COMMANDS`; it adds its parser and sets ``run=`` to a function
``run(args) -> exit code``. Errors the package raises on purpose
(:class:`~napari_hyperres.errors.HyperResError`) and file errors end the program
with exit code 2 and one line ``error: ...`` on stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, TextIO

from ..errors import HyperResError, ShapeError, WeightsError

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

Command = Callable[["argparse._SubParsersAction"], None]


# --- helpers shared by subcommands ---------------------------------------------------------------
def weights_status(task) -> tuple[bool, str]:
    """``(available, text)`` for a task's shipped weights, as the ``tasks`` listing shows it."""
    from ..core.weights import resolve_weights

    hint = f"no weights yet: train with python -m trainer train --task {task.name}"
    if task.weights is None:
        return False, hint
    try:
        path = resolve_weights(task.weights)
    except WeightsError:
        return False, hint
    return True, f"{task.weights} ({path.name})"


def one_line(exc: BaseException) -> str:
    """An exception's message on a single line (never empty)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    return text


def print_error(message: str, stream: TextIO | None = None) -> None:
    print(f"error: {message}", file=stream or sys.stderr, flush=True)


class ProgressLine:
    """Progress of one file on stderr: a live percentage on a terminal, one summary line otherwise."""

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.live or total <= 0:
            return
        percent = int(100 * done / total)
        if percent != self._shown:
            self._shown = percent
            self.stream.write(f"\r{self.label}: {percent:3d}% ({done}/{total} tiles)")
            self.stream.flush()

    def finish(self, message: str) -> None:
        if not self.enabled:
            return
        line = f"{self.label}: {message} ({time.perf_counter() - self.start:.1f} s)"
        if self.live:  # overwrite the percentage and clear what is left of it
            line = "\r" + line + "\x1b[K"
        self.stream.write(line + "\n")
        self.stream.flush()


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of pixels, got {text!r}") from None
    if value < 16:
        raise argparse.ArgumentTypeError(f"expected a tile of at least 16 pixels, got {value}")
    return value


def add_model_arguments(parser: argparse.ArgumentParser, weights_help: str) -> None:
    """``--weights`` and ``--device``, shared by the subcommands that run a network."""
    parser.add_argument("--weights", help=weights_help)
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps (default: auto)")


# --- tasks ------------------------------------------------------------------------------------------
def add_tasks_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tasks",
        help="list the installed restoration tasks",
        description="List every registered task (built-in and from installed plugins) with its level range and weights.",
    )
    parser.set_defaults(run=run_tasks)


def run_tasks(args: argparse.Namespace) -> int:
    from ..core.plugins import broken_plugins, get_tasks

    rows = [("name", "title", "unit", "levels", "default", "weights")]
    for task in get_tasks().values():
        low, high = task.level_range
        rows.append((task.name, task.title, task.unit, f"{low:g}-{high:g}", f"{task.default_level:g}", weights_status(task)[1]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
    broken = broken_plugins()
    if broken:
        print("\nskipped plugins (broken; the tasks above work without them):")
        for plugin in broken:
            print(f"  {plugin.describe()}")
    return EXIT_OK


# --- restore ----------------------------------------------------------------------------------------
def add_restore_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "restore",
        help="restore an image file, or every image in a folder",
        description=(
            "Restore IN at a degradation level and write OUT. IN is an image file (TIFF, PNG, JPEG, BMP) "
            "or a folder: then OUT is a folder and every supported image in IN is restored under the same name. "
            "OUT keeps the input's dtype; its format follows OUT's suffix."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, help="image file or folder of images")
    parser.add_argument("output", metavar="OUT", type=Path, help="output file (or folder when IN is a folder)")
    parser.add_argument("--task", required=True, help="task name (see `napari-hyperres tasks`), e.g. denoise")
    parser.add_argument(
        "--level", default=None,
        help="degradation level in the task's unit, e.g. 25 (σ) for denoise, or 'auto' to estimate it per file "
        "(JPEG files: read from their quantisation tables); not needed for the auto task",
    )
    add_model_arguments(parser, weights_help="weights file or shipped name (default: the task's shipped weights)")
    parser.add_argument("--tile", type=positive_int, help="tile edge in pixels (default: tile only planes above 1024×1024)")
    parser.add_argument(
        "--value-range", nargs=2, type=float, metavar=("BLACK", "WHITE"),
        help="values mapped to black and white (e.g. 0 4095 for 12-bit data in 16-bit files); default: by dtype",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files (never the input)")
    parser.add_argument(
        "--memory-budget", type=float, default=1024, metavar="MB",
        help="TIFF stacks larger than this are streamed plane by plane to a TIFF OUT instead of loaded whole (default: 1024)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(run=run_restore)


def restore_jobs(source: Path, target: Path) -> list[tuple[Path, Path]]:
    """``(input, output)`` file pairs for ``restore``; a folder maps to a folder, same names.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ShapeError: unsupported suffix, a folder with no supported image, or a folder written onto itself.
    """
    from ..io.files import SUPPORTED_SUFFIXES, is_supported

    if not source.exists():
        raise FileNotFoundError(f"no such file or folder: {source}")
    if source.is_dir():
        if target.exists() and not target.is_dir():
            raise ShapeError(f"{target} is a file; when IN is a folder, OUT must be a folder")
        if target.resolve() == source.resolve():
            raise ShapeError(f"OUT {target} is the input folder; restoring would overwrite the inputs, choose another folder")
        files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith(".") and is_supported(p))
        if not files:
            raise ShapeError(f"{source}: no images with a supported suffix ({', '.join(SUPPORTED_SUFFIXES)})")
        return [(p, target / p.name) for p in files]
    if target.is_dir():
        target = target / source.name
    if not is_supported(target):
        raise ShapeError(f"{target}: unsupported output type {target.suffix or '(no suffix)'!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    return [(source, target)]


def check_targets(jobs: list[tuple[Path, Path]], overwrite: bool) -> None:
    """Refuse to write onto an input, or onto an existing file without ``overwrite``, before any work."""
    inputs = {src.resolve() for src, _ in jobs}
    for src, dst in jobs:
        if dst.resolve() in inputs or (dst.exists() and os.path.samefile(src, dst)):
            raise ShapeError(f"{dst} is an input file; refusing to overwrite it, choose another OUT")
    existing = [dst for _, dst in jobs if dst.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise ShapeError(f"{existing[0]}{more} already exists; pass --overwrite to replace")


def run_restore(args: argparse.Namespace) -> int:
    from ..blind.levels import is_auto, resolve_level
    from ..core.images import is_rgb_image
    from ..core.plugins import get_task
    from ..engine import Restorer, output_shape
    from ..io.files import check_writable, read_image, write_image
    from ..io.streaming import should_stream

    task = get_task(args.task)
    auto_level = is_auto(args.level)
    if args.level is None and task.conditioning != "image":
        raise ShapeError(f"task {task.name!r} needs --level ({task.unit}, {task.level_range[0]:g}-{task.level_range[1]:g}) or --level auto")
    if auto_level:
        task.check_auto()  # before any work
    given = None if auto_level else resolve_level(task, args.level)  # the one check of a given level
    jobs = restore_jobs(args.input, args.output)
    check_targets(jobs, args.overwrite)
    if args.weights is None and not weights_status(task)[0]:
        raise WeightsError(
            f"task {task.name!r} has no weights yet: train with python -m trainer train --task {task.name}, "
            "then pass the exported file with --weights FILE"
        )
    restorer = Restorer(task, weights=args.weights, device=args.device)
    value_range = tuple(args.value_range) if args.value_range else None
    failed = 0
    budget = int(args.memory_budget * 2**20)
    for src, dst in jobs:
        try:
            if is_tiff(dst) and should_stream(src, budget):
                stream_one(restorer, src, dst, given, args, value_range)
                continue
            image = read_image(src)
            choice = given or resolve_level(task, "auto", image, path=src, device=args.device, value_range=value_range)
            if choice is not given and not args.quiet:
                print(f"{src.name}: {choice.describe(task)}", file=sys.stderr)
            level = choice.level
            if image.ndim >= 2:  # the engine reports bad shapes; check the output format first
                check_writable(dst, output_shape(task, image.shape, level, is_rgb_image(image.shape, None)), image.dtype)
            progress = ProgressLine(f"{src.name}", enabled=not args.quiet)
            result = restorer.restore(image, level, tile=args.tile, progress=progress, value_range=value_range, noise=choice.noise)
            write_image(dst, result)
            progress.finish(f"{describe_run(task, level)} -> {dst}")
        except (HyperResError, OSError) as exc:
            if len(jobs) == 1:
                raise
            failed += 1
            print_error(f"{src}: {one_line(exc)}")
    if failed:
        print_error(f"{failed} of {len(jobs)} files failed; the others were written")
        return EXIT_ERROR
    return EXIT_OK


def is_tiff(path: Path) -> bool:
    from ..io.files import TIFF_SUFFIXES

    return path.suffix.lower() in TIFF_SUFFIXES


def stream_one(restorer, src: Path, dst: Path, given, args: argparse.Namespace, value_range) -> None:
    """Restore one large TIFF stack page by page (:mod:`napari_hyperres.io.streaming`) at the
    ``given`` :class:`~napari_hyperres.blind.levels.LevelChoice`, or one found from its first page."""
    import tifffile

    from ..blind.levels import resolve_level
    from ..io.streaming import stream_restore_tiff

    task = restorer.task
    choice = given
    if choice is None:
        with tifffile.TiffFile(src) as tif:
            first = tif.series[0].pages[0].asarray()
        choice = resolve_level(task, "auto", first, device=args.device, value_range=value_range)
        if not args.quiet:
            print(f"{src.name}: {choice.describe(task)}, from the first page", file=sys.stderr)
    level = choice.level
    progress = ProgressLine(f"{src.name} (streaming)", enabled=not args.quiet)
    stream_restore_tiff(src, dst, restorer, level, tile=args.tile, value_range=value_range, progress=progress)
    progress.finish(f"{describe_run(task, level)} -> {dst}")


def describe_run(task, level: float) -> str:
    """``denoise 25`` / ``microscopy 61.3 photons``; an image-conditioned task has no level to show."""
    if task.conditioning == "image":
        return f"{task.name} (weights chosen from the image)"
    return f"{task.name} {level:.4g}" + (f" {task.unit}" if task.noise_parameters else "")


# --- estimate ---------------------------------------------------------------------------------------
def add_estimate_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="estimate the degradation level of an image file (or each image in a folder)",
        description=(
            "Print the degradation level of IN in the task's unit, from the task's level estimator "
            "(dejpeg on a JPEG file: read exactly from its quantisation tables). "
            "Output: one line 'FILE<TAB>LEVEL<TAB>METHOD' per image."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, help="image file or folder of images")
    parser.add_argument("--task", required=True, help="task name (see `napari-hyperres tasks`), e.g. denoise")
    add_model_arguments(parser, weights_help="estimator weights file (default: the task's shipped '<task>.estimator')")
    parser.set_defaults(run=run_estimate)


def run_estimate(args: argparse.Namespace) -> int:
    from ..blind.levels import resolve_level
    from ..core.plugins import get_task
    from ..io.files import SUPPORTED_SUFFIXES, is_supported, read_image

    task = get_task(args.task)
    if task.conditioning == "image":
        raise ShapeError(f"task {task.name!r} has no level to estimate; restore with it directly")
    source: Path = args.input
    if not source.exists():
        raise FileNotFoundError(f"no such file or folder: {source}")
    files = sorted(p for p in source.iterdir() if p.is_file() and is_supported(p)) if source.is_dir() else [source]
    if not files:
        raise ShapeError(f"{source}: no images with a supported suffix ({', '.join(SUPPORTED_SUFFIXES)})")
    failed = 0
    for path in files:
        try:
            file_level = task.level_in_file is not None and task.level_in_file.applies_to(path)
            image = None if file_level else read_image(path)
            choice = resolve_level(task, "auto", image, path=path, weights=args.weights, device=args.device)
            note = f" (outside the task's range {task.level_range[0]:g}–{task.level_range[1]:g})" if choice.outside_range else ""
            print(f"{path}\t{choice.estimate:.4g}\t{choice.method}{note}")
        except (HyperResError, OSError) as exc:
            if len(files) == 1:
                raise
            failed += 1
            print_error(f"{path}: {one_line(exc)}")
    return EXIT_ERROR if failed else EXIT_OK


# --- weights ---------------------------------------------------------------------------------------
def add_weights_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "weights",
        help="list the shipped weights files with how they were trained and their validation numbers",
        description=(
            "Print a markdown table of every shipped weights file: task, kind, preset, training levels and data, "
            "steps, training time, and the validation table stored in the file (PSNR in dB per dataset and level; "
            "for level estimators the mean absolute error of the last training check, in the task's unit)."
        ),
    )
    parser.set_defaults(run=run_weights)


def validation_summary(info) -> str:
    """One cell: ``"Set12 σ15 32.1 / σ25 29.6"``-like text from a weights file's validation table."""
    parts = []
    for dataset, table in info.validation.items():
        cells = []
        for level, row in table.items():
            psnr = row["psnr"] if isinstance(row, dict) else row
            base = f" (input {row['psnr_input']:.2f})" if isinstance(row, dict) and "psnr_input" in row else ""
            cells.append(f"{level}: {psnr:.2f}{base}")
        parts.append(f"{dataset} — " + ", ".join(cells))
    log = info.extra.get("log") if info.kind == "estimator" else None
    if log:
        parts.append(f"mean abs. error {log[-1]['mean_abs_error_level']:.3g} (training check, step {log[-1]['step']})")
    return "; ".join(parts) or "—"


def run_weights(args: argparse.Namespace) -> int:
    from ..core.weights import list_weights

    rows = ["| name | kind | preset | levels | data | steps | training time | validation (PSNR dB) |", "|---|---|---|---|---|---|---|---|"]
    for info in list_weights():
        levels = "—" if info.kind in ("hair", "estimator") else ", ".join(f"{v:g}" for v in info.train_levels) or "—"
        where = f" ({info.device})" if info.device not in ("", "auto") else ""
        hours = f"{info.training_time_s / 3600:.2f} h{where}"
        rows.append(
            f"| `{info.name}` | {info.kind} | {info.preset} | {levels} | {', '.join(info.training_data) or '—'} "
            f"| {info.steps} | {hours} | {validation_summary(info)} |"
        )
    print("\n".join(rows))
    return EXIT_OK


# --- the parser ------------------------------------------------------------------------------------
COMMANDS: list[Command] = [add_tasks_command, add_restore_command, add_estimate_command, add_weights_command]
"""Subcommand registrars, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="napari-hyperres",
        description="One-slider image restoration (denoise, JPEG artifacts, super-resolution) from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 error, 130 interrupted)."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # σ, × in messages must not crash a cp1252 console
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..core.weights import exit_cleanly_on_sigterm

    exit_cleanly_on_sigterm()
    warnings.showwarning = lambda message, category, *_, **__: print(f"warning: {message}", file=sys.stderr, flush=True)
    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return args.run(args)
    except (HyperResError, OSError) as exc:
        print_error(one_line(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        print_error("interrupted; files being written were discarded")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
