"""The trainer (``python -m trainer``): two-step CPU runs, exact resume, export, eval, baselines, DDP.

Every run uses the ``tiny`` preset on a folder of three small synthetic PNGs, so nothing
here depends on the training data sets; a run takes a fraction of a second on one core.
Subcommands are called through :func:`trainer.__main__.main` (the same code as the
command line); the ``torchrun`` run is a real pair of processes.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, smooth_image, subprocess_env

from napari_hyperres.blind.estimate import estimate_level
from napari_hyperres.core.color import rgb_to_opponent
from napari_hyperres.core.models.estimator import LevelEstimator
from napari_hyperres.core.models.hair import HairNet
from napari_hyperres.core.models.hyperres import Architecture, HyperResNet
from napari_hyperres.core.weights import load_model, read_info
from napari_hyperres.engine import Restorer
from trainer.__main__ import main as trainer_main
from trainer.baselines import compare, ensure_runs, format_comparison, load_run, run_names
from trainer.config import TrainConfig
from trainer.data import PatchSampler, as_8bit_files, image_paths, opponent_plane
from trainer.estimator import EstimatorConfig
from trainer.loop import CHECKPOINT, LOG, load_checkpoint, train
from trainer.models import architecture, build

pytestmark = pytest.mark.usefixtures("one_thread")

DATA = ROOT.parent / "shared" / "data"
TINY = ["--preset", "tiny", "--batch", "2", "--patch", "24", "--device", "cpu", "--no-progress"]


def train_args(task: str, data: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return ["train", "--task", task, "--data", str(data), "--out", str(out), "--steps", str(steps), *TINY, *extra]


def read_log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / LOG).read_text().splitlines() if line.strip()]


def uint8_picture(height: int = 40, width: int = 48, channels: int = 3) -> np.ndarray:
    image = smooth_image(height, width, channels, seed=7)[0].numpy().transpose(1, 2, 0)
    image = np.round(image * 255).astype(np.uint8)
    return image if channels == 3 else image[..., 0]


@pytest.fixture(scope="module")
def denoise_run(tmp_path_factory, image_folder, val_folder, one_thread) -> Path:
    """A two-step denoise run on two levels, validated every step."""
    out = tmp_path_factory.mktemp("runs") / "denoise"
    args = train_args("denoise", image_folder, out, 2, "--levels", "15", "50", "--val", str(val_folder), "--val-every", "1")
    assert trainer_main(args) == 0
    return out


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory, image_folder, one_thread) -> Path:
    """A two-step run of the ``auto`` task with the default model kind."""
    out = tmp_path_factory.mktemp("runs") / "auto"
    assert trainer_main(train_args("auto", image_folder, out, 2)) == 0
    return out


# --- train -----------------------------------------------------------------------------------------
def test_two_step_run_writes_checkpoint_and_log(denoise_run, image_folder):
    ckpt = load_checkpoint(denoise_run / CHECKPOINT)
    assert ckpt["step"] == 2 and ckpt["levels"] == [15.0, 50.0]
    assert ckpt["config"]["kind"] == "hyperres" and ckpt["config"]["data"] == [str(image_folder)]
    assert ckpt["architecture"] == {"in_channels": 3, "features": 8, "blocks": 2, "init": "conv", "head": "stride2", "control_centre": 0.0, "control_scale": 1.0}
    assert {"model", "optimizer", "data_rng", "noise_rng", "torch_rng", "elapsed"} <= set(ckpt)
    HyperResNet(Architecture(**ckpt["architecture"])).load_state_dict(ckpt["model"])  # the tensors fit the architecture
    rows = read_log(denoise_run)
    losses = [row for row in rows if "loss" in row]
    assert [row["step"] for row in losses] == [2] and math.isfinite(losses[0]["loss"])
    validations = [row for row in rows if "val_psnr" in row]
    assert [row["step"] for row in validations] == [1, 2]
    assert set(validations[-1]["val_psnr"]) == {"15", "50"}
    assert all(math.isfinite(v) for v in validations[-1]["val_psnr"].values())


def test_training_really_changes_the_weights(denoise_run):
    ckpt = load_checkpoint(denoise_run / CHECKPOINT)
    torch.manual_seed(ckpt["config"]["seed"])  # what the loop does before building the model
    fresh = build("hyperres", Architecture(**ckpt["architecture"]))
    changed = [k for k, v in fresh.state_dict().items() if not torch.equal(v, ckpt["model"][k])]
    assert changed  # same seed, same init: only the two optimiser steps can explain a difference


def test_amp_runs_the_forward_in_bfloat16_on_the_cpu(tmp_path, image_folder, monkeypatch):
    """``--amp`` autocasts on the CPU too (1.93× the steps/s where the CPU has native bfloat16,
    BENCHMARKS.md): the convolutions compute in bfloat16, the weights and the loss stay float32."""
    seen: list[torch.dtype] = []
    convolve = torch.nn.functional.conv2d

    def recording(x, weight, *args, **kwargs):
        out = convolve(x, weight, *args, **kwargs)
        seen.append(out.dtype)
        return out

    from napari_hyperres.core import devices

    monkeypatch.setattr(devices, "cpu_bfloat16_speedup", lambda threads: 2.0)  # no timing convs in the record
    monkeypatch.setattr(torch.nn.functional, "conv2d", recording)
    out = tmp_path / "amp"
    assert trainer_main(train_args("denoise", image_folder, out, 2, "--levels", "15", "50", "--amp")) == 0
    assert seen and set(seen) == {torch.bfloat16}
    ckpt = load_checkpoint(out / CHECKPOINT)
    assert ckpt["config"]["amp"] is True
    assert all(v.dtype == torch.float32 for v in ckpt["model"].values() if v.is_floating_point())
    assert all(math.isfinite(row["loss"]) for row in read_log(out) if "loss" in row)


class Interrupted(RuntimeError):
    """Stands for a crash or Ctrl-C in the middle of a run."""


@pytest.mark.parametrize("task", ["denoise", "auto"])
def test_resume_after_interruption_is_exact(tmp_path, image_folder, monkeypatch, task):
    """4 steps straight == 2 steps, a crash in step 3, then --resume (checkpoint every 2 steps)."""
    extra = ["--levels", "15", "50"] if task == "denoise" else []

    def args(out: Path, *more: str) -> list[str]:
        return train_args(task, image_folder, out, 4, "--ckpt-every", "2", "--seed", "3", *extra, *more)

    assert trainer_main(args(tmp_path / "straight")) == 0

    original, calls = PatchSampler.sample, []

    def crash_on_third_batch(self, batch):
        calls.append(batch)
        if len(calls) == 3:
            raise Interrupted("power cut")
        return original(self, batch)

    monkeypatch.setattr(PatchSampler, "sample", crash_on_third_batch)
    with pytest.raises(Interrupted):
        trainer_main(args(tmp_path / "resumed"))
    at_two = load_checkpoint(tmp_path / "resumed" / CHECKPOINT)
    assert at_two["step"] == 2
    monkeypatch.setattr(PatchSampler, "sample", original)
    with open(tmp_path / "resumed" / LOG, "a") as log:  # what a session logs after its last checkpoint (step 2) is trained again
        log.write(json.dumps({"step": 3, "loss": 9.0, "val_psnr": {"15": 1.0}}) + "\n")
    assert trainer_main(args(tmp_path / "resumed", "--resume")) == 0

    straight, resumed = load_checkpoint(tmp_path / "straight" / CHECKPOINT), load_checkpoint(tmp_path / "resumed" / CHECKPOINT)
    assert straight["step"] == resumed["step"] == 4
    assert straight["model"].keys() == resumed["model"].keys()
    for name, tensor in straight["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name
    assert any(not torch.equal(t, at_two["model"][k]) for k, t in straight["model"].items())  # steps 3-4 did something
    for a, b in zip(straight["optimizer"]["state"].values(), resumed["optimizer"]["state"].values(), strict=True):
        for key in a:
            assert torch.equal(torch.as_tensor(a[key]), torch.as_tensor(b[key])), key
    for rng in ("data_rng", "noise_rng", "torch_rng"):
        assert torch.equal(straight[rng], resumed[rng]), rng
    # (the logged loss is a mean over the steps this process ran, so it is not compared)
    assert [r["step"] for r in read_log(tmp_path / "straight")] == [r["step"] for r in read_log(tmp_path / "resumed")] == [4]


def test_a_diverged_step_keeps_the_last_good_checkpoint(tmp_path, image_folder, monkeypatch, capsys):
    """A NaN loss stops the run with one line before any checkpoint or export holds NaN weights."""
    out = tmp_path / "run"
    original, calls = PatchSampler.sample, []

    def nan_on_third_batch(self, batch):
        calls.append(batch)
        clean, gray = original(self, batch)
        return (torch.full_like(clean, float("nan")) if len(calls) == 3 else clean), gray

    monkeypatch.setattr(PatchSampler, "sample", nan_on_third_batch)
    assert trainer_main(train_args("denoise", image_folder, out, 4, "--levels", "25", "--ckpt-every", "1")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "diverged at step 3" in err[0] and "step 2" in err[0] and "--lr" in err[0]
    kept = load_checkpoint(out / CHECKPOINT)
    assert kept["step"] == 2 and all(torch.isfinite(t).all() for t in kept["model"].values() if t.is_floating_point())


def test_a_resume_with_more_steps_says_the_lr_goes_back_up(tmp_path, image_folder, capsys):
    """A finished run (lr ÷10 at half its 4 steps) resumed with --steps 12 stretches the schedule: the lr
    rises again from 1e-5 to 1e-4. Before, it did so in silence; a resume of the same budget says nothing."""
    out = tmp_path / "run"
    common = ("--levels", "25", "--lr", "1e-4", "--lr-decay-at", "0.5")
    assert trainer_main(train_args("denoise", image_folder, out, 4, *common)) == 0
    capsys.readouterr()
    assert trainer_main(train_args("denoise", image_folder, out, 4, *common, "--resume")) == 0
    assert "lr schedule differs" not in capsys.readouterr().err
    assert trainer_main(train_args("denoise", image_folder, out, 12, *common, "--resume")) == 0
    err = capsys.readouterr().err
    assert "(--steps 4 → 12): the lr goes back up from 1e-05 to 0.0001 at step 4" in err and "--lr 1e-05 --lr-decay-at" in err


def test_a_resume_without_its_time_budget_or_with_other_decay_points_says_the_lr_goes_back_up(tmp_path, image_folder, capsys):
    """A trainer review: a --time-budget run resumed without --time-budget (as the README's `train ... --resume`
    reads) went on towards --steps 100,000,000 at the undecayed lr, and another --lr-decay-at moved the drops,
    both in silence."""
    out = tmp_path / "run"
    common = ("--levels", "25", "--lr", "1e-4")
    assert trainer_main(train_args("denoise", image_folder, out, 4, *common, "--lr-decay-at", "0.25")) == 0
    capsys.readouterr()
    assert trainer_main(train_args("denoise", image_folder, out, 6, *common, "--lr-decay-at", "0.9", "--resume")) == 0
    assert "(--steps 4 → 6; --lr-decay-at 0.25 → 0.9): the lr goes back up from 1e-05 to 0.0001" in capsys.readouterr().err
    from trainer.loop import _warn_if_lr_rises

    resumed = TrainConfig(task="denoise", data=[], out="", steps=10**8, lr=1e-4, lr_decay_at=[0.55, 0.85])  # no --time-budget
    before = {"steps": 10**8, "time_budget_s": 7800.0, "lr_decay_at": [0.55, 0.85]}  # the recipe's, at 90 % of its budget
    _warn_if_lr_rises(resumed, before, step=2000, elapsed_s=7000.0, lr_before=1e-6)
    assert "--time-budget 7800.0 → none: the run now goes on to --steps): the lr goes back up from 1e-06 to 0.0001" in capsys.readouterr().err


def test_resume_of_a_finished_run_trains_nothing(tmp_path, image_folder):
    out = tmp_path / "run"
    assert trainer_main(train_args("denoise", image_folder, out, 2, "--levels", "25")) == 0
    before = load_checkpoint(out / CHECKPOINT)
    assert trainer_main(train_args("denoise", image_folder, out, 2, "--levels", "25", "--resume")) == 0
    after = load_checkpoint(out / CHECKPOINT)
    assert after["step"] == 2
    assert all(torch.equal(v, after["model"][k]) for k, v in before["model"].items())


def test_lr_warmup_ramps_then_follows_the_decay():
    from trainer.loop import learning_rate

    cfg = TrainConfig(task="denoise", data=[], out="", lr=1e-4, lr_decay_at=[0.5], lr_warmup=4)
    assert [learning_rate(cfg, 0.0, step) for step in range(5)] == pytest.approx([2.5e-5, 5e-5, 7.5e-5, 1e-4, 1e-4])
    assert learning_rate(cfg, 0.6, 10) == pytest.approx(1e-5)
    assert learning_rate(replace(cfg, lr_warmup=0), 0.0, 0) == pytest.approx(1e-4)


def test_lr_warmup_is_logged_and_recorded_in_the_round(tmp_path, image_folder):
    out = tmp_path / "run"
    assert trainer_main(train_args("denoise", image_folder, out, 2, "--levels", "25", "--lr-warmup", "4", "--lr-decay-at", "0.9")) == 0
    lrs = [row["lr"] for row in map(json.loads, (out / LOG).read_text().splitlines()) if "lr" in row]
    assert lrs == [pytest.approx(0.5e-4)]  # logged at the last step (2 of 4): half the default lr 1e-4
    assert trainer_main(["export", str(out), "--name", "denoise.warm", "--out", str(tmp_path)]) == 0
    assert read_info(tmp_path / "denoise.warm.safetensors").extra["rounds"][-1]["lr_warmup"] == 4


def test_dedicated_with_two_levels_exits_2(tmp_path, image_folder, capsys):
    code = trainer_main(train_args("denoise", image_folder, tmp_path / "run", 2, "--kind", "dedicated", "--levels", "15", "50"))
    assert code == 2
    assert "a dedicated network trains on one level" in capsys.readouterr().err
    assert not (tmp_path / "run" / CHECKPOINT).exists()


def test_missing_data_folder_exit_2(tmp_path, capsys):
    assert trainer_main(train_args("denoise", tmp_path / "absent", tmp_path / "run", 2)) == 2
    assert "does not exist" in capsys.readouterr().err


# --- export ----------------------------------------------------------------------------------------
def test_export_load_restore_round_trip(denoise_run, image_folder, val_folder, tmp_path, capsys):
    assert trainer_main(["export", str(denoise_run), "--name", "denoise.test", "--out", str(tmp_path)]) == 0
    path = tmp_path / "denoise.test.safetensors"
    assert f"wrote {path}" in capsys.readouterr().out
    info = read_info(path)
    assert (info.name, info.task, info.kind, info.preset) == ("denoise.test", "denoise", "hyperres", "tiny")
    assert info.train_levels == [15.0, 50.0] and info.steps == 2
    assert info.training_data == [image_folder.name] and info.device == "cpu"
    # the run's periodic check, named as the centre crops it is (a review read it beside whole-set tables)
    [label] = info.validation
    assert label.startswith(f"{val_folder.name} (") and "centre crops" in label and set(info.validation[label]) == {"15", "50"}
    assert info.extra["batch"] == 2 and info.extra["patch"] == 24
    assert info.extra["controls"] == pytest.approx([15 / 255, 50 / 255])  # c as trained: a changed normalize is caught at load

    model, loaded_info = load_model(path, task="denoise")
    assert isinstance(model, HyperResNet) and loaded_info == info
    ckpt = load_checkpoint(denoise_run / CHECKPOINT)
    for name, tensor in ckpt["model"].items():
        assert torch.equal(model.state_dict()[name], tensor), name

    image = uint8_picture()
    restorer = Restorer("denoise", weights=str(path), device="cpu")
    out = restorer.restore(image, 30)
    assert out.shape == image.shape and out.dtype == np.uint8
    in_memory = Restorer("denoise", model=model, device="cpu").restore(image, 30)
    assert np.array_equal(out, in_memory)
    x = torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) / 255)[None]
    with torch.no_grad():
        direct = np.clip(np.rint(model(x, 30 / 255)[0].numpy().transpose(1, 2, 0) * 255), 0, 255)
    assert np.abs(out.astype(int) - direct).max() <= 1


def test_export_without_out_stays_in_the_run_directory(denoise_run, tmp_path, capsys):
    """Exporting never writes into the installed package unless asked (--out napari_hyperres/pretrained)."""
    import napari_hyperres.core.weights as weights_module

    run = tmp_path / "run"
    shutil.copytree(denoise_run, run)
    shipped_before = sorted(p.name for p in weights_module.PRETRAINED_DIR.iterdir())
    assert trainer_main(["export", str(run), "--name", "denoise.here"]) == 0
    assert (run / "denoise.here.safetensors").is_file()
    assert f"wrote {run / 'denoise.here.safetensors'}" in capsys.readouterr().out
    assert sorted(p.name for p in weights_module.PRETRAINED_DIR.iterdir()) == shipped_before


def test_export_with_validation_json(denoise_run, val_folder, tmp_path, tiny_weights):
    table = tmp_path / "eval.json"
    assert trainer_main(["eval", "--task", "denoise", "--weights", str(tiny_weights["denoise"]), "--data", str(val_folder),
                         "--levels", "25", "--json", str(table), "--device", "cpu"]) == 0
    target = tmp_path / "exported.safetensors"
    assert trainer_main(["export", str(denoise_run), "--name", "denoise.v", "--out", str(target), "--validation-json", str(table)]) == 0
    assert read_info(target).validation == {val_folder.name: json.loads(table.read_text())["table"]}


def test_export_into_a_folder_not_made_yet(denoise_run, tmp_path):
    """A trainer review: `export RUN --name N --out newdir/` wrote a file named "newdir"."""
    assert trainer_main(["export", str(denoise_run), "--name", "denoise.v", "--out", str(tmp_path / "newdir") + "/"]) == 0
    assert (tmp_path / "newdir" / "denoise.v.safetensors").is_file()
    assert trainer_main(["export", str(denoise_run), "--name", "denoise.w", "--out", str(tmp_path / "other")]) == 0  # no suffix: a folder
    assert (tmp_path / "other" / "denoise.w.safetensors").is_file()
    assert trainer_main(["export", str(denoise_run), "--name", "denoise.x", "--out", str(tmp_path / "mine.safetensors")]) == 0
    assert (tmp_path / "mine.safetensors").is_file()


def test_a_self_ensemble_table_is_not_a_files_validation(denoise_run, val_folder, tmp_path, tiny_weights):
    table = tmp_path / "eval.json"
    assert trainer_main(["eval", "--task", "denoise", "--weights", str(tiny_weights["denoise"]), "--data", str(val_folder),
                         "--levels", "25", "--json", str(table), "--device", "cpu", "--self-ensemble"]) == 0
    assert json.loads(table.read_text())["self_ensemble"] is True
    with pytest.raises(SystemExit, match="self-ensemble"):
        trainer_main(["export", str(denoise_run), "--name", "denoise.v", "--out", str(tmp_path / "x.safetensors"),
                      "--validation-json", str(table)])
    assert not (tmp_path / "x.safetensors").exists()


def test_continued_training_records_both_rounds(denoise_run, image_folder, tmp_path):
    first = tmp_path / "first.safetensors"
    assert trainer_main(["export", str(denoise_run), "--name", "denoise.first", "--out", str(first)]) == 0
    more = tmp_path / "more"
    assert trainer_main(train_args("denoise", image_folder, more, 1, "--levels", "15", "50", "--init-from", str(first))) == 0
    second = tmp_path / "second.safetensors"
    assert trainer_main(["export", str(more), "--name", "denoise.second", "--out", str(second)]) == 0
    info = read_info(second)
    assert [r["steps"] for r in info.extra["rounds"]] == [2, 1] and info.steps == 3
    assert info.training_time_s == pytest.approx(sum(r["training_time_s"] for r in info.extra["rounds"]), abs=0.2)
    assert info.device == "cpu"


def test_a_run_from_another_tasks_weights_says_so_and_lists_those_rounds_as_that_task(denoise_run, image_folder, tmp_path, capsys):
    """A trainer review: --task sr --init-from a denoise file trained at once, and the export counted the denoise
    steps as sr training. Allowed (microscopy.lite starts from denoise.lite), but said, and the rounds say whose."""
    first = tmp_path / "denoise.safetensors"
    assert trainer_main(["export", str(denoise_run), "--name", "denoise.first", "--out", str(first)]) == 0
    capsys.readouterr()
    run = tmp_path / "micro"
    assert trainer_main(train_args("microscopy", image_folder, run, 1, "--levels", "5", "100", "--init-from", str(first))) == 0
    err = capsys.readouterr().err
    assert f"--init-from {first} holds weights trained for task 'denoise', not 'microscopy'" in err and "(2 steps)" in err
    assert trainer_main(["export", str(run), "--name", "microscopy.x", "--out", str(tmp_path)]) == 0
    rounds = read_info(tmp_path / "microscopy.x.safetensors").extra["rounds"]
    assert [(r["steps"], r.get("task")) for r in rounds] == [(2, "denoise"), (1, None)]


def test_the_history_is_read_when_training_starts_not_at_export(denoise_run, image_folder, tmp_path):
    """Before: export read --init-from again, so exporting onto that file counted it twice
    (steps 3 → 4 → 5 on each re-export), and a --resume without --init-from dropped it."""
    ship = tmp_path / "ship"
    ship.mkdir()
    start = ship / "denoise.v.safetensors"
    assert trainer_main(["export", str(denoise_run), "--name", "denoise.v", "--out", str(start)]) == 0  # 2 steps
    more = tmp_path / "more"
    assert trainer_main(train_args("denoise", image_folder, more, 1, "--levels", "15", "50", "--init-from", str(start))) == 0
    for _ in range(3):  # ship, then ship again (e.g. with a validation table): the same history each time
        assert trainer_main(["export", str(more), "--name", "denoise.v", "--out", str(ship)]) == 0
        assert [r["steps"] for r in read_info(start).extra["rounds"]] == [2, 1] and read_info(start).steps == 3
    assert trainer_main(train_args("denoise", image_folder, more, 2, "--levels", "15", "50", "--resume")) == 0  # no --init-from
    assert trainer_main(["export", str(more), "--name", "denoise.w", "--out", str(tmp_path)]) == 0
    assert [r["steps"] for r in read_info(tmp_path / "denoise.w.safetensors").extra["rounds"]] == [2, 2]


def test_a_resume_with_another_lr_is_its_own_round(tmp_path, image_folder):
    """Before: the export said all 4 steps ran at the resumed session's lr and data."""
    run = tmp_path / "run"
    assert trainer_main(train_args("denoise", image_folder, run, 2, "--levels", "15", "50", "--lr", "1e-4")) == 0
    assert trainer_main(train_args("denoise", image_folder, run, 4, "--levels", "15", "50", "--lr", "5e-5", "--resume")) == 0
    assert trainer_main(train_args("denoise", image_folder, run, 5, "--levels", "15", "50", "--lr", "5e-5", "--resume")) == 0
    assert trainer_main(["export", str(run), "--name", "denoise.r", "--out", str(tmp_path)]) == 0
    info = read_info(tmp_path / "denoise.r.safetensors")
    assert [(r["steps"], r["lr"]) for r in info.extra["rounds"]] == [(2, 1e-4), (3, 5e-5)] and info.steps == 5
    assert info.training_time_s == pytest.approx(sum(r["training_time_s"] for r in info.extra["rounds"]), abs=0.2)


