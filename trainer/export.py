"""Turn a run directory into a weights file with metadata (the shipped format)."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from napari_hyperres.core.weights import WeightsInfo, save_weights

from .loop import CHECKPOINT, LOG, load_checkpoint


def read_log(run_dir: Path) -> list[dict]:
    log = run_dir / LOG
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []


def round_of(ckpt: dict) -> dict:
    """One training round as the weights metadata lists it: steps, time, lr, data folders
    (and, when the round used them, HAIR's selection penalties and selected decoder, the shares
    of 8-bit crops, opponent-plane crops and other downscalers, the centred control, a
    balanced level loss and an lr warm-up)."""
    cfg = ckpt["config"]
    shares = ("selection_entropy", "selection_balance", "select_decoder", "quantize_8bit", "opponent_planes", "other_downscalers", "centred_control")
    options = {k: cfg[k] for k in shares if cfg.get(k)}
    if cfg.get("level_balance", "sum") != "sum":
        options["level_balance"] = cfg["level_balance"]
    if cfg.get("pixel_loss", "l1") != "l1":
        options["pixel_loss"] = cfg["pixel_loss"]
    if cfg.get("lr_warmup"):
        options["lr_warmup"] = cfg["lr_warmup"]
    return {
        "steps": int(ckpt["step"]),
        "training_time_s": round(float(ckpt.get("elapsed", 0.0)), 1),
        "lr": cfg["lr"],
        "data": [Path(d).name for d in cfg["data"]],
        **options,
    }


def continues(kind: str, before_kind: str) -> bool:
    """Whether a ``kind`` run started from a ``before_kind`` model continues its training.

    The same kind does; so does HAIR upcycled from a dedicated network (its weight boxes
    start as that network's kernels). AdaFM on a dedicated base is another model.
    """
    return kind == before_kind or (kind, before_kind) == ("hair", "dedicated")


def previous_rounds(init_from: str | None, kind: str) -> list[dict]:
    """The training rounds behind ``init_from`` (a weights file or checkpoint it continues), else ``[]``.

    Rounds of another kind (a dedicated network HAIR was upcycled from) carry ``"kind"``.
    """
    if not init_from or not Path(init_from).is_file():
        return []
    if str(init_from).endswith(".pt"):
        ckpt = load_checkpoint(init_from)
        before_kind = ckpt["config"]["kind"]
        if not continues(kind, before_kind):
            return []
        rounds = previous_rounds(ckpt["config"].get("init_from"), before_kind) + [round_of(ckpt)]
    else:
        from napari_hyperres.core.weights import read_info

        before = read_info(init_from)
        before_kind = before.kind
        if not continues(kind, before_kind):
            return []
        rounds = before.extra.get("rounds") or [
            {"steps": before.steps, "training_time_s": before.training_time_s, "lr": before.extra.get("lr"), "data": before.training_data}
        ]
    return [r if before_kind == kind else {**r, "kind": r.get("kind", before_kind)} for r in rounds]


def export_run(run_dir: str | Path, name: str, *, out: str | Path | None = None, validation: dict | None = None) -> Path:
    """Write ``RUN_DIR``'s checkpoint as ``NAME.safetensors`` (default: in ``RUN_DIR``; pass
    ``out=PRETRAINED_DIR`` to ship it with the package).

    The metadata records task, kind, preset, architecture, levels, training data, steps,
    training time, device, and the validation table (``validation``, else the run's last
    periodic validation). A run started ``--init-from`` a weights file or checkpoint it
    continues (:func:`continues`) adds to that training: steps and time are the totals over
    all rounds, and ``extra["rounds"]`` lists each round's steps, time, learning rate and data.
    """
    run_dir = Path(run_dir)
    ckpt = load_checkpoint(run_dir / CHECKPOINT)
    cfg = ckpt["config"]
    if validation is None:
        vals = [row["val_psnr"] for row in read_log(run_dir) if "val_psnr" in row]
        validation = {Path(cfg["val"]).name: vals[-1]} if vals and cfg.get("val") else {}
    rounds = previous_rounds(cfg.get("init_from"), cfg["kind"]) + [round_of(ckpt)]
    if cfg["kind"] == "estimator":
        return _export_estimator(run_dir, name, ckpt, rounds, out)
    info = WeightsInfo(
        name=name,
        task=cfg["task"],
        kind=cfg["kind"],
        architecture=ckpt["architecture"],
        preset=cfg["preset"],
        train_levels=list(ckpt["levels"]),
        training_data=list(dict.fromkeys(name for r in rounds for name in r["data"])),
        steps=sum(r["steps"] for r in rounds),
        training_time_s=round(sum(r["training_time_s"] for r in rounds), 1),
        device=ckpt.get("device", cfg.get("device", "")),
        validation=validation,
        extra={"batch": cfg["batch"], "patch": cfg["patch"], "lr": cfg["lr"], "torch": torch.__version__, "host": platform.machine(), "rounds": rounds},
    )
    target = Path(out) if out else run_dir / f"{name}.safetensors"
    if target.is_dir():
        target = target / f"{name}.safetensors"
    return save_weights(target, ckpt["model"], info)


ESTIMATOR_LOG_ROWS = 5
"""Training checks (mean absolute error in the task's units) an estimator's file keeps."""


def _export_estimator(run_dir: Path, name: str, ckpt: dict, rounds: list[dict], out: str | Path | None) -> Path:
    """An estimator run's weights: what :func:`napari_hyperres.blind.estimate.estimate_level` reads
    (the level range it was trained on, the crop size it looks through) and its last checks."""
    from napari_hyperres.core.plugins import get_task

    cfg = ckpt["config"]
    task = get_task(cfg["task"])
    log = [{"step": row["step"], "mean_abs_error_level": round(row["loss"], 3)} for row in read_log(run_dir) if "loss" in row]
    info = WeightsInfo(
        name=name,
        task=cfg["task"],
        kind="estimator",
        architecture=ckpt["architecture"],
        preset="estimator",
        training_data=list(dict.fromkeys(name for r in rounds for name in r["data"])),
        steps=sum(r["steps"] for r in rounds),
        training_time_s=round(sum(r["training_time_s"] for r in rounds), 1),
        device=ckpt.get("device", cfg.get("device", "")),
        extra={
            "level_range": list(task.level_range),
            "patch": cfg["patch"],
            "context": cfg["context"],
            "relative_loss": cfg["relative_loss"],
            "quantize_8bit": cfg["quantize_8bit"],
            "log": log[-ESTIMATOR_LOG_ROWS:],
            "rounds": rounds,
        },
    )
    target = Path(out) if out else run_dir / f"{name}.safetensors"
    if target.is_dir():
        target = target / f"{name}.safetensors"
    return save_weights(target, ckpt["model"], info)

