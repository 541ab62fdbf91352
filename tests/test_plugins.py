"""napari_hyperres.core.plugins: built-ins through the hook, a real third-party package, bad plugins."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import subprocess_env

import napari_hyperres
from napari_hyperres.core.plugins import (
    ENTRY_POINT_GROUP,
    STRICT_ENV,
    PluginWarning,
    broken_plugins,
    get_plugin_manager,
    get_task,
    get_tasks,
    list_task_names,
)
from napari_hyperres.core.tasks import DENOISE, Task
from napari_hyperres.errors import PluginError, UnknownTaskError


@pytest.fixture
def registered():
    """Register plugin objects on the live plugin manager for one test, unregistering them after."""
    pm = get_plugin_manager()
    added = []

    def register(plugin, name: str):
        pm.register(plugin, name=name)
        added.append(plugin)
        return plugin

    yield register
    for plugin in added:
        pm.unregister(plugin)


class TasksPlugin:
    """A plugin object whose hook returns ``tasks``."""

    def __init__(self, tasks):
        self.tasks = tasks

    @napari_hyperres.hookimpl
    def hyperres_tasks(self):
        return self.tasks


def test_builtins_registered_through_the_hook():
    pm = get_plugin_manager()
    pm.check_pending()
    assert pm.get_plugin("builtins") is not None
    assert list_task_names()[:5] == ["denoise", "microscopy", "dejpeg", "sr", "auto"]
    assert get_task("denoise") is DENOISE
    assert get_task(DENOISE) is DENOISE


def test_unknown_task_lists_what_exists():
    with pytest.raises(UnknownTaskError, match="installed tasks: auto, dejpeg, denoise") as info:
        get_task("deblur")
    assert isinstance(info.value, KeyError)
    assert str(info.value).startswith("unknown task 'deblur'")  # no KeyError quoting


def test_a_duplicate_task_name_is_skipped_naming_both_plugins(registered, monkeypatch):
    other = Task(name="other", title="Other", unit="u", level_range=(0.0, 1.0), default_level=0.5,
                 train_levels=(0.5,), channels="gray", degrade=lambda x, level, generator=None: x)
    registered(TasksPlugin([DENOISE, other]), "copycat")
    with pytest.warns(PluginWarning, match="its task 'denoise' was left out") as record:
        tasks = get_tasks()
    message = str(record[0].message)
    assert "'builtins'" in message and "'copycat'" in message
    assert tasks["denoise"] is DENOISE and tasks["other"] is other  # the built-in is kept; the plugin's other task too
    assert [(b.name, b.whole) for b in broken_plugins()] == [("copycat", False)]  # not the whole plugin
    monkeypatch.setenv(STRICT_ENV, "1")  # plugin authors: every skip is an error
    get_plugin_manager().tasks_built = None
    with pytest.raises(PluginError, match="its task 'denoise' was left out"):
        get_tasks()


class TrylastCopycat:
    """A plugin asking to be called last: pluggy lists trylast hooks first, and before, such a
    plugin took the built-in name (and the built-ins were reported as the broken plugin)."""

    @napari_hyperres.hookimpl(trylast=True)
    def hyperres_tasks(self):
        import dataclasses

        return [dataclasses.replace(DENOISE, title="EVIL denoise")]


def test_a_trylast_plugin_cannot_take_a_builtin_name(registered):
    registered(TrylastCopycat(), "trylast-copycat")
    with pytest.warns(PluginWarning, match="left out one task of plugin 'trylast-copycat' .*its task 'denoise' was left out"):
        tasks = get_tasks()
    assert tasks["denoise"] is DENOISE
    assert [b.name for b in broken_plugins()] == ["trylast-copycat"] and "'builtins' registers that name first" in str(broken_plugins()[0].error)


def test_duplicate_is_cleaned_up_after_the_test():
    assert list_task_names().count("denoise") == 1 and get_plugin_manager().get_plugin("copycat") is None


class RaisingPlugin:
    @napari_hyperres.hookimpl
    def hyperres_tasks(self):
        raise RuntimeError("boom")


@pytest.mark.parametrize("bad", [TasksPlugin(DENOISE), TasksPlugin(["denoise"]), RaisingPlugin()], ids=["not-a-list", "not-a-task", "raises"])
def test_a_broken_hook_breaks_only_its_plugin(registered, bad, monkeypatch):
    registered(bad, "sloppy")
    with pytest.warns(PluginWarning, match="'sloppy'") as caught:
        tasks = get_tasks()
    if isinstance(bad, RaisingPlugin):  # where it raised (a plugin author's review: no file or line)
        assert any(re.search(r"raised RuntimeError at .*test_plugins.py:\d+: boom", str(w.message)) for w in caught)
    assert {"denoise", "microscopy", "dejpeg", "sr", "auto"} <= set(tasks)  # the built-ins keep working
    assert get_task("denoise") is DENOISE
    with pytest.raises(UnknownTaskError, match="skipped broken plugins: sloppy"):
        get_task("nonexistent")
    monkeypatch.setenv(STRICT_ENV, "1")
    get_plugin_manager().tasks_built = None
    with pytest.raises(PluginError, match="'sloppy'"):
        get_tasks()


def test_an_extra_task_registered_in_process(registered):
    extra = Task(name="identity", title="Identity", unit="u", level_range=(0.0, 1.0), default_level=0.5,
                 train_levels=(0.5,), channels="gray", degrade=lambda x, level, generator=None: x)
    registered(TasksPlugin([extra]), "extra")
    assert get_task("identity") is extra
    assert list_task_names()[-1] == "identity"
    get_plugin_manager().check_pending()


# --- the example package, pip-installed --------------------------------------------------------------
def test_installed_plugin_registers_its_task(poisson_plugin):
    from importlib.metadata import entry_points

    assert any(ep.name == "poisson" for ep in entry_points(group=ENTRY_POINT_GROUP))
    tasks = get_tasks()
    assert list(tasks)[:4] == ["denoise", "microscopy", "dejpeg", "sr"]  # built-ins first, then plugins
    poisson = tasks["poisson"]
    assert poisson.channels == "gray" and poisson.weights is None
    pm = get_plugin_manager()
    pm.check_pending()
    assert pm.get_plugin("poisson") is not None


def test_installed_plugin_task_behaves(poisson_plugin, clean_gray):
    import torch

    poisson = get_task("poisson")
    low, high = poisson.level_range
    assert poisson.check_level(poisson.default_level) == poisson.default_level
    # normalize: the noise std of a white pixel, decreasing with the photon count
    cs = [poisson.normalize(p) for p in (low, 10, 100, high)]
    assert cs == sorted(cs, reverse=True)
    assert poisson.normalize(100) == pytest.approx(0.1, rel=0.01)
    noisy = [poisson.degrade(clean_gray, p, torch.Generator().manual_seed(0)) for p in (5.0, 500.0)]
    errors = [float((n - clean_gray).std()) for n in noisy]
    assert errors[0] > 3 * errors[1]


def test_cli_lists_the_installed_plugin(poisson_plugin):
    done = subprocess.run([sys.executable, "-m", "napari_hyperres", "tasks"], capture_output=True, text=True,
                          env=subprocess_env(poisson_plugin), timeout=120)
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert list(lines)[:4] == ["denoise", "microscopy", "dejpeg", "sr"]
    assert "poisson" in lines
    assert "no weights yet: train with `python -m trainer train --task poisson ...`" in lines["poisson"]
    assert "1-1000" in lines["poisson"]


@pytest.mark.slow  # a subprocess or a process pool: seconds
def test_trainer_trains_and_exports_the_plugin_task(poisson_plugin, tmp_path):
    """``python -m trainer`` works for a third-party task with no trainer changes: train, export, restore."""
    from conftest import write_image_folder

    from napari_hyperres.core.weights import read_info
    from napari_hyperres.engine import Restorer

    images = write_image_folder(tmp_path / "images", count=2, height=40, width=40)
    run, weights = tmp_path / "run", tmp_path / "poisson.tiny.safetensors"
    env = subprocess_env(poisson_plugin)
    for args in (
        ["train", "--task", "poisson", "--data", str(images), "--out", str(run), "--steps", "2", "--batch", "2",
         "--patch", "24", "--preset", "tiny", "--device", "cpu", "--no-progress"],
        ["export", str(run), "--name", "poisson.tiny", "--out", str(weights)],
    ):
        done = subprocess.run([sys.executable, "-m", "trainer", *args], capture_output=True, text=True, env=env, timeout=300,
                              cwd=Path(__file__).resolve().parents[1])
        assert done.returncode == 0, done.stdout + done.stderr
    info = read_info(weights)
    assert info.task == "poisson" and info.train_levels == list(get_task("poisson").train_levels)
    out = Restorer("poisson", weights=str(weights), device="cpu").restore(np.full((24, 24), 1000, np.uint16), 100)
    assert out.shape == (24, 24) and out.dtype == np.uint16


# --- the README's example, run as written ---------------------------------------------------------------
def readme_block(heading: str) -> str:
    """The first python block after ``heading``'s line in README.md that starts with ``# <file>``."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    start = section.index("```python\n# hyperres_poisson/hooks.py")
    return section[start + len("```python\n") : section.index("```", start + 10)]