def test_a_shipped_name_as_init_from_brings_its_rounds():
    """--init-from takes a shipped name; its rounds were dropped (the history only looked for a file path)."""
    from napari_hyperres.core.weights import resolve_weights
    from trainer.rounds import previous_rounds

    shipped = read_info(resolve_weights("denoise.lite"))
    assert previous_rounds("denoise.lite", "hyperres") == shipped.extra["rounds"]
    assert sum(r["steps"] for r in previous_rounds("denoise.lite", "hyperres")) == shipped.steps


def test_a_validation_table_of_another_task_is_refused(denoise_run, val_folder, tmp_path, tiny_weights):
    table = tmp_path / "eval.json"
    assert trainer_main(["eval", "--task", "sr", "--weights", str(tiny_weights["sr"]), "--data", str(val_folder),
                         "--levels", "2", "--json", str(table), "--device", "cpu"]) == 0
    with pytest.raises(SystemExit, match="a table of task 'sr', but the run trains 'denoise'"):
        trainer_main(["export", str(denoise_run), "--name", "denoise.v", "--out", str(tmp_path / "x.safetensors"),
                      "--validation-json", str(table)])


# --- eval ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task, levels", [("denoise", ["15", "50"]), ("sr", ["2", "3"]), ("dejpeg", ["20", "60"])])
def test_eval_json_table(tiny_weights, val_folder, tmp_path, capsys, task, levels):
    out = tmp_path / "table.json"
    args = ["eval", "--task", task, "--weights", str(tiny_weights[task]), "--data", str(val_folder), "--levels", *levels,
            "--json", str(out), "--device", "cpu"]
    assert trainer_main(args) == 0
    printed = capsys.readouterr().out
    assert f"{task} ({task}.tiny) on {val_folder.name}" in printed and "| level | input PSNR | PSNR | SSIM |" in printed
    data = json.loads(out.read_text())
    assert (data["task"], data["weights"], data["data"]) == (task, f"{task}.tiny", val_folder.name)
    assert list(data["table"]) == levels
    for row in data["table"].values():
        assert row["images"] == 2
        assert 5 < row["psnr"] < 100 and 5 < row["psnr_input"] < 100
        assert -1 <= row["ssim"] <= 1
    low, high = (data["table"][level] for level in levels)
    if task == "dejpeg":
        assert low["psnr_input"] < high["psnr_input"]  # quality 20 is worse than 60
    else:
        assert low["psnr_input"] > high["psnr_input"]  # σ 15 / ×2 is milder than σ 50 / ×3


