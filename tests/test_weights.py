"""napari_hyperres.core.weights: round trip with metadata, and clear errors naming the file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
from conftest import tiny_model, write_tiny_weights

from napari_hyperres.core.atomic import atomic_write
from napari_hyperres.core.weights import (
    WeightsInfo,
    load_model,
    load_weights,
    read_info,
    resolve_weights,
    save_weights,
)
from napari_hyperres.engine import Restorer
from napari_hyperres.errors import WeightsError


def test_save_load_round_trip_with_metadata(tmp_path, seed):
    model = tiny_model(3)
    info = WeightsInfo(
        name="denoise.tiny", task="denoise", architecture=model.arch.to_dict(), preset="tiny",
        train_levels=[15.0, 35.0], training_data=["BSD400"], steps=12, validation={"Set12": {"25": {"psnr": 30.1}}},
    )
    path = save_weights(tmp_path / "w.safetensors", model.state_dict(), info)
    assert read_info(path) == info
    tensors, loaded_info = load_weights(path)
    assert loaded_info == info
    assert tensors.keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(tensors[key], value)
    rebuilt, _ = load_model(path, task="denoise", kind="hyperres")
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x, 0.1), model(x, 0.1))
    assert not rebuilt.training


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    """Not mkstemp's 0600: restored images must be readable like any file the user writes."""
    path = tmp_path / "out.bin"
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(b"data"))
    assert path.read_bytes() == b"data"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def fail(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_missing_weights_name(tmp_path):
    with pytest.raises(WeightsError, match="no weights file or shipped weights named 'nothing-here'"):
        resolve_weights("nothing-here")


def test_truncated_file(tmp_path):
    path = write_tiny_weights(tmp_path / "full.safetensors", "denoise", 3)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WeightsError, match="cut.safetensors"):
        load_model(cut)


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(b"\x00\x01 this is not a safetensors file" * 20)
    with pytest.raises(WeightsError, match="garbage.safetensors"):
        load_weights(path)


def test_file_without_metadata(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(2)}, str(path))
    with pytest.raises(WeightsError, match="plain.safetensors.*metadata"):
        load_model(path)


def test_wrong_task(tmp_path):
    path = write_tiny_weights(tmp_path / "dn.safetensors", "denoise", 3)
    with pytest.raises(WeightsError, match="dn.safetensors.*'denoise', not 'sr'"):
        load_model(path, task="sr")
    with pytest.raises(WeightsError, match="dn.safetensors"):
        Restorer("sr", weights=str(path))


def test_wrong_kind(tmp_path):
    path = write_tiny_weights(tmp_path / "dn.safetensors", "denoise", 3)
    with pytest.raises(WeightsError, match="dn.safetensors.*'hyperres'.*'estimator'"):
        load_model(path, kind="estimator")


def test_architecture_mismatch(tmp_path):
    model = tiny_model(3)
    wrong = dict(model.arch.to_dict(), features=16)
    path = save_weights(tmp_path / "mismatch.safetensors", model.state_dict(),
                        WeightsInfo(name="x", task="denoise", architecture=wrong))
    with pytest.raises(WeightsError, match="mismatch.safetensors.*do not match architecture"):
        load_model(path)


def test_unknown_architecture_keys(tmp_path):
    model = tiny_model(3)
    path = save_weights(tmp_path / "odd.safetensors", model.state_dict(),
                        WeightsInfo(name="x", task="denoise", architecture={"colours": 3}))
    with pytest.raises(WeightsError, match="does not fit"):
        load_model(path)


def test_channel_count_must_fit_the_task(tmp_path):
    gray = write_tiny_weights(tmp_path / "gray.safetensors", "denoise", 1)
    with pytest.raises(WeightsError, match="1 input channel"):
        Restorer("denoise", weights=str(gray))


@pytest.mark.parametrize(
    "level, note",
    [(25.0, ""), (15.0, ""), (50.0, ""), (5.0, "below the trained σ 15–50: extrapolated"), (75.5, "above the trained σ 15–50: extrapolated"),
     (14.9, ""), (14.8, "below the trained σ 15–50: extrapolated"), (50.4, ""), (50.6, "above the trained σ 15–50: extrapolated")],
)  # within 1 % of the end level: an estimate's digits
def test_extrapolation_names_levels_outside_the_trained_ones(level, note):
    info = WeightsInfo(name="denoise.x", task="denoise", train_levels=[50.0, 15.0, 35.0])
    assert info.extrapolation(level, "σ") == note


def test_a_level_below_a_wide_log_range_is_extrapolated():
    """A newcomer's review: microscopy.lite trained at 5–5,000 photons; 1 % of that span (50 photons) let
    --level 2 pass as trained, while denoise at σ 5 (trained 15–75) said "extrapolated"."""
    info = WeightsInfo(name="microscopy.x", task="microscopy", train_levels=[5.0, 12.0, 30.0, 100.0, 1000.0, 5000.0])
    assert info.extrapolation(2.0, "photons") == "below the trained photons 5–5000: extrapolated"
    assert info.extrapolation(4.97, "photons") == "" and info.extrapolation(5040.0, "photons") == ""


