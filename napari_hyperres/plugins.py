"""The plugin manager: one registry of tasks for the widget, the CLI and the trainer.

Built-in tasks (``napari_hyperres.tasks``) are registered through the same
``hyperres_tasks`` hook as third-party packages found via the ``napari_hyperres``
entry-point group. The plugin manager is the package's only global state.
"""

from __future__ import annotations

import functools

import pluggy

from . import hookspecs
from .errors import PluginError, UnknownTaskError
from .tasks import Task

ENTRY_POINT_GROUP = hookspecs.PROJECT


@functools.lru_cache(maxsize=1)
def get_plugin_manager() -> pluggy.PluginManager:
    """The plugin manager, with built-ins and entry-point plugins loaded (created once)."""
    from . import tasks as builtin_tasks

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(builtin_tasks, name="builtins")
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    pm.check_pending()
    return pm


def reset_plugin_manager() -> None:
    """Forget the plugin manager so the next call re-reads entry points (after installing a plugin)."""
    get_plugin_manager.cache_clear()


def get_tasks() -> dict[str, Task]:
    """All registered tasks by name, built-ins first.

    Raises:
        PluginError: a plugin returned something other than ``Task`` objects, or two
            plugins registered the same task name (the message names both).
    """
    pm = get_plugin_manager()
    found: dict[str, Task] = {}
    owner: dict[str, str] = {}
    for impl in pm.hook.hyperres_tasks.get_hookimpls():  # registration order: built-ins first
        plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
        result = impl.function()
        if not isinstance(result, (list, tuple)):
            raise PluginError(f"plugin {plugin!r}: hyperres_tasks() must return a list of Task, got {type(result).__name__}")
        for task in result:
            if not isinstance(task, Task):
                raise PluginError(f"plugin {plugin!r}: hyperres_tasks() returned {type(task).__name__}, expected napari_hyperres.Task")
            if task.name in found:
                raise PluginError(
                    f"task name {task.name!r} is registered twice: by plugin {owner[task.name]!r} and by plugin {plugin!r}; "
                    "uninstall one of them or rename the task"
                )
            found[task.name] = task
            owner[task.name] = plugin
    return found


def get_task(name: str | Task) -> Task:
    """The task called ``name`` (a :class:`Task` passes through).

    Raises:
        UnknownTaskError: no plugin registers ``name``; the message lists what exists.
    """
    if isinstance(name, Task):
        return name
    tasks = get_tasks()
    if name not in tasks:
        raise UnknownTaskError(
            f"unknown task {name!r}; installed tasks: {', '.join(sorted(tasks))} "
            "(a third-party task appears once its package is installed)"
        )
    return tasks[name]


def list_task_names() -> list[str]:
    """Names of all registered tasks."""
    return list(get_tasks())