def test_eval_on_set12(tiny_weights, tmp_path, set12_root):
    out = tmp_path / "set12.json"
    assert trainer_main(["eval", "--task", "dejpeg", "--weights", str(tiny_weights["dejpeg"]), "--data", str(set12_root),
                         "--levels", "10", "--max-images", "1", "--json", str(out), "--device", "cpu"]) == 0
    row = json.loads(out.read_text())["table"]["10"]
    assert row["images"] == 1 and 20 < row["psnr_input"] < 40


# --- baselines -------------------------------------------------------------------------------------
def test_baselines_ensure_runs_and_compare(tmp_path, image_folder, val_folder):
    base = TrainConfig(task="denoise", data=[], out="", preset="tiny", steps=2, batch=2, patch=24, device="cpu", val_every=10**9)
    runs, data = tmp_path / "runs", [str(image_folder)]
    eval_levels = [15.0, 90.0]  # the start level, and one outside the trained range 15-75
    ensure_runs("denoise", runs, data, eval_levels, base)
    expected = {"hyperres", "dedicated_15", "dedicated_75", "dedicated_90", "adafm"}
    assert {p.name for p in runs.iterdir()} == expected
    for name in expected:
        ckpt = load_checkpoint(runs / name / CHECKPOINT)
        assert ckpt["step"] == 2, name
    assert load_checkpoint(runs / "dedicated_90" / CHECKPOINT)["levels"] == [90.0]
    # AdaFM fine-tunes its own layers only: its base is dedicated_15, unchanged
    adafm, start = load_checkpoint(runs / "adafm" / CHECKPOINT)["model"], load_checkpoint(runs / "dedicated_15" / CHECKPOINT)["model"]
    for name, tensor in start.items():
        assert torch.equal(adafm[f"base.{name}"], tensor), name

    stamps = {name: (runs / name / CHECKPOINT).stat().st_mtime_ns for name in expected}
    ensure_runs("denoise", runs, data, eval_levels, base)  # nothing missing: nothing retrained
    assert stamps == {name: (runs / name / CHECKPOINT).stat().st_mtime_ns for name in expected}

    # a bigger budget (a session stopped part-way, or a longer comparison): every run continues
    # from its checkpoint to the new step count; AdaFM keeps its own checkpoint's base
    ensure_runs("denoise", runs, data, eval_levels, replace(base, steps=3))
    for name in expected:
        assert load_checkpoint(runs / name / CHECKPOINT)["step"] == 3, name

    result = compare("denoise", runs, str(val_folder), eval_levels, data, device="cpu")
    assert (result["task"], result["val"]) == ("denoise", val_folder.name)
    assert list(result["table"]) == ["15", "90"]
    for row in result["table"].values():
        assert set(row) == {"dedicated", "HyperRes", "AdaFM", "DNI"}
        assert all(math.isfinite(v) for v in row.values())
    assert result["distance"]["inside_mean_abs_db"] is not None and result["distance"]["outside_mean_abs_db"] is not None
    text = format_comparison(result)
    assert "| level | dedicated | HyperRes | AdaFM | DNI | HyperRes − dedicated |" in text
    assert "3 steps per network; HyperRes trained on 15–75" in text  # a review: the budget and the range were not said
    assert "| 15 (inside) |" in text and "| 90 (outside) |" in text and "inside the trained range" in text
    gap = result["table"]["15"]["HyperRes"] - result["table"]["15"]["dedicated"]
    assert f"{gap:+.2f} |" in text and result["distance"]["inside_mean_db"] == pytest.approx(gap, abs=1e-3)  # signed
    json.dumps(result)  # the CLI writes it as JSON

    # stored runs are not the table of another budget or other settings (a review: 60-step runs for --steps 2,
    # runs of other --level-weights and --data, printed as the new table without a word)
    with pytest.raises(ValueError, match=r"3 steps \(asked: 2\)"):
        ensure_runs("denoise", runs, data, eval_levels, base)
    with pytest.raises(ValueError, match=r"level_weights \[\] \(asked: \[2.0, 1.0"):
        ensure_runs("denoise", runs, data, eval_levels, replace(base, steps=3, level_weights=[2.0, 1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"data .* \(asked: \["):
        ensure_runs("denoise", runs, [str(val_folder)], eval_levels, replace(base, steps=3))


def test_runs_are_never_overwritten_and_nonsense_settings_refused_first(tmp_path, image_folder, val_folder, capsys):
    """A trainer review: a second run into an --out holding one replaced its checkpoint and mixed its log;
    --lr 0, --time-budget 0, --lr-decay-at 5 and a repeated level trained on silently; compare reused runs of
    another preset and lr, and checked --val only after training five networks."""
    out = tmp_path / "run"
    assert trainer_main(train_args("denoise", image_folder, out, 2)) == 0
    before = (out / CHECKPOINT).read_bytes()
    assert trainer_main(train_args("denoise", image_folder, out, 3)) == 2
    assert "holds a run already" in capsys.readouterr().err and (out / CHECKPOINT).read_bytes() == before
    for wrong, message in ((["--lr", "0"], "--lr must be a positive"), (["--time-budget", "0"], "--time-budget must"),
                           (["--lr-decay-at", "5"], "fractions of the run"), (["--levels", "15", "15"], "a level twice")):
        assert trainer_main(train_args("denoise", image_folder, tmp_path / "x", 2, *wrong)) == 2
        assert message in capsys.readouterr().err
    base = TrainConfig(task="denoise", data=[], out="", preset="tiny", steps=2, batch=2, patch=24, device="cpu", val_every=10**9)
    runs = tmp_path / "runs"
    ensure_runs("denoise", runs, [str(image_folder)], [15.0], base, only=["hyperres"])
    with pytest.raises(ValueError, match=r"trained with other settings: lr 0.0001 \(asked: 0.001\)"):
        ensure_runs("denoise", runs, [str(image_folder)], [15.0], replace(base, lr=1e-3), only=["hyperres"])
    with pytest.raises(SystemExit, match=r"validation images \(--val\): the folder .* does not exist"):
        trainer_main(["compare", "--task", "denoise", "--data", str(image_folder), "--val", str(tmp_path / "Set99"),
                      "--runs", str(tmp_path / "runs2"), "--eval-levels", "15", "--preset", "tiny", "--steps", "2", "--batch", "2", "--patch", "24",
                      "--device", "cpu"])
    assert not (tmp_path / "runs2").exists()  # nothing trained first


def test_a_stopped_run_says_how_to_continue(tmp_path, image_folder, monkeypatch, capsys):
    """A trainer review: Ctrl-C ended in a bare KeyboardInterrupt traceback."""
    import trainer.loop

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer.loop, "train", interrupted)
    assert trainer_main(train_args("denoise", image_folder, tmp_path / "run", 2)) == 130
    assert "run the same command with --resume to continue" in capsys.readouterr().err


def test_compare_only_trains_the_named_runs_so_processes_can_share_a_budget(tmp_path, image_folder, val_folder):
    base = TrainConfig(task="denoise", data=[], out="", preset="tiny", steps=2, batch=2, patch=24, device="cpu", val_every=10**9)
    runs, data, levels = tmp_path / "runs", [str(image_folder)], [15.0]
    assert run_names("denoise", levels) == ["hyperres", "dedicated_15", "dedicated_75", "adafm"]
    with pytest.raises(ValueError, match="adafm fine-tunes dedicated_15"):
        ensure_runs("denoise", runs, data, levels, base, only=["adafm"])
    with pytest.raises(ValueError, match="no run named dedicated_50"):
        ensure_runs("denoise", runs, data, levels, base, only=["dedicated_50"])
    missing = ensure_runs("denoise", runs, data, levels, base, only=["dedicated_15", "adafm"])
    assert sorted(p.name for p in runs.iterdir()) == ["adafm", "dedicated_15"]
    assert missing == ["hyperres", "dedicated_75"]
    # the CLI says what is left and makes no table until every run is there
    args = ["compare", "--task", "denoise", "--data", *data, "--val", str(val_folder), "--runs", str(runs), "--eval-levels", "15",
            "--preset", "tiny", "--steps", "2", "--batch", "2", "--patch", "24", "--device", "cpu", "--json", str(tmp_path / "c.json")]
    assert trainer_main([*args, "--only", "dedicated_75"]) == 0
    assert not (tmp_path / "c.json").exists()
    assert trainer_main([*args, "--level-weights", "2", "1", "1", "1"]) == 0  # trains hyperres, the one left, then evaluates
    assert set(json.loads((tmp_path / "c.json").read_text())["table"]["15"]) == {"dedicated", "HyperRes", "AdaFM", "DNI"}
    assert load_checkpoint(runs / "hyperres" / CHECKPOINT)["config"]["level_weights"] == [2.0, 1.0, 1.0, 1.0]  # HyperRes only:
    assert load_checkpoint(runs / "dedicated_75" / CHECKPOINT)["config"]["level_weights"] == []  # one level each
    with pytest.raises(SystemExit, match="no run named"):
        trainer_main([*args, "--only", "dedicated_5"])


# --- distributed -----------------------------------------------------------------------------------
@pytest.mark.slow  # a subprocess or a process pool: seconds
def test_torchrun_two_processes_gloo(tmp_path, image_folder):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "trainer",
           *train_args("denoise", image_folder, out, 2, "--levels", "15", "50", "--time-budget", "3600")]
    done = subprocess.run(cmd, cwd=ROOT, env=subprocess_env(ROOT), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("run saved in") == 2  # both ranks finished
    ckpt = load_checkpoint(out / CHECKPOINT)
    (data0, noise0), (data1, noise1) = ckpt["rank_rngs"]  # each rank's generators, for an exact --resume
    assert torch.equal(data0, ckpt["data_rng"]) and not torch.equal(data0, data1) and not torch.equal(noise0, noise1)
    assert ckpt["step"] == 2 and ckpt["levels"] == [15.0, 50.0]
    assert [row["step"] for row in read_log(out)] == [2]  # only rank 0 logs


# --- level estimator -------------------------------------------------------------------------------
def test_train_estimator_two_steps(tmp_path, image_folder, capsys):
    path = tmp_path / "dejpeg.estimator.safetensors"
    args = ["train-estimator", "--task", "dejpeg", "--data", str(image_folder), "--out", str(path), "--steps", "2",
            "--batch", "2", "--patch", "32", "--device", "cpu", "--relative-loss"]
    assert trainer_main(args) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    model, info = load_model(path, task="dejpeg", kind="estimator")
    assert isinstance(model, LevelEstimator) and model.arch.in_channels == 1
    assert (info.name, info.kind, info.steps) == ("dejpeg.estimator", "estimator", 2)
    assert info.extra["level_range"] == [5.0, 95.0] and info.training_data == [image_folder.name]
    assert (info.extra["patch"], info.extra["context"], info.extra["relative_loss"]) == (32, 16, True)
    level = estimate_level(uint8_picture(48, 48), "dejpeg", weights=str(path), device="cpu")
    assert np.isfinite(level)  # two steps: a reading, not yet a good one (estimates are never clipped)


def test_the_low_end_share_trains_that_share_of_crops_at_the_range_s_low_end():
    """--low-end-share: crops left clean (denoise σ 0) so that texture is learnt as not noise;
    uniform levels put σ < 1 in 1 crop of 100."""
    from napari_hyperres.core.tasks import DENOISE
    from trainer.objectives import LevelEstimation

    seen = {}

    class Recorder(torch.nn.Module):
        def forward(self, x):
            seen["batch"] = x
            return torch.zeros(x.shape[0])

    def targets(share: float) -> torch.Tensor:
        cfg = TrainConfig(task="denoise", data=[], out="", kind="estimator", patch=16, context=0, low_end_share=share)
        clean = torch.full((64, 3, 16, 16), 0.5)
        objective = LevelEstimation(Recorder(), DENOISE, cfg)
        objective.loss(objective.module, clean, torch.zeros(64, dtype=torch.bool), torch.Generator().manual_seed(0), torch.Generator().manual_seed(1))
        return (seen["batch"] - clean).std(dim=(1, 2, 3)) * 255  # each crop's noise σ

    assert (targets(1.0) < 1e-3).all()  # every crop clean
    mixed = targets(0.5)
    assert 16 < int((mixed < 1e-3).sum()) < 48 and int((targets(0.0) < 1e-3).sum()) == 0
    with pytest.raises(ValueError, match="fraction of the crops"):
        TrainConfig(task="denoise", data=[], out="", kind="estimator", low_end_share=1.5)


def test_the_jpeg_share_saves_that_share_of_crops_as_real_jpeg_files(tmp_path, image_folder):
    """--jpeg-share: noisy crops saved by OpenCV's JPEG encoder at a quality drawn from --jpeg-quality,
    as cameras save noisy photos (an estimator trained without it read σ 8 there as 2); gray crops as
    gray JPEGs, colour ones with 4:2:0 chroma. The crops are exactly what cv2 writes and reads back."""
    import cv2

    from trainer.data import as_jpeg_files

    rng = np.random.default_rng(0)
    clean = torch.from_numpy(rng.random((8, 3, 32, 32)).astype(np.float32))
    crops = torch.round(clean * 255) / 255
    gray = torch.tensor([True, False] * 4)
    crops[gray] = crops[gray][:, :1].expand(-1, 3, -1, -1).clone()
    before = crops.clone()
    assert torch.equal(as_jpeg_files(crops, gray, 0.0, (90, 90), torch.Generator().manual_seed(0)), before)
    saved = as_jpeg_files(crops.clone(), gray, 1.0, (90.0, 90.0), torch.Generator().manual_seed(0))
    for i in range(8):
        image = (before[i].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
        if gray[i]:
            ok, buffer = cv2.imencode(".jpg", image[..., 0], [cv2.IMWRITE_JPEG_QUALITY, 90])
            expected = np.repeat(cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)[..., None], 3, axis=-1)
        else:
            ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])
            expected = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)[..., ::-1]
        np.testing.assert_array_equal((saved[i].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8), expected)
    half = as_jpeg_files(crops.clone(), gray, 0.5, (80, 98), torch.Generator().manual_seed(3))
    changed = int((half != before).flatten(1).any(dim=1).sum())
    assert 0 < changed < 8
    with pytest.raises(ValueError, match="JPEG share"):
        TrainConfig(task="denoise", data=[], out="", kind="estimator", jpeg_share=2.0)
    with pytest.raises(ValueError, match="LOW HIGH"):
        TrainConfig(task="denoise", data=[], out="", kind="estimator", jpeg_qualities=(95.0, 80.0))
    out = tmp_path / "jpeg.estimator.safetensors"
    assert trainer_main(["train-estimator", "--task", "denoise", "--data", str(image_folder), "--out", str(out), "--steps", "2",
                         "--batch", "2", "--patch", "24", "--device", "cpu", "--no-progress", "--jpeg-share", "0.5", "--jpeg-quality", "85", "95"]) == 0
    config = torch.load(out.with_name("jpeg.estimator.run") / "checkpoint.pt", weights_only=True)["config"]
    assert config["jpeg_share"] == 0.5 and list(config["jpeg_qualities"]) == [85.0, 95.0]


