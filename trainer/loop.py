"""The one training loop, for every model kind; what a step optimises is its objective
(:mod:`trainer.objectives`: restoration at k levels, or the level estimator).

Checkpoints (``RUN_DIR/checkpoint.pt``) hold the model, the optimiser, the step and
every random generator's state, written atomically, loaded with
``torch.load(weights_only=True)``; ``resume`` continues exactly where the run stopped.
Under ``torchrun`` the model is wrapped in DistributedDataParallel (gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from napari_hyperres.core import devices
from napari_hyperres.core.atomic import atomic_write
from napari_hyperres.core.devices import select_device
from napari_hyperres.core.images import to_batch
from napari_hyperres.core.models.hyperres import Architecture, HyperResNet, recentred_state
from napari_hyperres.core.plugins import get_task
from napari_hyperres.core.tasks import Task
from napari_hyperres.errors import WeightsError

from . import models as model_kinds
from .config import TrainConfig, centred_architecture
from .data import PatchSampler, image_paths, load_for_task
from .objectives import LevelEstimation, Restoration
from .rounds import other_task_note, previous_rounds, round_of, round_settings
from .selection import SelectionPenalty

CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device_name: str) -> DistInfo:
    """Join the torchrun process group if launched by torchrun (``WORLD_SIZE`` > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    info = DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    if use_cuda:
        torch.cuda.set_device(info.local_rank)
    return info


def progress_fraction(cfg: TrainConfig, step: int, elapsed_s: float) -> float:
    """How much of the budget is used: steps, or wall time when ``time_budget_s`` is set."""
    fraction = step / cfg.steps
    if cfg.time_budget_s:
        fraction = max(fraction, elapsed_s / cfg.time_budget_s)
    return fraction


def learning_rate(cfg: TrainConfig, fraction: float, step: int = 0) -> float:
    """Step decay: ``lr / 10`` after each fraction of the budget listed in ``lr_decay_at``; over
    the round's first ``lr_warmup`` steps (0-based ``step``) the lr ramps up linearly from
    ``lr / lr_warmup``."""
    drops = sum(fraction >= f for f in cfg.lr_decay_at)
    ramp = min(1.0, (step + 1) / cfg.lr_warmup) if cfg.lr_warmup > 0 else 1.0
    return cfg.lr * (0.1**drops) * ramp


def load_validation(cfg: TrainConfig, task: Task, size: int = 192) -> list[torch.Tensor]:
    """Centre crops of the first ``val_images`` images of ``cfg.val`` as ``(1, C, h, w)`` tensors."""
    if not cfg.val:
        return []
    crops = []
    for path in image_paths([cfg.val], cfg.val_images, role="validation images (--val)"):
        image, _ = load_for_task(path, task.channels)
        h, w = image.shape[:2]
        y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
        crop = image[y : y + size, x : x + size]
        crops.append(to_batch(crop))
    return crops


def _save_checkpoint(path: Path, payload: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A checkpoint dict (``weights_only=True``: tensors, numbers, strings only).

    Raises:
        WeightsError: the file is missing, truncated, or holds other objects (never unpickled;
            the message names the file and gives no advice to load it unsafely).
    """
    import pickle

    if not Path(path).is_file():
        raise WeightsError(f"{path}: no such checkpoint")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise WeightsError(
            f"{path}: holds objects other than tensors, numbers and strings, so it was not loaded; "
            "it is not a checkpoint written by this trainer"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(f"{path}: not a readable checkpoint (truncated or damaged: {reason})") from None
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise WeightsError(f"{path}: not a checkpoint written by this trainer (no model state)")
    return checkpoint


def _load_state(model: nn.Module, state: dict, source: str, what: str) -> None:
    """``model.load_state_dict(state)``, or a :class:`WeightsError` naming ``source`` when they do not fit."""
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        # the first parameter that differs (a review got only "Error(s) in loading state_dict for HyperResNet:")
        own = model.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        shapes = [f"{k} {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} here" for k in own
                  if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
        found = shapes + [f"{k} missing from the file" for k in missing] + [f"{k} in the file, not here" for k in unexpected]
        detail = found[0] if found else str(exc).splitlines()[0]
        more = len(found) - 1
        raise WeightsError(
            f"{source}: its network does not fit this run's {what} ({detail}{f', and {more} more' if more > 0 else ''}); "
            "use the same task, kind and preset as the run it came from"
        ) from None


RESUME_MUST_MATCH = ("task", "kind", "preset", "select_decoder", "centred_control", "batch", "patch", "levels")
"""Settings a resumed run must keep: they shape the network, the batch or what each step trains on."""


def _warn_if_lr_rises(cfg: TrainConfig, before: dict, step: int, elapsed_s: float, lr_before: float) -> None:
    """Say so when a resume's schedule puts the lr back up (``before``: the checkpoint's config): a larger
    ``--steps`` or ``--time-budget`` stretches it, a dropped ``--time-budget`` leaves only ``--steps``, another
    ``--lr-decay-at`` moves its drops. A run past a drop then restarts at a higher lr, which first undoes some
    of what the low lr gained (the rounds' restart dip). A new ``--lr`` alone is what was asked: no note."""
    lr_now = learning_rate(cfg, progress_fraction(cfg, step, elapsed_s), step)
    if step < cfg.lr_warmup or not lr_now > lr_before * 1.01:
        return
    changes = []
    if cfg.steps != before.get("steps"):
        changes.append(f"--steps {before.get('steps')} → {cfg.steps}")
    if (cfg.time_budget_s or None) != (before.get("time_budget_s") or None):
        now = f"{cfg.time_budget_s:g} s" if cfg.time_budget_s else "none: the run now goes on to --steps"
        changes.append(f"--time-budget {before.get('time_budget_s') or 'none'} → {now}")
    if list(cfg.lr_decay_at) != list(before.get("lr_decay_at") or []):
        changes.append(f"--lr-decay-at {' '.join(f'{f:g}' for f in before.get('lr_decay_at') or []) or '(none)'} → "
                       f"{' '.join(f'{f:g}' for f in cfg.lr_decay_at) or '(none)'}")
    if not changes:
        return
    print(
        f"note: the resumed run's lr schedule differs from the checkpoint's ({'; '.join(changes)}): the lr goes back up "
        f"from {lr_before:.3g} to {lr_now:.3g} at step {step} (the ÷10 drops now come at "
        f"{', '.join(f'{f:.0%}' for f in cfg.lr_decay_at) or 'no point'} of the budget). To continue as before, give the "
        f"run's own settings; to go on at the lower lr, give --lr {lr_before:.3g} --lr-decay-at (a new round: the export lists it)",
        file=sys.stderr, flush=True,
    )


def _drop_log_after(log: Path, step: int) -> None:
    """Leave out of the run's ``log`` the rows past ``step``: what an interrupted session logged after its last
    checkpoint, which the resumed session trains again (before, those steps were logged twice, and an export
    could take its validation table from the steps thrown away)."""
    if not log.exists():
        return
    lines = log.read_text().splitlines(keepends=True)

    def before(line: str) -> bool:
        try:
            return json.loads(line).get("step", 0) <= step
        except ValueError:  # a row torn by a kill mid-write: dropped with the rest of that session's tail
            return False

    kept = [line if line.endswith("\n") else line + "\n" for line in lines if line.strip() and before(line)]
    if len(kept) < len(lines):
        from napari_hyperres.core.atomic import atomic_write

        atomic_write(log, lambda tmp: Path(tmp).write_text("".join(kept)))


def _check_resume(checkpoint: dict, cfg: TrainConfig, levels: list[float], path: Path) -> None:
    """Raise :class:`WeightsError` if ``cfg`` changes a setting the checkpoint's run was started with."""
    before = dict(checkpoint.get("config", {}))
    before["levels"] = [float(v) for v in checkpoint.get("levels", before.get("levels") or [])]
    now = cfg.to_dict()
    now["levels"] = levels
    changed = [f"{key} {before[key]!r} → {now.get(key)!r}" for key in RESUME_MUST_MATCH if key in before and before[key] != now.get(key)]
    if changed:
        raise WeightsError(
            f"{path}: --resume continues a run, but these settings differ from it: {'; '.join(changed)}. "
            "Give the original settings, or start a new run (another --out, or --init-from the checkpoint)"
        )


def _init_from(model: nn.Module, source: str) -> None:
    """Start from a checkpoint or weights file: the same kind continues; a dedicated
    network becomes an AdaFM-Net's frozen base or is upcycled into HAIR's weight boxes; a
    HAIR with a shared decoder seeds a ``select_decoder`` HAIR; a HyperRes file continues in a
    deeper preset of the same width (:func:`with_added_blocks`) or with the unshuffle head."""
    if source.endswith(".pt"):
        checkpoint = load_checkpoint(source)
        state, source_arch = checkpoint["model"], checkpoint.get("architecture", {})
    else:
        from napari_hyperres.core.weights import load_weights

        state, info = load_weights(source)
        source_arch = info.architecture
    if isinstance(model, model_kinds.HairNet) and any(k.startswith("net.blocks.") for k in state):
        model_kinds.upcycle_into_hair(model, state, generator=torch.Generator().manual_seed(0))
        return
    if isinstance(model, model_kinds.HairNet) and model.decoder is not None and not any(k.startswith("decoder.") for k in state):
        model_kinds.select_hair_decoder(model, state, generator=torch.Generator().manual_seed(0))
        return
    target = model.base if isinstance(model, model_kinds.AdaFMNet) else model
    if isinstance(model, HyperResNet):  # a file trained with another control centre continues as the same network
        control = {key: source_arch[key] for key in ("control_centre", "control_scale") if key in source_arch}
        state = recentred_state(state, Architecture(**control), model.arch)
    _load_state(target, with_added_blocks(with_unshuffle_head(state, target), target), source, "network")


def with_added_blocks(state: dict, model: nn.Module) -> dict:
    """``state`` of a HyperRes network with fewer residual blocks than ``model``, grown to
    ``model``'s depth without changing what it computes: the extra blocks go after the last
    one, their first conv keeps ``model``'s random initialisation and their second conv is
    zero (both its ``w`` and ``b``), so each new block is the identity at every level until
    training moves it (net2net's deepening). A state with all of ``model``'s blocks comes back
    as it is."""
    if not isinstance(model, HyperResNet) or not any(key.startswith("body.") for key in state):
        return state
    depth = 1 + max(int(key.split(".")[1]) for key in state if key.startswith("body."))
    if depth >= model.arch.blocks:
        return state
    grown = dict(state)
    for key, value in model.state_dict().items():
        if key.startswith("body.") and int(key.split(".")[1]) >= depth:
            grown[key] = torch.zeros_like(value) if ".conv2." in key else value.clone()
    return grown


def with_unshuffle_head(state: dict, model: nn.Module) -> dict:
    """``state`` whose stride-2 head kernels ``(F, C, 3, 3)`` are converted for ``model``'s pixel-
    unshuffle head ``(F, 4·C, 3, 3)`` (:func:`~napari_hyperres.core.models.hyperres.unshuffle_head_kernels`:
    the same network), so a shipped file continues as a ``+unshuffle`` preset; else ``state``."""
    from napari_hyperres.core.models.hyperres import unshuffle_head_kernels

    own = model.state_dict()
    converted = dict(state)
    for key, value in state.items():
        if key.endswith("shared.head.weight") and key in own and value.ndim == 4 and own[key].shape[1] == 4 * value.shape[1] and own[key].shape[2:] == value.shape[2:]:
            converted[key] = unshuffle_head_kernels(value)
    return converted


def warn_if_bfloat16_is_slow() -> None:
    """``--amp`` on a CPU: say so on stderr where ``precision="auto"`` would not take bfloat16
    here (:func:`~napari_hyperres.core.devices.bfloat16_pays_on_cpu`); the run goes on."""
    if devices.bfloat16_pays_on_cpu():
        return
    speedup = devices.cpu_bfloat16_speedup(torch.get_num_threads())  # cached: the number just compared
    found = "no native bfloat16" if speedup == 0.0 else f"bfloat16 convolutions ran at {speedup:.2f}× float32's speed"
    print(f"warning: --amp on this CPU ({found}): training will likely be slower than without --amp", file=sys.stderr, flush=True)


def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True) -> Path:
    """Train per ``cfg``; returns the run directory (with ``checkpoint.pt`` and ``log.jsonl``)."""
    task = get_task(cfg.task)
    levels = [] if cfg.kind == "estimator" else [float(v) for v in (cfg.levels or task.train_levels)]
    if task.conditioning == "level":
        for level in levels:
            task.check_level(level)  # a level the task refuses would train a network nothing can run at it
    if cfg.kind == "dedicated" and len(levels) != 1:
        raise ValueError(f"a dedicated network trains on one level, got {levels}: pass --levels L")
    penalty = SelectionPenalty(cfg.selection_entropy, cfg.selection_balance)
    if penalty.active and cfg.kind != "hair":
        raise ValueError(f"--selection-entropy / --selection-balance shape HAIR's selections; kind {cfg.kind!r} has none (use --kind hair)")
    info = init_distributed(cfg.device)
    device = torch.device("cuda", info.local_rank) if info.world > 1 and torch.cuda.is_available() else select_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder for the run")
    if not resume and (out / CHECKPOINT).exists():  # a review's second run replaced the first's checkpoint and mixed its log
        raise ValueError(f"{out} holds a run already ({CHECKPOINT}): pass --resume to continue it, or choose another --out "
                         "(nothing was changed)")
    if info.main and cfg.amp and device.type == "cpu":
        warn_if_bfloat16_is_slow()

    torch.manual_seed(cfg.seed)
    arch = model_kinds.architecture(cfg.kind, cfg.preset, task.in_channels, cfg.select_decoder, cfg.estimator_features)
    if cfg.centred_control:
        arch = centred_architecture(arch, task.normalize, levels)
    model = model_kinds.build(cfg.kind, arch)
    history = previous_rounds(cfg.init_from, cfg.kind, cfg.task)  # read now: the file may be overwritten before the export
    note = other_task_note(cfg.init_from, cfg.task, history) if cfg.init_from and info.main and not resume else None
    if note:
        print(note, file=sys.stderr, flush=True)
    if cfg.init_from:
        _init_from(model, cfg.init_from)
    model.to(device).train()
    params = model.trainable_parameters() if hasattr(model, "trainable_parameters") else list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.999))

    data_gen = torch.Generator().manual_seed(cfg.seed + 1000 * info.rank)
    noise_gen = torch.Generator(device=device).manual_seed(cfg.seed + 7 + 1000 * info.rank)
    start_step, elapsed = 0, 0.0
    round_start = {"step": 0, "elapsed": 0.0}  # where the round this session adds to began
    ckpt_path = out / CHECKPOINT
    if resume and not ckpt_path.exists():
        raise WeightsError(f"--resume: there is no {ckpt_path} to continue; drop --resume to start a new run in {out}")
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        _check_resume(ckpt, cfg, levels, ckpt_path)
        _load_state(model, ckpt["model"], str(ckpt_path), "network")
        optimizer.load_state_dict(ckpt["optimizer"])
        start_step, elapsed = int(ckpt["step"]), float(ckpt.get("elapsed", 0.0))
        history = ckpt.get("previous_rounds", history)  # the run's own, even without --init-from repeated
        round_start = ckpt.get("round_start") or round_start
        if round_settings(ckpt["config"]) != round_settings(cfg.to_dict()):  # new lr, data, ...: a new round
            history = list(history) + [round_of(ckpt)]
            round_start = {"step": start_step, "elapsed": elapsed}
        _warn_if_lr_rises(cfg, ckpt["config"], start_step, elapsed, float(optimizer.param_groups[0]["lr"]))
        data_rng, noise_rng = ckpt["data_rng"], ckpt["noise_rng"]
        rank_rngs = ckpt.get("rank_rngs")
        if info.world > 1 and rank_rngs is not None and len(rank_rngs) == info.world:
            data_rng, noise_rng = rank_rngs[info.rank]  # each rank continues its own crops and noise
        data_gen.set_state(data_rng)
        noise_gen.set_state(noise_rng.to(noise_gen.get_state().device))
        torch.set_rng_state(ckpt["torch_rng"])

    objective = LevelEstimation(model, task, cfg) if cfg.kind == "estimator" else Restoration(model, task, cfg, levels, penalty)
    sampler = PatchSampler(image_paths(cfg.data, cfg.max_images), task.channels, objective.crop_size(cfg), data_gen, cfg.opponent_planes)
    val_images = load_validation(cfg, task) if info.main else []
    runner: nn.Module = objective.module
    if info.world > 1:
        runner = nn.parallel.DistributedDataParallel(runner, device_ids=[device.index] if device.type == "cuda" else None)

    def checkpoint(step: int) -> None:
        rank_rngs = None
        if info.world > 1:  # every rank takes part: rank 0 saves all ranks' generator states
            rank_rngs = [None] * info.world
            dist.all_gather_object(rank_rngs, (data_gen.get_state(), noise_gen.get_state().cpu()))
        if not info.main:
            return
        _save_checkpoint(
            ckpt_path,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "elapsed": elapsed + time.perf_counter() - run_start,
                "data_rng": data_gen.get_state(),
                "noise_rng": noise_gen.get_state().cpu(),
                "torch_rng": torch.get_rng_state(),
                "config": cfg.to_dict(),
                "levels": levels,
                "controls": getattr(objective, "controls", []),  # c per level as trained: a changed normalize is caught at load
                "previous_rounds": history,
                "round_start": round_start,
                "architecture": arch.to_dict(),
                "device": str(device),
                **({"rank_rngs": rank_rngs} if rank_rngs is not None else {}),
            },
        )

    bar = None
    if progress and info.main:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=start_step, desc=f"{cfg.task}/{cfg.kind}", dynamic_ncols=True)
    if info.main:  # made once the settings, the data and the starting network are known good: a refused run leaves no folder
        out.mkdir(parents=True, exist_ok=True)
    if resume and info.main:
        _drop_log_after(out / LOG, start_step)
    log_file = open(out / LOG, "a") if info.main else None

    def validate_and_log(step: int) -> None:
        """The validation table at ``step``, into the log (flushed: a stopped run keeps it) and under the bar."""
        table = objective.validate(val_images, device)
        if log_file:
            log_file.write(json.dumps({"step": step, "val_psnr": table}) + "\n")
            log_file.flush()
        if bar is not None:
            bar.write(f"step {step}: val PSNR {table}")

    t0, losses = time.perf_counter(), []
    run_start = t0
    logged_step = start_step  # the step of the last log row (this session's)

    def log_row(done: int, lr_now: float, since: float, last: int) -> tuple[float, int]:
        """One log row for the steps since ``last`` (logged at time ``since``): their mean loss and rate.
        Before, every row counted ``log_every`` steps: the first row after a resume (20 steps) read 10 steps/s
        for 4, a run's last row 0.0, and a time-budget run's last steps were not logged (a trainer review)."""
        now, count = time.perf_counter(), done - last
        rate = count / max(now - since, 1e-9)
        log_file.write(json.dumps({"step": done, "loss": float(np.mean(losses[-count:])), "lr": lr_now, "steps_per_s": round(rate, 3)}) + "\n")
        log_file.flush()
        return now, done
    step = done = start_step
    try:
        for step in range(start_step, cfg.steps):
            fraction = progress_fraction(cfg, step, elapsed + time.perf_counter() - run_start)
            if info.world > 1 and cfg.time_budget_s:  # all ranks follow the slowest clock: they stop at the same step
                shared = torch.tensor([fraction], dtype=torch.float64, device=device)
                dist.all_reduce(shared, op=dist.ReduceOp.MAX)
                fraction = float(shared)
            if fraction >= 1.0:
                break
            lr_now = learning_rate(cfg, fraction, step)
            for group in optimizer.param_groups:
                group["lr"] = lr_now
            clean, gray = sampler.sample(cfg.batch)
            loss, logged = objective.loss(runner, clean.to(device, non_blocking=True), gray, data_gen, noise_gen)
            if not math.isfinite(logged):  # stop before a checkpoint replaces the last good one with NaN weights
                raise FloatingPointError(
                    f"training diverged at step {step + 1} (loss {logged}); the last checkpoint (step {done}) is kept: "
                    "lower --lr and resume, or start again"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(logged)
            done = step + 1
            if bar is not None:
                bar.update(1)
                if done % 10 == 0:
                    bar.set_postfix(loss=f"{np.mean(losses[-10:]):.4f}")
            if log_file and (done % cfg.log_every == 0 or done == cfg.steps):
                t0, logged_step = log_row(done, lr_now, t0, logged_step)
            if val_images and (done % cfg.val_every == 0 or done == cfg.steps):
                validate_and_log(done)
            if done % cfg.ckpt_every == 0 or done == cfg.steps:
                checkpoint(done)
        if done != cfg.steps and done > start_step:  # stopped by the time budget
            if log_file and done > logged_step:
                log_row(done, lr_now, t0, logged_step)
            if val_images:
                validate_and_log(done)
            checkpoint(done)
    finally:
        if bar is not None:
            bar.close()
        if log_file:
            log_file.close()
        if info.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
    return out
