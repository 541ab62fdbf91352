"""Atomic writes: an output appears whole or not at all.

A file is written under a temporary name beside its target and renamed onto it only when
complete; a failure, a cancellation or a SIGTERM (:func:`sigterm_as_exit`) removes the
temporary file, and one left by an uncatchable kill is removed by the next write to the
same target (:func:`remove_stale_temps`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import secrets
import shutil
import signal
import threading
from pathlib import Path
from typing import Callable, Iterator

TEMP_MARK = "hyperres"
"""Temporary files are named ``.<name>.hyperres-<pid>-<random>.tmp<suffix>`` beside their target."""


def temporary_sibling(path: Path, ending: str) -> Path:
    """A fresh name beside ``path`` that :func:`remove_stale_temps` recognises once its writer is gone:
    ``.<name>.hyperres-<pid>-<random><ending>`` (``ending`` starting with ``.tmp`` for it to be removed)."""
    return path.parent / f".{path.name}.{TEMP_MARK}-{os.getpid()}-{secrets.token_hex(4)}{ending}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot tell: leave its files alone
    return True


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Delete temporary files (or zarr folders) of earlier writes of ``path`` whose process is gone (killed mid-write); returns them.

    A SIGKILL (or a power cut) cannot be caught, so its temporary file stays; the next write
    to the same path recognises it by name and by its writer's dead process id.
    """
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.{TEMP_MARK}-*-*.tmp*"):
        try:
            pid = int(tmp.name[len(path.name) + len(TEMP_MARK) + 3 :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)  # a zarr store is a folder
            removed.append(tmp)
    return removed


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """While inside, SIGTERM raises ``SystemExit(143)`` in the main thread, so writes in progress clean up;
    the previous handler is back afterwards.

    For programs (the CLI, the trainer), not for the library: the default SIGTERM ends the
    process at once and would leave :func:`atomic_write`'s temporary file behind.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def file_in_the_way(path: str | os.PathLike) -> Path | None:
    """The existing *file* among ``path``'s parent folders (``out.png/x.png``: ``out.png``), which
    makes ``path`` unwritable; ``None`` when every existing parent is a folder."""
    return next((p for p in Path(path).parents if p.exists() and not p.is_dir()), None)


def check_writable_folder(folder: str | os.PathLike) -> None:
    """Raise the error :func:`atomic_write` would, before any work: ``folder`` (or, where it is still
    to be made, the nearest folder above it that exists) is on a read-only file system or not
    writable by this user.

    Raises:
        OSError: ``cannot write into FOLDER (read-only file system | permission denied); …``.
    """
    folder = Path(folder).absolute()
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if os.access(existing, os.W_OK | os.X_OK):
        return
    read_only = hasattr(os, "statvfs") and bool(os.statvfs(existing).f_flag & getattr(os, "ST_RDONLY", 1))
    code, reason = (errno.EROFS, "read-only file system") if read_only else (errno.EACCES, "permission denied")
    raise OSError(code, f"cannot write into {folder} ({reason}); choose a folder you can write to")


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], *, replace: bool = True) -> None:
    """Call ``write(tmp_path)`` and move the temporary file onto ``path`` only if it succeeds.

    A crash, cancellation or SIGTERM (the CLI and the trainer turn it into an exception)
    leaves ``path`` as it was (never half-written) and removes the temporary file; one left
    by an uncatchable kill is removed by the next write to ``path`` (:func:`remove_stale_temps`).

    ``replace=False``: a ``path`` that exists when the file is complete is left as it is and
    :class:`FileExistsError` raised, decided at that moment (a hard link, which fails on an existing
    name, where the file system has them): two runs writing one folder cannot replace each other's
    files, whatever was checked when they started (a review's second run replaced the first's).
    """
    path = Path(path)
    blocking = file_in_the_way(path)
    if blocking is not None:
        raise NotADirectoryError(errno.ENOTDIR, f"cannot write {path}: {blocking} is a file, not a folder; choose another output path")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    # A fresh name, not a file: write() creates it inside the try below, so a SIGTERM at any moment
    # leaves nothing (a placeholder made first, as mkstemp does, could be caught before the try)
    tmp = str(temporary_sibling(path, f".tmp{path.suffix}"))
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # some writers create 0600 files; give outputs the usual permissions
        if replace:
            os.replace(tmp, path)
        else:
            _place_new(Path(tmp), path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and _disk_full(exc, path.parent):
            raise OSError(errno.ENOSPC, f"no space left to write {path} on its device ({exc}); free some space or write elsewhere") from exc
        if isinstance(exc, OSError) and exc.filename == tmp:  # name the folder, not a temporary file the user never chose
            reason = (exc.strerror or str(exc)).lower()
            raise OSError(exc.errno, f"cannot write into {path.parent} ({reason}); choose a folder you can write to") from exc
        raise


def exists_message(path: str | os.PathLike) -> str:
    """What an output that is not to be replaced says when ``path`` exists (a file or a zarr store)."""
    return (f"{path} exists: left as it is (made by an earlier run, or by another one writing the same folder meanwhile); "
            "to replace it, write with overwrite (CLI: --overwrite; --skip-existing leaves existing outputs alone)")


def _place_new(tmp: Path, path: Path) -> None:
    """Move the finished ``tmp`` to ``path`` unless ``path`` exists (then :class:`FileExistsError`)."""
    taken = FileExistsError(errno.EEXIST, exists_message(path))
    try:
        os.link(tmp, path)  # atomic: fails where the name exists
    except FileExistsError:
        raise taken from None
    except OSError:  # no hard links here (some network and FAT file systems; folders): check, then rename
        if os.path.lexists(path):
            raise taken from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _disk_full(exc: OSError, folder: Path) -> bool:
    """Whether a failed write ran out of space (writers report it as ENOSPC or as a short write)."""

    if exc.errno == errno.ENOSPC:
        return True
    try:
        return "written" in str(exc) and shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False