def test_the_estimator_trains_in_the_one_loop_and_resumes_exactly(tmp_path, image_folder):
    """train-estimator is the training loop with the LevelEstimation objective: checkpoints and exact resume too."""
    def run(out, steps, *extra):
        args = ["train-estimator", "--task", "denoise", "--data", str(image_folder), "--out", str(out), "--steps", "4",
                "--batch", "2", "--patch", "24", "--device", "cpu", "--no-progress", *extra]
        return trainer_main(args)

    straight = tmp_path / "straight.safetensors"
    assert run(straight, 4) == 0
    ckpt = load_checkpoint(tmp_path / "straight.run" / CHECKPOINT)
    assert ckpt["config"]["kind"] == "estimator" and ckpt["step"] == 4
    halves = tmp_path / "halves.safetensors"
    cfg = EstimatorConfig(task="denoise", data=[str(image_folder)], out=str(halves), steps=4, batch=2, patch=24, device="cpu")
    interrupted = cfg.training()
    interrupted.steps = 2
    train(interrupted, progress=False)
    assert run(halves, 4, "--resume") == 0
    a, info_a = load_model(straight, task="denoise", kind="estimator")
    b, info_b = load_model(halves, task="denoise", kind="estimator")
    assert info_a.steps == info_b.steps == 4
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