def test_the_readme_plugin_example_runs_as_written(registered):
    """The hooks.py of "Adding a task from another package", registered in process as the README says
    (a review found its degrade undefined and its normalize missing)."""
    import types

    source = readme_block("## Adding a task from another package").replace('name="poisson"', 'name="readme_poisson"')
    module = types.ModuleType("readme_hooks")
    exec(compile(source, "README.md: hyperres_poisson/hooks.py", "exec"), module.__dict__)
    registered(module, "readme_hooks")
    task = get_task("readme_poisson")
    clean = torch.rand(2, 1, 24, 24, generator=torch.Generator().manual_seed(0))
    for level in (20.0, torch.tensor([5.0, 500.0])):
        noisy = task.degrade(clean, level, torch.Generator().manual_seed(1))
        assert noisy.shape == clean.shape and torch.isfinite(noisy).all()
    assert [task.normalize(p) for p in (5, 100, 500)] == sorted([task.normalize(p) for p in (5, 100, 500)], reverse=True)


def test_a_tasks_weights_that_are_not_found_are_named_not_called_missing(registered, tmp_path, capsys, monkeypatch):
    """Reviewer: a plugin task declaring ``weights="deblur.tiny.safetensors"`` (a relative path) was
    listed and refused as "no weights yet", though the author had trained and declared them."""
    import dataclasses

    from napari_hyperres.cli.main import main as cli_main

    registered(TasksPlugin([dataclasses.replace(DENOISE, name="deblur", weights="deblur.tiny.safetensors"),
                            dataclasses.replace(DENOISE, name="borrowed", weights="denoise.lite")]), "deblur-plugin")
    monkeypatch.chdir(tmp_path)  # not the plugin's folder
    assert cli_main(["tasks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    line = next(line for line in lines if line.startswith("deblur"))
    assert "its weights 'deblur.tiny.safetensors' were not found (a relative path is read from the current folder" in line
    assert "no estimator yet: give a number" in line  # before, "auto" was listed, then refused
    borrowed = next(line for line in lines if line.startswith("borrowed"))
    assert "its weights 'denoise.lite' are for task 'denoise', not 'borrowed'" in borrowed  # before, listed as fine
    image = tmp_path / "in.png"
    import cv2

    cv2.imwrite(str(image), np.full((32, 32), 100, np.uint8))
    assert cli_main(["restore", str(image), str(tmp_path / "out.png"), "--task", "deblur", "--level", "20"]) == 2
    assert "its weights 'deblur.tiny.safetensors' were not found" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


def test_the_weights_listing_shows_a_plugins_own_files(registered, tiny_weights, capsys):
    """Reviewer: ``napari-hyperres weights`` listed only the files shipped in napari_hyperres."""
    import dataclasses

    from napari_hyperres.cli.main import main as cli_main

    registered(TasksPlugin([dataclasses.replace(DENOISE, name="mine", weights=str(tiny_weights["denoise"]))]), "mine-plugin")
    assert cli_main(["weights"]) == 0
    out = capsys.readouterr().out
    assert "| `denoise.lite` |" in out and "| `denoise.tiny` |" in out  # the shipped files, then the plugin's


def test_registering_in_process_refuses_a_misspelt_hook_and_a_module_without_one():
    """A plugin author's review: the README's try-out registers a module in the running process; a misspelt
    hook (``hyperres_task``) or a missing ``@hookimpl`` went through without a word and the task was missing."""
    import types

    import napari_hyperres
    from napari_hyperres.core.plugins import get_plugin_manager
    from napari_hyperres.errors import PluginError

    pm = get_plugin_manager()
    misspelt, unmarked = types.ModuleType("misspelt"), types.ModuleType("unmarked")
    misspelt.hyperres_task = napari_hyperres.hookimpl(lambda: [])
    unmarked.hyperres_tasks = lambda: []
    with pytest.raises(PluginError, match=r"unknown hook 'hyperres_task' \(a misspelling\?\); the hooks are .*hyperres_tasks"):
        pm.register(misspelt, name="misspelt")
    with pytest.raises(PluginError, match=r"it has no hook: mark its function with @napari_hyperres.hookimpl"):
        pm.register(unmarked, name="unmarked")
    assert pm.get_plugin("misspelt") is None and pm.get_plugin("unmarked") is None


def test_a_bioimageio_export_of_a_plugin_task_credits_the_plugin_and_says_nothing_of_dejpeg_chroma(registered):
    """A plugin author's review: the package of a lab's own gray task said napari-hyperres restores Cb/Cr on
    their 4:2:0 grid (dejpeg's alone) and named napari-hyperres's maintainers and licence for the lab's weights."""
    from napari_hyperres.core.plugins import task_origin
    from napari_hyperres.core.weights import WeightsInfo
    from napari_hyperres.io.bioimageio import _authors, _licence_text, _readme

    lab = Task(name="labdeblur", title="Deblur", unit="px", level_range=(0.5, 3.0), default_level=1.0,
               train_levels=(1.0, 2.0), channels="gray", degrade=lambda x, level, generator=None: x)
    registered(TasksPlugin([lab]), "lab")
    info = WeightsInfo(name="labdeblur.small", task="labdeblur", license="CC-BY-4.0", train_levels=[1.0, 2.0])
    assert task_origin("labdeblur") == ("lab", "registered in process", None) and task_origin("dejpeg") is None
    text = _readme(lab, 1.0, info, 1, 0.0, 8)
    assert "4:2:0" not in text and "passing Cb/Cr through unchanged" in text
    assert _licence_text(lab, info).startswith("Task and weights: plugin 'lab' (registered in process), weights licence as recorded: CC-BY-4.0")
    assert _authors(lab) == ["the authors of plugin 'lab'"]
    dejpeg = get_task("dejpeg")
    assert "4:2:0 grid" in _readme(dejpeg, 30.0, WeightsInfo(name="dejpeg.lite", task="dejpeg"), 1, 0.0, 8)
    assert _authors(dejpeg) == ["napari-hyperres maintainers"]


def test_registering_a_blocked_name_returns_none_as_pluggy_does():
    """A diff review: the checked register unregistered a plugin pluggy had not registered (a blocked name)."""
    import types

    import napari_hyperres
    from napari_hyperres.core.plugins import get_plugin_manager

    pm = get_plugin_manager()
    module = types.ModuleType("blocked")
    module.hyperres_tasks = napari_hyperres.hookimpl(lambda: [])
    pm.set_blocked("blocked-name")
    try:
        assert pm.register(module, name="blocked-name") is None and pm.get_plugin("blocked-name") is None
    finally:
        pm.unblock("blocked-name")
