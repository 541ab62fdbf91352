"""The papers' comparison at equal budget: dedicated networks, AdaFM-Net, DNI vs HyperRes.

Run directories under one root (``--runs``)::

    hyperres/           HyperRes on the task's training levels
    dedicated_<L>/      one plain network per evaluated level L
    adafm/              AdaFM layers fine-tuned at the end level on dedicated_<start>
DNI interpolates dedicated_<start> and dedicated_<end>. AdaFM's λ and DNI's α are
fitted per level on crops of the *training* images (best of a 0…1 grid), then
evaluated on the validation folder, so both baselines get their best coefficient.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from napari_hyperres.core.images import to_batch
from napari_hyperres.core.plugins import get_task
from napari_hyperres.core.weights import check_architecture, load_model
from napari_hyperres.engine import Restorer

from . import models as model_kinds
from .config import TrainConfig
from .data import image_paths, load_for_task
from .evaluate import evaluate
from .loop import CHECKPOINT, load_checkpoint, train
from .metrics import score

GRID = np.linspace(0.0, 1.0, 21)
EXPORTED = "model.safetensors"


class CoefficientMapped(nn.Module):
    """Wraps an interpolating model so the engine's ``generate(c)`` uses a fitted coefficient per level."""

    def __init__(self, model: nn.Module, coefficients: dict[float, float], normalize) -> None:
        super().__init__()
        self.model, self.arch = model, model.arch
        self.levels = sorted(coefficients)
        self.values = [coefficients[level] for level in self.levels]
        self.normalize = normalize

    def generate(self, c: float) -> nn.Module:
        level_cs = [self.normalize(level) for level in self.levels]
        return self.model.generate(float(np.interp(c, level_cs, self.values)))


def load_run(run: Path, kind: str) -> nn.Module:
    """The model of a run directory: ``checkpoint.pt``, else an exported ``model.safetensors``."""
    if (run / CHECKPOINT).exists():
        ckpt = load_checkpoint(run / CHECKPOINT)
        model = model_kinds.build(kind, model_kinds.KINDS[kind].record(**check_architecture(ckpt["architecture"])))
        model.load_state_dict(ckpt["model"])
        return model.eval()
    model, _ = load_model(run / EXPORTED, kind=kind, builders=model_kinds.baseline_builders())
    return model


def fit_crops(data: list[str], channels: str, count: int = 4, size: int = 160) -> list[torch.Tensor]:
    crops = []
    for path in image_paths(data)[-count:]:
        image, _ = load_for_task(path, channels)
        crops.append(to_batch(image[:size, :size]))
    return crops


@torch.no_grad()
def fit_coefficients(model: nn.Module, task, levels: list[float], crops: list[torch.Tensor]) -> dict[float, float]:
    """Best coefficient in ``GRID`` per level (mean PSNR over ``crops``)."""
    best = {}
    for level in levels:
        degraded = [task.degraded(c, level, torch.Generator().manual_seed(1)) for c in crops]
        scores = []
        for coefficient in GRID:
            net = model.generate(float(coefficient))
            scores.append(np.mean([score(net(d), c, task, level)["psnr"] for d, c in zip(degraded, crops, strict=True)]))
        best[level] = float(GRID[int(np.argmax(scores))])
    return best


def run_names(task_name: str, eval_levels: list[float]) -> list[str]:
    """The run directories a comparison needs, in the order :func:`ensure_runs` trains them."""
    task = get_task(task_name)
    start, end = min(task.train_levels), max(task.train_levels)
    return ["hyperres", *(f"dedicated_{level:g}" for level in sorted(set(eval_levels) | {start, end})), "adafm"]


