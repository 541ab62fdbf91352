"""``python -m trainer``: train, evaluate, export and compare restoration networks.

Subcommands are registered by small ``add_*`` functions; each sets ``func``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from napari_hyperres.core.arguments import whole_number
from napari_hyperres.core.devices import PRECISIONS
from napari_hyperres.errors import HyperResError

from .config import LEVEL_BALANCES, PIXEL_LOSSES, TrainConfig


def at_least(minimum: int):
    """An argparse type: a whole number of at least ``minimum`` (``--batch 0`` or ``--val-every 0`` ended in
    a traceback deep in the loop before)."""

    def parse(text: str) -> int:
        return whole_number(text, minimum)

    parse.__name__ = f"whole number ≥ {minimum}"
    return parse


def share(text: str) -> float:
    """argparse type: a share of crops, a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1 (e.g. 0.5), got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1 (e.g. 0.5), got {value:g}")
    return value


def preset(text: str) -> str:
    """argparse type: a preset name (HyperRes's or HAIR's) or ``FEATURESxBLOCKS`` (HyperRes kinds),
    optionally ``+unshuffle`` (HyperRes kinds: FFDNet's pixel-unshuffle head)."""
    from napari_hyperres.core.models import HAIR_PRESETS, architecture_for

    if text in HAIR_PRESETS:
        return text
    try:
        architecture_for(text, 1)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


PRESET_HELP = "lite (default), paper, small, tiny, or FEATURESxBLOCKS such as 64x4; +unshuffle for FFDNet's pixel-unshuffle head (lite+unshuffle)"


def add_level_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--level-balance", choices=LEVEL_BALANCES, default="sum",
                   help="how the training levels' L1 losses add up: sum (the papers', default) or log "
                        "(each level's relative error counts the same; helps the low levels)")
    p.add_argument("--pixel-loss", choices=PIXEL_LOSSES, default="l1",
                   help="each level's loss: l1 (the papers', default) or l2 (mean squared error; with --level-balance log "
                        "the gradient of the levels' summed PSNR, for a late round)")
    p.add_argument("--centred-control", action="store_true",
                   help="HyperRes: its meta blocks see the control value centred on the training levels and scaled to ±1 "
                        "(the same networks, reparametrised; learns the differences between levels faster)")


def add_level_weights(p: argparse.ArgumentParser, hyperres_only: bool = False) -> None:
    p.add_argument("--level-weights", type=float, nargs="+", default=[], metavar="W",
                   help=("HyperRes: " if hyperres_only else "") + "one positive factor per training level (in their order; "
                        "default all 1) multiplying its loss after --level-balance, e.g. 2 1 1 1 to favour the lowest level")


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a task's hypernetwork (or a baseline) on image folders")
    p.add_argument("--task", required=True)
    p.add_argument("--data", nargs="+", required=True, help="folders of training images")
    p.add_argument("--levels", nargs="*", type=float, default=[], help="training levels (default: the task's)")
    p.add_argument(
        "--kind", default=None, choices=["hyperres", "hair", "dedicated", "adafm"],  # trainer.models.KINDS but the estimator
        help="model family (default: hyperres, or hair for an image-conditioned task such as auto)",
    )
    p.add_argument("--preset", default="lite", type=preset, help=PRESET_HELP)
    p.add_argument("--steps", type=at_least(1), default=1000)
    p.add_argument("--batch", type=at_least(1), default=16)
    p.add_argument("--patch", type=at_least(16), default=96)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-decay-at", nargs="*", type=float, default=[0.5], help="fractions of --steps where lr /= 10")
    p.add_argument("--lr-warmup", type=int, default=0, metavar="STEPS",
                   help="ramp the lr up linearly over the first STEPS steps (0 = none), e.g. 500 for a round continuing a trained network")
    p.add_argument("--val", default=None, help="folder for periodic validation PSNR")
    p.add_argument("--val-every", type=at_least(1), default=500)
    p.add_argument("--ckpt-every", type=at_least(1), default=500)
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-from", default=None, help="start from this checkpoint or weights file: the same kind continues; a dedicated network is AdaFM's base or is upcycled into HAIR")
    p.add_argument("--max-images", type=at_least(1), default=None)
    p.add_argument("--time-budget", type=float, default=None, help="stop after this many seconds (lr schedule follows time)")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast: on CUDA, and on CPUs whose bfloat16 is fast (Zen 4: 1.9× the steps per second; an Intel Xeon "
                        "with AVX512-BF16 but no AMX: 0.64×; the trainer warns where it is slow; BENCHMARKS.md)")
    p.add_argument("--selection-entropy", type=float, default=0.0, help="HAIR: weight of the penalty on each image's mixture entropy (makes images choose)")
    p.add_argument("--selection-balance", type=float, default=0.0, help="HAIR: weight of the penalty on unequal candidate use over a batch")
    p.add_argument("--select-decoder", action="store_true", help="HAIR: select the decoder convs (post-body, upsampler, refine, tail) from a weight box too")
    p.add_argument("--quantize-8bit", type=share, default=0.0, metavar="SHARE",
                   help="share of degraded crops rounded and clipped to 8-bit (what 8-bit files hold), e.g. 0.5")
    p.add_argument("--opponent-planes", type=share, default=0.0, metavar="SHARE",
                   help="share of colour crops replaced by one of their opponent planes (mean, R-B, R+B-2G) as gray crops: "
                        "what the gray path restores for a task with colour='opponent' (denoise), e.g. 0.5")
    p.add_argument("--other-downscalers", type=share, default=0.0, metavar="SHARE",
                   help="sr: share of crops made low-resolution by area averaging or by bilinear/bicubic without antialiasing "
                        "(as cv2.resize downscales), instead of antialiased bicubic, e.g. 0.3")
    add_level_options(p)
    add_level_weights(p)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_train)