# --- auto (HAIR) -----------------------------------------------------------------------------------
def test_train_auto_defaults_to_hair_then_restore(auto_run, tmp_path):
    ckpt = load_checkpoint(auto_run / CHECKPOINT)
    assert ckpt["config"]["kind"] == "hair" and ckpt["step"] == 2 and ckpt["levels"] == [0.0]
    assert trainer_main(["export", str(auto_run), "--name", "auto.test", "--out", str(tmp_path)]) == 0
    path = tmp_path / "auto.test.safetensors"
    info = read_info(path)
    assert (info.task, info.kind, info.preset, info.steps) == ("auto", "hair", "tiny", 2)
    model, _ = load_model(path, task="auto", kind="hair")
    assert isinstance(model, HairNet)
    image = uint8_picture(44, 52)
    restorer = Restorer("auto", weights=str(path), device="cpu")
    out, report = restorer.restore_with_report(image, "auto")
    assert out.shape == image.shape and out.dtype == np.uint8
    assert report.selections.shape == (model.arch.generated_blocks, model.arch.candidates)
    assert np.array_equal(out, Restorer("auto", model=model, device="cpu").restore(image, 0))


def test_load_run_rebuilds_hair_from_its_checkpoint(auto_run):
    """Benchmarks read trainer run folders (``--auto-weights runs/auto_hair``): HAIR's own architecture record."""
    from trainer.baselines import load_run

    model = load_run(auto_run, "hair")
    assert isinstance(model, HairNet) and not model.training
    state = load_checkpoint(auto_run / CHECKPOINT)["model"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


# --- HAIR upcycled from a fixed network ------------------------------------------------------------
def _trained_fixed_weights(tmp_path: Path, seed: int = 3) -> tuple[Path, torch.nn.Module]:
    from napari_hyperres.core.weights import WeightsInfo, save_weights
    from trainer.models import architecture

    torch.manual_seed(seed)
    fixed = build("dedicated", architecture("dedicated", "tiny", 3))
    with torch.no_grad():  # kernels unlike a fresh init, as after training
        for p in fixed.parameters():
            p.add_(0.05 * torch.randn_like(p))
    info = WeightsInfo(name="auto.fixed", task="auto", kind="dedicated", architecture=fixed.arch.to_dict(), preset="tiny")
    return save_weights(tmp_path / "auto.fixed.safetensors", fixed.state_dict(), info), fixed.eval()


def test_upcycled_hair_computes_what_the_fixed_network_computes(tmp_path):
    from trainer.models import architecture, upcycle_into_hair

    path, fixed = _trained_fixed_weights(tmp_path)
    hair = build("hair", architecture("hair", "tiny", 3)).eval()
    upcycle_into_hair(hair, fixed.state_dict(), jitter=0.0)
    x = torch.rand(3, 3, 30, 34)
    with torch.no_grad():
        giv_before = hair.giv(x)
        assert not torch.allclose(hair.selections(giv_before)[0], hair.selections(giv_before)[1])  # images choose differently…
        assert torch.allclose(hair(x), fixed(x), atol=1e-5)  # …and still get the fixed network's output
    jittered = build("hair", architecture("hair", "tiny", 3))
    upcycle_into_hair(jittered, fixed.state_dict(), jitter=0.01, generator=torch.Generator().manual_seed(0))
    box = jittered.boxes[0].weight1.detach()
    assert not torch.equal(box[0], box[1]) and torch.allclose(box[0], box[1], atol=0.1 * float(box.std()))


def test_upcycled_hair_with_a_selected_decoder_computes_what_the_fixed_network_computes(tmp_path):
    from trainer.models import architecture, upcycle_into_hair

    _, fixed = _trained_fixed_weights(tmp_path)
    hair = build("hair", architecture("hair", "tiny", 3, select_decoder=True)).eval()
    upcycle_into_hair(hair, fixed.state_dict(), jitter=0.0)
    x = torch.rand(2, 3, 30, 34)
    with torch.no_grad():
        assert torch.allclose(hair(x), fixed(x), atol=1e-5)
    assert torch.equal(hair.decoder.upsample.weight[1], fixed.state_dict()["net.shared.upsample.weight"])


def test_upcycle_refuses_another_preset(tmp_path):
    from trainer.models import architecture, upcycle_into_hair

    _, fixed = _trained_fixed_weights(tmp_path)
    with pytest.raises(ValueError, match="same preset"):
        upcycle_into_hair(build("hair", architecture("hair", "small", 3)), fixed.state_dict())


def test_train_hair_init_from_fixed_weights(tmp_path, image_folder):
    """``--init-from`` a dedicated network's weights upcycles it: HAIR's shared layers start as its."""
    path, fixed = _trained_fixed_weights(tmp_path)
    run = tmp_path / "hair"
    args = ["train", "--task", "auto", "--kind", "hair", "--preset", "tiny", "--data", str(image_folder), "--out", str(run),
            "--steps", "1", "--batch", "2", "--patch", "24", "--lr", "1e-9", "--device", "cpu", "--no-progress", "--init-from", str(path)]
    assert trainer_main(args) == 0
    state = load_checkpoint(run / CHECKPOINT)["model"]
    head = "shared.head.weight"
    assert head in state and torch.allclose(state[head], fixed.state_dict()[f"net.{head}"], atol=1e-6)
    assert trainer_main(["export", str(run), "--name", "auto.up", "--out", str(tmp_path)]) == 0
    rounds = read_info(tmp_path / "auto.up.safetensors").extra["rounds"]  # the fixed network's training counts
    assert [r.get("kind") for r in rounds] == ["dedicated", None] and read_info(tmp_path / "auto.up.safetensors").steps == rounds[0]["steps"] + 1


def test_select_decoder_starts_from_a_plain_hair(tmp_path, auto_run, image_folder):
    """``--select-decoder --init-from`` a plain HAIR run: same outputs as the plain HAIR (without jitter),
    the decoder's candidates start as its shared decoder convs."""
    from trainer.models import architecture, select_hair_decoder

    plain = load_run(auto_run, "hair")
    plain_state = plain.state_dict()
    exact = build("hair", architecture("hair", "tiny", 3, select_decoder=True)).eval()
    select_hair_decoder(exact, plain_state, jitter=0.0)
    x = torch.rand(2, 3, 30, 34)
    with torch.no_grad():
        torch.testing.assert_close(exact(x), plain(x), atol=1e-5, rtol=1e-5)
    run = tmp_path / "hairdec"
    args = ["train", "--task", "auto", "--kind", "hair", "--select-decoder", "--preset", "tiny", "--data", str(image_folder),
            "--out", str(run), "--steps", "1", "--batch", "2", "--patch", "24", "--lr", "1e-9", "--device", "cpu",
            "--no-progress", "--init-from", str(auto_run / CHECKPOINT)]
    assert trainer_main(args) == 0
    state = load_checkpoint(run / CHECKPOINT)["model"]
    tail = state["decoder.tail.weight"]
    assert tail.shape[0] == exact.arch.candidates and "shared.tail.weight" not in state
    assert torch.allclose(tail[0], plain_state["shared.tail.weight"], atol=0.1 * float(tail.std()))
    assert trainer_main(["export", str(run), "--name", "auto.dec", "--out", str(tmp_path)]) == 0
    model, info = load_model(tmp_path / "auto.dec.safetensors", task="auto", kind="hair")
    assert model.arch.select_decoder
    assert [r.get("select_decoder") for r in info.extra["rounds"]] == [None, True]  # the round that added it says so


def test_select_decoder_is_a_hair_option(tmp_path, image_folder, capsys):
    assert trainer_main(train_args("denoise", image_folder, tmp_path / "bad", 1, "--select-decoder")) == 2
    assert "--select-decoder is a HAIR option" in capsys.readouterr().err


# --- HAIR selection penalties ----------------------------------------------------------------------
def test_selection_penalty_values():
    from trainer.selection import SelectionPenalty

    n = 4
    one_hot = torch.full((6, 2, n), -1e4)
    one_hot[torch.arange(6), :, torch.arange(6) % n] = 0.0  # each sample picks one candidate, all used alike-ish
    uniform = torch.zeros(6, 2, n)
    collapsed = torch.full((6, 2, n), -1e4)
    collapsed[..., 0] = 0.0
    entropy, balance = SelectionPenalty(entropy=1.0), SelectionPenalty(balance=1.0)
    assert float(entropy(uniform)) == pytest.approx(np.log(n), abs=1e-5)
    assert float(entropy(one_hot)) == pytest.approx(0.0, abs=1e-5)
    assert float(balance(uniform)) == pytest.approx(1.0, abs=1e-5)  # every candidate used equally
    assert float(balance(collapsed)) == pytest.approx(n, abs=1e-5)  # one candidate takes everything
    assert float(SelectionPenalty(entropy=0.5, balance=2.0)(uniform)) == pytest.approx(0.5 * np.log(n) + 2.0, abs=1e-5)
    assert not SelectionPenalty().active


def test_entropy_penalty_sharpens_selections():
    """A few optimiser steps on the penalty alone make every image's mixture more decided."""
    from conftest import tiny_hair_model

    from trainer.selection import SelectionPenalty

    net = tiny_hair_model().train()
    x = torch.rand(4, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    penalty = SelectionPenalty(entropy=1.0)
    with torch.no_grad():
        before = float(penalty(net.forward_with_logits(x)[1]))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(20):
        optimizer.zero_grad()
        penalty(net.forward_with_logits(x)[1]).backward()
        optimizer.step()
    with torch.no_grad():
        out, logits = net.forward_with_logits(x)
        assert float(penalty(logits)) < 0.5 * before
        torch.testing.assert_close(out, net(x))  # forward is forward_with_logits without the scores


def test_train_hair_with_selection_penalties(tmp_path, image_folder):
    run = tmp_path / "hair_penalised"
    args = ["train", "--task", "auto", "--kind", "hair", "--preset", "tiny", "--data", str(image_folder), "--out", str(run),
            "--steps", "2", "--batch", "2", "--patch", "24", "--device", "cpu", "--no-progress",
            "--selection-entropy", "1e-3", "--selection-balance", "5e-4"]
    assert trainer_main(args) == 0
    ckpt = load_checkpoint(run / CHECKPOINT)
    assert (ckpt["config"]["selection_entropy"], ckpt["config"]["selection_balance"]) == (1e-3, 5e-4) and ckpt["step"] == 2
    assert trainer_main(["export", str(run), "--name", "auto.pen", "--out", str(tmp_path)]) == 0
    (last,) = read_info(tmp_path / "auto.pen.safetensors").extra["rounds"]
    assert (last["selection_entropy"], last["selection_balance"], last["steps"]) == (1e-3, 5e-4, 2)


def test_selection_penalty_needs_hair(tmp_path, image_folder, capsys):
    assert trainer_main(train_args("denoise", image_folder, tmp_path / "bad", 1, "--selection-entropy", "1e-3")) == 2
    assert "use --kind hair" in capsys.readouterr().err


def test_as_8bit_files_rounds_and_clips_the_chosen_share():
    generator = torch.Generator().manual_seed(0)
    degraded = torch.rand(64, 1, 8, 8) * 1.4 - 0.2  # noise pushes values past both ends
    before = degraded.clone()
    as_8bit_files(degraded, 0.5, generator)
    files = (degraded != before).flatten(1).any(dim=1)
    assert 16 < int(files.sum()) < 48  # about half the samples, chosen per sample
    quantized = degraded[files]
    assert quantized.min() >= 0 and quantized.max() <= 1
    torch.testing.assert_close(quantized * 255, torch.round(quantized * 255))
    assert torch.equal(degraded[~files], before[~files])  # the rest keep their float noise
    untouched = before.clone()
    assert torch.equal(as_8bit_files(untouched, 0.0, generator), before)


def test_opponent_planes_replace_a_share_of_colour_crops_by_gray_planes(image_folder):
    paths = image_paths([str(image_folder)])  # two colour images, one gray
    _, gray = PatchSampler(paths, "rgb", 16, torch.Generator().manual_seed(3)).sample(300)
    assert 0.2 < float(gray.float().mean()) < 0.45  # a third of the crops: the gray image
    _, gray = PatchSampler(paths, "rgb", 16, torch.Generator().manual_seed(3), opponent_planes=0.5).sample(300)
    assert 0.55 < float(gray.float().mean()) < 0.8  # a third, plus half of the colour two thirds
    crops, gray = PatchSampler(paths, "rgb", 16, torch.Generator().manual_seed(3), opponent_planes=1.0).sample(60)
    assert bool(gray.all())  # every colour crop became a plane, repeated into the three channels
    assert torch.equal(crops[:, 0], crops[:, 1]) and torch.equal(crops[:, 0], crops[:, 2])
    assert crops.min() >= 0 and crops.max() <= 1
    crop = torch.rand(3, 8, 8)
    for k in range(3):
        expected = rgb_to_opponent(crop.permute(1, 2, 0).numpy())[..., k]
        np.testing.assert_allclose(opponent_plane(crop, k)[1].numpy(), expected, atol=1e-6)


def test_shares_are_checked(tmp_path, image_folder, capsys):
    with pytest.raises(SystemExit):
        trainer_main(train_args("denoise", image_folder, tmp_path / "bad", 1, "--opponent-planes", "1.5"))
    assert "expected a share from 0 to 1" in capsys.readouterr().err
    assert trainer_main(train_args("denoise", image_folder, tmp_path / "ok", 1, "--opponent-planes", "1")) == 0
    assert load_checkpoint(tmp_path / "ok" / CHECKPOINT)["config"]["opponent_planes"] == 1.0


def test_a_shape_no_preset_names_trains_and_loads(tmp_path, image_folder, capsys):
    """``--preset FxB`` trains that shape (bench_train compares such shapes); a bad one is refused."""
    with pytest.raises(SystemExit):
        trainer_main(train_args("denoise", image_folder, tmp_path / "bad", 1, "--preset", "8by3"))
    assert "FEATURESxBLOCKS" in capsys.readouterr().err
    run = tmp_path / "shape"
    assert trainer_main(train_args("denoise", image_folder, run, 1, "--preset", "6x3", "--levels", "15")) == 0
    assert load_checkpoint(run / CHECKPOINT)["architecture"] == {"in_channels": 3, "features": 6, "blocks": 3, "init": "conv", "head": "stride2", "control_centre": 0.0, "control_scale": 1.0}
    assert trainer_main(["export", str(run), "--name", "denoise.shape"]) == 0
    restorer = Restorer("denoise", weights=str(run / "denoise.shape.safetensors"), device="cpu")
    assert restorer.restore(uint8_picture(), 15).shape == uint8_picture().shape


def test_the_pixel_unshuffle_head_trains_and_loads(tmp_path, image_folder, capsys):
    """``--preset 6x3+unshuffle``: FFDNet's head (bench_train compares it with the paper's); the
    exported file rebuilds it, and gray images go through its folded head."""
    with pytest.raises(SystemExit):
        trainer_main(train_args("denoise", image_folder, tmp_path / "bad", 1, "--preset", "6x3+sideways"))
    assert "head" in capsys.readouterr().err
    run = tmp_path / "unshuffle"
    assert trainer_main(train_args("denoise", image_folder, run, 1, "--preset", "6x3+unshuffle", "--levels", "15")) == 0
    assert load_checkpoint(run / CHECKPOINT)["architecture"]["head"] == "unshuffle"
    assert trainer_main(["export", str(run), "--name", "denoise.unshuffle"]) == 0
    restorer = Restorer("denoise", weights=str(run / "denoise.unshuffle.safetensors"), device="cpu")
    assert restorer.model.shared.head.in_channels == 12
    picture = uint8_picture()
    assert restorer.restore(picture, 15).shape == picture.shape
    gray = picture[..., 0]
    assert restorer.restore(gray, 15).shape == gray.shape
    # a stride-2 file continues as +unshuffle: its head converted, the same network at the start
    plain = tmp_path / "plain"
    assert trainer_main(train_args("denoise", image_folder, plain, 1, "--preset", "6x3", "--levels", "15")) == 0
    assert trainer_main(["export", str(plain), "--name", "denoise.plain"]) == 0
    from napari_hyperres.core.weights import load_weights
    from trainer.loop import with_unshuffle_head

    state, _ = load_weights(str(plain / "denoise.plain.safetensors"))
    target = build("hyperres", architecture("hyperres", "6x3+unshuffle", 3))
    converted = with_unshuffle_head(state, target)
    assert converted["shared.head.weight"].shape == (6, 12, 3, 3)
    target.load_state_dict(converted)
    source = Restorer("denoise", weights=str(plain / "denoise.plain.safetensors"), device="cpu").model
    x = torch.rand(1, 3, 18, 14)
    with torch.no_grad():
        torch.testing.assert_close(target.eval()(x, 0.06), source(x, 0.06), rtol=1e-5, atol=1e-5)
    continued = tmp_path / "continued"
    assert trainer_main(train_args("denoise", image_folder, continued, 1, "--preset", "6x3+unshuffle", "--levels", "15",
                                   "--init-from", str(plain / "denoise.plain.safetensors"))) == 0


def test_training_in_contiguous_tensors_takes_the_same_steps(tmp_path, image_folder):
    """``channels_last`` only changes the memory layout: the same seed gives the same weights."""
    weights = []
    for channels_last in (True, False):
        cfg = TrainConfig(task="denoise", data=[str(image_folder)], out=str(tmp_path / str(channels_last)), levels=[15.0],
                          preset="tiny", steps=2, batch=2, patch=24, device="cpu", channels_last=channels_last)
        weights.append(load_checkpoint(train(cfg, progress=False) / CHECKPOINT)["model"])
    for name, value in weights[0].items():
        torch.testing.assert_close(weights[1][name], value, rtol=1e-4, atol=1e-6)


def test_log_level_balance_keeps_the_value_and_weighs_relative_errors():
    """``combine_levels(..., "log")``: the sum's value, the gradient of mean · Σ log Lᵢ; one level: the plain loss."""
    from trainer.objectives import combine_levels

    params = torch.tensor([0.2, 0.8], requires_grad=True)
    losses = [params[0] ** 2, params[1] ** 2]  # 0.04 and 0.64
    balanced = combine_levels(losses, "log")
    assert float(balanced) == pytest.approx(0.68)
    balanced.backward()
    mean = (0.04 + 0.64) / 2
    expected = torch.tensor([mean * 2 / 0.2, mean * 2 / 0.8])  # m · d(log p²)/dp = m · 2/p
    torch.testing.assert_close(params.grad, expected)
    single = torch.tensor(0.3, requires_grad=True)
    combine_levels([single * 2], "log").backward()
    assert float(single.grad) == pytest.approx(2.0)  # one level: the plain loss, unweighted
    with pytest.raises(ValueError, match="level balance"):
        combine_levels(losses, "max")


def test_level_weights_multiply_each_levels_term_after_the_balance(tmp_path, image_folder, capsys):
    """``level_weights``: each level's term times its factor (sum and log); one per level or refused, on the CLI too."""
    from trainer.objectives import combine_levels

    params = torch.tensor([0.2, 0.8], requires_grad=True)
    losses = [params[0] ** 2, params[1] ** 2]  # 0.04 and 0.64
    assert float(combine_levels(losses, "sum", [2.0, 1.0])) == pytest.approx(0.72)
    combine_levels(losses, "log", [2.0, 1.0]).backward()
    mean = (0.04 + 0.64) / 2
    torch.testing.assert_close(params.grad, torch.tensor([2 * mean * 2 / 0.2, mean * 2 / 0.8]))
    with pytest.raises(ValueError, match="one per level"):
        combine_levels(losses, "sum", [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="positive"):
        TrainConfig(task="denoise", data=[], out="", level_weights=[1.0, 0.0])
    run = tmp_path / "tilted"
    assert trainer_main(train_args("denoise", image_folder, run, 1, "--level-weights", "2", "1", "1", "1")) == 0
    assert f"run saved in {run} (last logged training loss " in capsys.readouterr().out  # reviewer: --no-progress said nothing else
    assert load_checkpoint(run / CHECKPOINT)["config"]["level_weights"] == [2.0, 1.0, 1.0, 1.0]
    assert trainer_main(train_args("denoise", image_folder, tmp_path / "bad", 1, "--level-weights", "2", "1")) != 0
    assert "2 level weights for 4 training levels" in capsys.readouterr().err


def test_level_balance_is_a_training_option(tmp_path, image_folder, capsys):
    run = tmp_path / "log"
    assert trainer_main(train_args("denoise", image_folder, run, 1, "--level-balance", "log")) == 0
    assert load_checkpoint(run / CHECKPOINT)["config"]["level_balance"] == "log"
    assert trainer_main(["export", str(run), "--name", "denoise.log"]) == 0
    (last,) = read_info(run / "denoise.log.safetensors").extra["rounds"]
    assert last["level_balance"] == "log"  # the weights say how they were trained
    assert read_info(run / "denoise.log.safetensors").license == "BSD-3-Clause"
    assert trainer_main(["export", str(run), "--name", "denoise.mine", "--license", "CC-BY-4.0"]) == 0  # a plugin author's own
    assert read_info(run / "denoise.mine.safetensors").license == "CC-BY-4.0"
    with pytest.raises(SystemExit):
        trainer_main(train_args("denoise", image_folder, tmp_path / "bad", 1, "--level-balance", "max"))
    assert "invalid choice" in capsys.readouterr().err


def test_pixel_loss_l2_with_the_log_balance_is_the_gradient_of_the_summed_psnr(tmp_path, image_folder, capsys):
    """``--pixel-loss l2``: each level's loss is its MSE; balanced by log, its gradient is that of
    −Σ PSNRᵢ times m·ln 10 / 10 (m: the levels' mean MSE); the run and the exported file record it."""
    from trainer.objectives import combine_levels, pixel_loss

    restored = torch.tensor([[0.1, 0.5], [0.2, 0.9]], requires_grad=True)
    clean = torch.tensor([[0.0, 0.5], [0.5, 0.5]])
    assert float(pixel_loss(restored, clean, "l1")) == pytest.approx((0.1 + 0.3 + 0.4) / 4)
    assert float(pixel_loss(restored, clean, "l2")) == pytest.approx((0.01 + 0.09 + 0.16) / 4)
    with pytest.raises(ValueError, match="pixel loss"):
        pixel_loss(restored, clean, "l3")
    # two levels' MSEs, balanced by log: the gradient is m · ∇ Σ log MSEᵢ = −m · ln 10 / 10 · ∇ Σ PSNRᵢ
    levels = [restored[0], restored[1]]
    mses = [pixel_loss(r, c, "l2") for r, c in zip(levels, clean, strict=True)]
    combine_levels(mses, "log").backward()
    psnr_input = restored.detach().clone().requires_grad_(True)
    psnrs = [-10 * torch.log10(pixel_loss(r, c, "l2")) for r, c in zip(psnr_input, clean, strict=True)]
    (-sum(psnrs)).backward()
    m = float(sum(mses)) / 2
    torch.testing.assert_close(restored.grad, psnr_input.grad * m * math.log(10) / 10)

    run = tmp_path / "l2"
    assert trainer_main(train_args("denoise", image_folder, run, 1, "--pixel-loss", "l2", "--level-balance", "log")) == 0
    assert load_checkpoint(run / CHECKPOINT)["config"]["pixel_loss"] == "l2"
    assert trainer_main(["export", str(run), "--name", "denoise.l2"]) == 0
    (last,) = read_info(run / "denoise.l2.safetensors").extra["rounds"]
    assert last["pixel_loss"] == "l2"
    with pytest.raises(SystemExit):
        trainer_main(train_args("denoise", image_folder, tmp_path / "bad", 1, "--pixel-loss", "huber"))
    assert "invalid choice" in capsys.readouterr().err


def test_centred_control_is_a_training_option(tmp_path, image_folder, capsys):
    """--centred-control: the meta blocks see c centred on the training levels, ±1 there; the
    exported file rebuilds that network and says so; a plain file continues as the same network;
    kinds without meta blocks refuse it; a resumed run keeps it."""
    from trainer.loop import _init_from

    run = tmp_path / "centred"
    assert trainer_main(train_args("denoise", image_folder, run, 1, "--levels", "15", "75", "--centred-control")) == 0
    arch = load_checkpoint(run / CHECKPOINT)["architecture"]
    assert arch["control_centre"] == pytest.approx(45 / 255) and arch["control_scale"] == pytest.approx(30 / 255)
    assert trainer_main(["export", str(run), "--name", "denoise.centred"]) == 0
    weights = run / "denoise.centred.safetensors"
    (last,) = read_info(weights).extra["rounds"]
    assert last["centred_control"] is True
    restorer = Restorer("denoise", weights=str(weights), device="cpu")
    assert restorer.model.arch.control_scale == pytest.approx(30 / 255)
    picture = uint8_picture()
    assert restorer.restore(picture, 25).shape == picture.shape
    # a plain file continues as the same network under a centred control
    plain = tmp_path / "plain"
    assert trainer_main(train_args("denoise", image_folder, plain, 1, "--levels", "15", "75")) == 0
    assert trainer_main(["export", str(plain), "--name", "denoise.plain"]) == 0
    source = Restorer("denoise", weights=str(plain / "denoise.plain.safetensors"), device="cpu").model
    target = build("hyperres", Architecture(**arch))
    _init_from(target, str(plain / "denoise.plain.safetensors"))
    x = torch.rand(1, 3, 18, 14)
    with torch.no_grad():
        for c in (5 / 255, 25 / 255, 85 / 255):
            torch.testing.assert_close(target.eval()(x, c), source(x, c), rtol=1e-5, atol=1e-5)
    # and back: a centred checkpoint seeds a plain run as the same network
    back = build("hyperres", source.arch)
    _init_from(back, str(run / CHECKPOINT))
    with torch.no_grad():
        torch.testing.assert_close(back.eval()(x, 0.1), restorer.model(x, 0.1), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="centred-control"):
        TrainConfig(task="denoise", data=[str(image_folder)], out=str(tmp_path / "d"), kind="dedicated", centred_control=True)
    capsys.readouterr()
    assert trainer_main(train_args("denoise", image_folder, run, 2, "--levels", "15", "75", "--resume")) == 2
    assert "centred_control True → False" in capsys.readouterr().err


def test_other_downscalers_replace_a_share_of_sr_crops(seed):
    """A picked crop is the clean crop downscaled by area / bilinear / bicubic without antialiasing
    and brought back up; the others stay the task's; share 0 changes nothing."""
    from napari_hyperres.core.plugins import get_task
    from trainer.data import with_other_downscalers

    task = get_task("sr")
    clean = torch.rand(8, 3, 24, 24)
    degraded = task.degrade(clean, 2.0, None)
    untouched = degraded.clone()
    assert with_other_downscalers(degraded.clone(), clean, 2.0, 0.0, torch.Generator().manual_seed(0)).equal(untouched)
    mixed = with_other_downscalers(degraded.clone(), clean, 2.0, 0.5, torch.Generator().manual_seed(1))
    changed = [i for i in range(8) if not torch.allclose(mixed[i], untouched[i], atol=1e-6)]
    assert 0 < len(changed) < 8
    from napari_hyperres.core.degradations import bicubic_resize

    candidates = []
    for mode in ("area", "bilinear", "bicubic"):
        options = {} if mode == "area" else {"align_corners": False, "antialias": False}
        low = torch.nn.functional.interpolate(clean, size=(12, 12), mode=mode, **options)
        candidates.append(bicubic_resize(low, (24, 24)))
    for i in changed:
        assert any(torch.allclose(mixed[i], c[i], atol=1e-6) for c in candidates)


def test_other_downscalers_are_refused_for_a_task_that_does_not_scale(tmp_path, image_folder, capsys):
    assert trainer_main(train_args("denoise", image_folder, tmp_path / "bad", 1, "--other-downscalers", "0.3")) != 0
    assert "for scaling tasks such as sr" in capsys.readouterr().err
    run = tmp_path / "sr"
    assert trainer_main(train_args("sr", image_folder, run, 1, "--other-downscalers", "1")) == 0
    assert load_checkpoint(run / CHECKPOINT)["config"]["other_downscalers"] == 1.0


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--batch", "0", "--batch: expected at least 1, got 0"),
    ("--val-every", "0", "--val-every: expected at least 1, got 0"),
    ("--ckpt-every", "0", "--ckpt-every: expected at least 1, got 0"),
    ("--steps", "0", "--steps: expected at least 1, got 0"),
    ("--levels", "500", "level 500 is outside 0–100"),
])
def test_impossible_training_settings_are_refused_in_one_line(tmp_path, image_folder, capsys, option, value, message):
    """Before: --batch 0 and --val-every 0 ended in tracebacks, --steps 0 "saved" a run with no
    checkpoint, and --levels 500 trained a level that eval and the widget then refuse."""
    with pytest.raises(SystemExit) if option != "--levels" else contextlib.nullcontext():
        assert trainer_main(train_args("denoise", image_folder, tmp_path / "run", 1, option, value)) != 0
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / CHECKPOINT).exists()