def ensure_runs(
    task_name: str, runs: Path, data: list[str], eval_levels: list[float], base: TrainConfig, only: list[str] | None = None
) -> list[str]:
    """Train whatever run is missing under ``runs`` with the shared budget in ``base``, and
    continue (``--resume``) any run whose checkpoint stopped short of ``base.steps``.

    ``only``: train just these runs (names from :func:`run_names`), so several processes can share
    one comparison's budget. Returns the names of the runs still short of ``base.steps``."""
    task = get_task(task_name)
    start, end = min(task.train_levels), max(task.train_levels)
    names = run_names(task_name, eval_levels)
    unknown = sorted(set(only or []) - set(names))
    if unknown:
        raise ValueError(f"no run named {', '.join(unknown)} in this comparison; its runs are {', '.join(names)}")
    base_run = runs / f"dedicated_{start:g}"
    jobs = [("hyperres", runs / "hyperres", list(task.train_levels), None)]
    for level in sorted(set(eval_levels) | {start, end}):
        jobs.append(("dedicated", runs / f"dedicated_{level:g}", [level], None))
    jobs.append(("adafm", runs / "adafm", [end], str(base_run / CHECKPOINT)))
    configs = {out.name: run_config(base, task_name, kind, out, levels, data, init) for kind, out, levels, init in jobs}
    for kind, out, _, init in jobs:
        cfg = configs[out.name]
        if (only is not None and out.name not in only) or complete(out, base.steps, cfg):
            continue
        interrupted = (out / CHECKPOINT).exists()  # a run stopped part-way (a session's end): it continues
        if kind == "adafm" and not interrupted and not complete(base_run, base.steps, configs[base_run.name]):
            raise ValueError(f"adafm fine-tunes {base_run.name}, which has not reached {base.steps} steps: train it first (or in the same --only)")
        train(replace(cfg, init_from=None if interrupted else init), resume=interrupted, progress=False)
    return [name for name in names if not complete(runs / name, base.steps)]


def run_config(base: TrainConfig, task_name: str, kind: str, out: Path, levels: list[float], data: list[str], init: str | None) -> TrainConfig:
    """The settings one run of a comparison trains with: ``base``'s budget and shared settings, its kind's own."""
    return replace(
        base, task=task_name, kind=kind, out=str(out), levels=levels, data=data, init_from=init,
        centred_control=base.centred_control and kind == "hyperres",  # the other kinds have no meta blocks
        level_weights=base.level_weights if kind == "hyperres" else [],  # one level each: nothing to weigh
    )


def complete(run: Path, steps: int, cfg: TrainConfig | None = None) -> bool:
    """Whether ``run`` is exported or its checkpoint reached ``steps`` (with ``cfg``'s settings: :func:`finished`)."""
    done = finished(run, steps, cfg)  # first: a stored run of other settings is refused, exported or not
    return (run / EXPORTED).exists() or done


COMPARED_SETTINGS = ("preset", "lr", "batch", "patch", "level_balance", "pixel_loss", "centred_control", "level_weights", "data")
"""Settings a stored run must share with the comparison asked for before it is used again (a review: runs
stored with other --level-weights or --data, and runs of 60 steps for --steps 10, made the new table)."""


def finished(run: Path, steps: int, cfg: TrainConfig | None = None) -> bool:
    """Whether ``run`` holds a checkpoint that reached ``steps`` (the comparison's budget).

    Raises:
        ValueError: the stored run was trained with other :data:`COMPARED_SETTINGS` than ``cfg`` (a review's
            table for "small, lr 1e-3" came from runs of the tiny preset at lr 1e-4), or for more steps.
    """
    path = run / CHECKPOINT
    if not path.exists():
        return False
    checkpoint = load_checkpoint(path)
    if cfg is not None:
        stored = checkpoint.get("config", {})

        def same(key: str) -> bool:
            asked = getattr(cfg, key)
            if key == "data":
                return [str(Path(d).resolve()) for d in stored[key]] == [str(Path(d).resolve()) for d in asked]
            return stored[key] == (list(asked) if isinstance(asked, tuple) else asked)

        differ = [f"{key} {stored.get(key)!r} (asked: {getattr(cfg, key)!r})" for key in COMPARED_SETTINGS if key in stored and not same(key)]
        if int(checkpoint["step"]) > steps:
            differ.append(f"{int(checkpoint['step'])} steps (asked: {steps})")
        if differ:
            raise ValueError(f"{run} was trained with other settings: {'; '.join(differ)}; remove it, or give --runs "
                             "another folder for this comparison")
    return int(checkpoint["step"]) >= steps


