"""Run every benchmark in sequence with the same flags and collect their markdown into one file.

    python benchmarks/run_all.py --fixed runs/auto.fixed.safetensors      # the full set → benchmarks/results/ALL.md
    python benchmarks/run_all.py --quick --fixed FILE                                 # checks every script runs → ALL.quick.md

Runs ``bench_core``, ``bench_classical``, ``bench_memory``, ``bench_estimator``, ``bench_auto``,
``bench_w2s`` (each writes ``NAME.md`` / ``NAME.quick.md`` beside ``--out``) and
``bench_preview_latency`` (its printed table is saved as ``bench_preview_latency.md``; with
``--quick`` it runs on a 128² plane with 20 level changes). ``--data-root``,
``--weights-dir``, ``--device`` and ``--threads`` go to every script; ``--fixed`` and
``--auto-weights`` to ``bench_auto`` (skipped, and marked so, without ``--fixed``).
A script that fails (e.g. missing weights) is reported with its error in ALL.md and the
others still run; the exit code is 1 if any failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import common

BENCHMARKS = ["bench_core", "bench_profile", "bench_classical", "bench_memory", "bench_estimator", "bench_auto", "bench_w2s", "bench_train", "bench_preview_latency"]


def command_for(name: str, args, out: Path) -> list[str] | str:
    """The command running benchmark ``name`` with the shared flags, or a reason to skip it."""
    script = str(Path(__file__).resolve().parent / f"{name}.py")
    cmd = [sys.executable, script]
    if name == "bench_preview_latency":  # its own flags: no --quick / --out / --weights-dir
        cmd += ["--device", args.device]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        if args.quick:
            cmd += ["--size", "128", "--changes", "20"]
        weights = common.find_weights("denoise.lite", args.weights_dir)
        if weights is not None:
            cmd += ["--weights", str(weights)]
        return cmd
    cmd += ["--out", str(out), "--data-root", str(args.data_root), "--device", args.device]
    cmd += ["--quick"] if args.quick else []
    cmd += ["--threads", str(args.threads)] if args.threads else []
    cmd += ["--weights-dir", str(args.weights_dir)] if args.weights_dir else []
    if name == "bench_auto":
        if args.fixed is None:
            return "skipped: no --fixed WEIGHTS given (the fixed-weights baseline it compares against)"
        cmd += ["--fixed", str(args.fixed)]
        cmd += ["--auto-weights", str(args.auto_weights)] if args.auto_weights else []
    return cmd


def main() -> None:
    from napari_hyperres.core.atomic import atomic_write

    parser = common.base_parser(__doc__, "ALL")
    parser.add_argument("--fixed", type=Path, default=None, help="bench_auto's fixed-weights baseline (weights file or run folder)")
    parser.add_argument("--auto-weights", type=Path, default=None, help="bench_auto's HAIR weights (default: shipped)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=None, help="run only these")
    parser.add_argument("--skip", nargs="+", choices=BENCHMARKS, default=[], help="do not run these")
    args = parser.parse_args()
    all_out = common.out_path(args)
    suffix = ".quick.md" if args.quick else ".md"
    names = [n for n in (args.only or BENCHMARKS) if n not in args.skip]

    summary, sections, failed = [], [], False
    for name in names:
        out = all_out.parent / f"{name}{suffix}"
        cmd = command_for(name, args, out)
        if isinstance(cmd, str):
            summary.append([name, cmd, "—", "—"])
            sections.append(f"## {name}\n\n{cmd}\n")
            print(f"{name}: {cmd}", file=sys.stderr, flush=True)
            continue
        print(f"{name}: running …", file=sys.stderr, flush=True)
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=common.ROOT)
        wall = time.perf_counter() - start
        shown = " ".join(["python", *(str(Path(c).relative_to(common.ROOT)) if c.startswith(str(common.ROOT)) else c for c in cmd[1:])])
        if done.returncode != 0:
            failed = True
            error = common.last_lines(done.stderr, 3) or f"exit code {done.returncode}"
            summary.append([name, f"**failed** (exit {done.returncode})", f"{wall:.0f}", "—"])
            sections.append(f"## {name}\n\n**Failed** (exit {done.returncode}): `{shown}`\n\n```\n{error}\n```\n")
            print(f"{name}: failed after {wall:.0f} s: {error}", file=sys.stderr, flush=True)
            continue
        if name == "bench_preview_latency":
            text = "\n".join([
                "## Slider-to-preview latency", "", f"Command: `{shown}`", "",
                "Each sample is a level never seen before: the level's network is generated and the plane restored "
                "(see benchmarks/bench_preview_latency.py).", "", done.stdout.strip(), "",
            ])
            atomic_write(out, lambda tmp, text=text: Path(tmp).write_text(text, encoding="utf-8"))
        else:
            text = out.read_text(encoding="utf-8")
        summary.append([name, "ok", f"{wall:.0f}", f"`{out.name}`"])
        sections.append(text)
        print(f"{name}: ok ({wall:.0f} s) → {out}", file=sys.stderr, flush=True)

    head = [
        "# napari-hyperres benchmarks", "",
        f"Command: `{common.command_line()}`", "",
        *(["**Quick run** (`--quick`): tiny inputs that check every script runs; these numbers are not results.", ""] if args.quick else []),
        common.markdown_table(["benchmark", "status", "wall s", "file"], summary), "",
    ]
    text = "\n".join(head) + "\n" + "\n\n".join(s.rstrip() + "\n" for s in sections)
    atomic_write(all_out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    print(f"written: {all_out}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
