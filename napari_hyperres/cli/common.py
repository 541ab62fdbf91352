"""What the command line's subcommands share: exit codes, one-line errors, the progress line,
argument types."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from ..errors import WeightsError

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


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


def _whole_number(text: str, minimum: int, unit: str, too_small: str) -> int:
    """An argparse value: a whole number of ``unit`` of at least ``minimum`` (``too_small`` names it in the error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of {unit}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {too_small}, got {value}")
    return value


def worker_count(text: str) -> int:
    """``--workers N``: a whole number of worker processes, at least 1."""
    return _whole_number(text, 1, "worker processes", "at least 1 worker")


def positive_int(text: str) -> int:
    """``--tile N``: a whole number of pixels, at least 16."""
    return _whole_number(text, 16, "pixels", "a tile of at least 16 pixels")


def add_model_arguments(parser: argparse.ArgumentParser, weights_help: str) -> None:
    """``--weights`` and ``--device``, shared by the subcommands that run a network."""
    parser.add_argument("--weights", help=weights_help)
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps (default: auto)")


# --- tasks ------------------------------------------------------------------------------------------
