"""A run's training history: the rounds behind a network, as its weights metadata lists them.

A run started ``--init-from`` a file or checkpoint that it continues adds a round to that
file's rounds. The history is read when the run starts (:func:`previous_rounds`) and kept in
the run's checkpoint, so an export later reports what the run really continued, whatever has
happened to the ``--init-from`` file since (overwritten by the export itself, for instance).
"""

from __future__ import annotations

from pathlib import Path


def round_of(ckpt: dict) -> dict:
    """One training round as the weights metadata lists it: steps, time, lr, data folders
    (and, when the round used them, HAIR's selection penalties and selected decoder, the shares
    of 8-bit crops, opponent-plane crops and other downscalers, the centred control, a
    balanced level loss, per-level loss weights, bfloat16 autocast, an lr warm-up, and an
    estimator's relative loss and shares of clean and JPEG-saved crops with their qualities).
    Before 2026-12-07 the last six were not recorded: ``denoise.estimator-jpeg``'s rounds do not
    show their JPEG shares (30 %, then all; README)."""
    cfg = ckpt["config"]
    start = ckpt.get("round_start") or {"step": 0, "elapsed": 0.0}  # a round begun by a resume with new settings
    shares = (
        "selection_entropy", "selection_balance", "select_decoder", "quantize_8bit", "opponent_planes", "other_downscalers",
        "centred_control", "level_weights", "amp", "relative_loss", "low_end_share", "jpeg_share",
    )
    options = {k: cfg[k] for k in shares if cfg.get(k)}
    if cfg.get("jpeg_share"):  # an estimator for camera JPEGs: which qualities its crops were saved at
        options["jpeg_qualities"] = list(cfg.get("jpeg_qualities", ()))
    if cfg.get("level_balance", "sum") != "sum":
        options["level_balance"] = cfg["level_balance"]
    if cfg.get("pixel_loss", "l1") != "l1":
        options["pixel_loss"] = cfg["pixel_loss"]
    if cfg.get("lr_warmup"):
        options["lr_warmup"] = cfg["lr_warmup"]
    shape = {k: cfg[k] for k in ("batch", "patch") if cfg.get(k)}  # a review could not tell rounds 12–16's batch 32 / 64
    if ckpt.get("levels"):
        shape["levels"] = [float(level) for level in ckpt["levels"]]  # or levels, from the file (only the last round's)
    return {
        "steps": int(ckpt["step"]) - int(start["step"]),
        "training_time_s": round(float(ckpt.get("elapsed", 0.0)) - float(start["elapsed"]), 1),
        "lr": cfg["lr"],
        "data": [Path(d).name for d in cfg["data"]],
        **shape,
        **options,
    }


def round_settings(config: dict) -> dict:
    """What a round records of a run's settings (lr, data, batch and patch, shares, losses): a resume that
    changes any of them starts a new round, so each round says what its steps were trained with."""
    return {k: v for k, v in round_of({"config": config, "step": 0}).items() if k not in ("steps", "training_time_s")}


def continues(kind: str, before_kind: str) -> bool:
    """Whether a ``kind`` run started from a ``before_kind`` model continues its training.

    The same kind does; so does HAIR upcycled from a dedicated network (its weight boxes
    start as that network's kernels). AdaFM on a dedicated base is another model.
    """
    return kind == before_kind or (kind, before_kind) == ("hair", "dedicated")


def previous_rounds(init_from: str | None, kind: str, task: str | None = None) -> list[dict]:
    """The training rounds behind ``init_from`` (a weights file or checkpoint it continues), else ``[]``.

    Rounds of another kind (a dedicated network HAIR was upcycled from) carry ``"kind"``; rounds of another
    task than ``task`` (``microscopy.lite``'s denoise rounds) carry ``"task"``.
    """
    if not init_from:
        return []
    if not Path(init_from).is_file():  # a shipped name such as "denoise.lite" (what --init-from also takes)
        from napari_hyperres.core.weights import resolve_weights
        from napari_hyperres.errors import WeightsError

        try:
            init_from = str(resolve_weights(str(init_from)))
        except WeightsError:
            return []
    if str(init_from).endswith(".pt"):
        from .loop import load_checkpoint

        ckpt = load_checkpoint(init_from)
        before_kind, before_task = ckpt["config"]["kind"], ckpt["config"].get("task")
        if not continues(kind, before_kind):
            return []
        earlier = ckpt["previous_rounds"] if "previous_rounds" in ckpt else previous_rounds(ckpt["config"].get("init_from"), before_kind, before_task)
        rounds = list(earlier) + [round_of(ckpt)]
    else:
        from napari_hyperres.core.weights import read_info

        before = read_info(init_from)
        before_kind, before_task = before.kind, before.task
        if not continues(kind, before_kind):
            return []
        rounds = before.extra.get("rounds") or [
            {"steps": before.steps, "training_time_s": before.training_time_s, "lr": before.extra.get("lr"), "data": before.training_data}
        ]
    rounds = [r if before_kind == kind else {**r, "kind": r.get("kind", before_kind)} for r in rounds]
    if task is not None and before_task and before_task != task:
        rounds = [{**r, "task": r.get("task", before_task)} for r in rounds]
    return rounds


def other_task_note(init_from: str, task: str, history: list[dict]) -> str | None:
    """What a run of ``task`` started from another task's weights says (a trainer review: ``--task denoise
    --init-from sr.lite`` trained from sr's weights at a loss of 5e16 without a word, and the export counted
    sr's 36,469 steps as denoise training); ``None`` when ``history`` holds only ``task``'s rounds."""
    others = sorted({r["task"] for r in history if r.get("task") and r["task"] != task})
    if not others:
        return None
    steps = sum(int(r.get("steps", 0)) for r in history if r.get("task") in others)
    return (f"note: --init-from {init_from} holds weights trained for task {', '.join(map(repr, others))}, not {task!r}: "
            f"right where the two share a network and what the level means to it (microscopy from denoise), otherwise "
            f"a poor start (check the first losses). The export lists those rounds ({steps:,} steps) as task "
            f"{', '.join(map(repr, others))}")