def run_summary(run_dir: Path) -> str:
    """``" (step N, loss …; validation PSNR …)"`` from a run's log, for the line a run ends with."""
    from .export import read_log

    rows = read_log(Path(run_dir))
    losses = [row for row in rows if "loss" in row]
    checks = [row for row in rows if "val_psnr" in row]
    parts = [f"last logged training loss {losses[-1]['loss']:.4g} (step {losses[-1]['step']})"] if losses else []
    if checks:
        table = ", ".join(f"level {level} {psnr:.2f} dB" for level, psnr in checks[-1]["val_psnr"].items())
        parts.append(f"validation PSNR at step {checks[-1]['step']}: {table}")
    return f" ({'; '.join(parts)}; the whole log: {Path(run_dir) / 'log.jsonl'})" if parts else ""


def run_train(args: argparse.Namespace) -> int:
    from napari_hyperres.core.plugins import get_task

    from .loop import train

    kind = args.kind or ("hair" if get_task(args.task).conditioning == "image" else "hyperres")
    cfg = TrainConfig(
        task=args.task, data=args.data, out=args.out, levels=args.levels, kind=kind, preset=args.preset,
        steps=args.steps, batch=args.batch, patch=args.patch, lr=args.lr, lr_decay_at=args.lr_decay_at, lr_warmup=args.lr_warmup,
        val=args.val, val_every=args.val_every, ckpt_every=args.ckpt_every, seed=args.seed, device=args.device,
        init_from=args.init_from, max_images=args.max_images, time_budget_s=args.time_budget, amp=args.amp,
        selection_entropy=args.selection_entropy, selection_balance=args.selection_balance, select_decoder=args.select_decoder,
        quantize_8bit=args.quantize_8bit, opponent_planes=args.opponent_planes, level_balance=args.level_balance,
        level_weights=args.level_weights, pixel_loss=args.pixel_loss, other_downscalers=args.other_downscalers, centred_control=args.centred_control,
    )
    out = train(cfg, resume=args.resume, progress=not args.no_progress)
    print(f"run saved in {out}{run_summary(out)}")
    return 0