def compare(
    task_name: str, runs: Path, val: str, eval_levels: list[float], data: list[str], *, max_images: int | None = None, device: str = "cpu"
) -> dict:
    """Evaluate HyperRes and the baselines; returns ``{"table": {level: {method: psnr}}, "distance": {...}}``."""
    task = get_task(task_name)
    start, end = min(task.train_levels), max(task.train_levels)
    crops = fit_crops(data, task.channels)
    hyper = load_run(runs / "hyperres", "hyperres")
    adafm = load_run(runs / "adafm", "adafm")
    dni = model_kinds.DNINet(load_run(runs / f"dedicated_{start:g}", "dedicated"), load_run(runs / f"dedicated_{end:g}", "dedicated"))
    methods = {
        "HyperRes": hyper,
        "AdaFM": CoefficientMapped(adafm, fit_coefficients(adafm, task, eval_levels, crops), task.normalize),
        "DNI": CoefficientMapped(dni, fit_coefficients(dni, task, eval_levels, crops), task.normalize),
    }
    table: dict[str, dict[str, float]] = {f"{level:g}": {} for level in eval_levels}
    for level in eval_levels:
        dedicated = load_run(runs / f"dedicated_{level:g}", "dedicated")
        row = evaluate(Restorer(task, model=dedicated, device=device, precision="float32"), val, [level], max_images=max_images)
        table[f"{level:g}"]["dedicated"] = row[f"{level:g}"]["psnr"]
    for name, model in methods.items():
        result = evaluate(Restorer(task, model=model, device=device, precision="float32"), val, eval_levels, max_images=max_images)
        for level in eval_levels:
            table[f"{level:g}"][name] = result[f"{level:g}"]["psnr"]
    gaps = {v: table[f"{v:g}"]["HyperRes"] - table[f"{v:g}"]["dedicated"] for v in eval_levels}
    inside = [gap for v, gap in gaps.items() if start <= v <= end]
    outside = [gap for v, gap in gaps.items() if not start <= v <= end]

    def mean(values: list[float], absolute: bool) -> float | None:
        return round(float(np.mean(np.abs(values) if absolute else values)), 3) if values else None

    distance = {
        "inside_mean_abs_db": mean(inside, True), "outside_mean_abs_db": mean(outside, True),
        "inside_mean_db": mean(inside, False), "outside_mean_db": mean(outside, False),  # HyperRes − dedicated, signed
    }
    steps = int(load_checkpoint(runs / "hyperres" / CHECKPOINT)["step"]) if (runs / "hyperres" / CHECKPOINT).exists() else None
    return {"task": task_name, "val": Path(val).name, "table": table, "distance": distance, "protocol": task.eval_protocol,
            "trained_range": [start, end], "steps": steps}


def format_comparison(result: dict) -> str:
    """The comparison as a markdown table: each level marked inside or outside the trained range, HyperRes
    − dedicated per level, and the means both signed and absolute (a review read the |Δ| alone as a shortfall
    where HyperRes was above the dedicated networks at every level)."""
    methods = ["dedicated", "HyperRes", "AdaFM", "DNI"]
    start, end = result.get("trained_range") or (None, None)
    budget = f", {result['steps']:,} steps per network" if result.get("steps") else ""
    span = f"; HyperRes trained on {start:g}–{end:g}" if start is not None else ""
    lines = [
        f"**{result['task']} on {result['val']}** — PSNR dB{budget}{span}; protocol: {result['protocol']}",
        "",
        "| level | " + " | ".join(methods) + " | HyperRes − dedicated |",
        "|---|" + "---|" * (len(methods) + 1),
    ]
    for level, row in result["table"].items():
        where = "" if start is None else (" (inside)" if start <= float(level) <= end else " (outside)")
        lines.append(f"| {level}{where} | " + " | ".join(f"{row[m]:.2f}" for m in methods) + f" | {row['HyperRes'] - row['dedicated']:+.2f} |")
    d = result["distance"]
    lines.append("")

    def db(signed, absolute) -> str:
        if absolute is None:
            return "no level there"  # a review read "outside None dB"
        return f"{signed:+.3f} dB (|Δ| {absolute} dB)" if signed is not None else f"|Δ| {absolute} dB"

    lines.append(f"HyperRes − dedicated, mean: inside the trained range {db(d.get('inside_mean_db'), d['inside_mean_abs_db'])}, "
                 f"outside {db(d.get('outside_mean_db'), d['outside_mean_abs_db'])}")
    return "\n".join(lines)