def test_a_shipped_file_continues_in_a_deeper_preset_as_the_same_network(tmp_path, image_folder, capsys):
    """--init-from a file with fewer residual blocks: the extra blocks start as the identity at
    every level (second conv zero), so the deeper network computes what the file did, then trains;
    a shallower target than the file is refused, not cut."""
    from trainer.loop import _init_from, with_added_blocks

    plain = tmp_path / "plain"
    assert trainer_main(train_args("denoise", image_folder, plain, 1, "--preset", "6x2", "--levels", "15", "50")) == 0
    assert trainer_main(["export", str(plain), "--name", "denoise.plain"]) == 0
    weights = str(plain / "denoise.plain.safetensors")
    source = Restorer("denoise", weights=weights, device="cpu").model
    deeper = build("hyperres", architecture("hyperres", "6x5", 3))
    _init_from(deeper, weights)
    grown = deeper.state_dict()
    assert torch.count_nonzero(grown["body.4.conv2.weight_b"]) == 0 and torch.count_nonzero(grown["body.4.conv1.weight_b"]) > 0
    x = torch.rand(1, 3, 18, 14)
    with torch.no_grad():
        for c in (5 / 255, 15 / 255, 50 / 255, 90 / 255):
            torch.testing.assert_close(deeper.eval()(x, c), source(x, c), rtol=1e-5, atol=1e-5)
    state = source.state_dict()
    assert with_added_blocks(state, source) is state  # the same depth: nothing to grow
    continued = tmp_path / "deeper"
    assert trainer_main(train_args("denoise", image_folder, continued, 2, "--preset", "6x5", "--levels", "15", "50",
                                   "--init-from", weights)) == 0
    trained = load_checkpoint(continued / CHECKPOINT)["model"]
    assert torch.count_nonzero(trained["body.4.conv2.weight_b"]) > 0  # the new blocks learn
    capsys.readouterr()
    shallower = tmp_path / "shallower"
    assert trainer_main(train_args("denoise", image_folder, shallower, 1, "--preset", "6x1", "--levels", "15", "50",
                                   "--init-from", weights)) == 2
    assert "does not fit" in capsys.readouterr().err