def test_no_extrapolation_note_without_levels_or_for_other_kinds():
    assert WeightsInfo(name="x", task="denoise", train_levels=[]).extrapolation(99, "σ") == ""
    assert WeightsInfo(name="x", task="auto", kind="hair", train_levels=[0.0]).extrapolation(1, "") == ""
    assert WeightsInfo(name="x", task="denoise", kind="estimator", train_levels=[5.0, 75.0]).extrapolation(99, "σ") == ""


def test_a_run_folder_or_a_checkpoint_given_as_weights_says_to_export_it(tmp_path):
    """A trainer review: `eval --weights RUN/checkpoint.pt` was told to "re-download or re-export it", and
    `--weights RUN` that "it does not exist"."""
    from napari_hyperres.core.weights import read_info, resolve_weights
    from napari_hyperres.errors import WeightsError

    run = tmp_path / "run"
    run.mkdir()
    torch.save({"step": 1}, run / "checkpoint.pt")
    with pytest.raises(WeightsError, match=r"is a folder \(a training run: export it first, `python -m trainer export RUN --name NAME`\)"):
        resolve_weights(run)
    with pytest.raises(WeightsError, match=r"a training checkpoint, not a weights file; export its run first: `python -m trainer export .*run --name NAME`"):
        read_info(resolve_weights(run / "checkpoint.pt"))


def test_extrapolation_slack_at_negative_and_zero_end_levels():
    """A diff review: a plugin's levels −3–3 called the trained −3 "above … extrapolated"; an end of 0 had no slack."""
    info = WeightsInfo(name="ev.x", task="ev", train_levels=[-3.0, 0.0, 3.0])
    assert info.extrapolation(-3.0, "EV") == "" and info.extrapolation(-3.02, "EV") == ""
    assert info.extrapolation(-3.1, "EV") == "below the trained EV -3–3: extrapolated"
    zero = WeightsInfo(name="z.x", task="z", train_levels=[0.0, 10.0])
    assert zero.extrapolation(-0.05, "u") == "" and zero.extrapolation(-0.2, "u").startswith("below")


def test_a_folder_named_like_shipped_weights_does_not_hide_them(tmp_path, monkeypatch):
    """A diff review: a run's --out "denoise.lite" in the current folder made resolve_weights("denoise.lite") fail."""
    from napari_hyperres.core.weights import PRETRAINED_DIR, resolve_weights

    (tmp_path / "denoise.lite").mkdir()
    monkeypatch.chdir(tmp_path)
    assert resolve_weights("denoise.lite") == PRETRAINED_DIR / "denoise.lite.safetensors"


def test_the_meta_count_that_guards_loading_counts_what_is_built():
    """``build_model`` counts a file's network on the meta device before building it (a hostile architecture is
    refused without allocating), with :class:`ShapesOnly` skipping the values initialisation computes (on the
    meta device they cost each process 1.6-2 s, BENCHMARKS.md). The shipped files' architectures and the
    trainer's baselines: the count equals the built network's."""
    from napari_hyperres.core.weights import (
        MODEL_BUILDERS,
        PRETRAINED_DIR,
        ShapesOnly,
        list_weights,
    )
    from trainer.models import baseline_builders

    builders = {**MODEL_BUILDERS, **baseline_builders()}
    cases = [(info.kind, info.architecture) for info in list_weights()]
    assert {kind for kind, _ in cases} >= {"hyperres", "hair"} and PRETRAINED_DIR.is_dir()
    lite = next(arch for kind, arch in cases if kind == "hyperres")
    cases += [("dedicated", lite), ("adafm", lite), ("hyperres", {**lite, "head": "unshuffle"})]
    for kind, architecture in cases:
        with torch.device("meta"), ShapesOnly():
            shapes = {name: tuple(p.shape) for name, p in builders[kind](architecture).named_parameters()}
        built = {name: tuple(p.shape) for name, p in builders[kind](architecture).named_parameters()}
        assert shapes == built, (kind, architecture)


def test_shapes_only_keeps_the_shapes_of_what_a_builder_might_write():
    """A diff review: ``torch.randn(size=...)`` came back a scalar and in-place reshapes were skipped under
    :class:`ShapesOnly`; a builder written that way would have been counted wrong."""
    from napari_hyperres.core.weights import ShapesOnly

    def build():
        weight = torch.randn(size=(3, 4)) * 0.1
        bias = torch.zeros(4)
        bias.unsqueeze_(0)
        table = torch.rand(2, 5)
        table.t_()
        return weight, bias, table

    with torch.device("meta"), ShapesOnly():
        shapes = [tuple(t.shape) for t in build()]
    assert shapes == [tuple(t.shape) for t in build()] == [(3, 4), (1, 4), (5, 2)]
