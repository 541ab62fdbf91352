"""napari_hyperres.core.tasks: the built-in Task records, level checks, degrade/prepare/make_input."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
from conftest import smooth_image

from napari_hyperres.core.tasks import DEJPEG, DENOISE, SR, Task, divide_by_255
from napari_hyperres.errors import LevelRangeError

BUILTINS = [DENOISE, DEJPEG, SR]


@pytest.mark.parametrize("task", BUILTINS, ids=lambda t: t.name)
def test_builtin_task_record(task):
    low, high = task.level_range
    assert task.name == task.name.lower() and " " not in task.name
    assert low <= task.default_level <= high
    assert all(low <= level <= high for level in task.train_levels)
    assert task.in_channels == (1 if task.channels == "gray" else 3)
    assert task.eval_protocol and task.title and task.unit
    assert task.normalize is divide_by_255 and task.normalize(51) == pytest.approx(0.2)


@pytest.mark.parametrize("task", BUILTINS, ids=lambda t: t.name)
def test_check_level_accepts_the_range_and_rejects_outside(task):
    low, high = task.level_range
    assert task.check_level(low) == low and task.check_level(str(high)) == high
    for bad in (low - 1, high + 1):
        with pytest.raises(LevelRangeError, match=task.name) as info:
            task.check_level(bad)
        assert isinstance(info.value, ValueError)
    with pytest.raises(LevelRangeError, match="expected a number"):
        task.check_level("loud")


@pytest.mark.parametrize("task", BUILTINS, ids=lambda t: t.name)
def test_degrade_keeps_shape_and_dtype(task):
    clean = smooth_image(32, 40, task.in_channels).repeat(2, 1, 1, 1)
    out = task.degrade(clean, task.default_level, torch.Generator().manual_seed(0))
    assert out.shape == clean.shape and out.dtype == clean.dtype
    assert not torch.equal(out, clean)


@pytest.mark.parametrize("task", BUILTINS, ids=lambda t: t.name)
def test_degrade_per_sample_levels(task):
    clean = smooth_image(32, 32, task.in_channels).repeat(2, 1, 1, 1)
    levels = torch.tensor(task.train_levels[:2])
    out = task.degrade(clean, levels, torch.Generator().manual_seed(0))
    single = task.degrade(clean[1:], float(levels[1]), torch.Generator().manual_seed(0))
    assert out.shape == clean.shape
    if task is not DENOISE:  # noise draws differ with the batch size; deterministic tasks match exactly
        torch.testing.assert_close(out[1:], single)


def test_denoise_degrade_is_sigma_over_255():
    clean = torch.full((1, 3, 64, 64), 0.5)
    noisy = DENOISE.degrade(clean, 25.0, torch.Generator().manual_seed(0))
    assert abs(float((noisy - clean).std()) - 25 / 255) < 0.003


def test_sr_prepare_of_make_input_matches_degrade_shape():
    clean = smooth_image(36, 30, 3)
    low = SR.simulate_input(clean, 3.0)
    assert low.shape == (1, 3, 12, 10)
    assert SR.prepare(low, 3.0).shape == clean.shape == SR.degrade(clean, 3.0).shape
    assert SR.crop_border(3.0) == 3 and SR.crop_border(2.5) == 3


def test_simulate_input_defaults_to_degrade():
    clean = smooth_image(16, 16, 1)
    torch.testing.assert_close(DEJPEG.simulate_input(clean, 30.0), DEJPEG.degrade(clean, 30.0))


def test_task_validates_itself():
    base = dict(name="t", title="T", unit="u", level_range=(0.0, 10.0), default_level=5.0, train_levels=(1.0,),
                channels="gray", degrade=lambda x, level, generator=None: x)
    assert Task(**base).in_channels == 1
    with pytest.raises(ValueError, match="low < high"):
        Task(**{**base, "level_range": (10.0, 0.0)})
    with pytest.raises(ValueError, match="channels"):
        Task(**{**base, "channels": "cmyk"})
    # reviewer: a plugin author's Task was checked for its range and default only, with a user's message
    with pytest.raises(ValueError, match="default_level 11 outside its level_range 0–10"):
        Task(**{**base, "default_level": 11.0})
    with pytest.raises(ValueError, match="train_levels 12, 40 outside its level_range 0–10"):
        Task(**{**base, "train_levels": (1.0, 12.0, 40.0)})
    for name in ("De Blur!", "deblur task", "", "Deblur"):
        with pytest.raises(ValueError, match="lower case without spaces"):
            Task(**{**base, "name": name})
    assert Task(**{**base, "name": "my-deblur_2.1"}).name == "my-deblur_2.1"


def test_task_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DENOISE.name = "x"


def test_a_task_can_declare_that_files_record_its_level(tmp_path):
    """Task.level_in_file: generic code reads it (no task name is special-cased), for any task."""
    import numpy as np

    from napari_hyperres.blind.levels import LevelChoice, resolve_level
    from napari_hyperres.core.tasks import DEJPEG, FileLevel, Task
    from napari_hyperres.ui.preview import quality_from_file

    recorded = FileLevel((".lvl",), lambda path: float(open(path).read()), "sidecar file")
    task = Task(name="recorded", title="Recorded", unit="u", level_range=(0.0, 10.0), default_level=1.0,
                train_levels=(1.0,), channels="gray", degrade=lambda x, level, generator=None: x, level_in_file=recorded)
    path = tmp_path / "image.lvl"
    path.write_text("7.5")
    assert quality_from_file(task, path) and not quality_from_file(task, tmp_path / "image.png")
    assert resolve_level(task, "auto", np.zeros((8, 8)), path=path) == LevelChoice(7.5, "sidecar file", estimate=7.5)
    assert DEJPEG.level_in_file is not None and DEJPEG.level_in_file.applies_to("photo.JPG")


def test_a_degrade_function_that_breaks_the_contract_is_named_at_once():
    """Reviewer: a plugin's degrade returning 0–255 values trained to 5 dB without a word, one
    returning a smaller image was scored on the overlap, and a wrong signature or a numpy array
    surfaced as torch errors inside the trainer. Each is now refused naming the function."""
    import numpy as np

    base = dict(name="t", title="T", unit="u", level_range=(0.0, 10.0), default_level=5.0, train_levels=(1.0,), channels="gray")
    clean = torch.rand(2, 1, 16, 16)

    def times_255(x, level, generator=None):
        return x * 255

    cases = {
        "returned values of mean magnitude": times_255,
        "returned shape (2, 1, 8, 8) for an input of (2, 1, 16, 16)": lambda x, level, generator=None: x[..., ::2, ::2],
        "returned a ndarray": lambda x, level, generator=None: np.zeros((2, 1, 16, 16)),
        "returned NaN or infinite values": lambda x, level, generator=None: x / 0,
    }
    for says, degrade in cases.items():
        task = Task(**base, degrade=degrade)
        with pytest.raises(ValueError, match=f"task 't': degrade .* {re.escape(says)}"):
            task.simulate_input(clean, 1.0)
    with pytest.raises(ValueError, match=r"times_255.*divide by 255"):
        Task(**base, degrade=times_255).check_degraded(times_255(clean, 1.0), clean)
    with pytest.raises(ValueError, match=r"degrade must accept \(clean, level, generator=None\); .*\(x, level\) does not"):
        Task(**base, degrade=lambda x, level: x)
    # float64 (numpy maths) comes back in the input's dtype: before, train took it and train-estimator
    # failed deep in torch ("Input type (double) and bias type (float) should be the same")
    assert Task(**base, degrade=lambda x, level, generator=None: x.double()).degraded(clean, 1.0).dtype == torch.float32
    with pytest.raises(ValueError, match=r"returned torch.uint8; it must return floats"):
        Task(**base, degrade=lambda x, level, generator=None: (x * 255).to(torch.uint8)).degraded(clean, 1.0)

    def broken(x, level, generator=None):
        return x[0, 0, 0, 0].item() / 0

    with pytest.raises(ValueError, match=r"task 't': degrade .*broken raised ZeroDivisionError at .*test_tasks.py:\d+ for level 1 "):
        Task(**base, degrade=broken).degraded(clean, 1.0)


def test_a_task_without_train_levels_or_with_a_broken_normalize_is_refused_when_made():
    """A plugin review: ``train_levels=()`` registered, then training failed with ``'float' object has
    no attribute 'detach'``; a NaN ``normalize`` was reported as "training diverged … lower --lr"."""
    base = dict(name="t", title="T", unit="u", level_range=(0.0, 10.0), default_level=5.0, channels="gray",
                degrade=lambda x, level, generator=None: x)
    with pytest.raises(ValueError, match=r"train_levels is empty; .* e\.g\. 1, 3\.5, 6, 9"):
        Task(**base, train_levels=())
    with pytest.raises(ValueError, match=r"normalize .*<lambda> gave non-finite controls \(0 -> nan"):
        Task(**base, train_levels=(1.0,), normalize=lambda level: float("nan"))
    with pytest.raises(ValueError, match=r"normalize .* is not strictly increasing or decreasing"):
        Task(**base, train_levels=(1.0,), normalize=lambda level: min(level, 5.0))
    with pytest.raises(ValueError, match=r"normalize .* raised ZeroDivisionError at .*test_tasks.py:\d+ for level 0: "):
        Task(**base, train_levels=(1.0,), normalize=lambda level: 1 / level)  # the level it failed at, and where
    with pytest.raises(ValueError, match=r"task 't': level_range must hold numbers, got '0.5', '3' \(str\); write e.g. 0.5"):
        Task(**{**base, "level_range": ("0.5", "3"), "default_level": 1.0}, train_levels=(1.0,))
    with pytest.raises(ValueError, match=r"task 't': default_level must hold numbers, got '5'"):
        Task(**{**base, "default_level": "5"}, train_levels=(1.0,))
    assert Task(**base, train_levels=(1.0,), normalize=lambda level: 10 - level).train_levels == (1.0,)  # decreasing is fine


def test_the_trainer_names_a_plugins_broken_degrade_in_one_line(tmp_path, capsys):
    """The same check in a training step (``trainer.data.degrade_batch``)."""
    from trainer.data import degrade_batch

    task = Task(name="t", title="T", unit="u", level_range=(0.0, 10.0), default_level=5.0, train_levels=(1.0,),
                channels="rgb", degrade=lambda x, level, generator=None: x * 255)
    clean = torch.rand(3, 3, 16, 16)
    with pytest.raises(ValueError, match="task 't': degrade .*divide by 255"):
        degrade_batch(task, clean, 1.0, torch.tensor([False, True, False]), None)


def test_a_plugins_error_inside_numpy_is_named_at_the_plugins_line():
    """A diff review: a normalize whose error came from inside numpy was named at numpy's linalg file."""
    import numpy as np

    def control(level):
        return float(np.linalg.inv(np.zeros((2, 2)))[0, 0]) + level  # numpy raises LinAlgError inside its own code

    with pytest.raises(ValueError, match=r"raised LinAlgError at .*test_tasks.py:\d+ for level 0"):
        Task(name="t", title="T", unit="u", level_range=(0.0, 10.0), default_level=5.0, train_levels=(1.0,), channels="gray",
             degrade=lambda x, level, generator=None: x, normalize=control)


def test_a_level_just_outside_the_range_is_shown_as_given_and_a_bool_is_no_level():
    """A reliability review: --level 100.0000001 read "level 100 is outside 0–100"; True was taken as σ 1."""
    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.errors import LevelRangeError

    denoise = get_task("denoise")
    high = denoise.level_range[1]
    with pytest.raises(LevelRangeError, match=rf"level {high + 1e-7!r} is outside"):
        denoise.check_level(high + 1e-7)
    with pytest.raises(LevelRangeError, match="expected a number for the level"):
        denoise.check_level(True)