def test_log_rows_count_the_steps_they_cover(tmp_path, image_folder):
    """A trainer review: a run's last row read steps_per_s 0.0 where --steps was no multiple of 50, and a
    time-budget run logged no loss for its last steps."""
    run = tmp_path / "run"
    assert trainer_main(train_args("denoise", image_folder, run, 3, "--levels", "25")) == 0
    [row] = [r for r in read_log(run) if "loss" in r]
    assert row["step"] == 3 and row["steps_per_s"] > 0
    timed = tmp_path / "timed"
    assert trainer_main(train_args("denoise", image_folder, timed, 10**6, "--levels", "25", "--time-budget", "1.5")) == 0
    rows = [r for r in read_log(timed) if "loss" in r]
    assert rows and rows[-1]["step"] == load_checkpoint(timed / CHECKPOINT)["step"] and rows[-1]["steps_per_s"] > 0


def test_a_patch_larger_than_the_images_is_said_and_far_larger_refused(tmp_path, image_folder, capsys):
    """A trainer review: --patch 400 on 180² images trained on mirror-padded crops without a word; a patch
    far larger than every image (a review's 2000 on 180²: ~22 GB) is refused before any training."""
    args = ["train", "--task", "denoise", "--data", str(image_folder), "--preset", "tiny", "--batch", "2", "--device", "cpu",
            "--no-progress", "--steps", "1", "--levels", "25"]
    assert trainer_main([*args, "--patch", "64", "--out", str(tmp_path / "a")]) == 0
    assert "note: --patch 64 is larger than 3 of the 3 training images (largest side 56 px): their crops are mirror-padded" in capsys.readouterr().err
    assert trainer_main([*args, "--patch", "240", "--out", str(tmp_path / "b")]) == 2
    assert "--patch 240 is far larger than every training image (the largest side is 56 px)" in capsys.readouterr().err