def add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="PSNR/SSIM table of weights on a folder, per level")
    p.add_argument("--task", required=True)
    p.add_argument("--weights", default=None, help="weights file or shipped name (default: the task's)")
    p.add_argument("--data", required=True, help="folder of clean images")
    p.add_argument("--levels", nargs="+", type=float, required=True)
    p.add_argument("--max-images", type=at_least(1), default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", default=None, help="also write the table as JSON here")
    p.add_argument("--self-ensemble", action="store_true",
                   help="restore with the 8 rotations / mirrors averaged (8× slower; such a table cannot be exported as a file's validation)")
    p.add_argument("--precision", default="float32", choices=PRECISIONS,
                   help="what the networks compute in (default float32, the tables weights files store; "
                        "auto: what a Restorer uses here, e.g. bfloat16 on CPUs where it is measured faster)")
    p.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from napari_hyperres.engine import Restorer

    from .evaluate import evaluate, format_table

    restorer = Restorer(args.task, weights=args.weights, device=args.device, precision=args.precision, self_ensemble=args.self_ensemble)
    table = evaluate(restorer, args.data, args.levels, max_images=args.max_images)
    precision = str(restorer.dtype).removeprefix("torch.")
    title = (f"{args.task} ({restorer.info.name}{', self-ensemble' if args.self_ensemble else ''}"
             f"{'' if precision == 'float32' else ', ' + precision}) on {Path(args.data).name}")
    counts = {row["images"] for row in table.values()}
    if counts:  # a review's --max-images 2 table read "on Set12" as if it were the set
        title += f" ({', '.join(map(str, sorted(counts)))} images)"
    print(format_table(title, table, restorer.task.eval_protocol))
    if args.json:
        record = {"task": args.task, "weights": restorer.info.name, "data": Path(args.data).name,
                  "protocol": restorer.task.eval_protocol, "self_ensemble": args.self_ensemble, "precision": precision, "table": table}
        Path(args.json).write_text(json.dumps(record, indent=2))
    return 0


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a run's weights (with metadata) as a weights file")
    p.add_argument("run_dir")
    p.add_argument("--name", required=True, help="weights name, e.g. denoise.lite")
    p.add_argument("--out", default=None, help="file or folder (default: RUN_DIR/NAME.safetensors; this project ships its own "
                                                "in napari_hyperres/pretrained, a plugin in its own package)")
    p.add_argument("--license", default=None, help="the weights' licence, an SPDX name recorded in the file (default BSD-3-Clause)")
    p.add_argument("--validation-json", nargs="*", default=[], help="eval --json outputs to store as the validation table")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from .export import export_run

    validation = None
    if args.validation_json:
        from .loop import CHECKPOINT, load_checkpoint

        task = load_checkpoint(Path(args.run_dir) / CHECKPOINT)["config"]["task"]
        validation = {}
        for path in args.validation_json:
            data = json.loads(Path(path).read_text())
            if data.get("task", task) != task:
                raise SystemExit(f"{path}: a table of task {data['task']!r}, but the run trains {task!r}; give this run's own eval tables")
            if data.get("self_ensemble"):
                raise SystemExit(f"{path}: measured with --self-ensemble; a weights file's validation table is the network's own (run eval without it)")
            if data.get("precision", "float32") != "float32":
                raise SystemExit(f"{path}: measured in {data['precision']}; a weights file's validation table is float32's (run eval without --precision)")
            validation[data["data"]] = data["table"]
    path = export_run(args.run_dir, args.name, out=args.out, validation=validation, license=args.license)
    print(f"wrote {path}")
    return 0


def add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="HyperRes vs dedicated, AdaFM and DNI at the same budget")
    p.add_argument("--task", required=True)
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--val", required=True)
    p.add_argument("--runs", required=True, help="folder of run directories (missing runs are trained)")
    p.add_argument("--eval-levels", nargs="+", type=float, required=True)
    p.add_argument("--preset", default="lite", type=preset, help=PRESET_HELP)
    p.add_argument("--steps", type=at_least(1), default=1000)
    p.add_argument("--batch", type=at_least(1), default=16)
    p.add_argument("--patch", type=at_least(16), default=96)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--max-images", type=at_least(1), default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", default=None)
    p.add_argument("--only", nargs="+", default=None, metavar="RUN",
                   help="train only these runs (hyperres, dedicated_<level>, adafm), e.g. to share the budget between "
                        "processes on one --runs folder; the table is made once every run is there")
    add_level_options(p)
    add_level_weights(p, hyperres_only=True)
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from .baselines import compare, ensure_runs, format_comparison

    base = TrainConfig(task=args.task, data=args.data, out="", preset=args.preset, steps=args.steps, batch=args.batch, patch=args.patch, lr=args.lr, device=args.device, val_every=10**9, level_balance=args.level_balance, pixel_loss=args.pixel_loss, centred_control=args.centred_control, level_weights=args.level_weights)
    from napari_hyperres.core.plugins import get_task

    from .data import image_paths

    try:  # before any training (a review's wrong --val failed after five networks, an empty one after four)
        image_paths([args.val], role="validation images (--val)")
        image_paths(args.data)
    except FileNotFoundError as error:
        raise SystemExit(f"trainer compare: {error}") from None
    try:
        for level in args.eval_levels:
            get_task(args.task).check_level(level)
    except HyperResError as error:
        raise SystemExit(f"trainer compare: --eval-levels: {error}") from None
    try:
        missing = ensure_runs(args.task, Path(args.runs), args.data, args.eval_levels, base, only=args.only)
    except ValueError as error:
        raise SystemExit(f"trainer compare: {error}") from None
    if missing:
        print(f"trained {', '.join(args.only or [])}; still to train before the table: {', '.join(missing)} "
              "(run compare again, with --only for them or without it)")
        return 0
    result = compare(args.task, Path(args.runs), args.val, args.eval_levels, args.data, max_images=args.max_images, device=args.device)
    print(format_comparison(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def add_train_estimator(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-estimator", help="train a task's level estimator (blind mode)")
    p.add_argument("--task", required=True)
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--out", required=True, help="weights file to write (e.g. NAME.estimator.safetensors)")
    p.add_argument("--steps", type=at_least(1), default=2000)
    p.add_argument("--batch", type=at_least(1), default=32)
    p.add_argument("--patch", type=at_least(16), default=64, help="crop edge (recorded; estimate_level looks through crops this size)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--relative-loss", action="store_true", help="weight the L1 by 1/level (relative error; for noise σ)")
    p.add_argument("--quantize-8bit", type=share, default=0.0, metavar="SHARE",
                   help="share of crops rounded and clipped to 8-bit after degrading (what 8-bit files hold), e.g. 0.5")
    p.add_argument("--low-end-share", type=share, default=0.0, metavar="SHARE",
                   help="share of crops degraded at the low end of the task's range instead of a uniform level "
                   "(denoise: left clean, so fine texture is learnt as not noise), e.g. 0.15")
    p.add_argument("--jpeg-share", type=share, default=0.0, metavar="SHARE",
                   help="share of crops saved as JPEG files after degrading (OpenCV, 4:2:0), labelled with the level "
                   "before compression: what cameras and phones save noisy photos as, e.g. 0.3")
    p.add_argument("--jpeg-quality", type=float, nargs=2, default=(80.0, 98.0), metavar=("LOW", "HIGH"),
                   help="with --jpeg-share: the qualities drawn from, uniformly (default 80 98)")
    p.add_argument("--time-budget", type=float, default=None)
    p.add_argument("--max-images", type=at_least(1), default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-from", default=None, help="an estimator weights file to continue training from")
    p.add_argument("--resume", action="store_true", help="continue the run in OUT's .run folder exactly (checkpoint, schedule, random state)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_train_estimator)


def run_train_estimator(args: argparse.Namespace) -> int:
    from .estimator import EstimatorConfig, train_estimator

    cfg = EstimatorConfig(task=args.task, data=args.data, out=args.out, steps=args.steps, batch=args.batch, patch=args.patch, lr=args.lr, time_budget_s=args.time_budget, max_images=args.max_images, device=args.device, seed=args.seed, init_from=args.init_from, relative=args.relative_loss, quantize_8bit=args.quantize_8bit, low_end_share=args.low_end_share, jpeg_share=args.jpeg_share, jpeg_qualities=tuple(args.jpeg_quality))
    print(f"wrote {train_estimator(cfg, progress=not args.no_progress, resume=args.resume)}")
    return 0


def add_reference_mixtures(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reference-mixtures", help="record which mixture an auto (HAIR) network chooses per degradation, so the plugin can say what an image looks like")
    p.add_argument("weights", help="the auto network's weights file")
    p.add_argument("--data", nargs="+", required=True, help="training image folders (crops of them; never validation images)")
    p.add_argument("--out", required=True, help="weights file to write (the same tensors, the references in the metadata)")
    p.add_argument("--count", type=at_least(1), default=24, help="crops per degradation and strength (and as many held out to fit the confidence)")
    p.set_defaults(func=run_reference_mixtures)


def run_reference_mixtures(args: argparse.Namespace) -> int:
    from .mixtures import record

    path, temperature, accuracy = record(args.weights, args.data, args.out, args.count)
    print(f"wrote {path} (temperature {temperature:.3g}; kind read right on {accuracy:.0%} of held-out training crops)")
    return 0


SUBCOMMANDS = [add_train, add_eval, add_export, add_compare, add_train_estimator, add_reference_mixtures]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trainer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from napari_hyperres.core.atomic import sigterm_as_exit

    with sigterm_as_exit():
        try:
            return args.func(args)
        except (HyperResError, FileNotFoundError, ValueError, FloatingPointError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except (KeyboardInterrupt, SystemExit) as stop:
            if isinstance(stop, SystemExit) and not (isinstance(stop.code, int) and stop.code >= 128):
                raise  # argparse's usage errors and the like: as they are
            runs = getattr(args, "runs", None)  # compare continues its runs by itself
            where = f" in {runs or getattr(args, 'out', None)}" if (runs or getattr(args, "out", None)) else ""
            again = "run the same command again" if runs else "run the same command with --resume"
            print(f"stopped; the last checkpoint{where} is kept (written every --ckpt-every steps): {again} to continue",
                  file=sys.stderr)  # not a bare KeyboardInterrupt traceback (a review)
            return 130 if isinstance(stop, KeyboardInterrupt) else int(stop.code)


def exit_process(code: int) -> None:
    """Leave with ``code``. Under torchrun (``WORLD_SIZE`` > 1) the process ends with ``os._exit`` once
    its output is flushed: all work is saved by then, and gloo's worker threads, still joinable in
    C++ static destructors, made a rank abort at interpreter exit now and then ("terminate called
    without an active exception", seen in CI under load) after a run that had finished."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    exit_process(main())
