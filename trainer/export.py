"""Turn a run directory into a weights file with metadata (the shipped format)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from napari_hyperres.core.plugins import get_task
from napari_hyperres.core.weights import WeightsInfo, save_weights

from .loop import CHECKPOINT, LOG, load_checkpoint
from .rounds import previous_rounds, round_of


def read_log(run_dir: Path) -> list[dict]:
    log = run_dir / LOG
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []


def export_run(
    run_dir: str | Path, name: str, *, out: str | Path | None = None, validation: dict | None = None, license: str | None = None
) -> Path:
    """Write ``RUN_DIR``'s checkpoint as ``NAME.safetensors`` (default: in ``RUN_DIR``; pass
    ``out=PRETRAINED_DIR`` to ship it with the package).

    The metadata records task, kind, preset, architecture, levels, training data, steps,
    training time, device, and the validation table (``validation``, else the run's last
    periodic validation). A run started ``--init-from`` a weights file or checkpoint it
    continues (:func:`continues`) adds to that training: steps and time are the totals over
    all rounds, and ``extra["rounds"]`` lists each round's steps, time, learning rate and data.
    ``license``: the weights' licence (SPDX; default this project's, BSD-3-Clause).
    """
    run_dir = Path(run_dir)
    ckpt = load_checkpoint(run_dir / CHECKPOINT)
    cfg = ckpt["config"]
    if validation is None:
        vals = [row["val_psnr"] for row in read_log(run_dir) if "val_psnr" in row]
        # the periodic check's centre crops, named so: a review read them beside whole-set tables (σ 15 2.2 dB higher)
        crops = f"{Path(cfg['val']).name} ({cfg.get('val_images', 6)} centre crops of 192², the run's last check)" if cfg.get("val") else ""
        validation = {crops: vals[-1]} if vals and crops else {}
    # the history read when training started (a checkpoint from before that: the --init-from file now)
    before = ckpt["previous_rounds"] if "previous_rounds" in ckpt else previous_rounds(cfg.get("init_from"), cfg["kind"], cfg.get("task"))
    rounds = list(before) + [round_of(ckpt)]
    if cfg["kind"] == "estimator":
        return _export_estimator(run_dir, name, ckpt, rounds, out, license)
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
        normalization=get_task(cfg["task"]).normalization,  # how c was computed, which the Restorer checks
        **({"license": license} if license else {}),
        extra={"batch": cfg["batch"], "patch": cfg["patch"], "lr": cfg["lr"], "torch": torch.__version__, "host": platform.machine(), "rounds": rounds,
               **({"controls": [float(c) for c in ckpt["controls"]]} if ckpt.get("controls") and cfg["kind"] == "hyperres" else {})},
    )
    target = Path(out) if out else run_dir / f"{name}.safetensors"
    if target.is_dir() or (out and (str(out).endswith(("/", os.sep)) or not target.suffix)):
        # a folder, existing or not (a review's --out newdir/ became a file named "newdir")
        target.mkdir(parents=True, exist_ok=True)
        target = target / f"{name}.safetensors"
    return save_weights(target, ckpt["model"], info)


ESTIMATOR_LOG_ROWS = 5
"""Training checks (mean absolute error in the task's units) an estimator's file keeps."""


def _export_estimator(run_dir: Path, name: str, ckpt: dict, rounds: list[dict], out: str | Path | None, license: str | None = None) -> Path:
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
        **({"license": license} if license else {}),
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