def test_a_network_that_does_not_fit_names_the_first_parameter(tmp_path, image_folder, denoise_run, capsys):
    """A trainer review: --init-from a file of another preset said only "Error(s) in loading state_dict for HyperResNet:"."""
    first = tmp_path / "tiny.safetensors"
    assert trainer_main(["export", str(denoise_run), "--name", "denoise.t", "--out", str(first)]) == 0
    capsys.readouterr()
    args = ["train", "--task", "denoise", "--data", str(image_folder), "--preset", "small", "--batch", "2", "--patch", "24",
            "--device", "cpu", "--no-progress", "--steps", "1", "--levels", "15", "50", "--init-from", str(first), "--out", str(tmp_path / "s")]
    assert trainer_main(args) == 2
    err = capsys.readouterr().err
    assert re.search(r"does not fit this run's network \(\S+ \(\d+(, \d+)*\) in the file, \(\d+(, \d+)*\) here, and \d+ more\)", err), err


def test_a_refused_run_leaves_no_folder(tmp_path, image_folder):
    """A trainer review: a wrong --data, or --resume with no checkpoint, left an empty --out folder behind."""
    assert trainer_main(train_args("denoise", tmp_path / "nowhere", tmp_path / "a", 1)) == 2
    assert trainer_main(train_args("denoise", image_folder, tmp_path / "b", 1, "--resume")) == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_torn_last_log_row_does_not_stop_a_resume(tmp_path):
    """A diff review: a row cut by a kill mid-write made the log trimming fail with JSONDecodeError."""
    from trainer.loop import _drop_log_after

    log = tmp_path / LOG
    log.write_text('{"step": 50, "loss": 1.0}\n{"step": 100, "loss": 0.9}\n{"step": 1')
    _drop_log_after(log, 100)
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [50, 100]
