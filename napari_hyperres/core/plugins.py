"""The plugin manager: one registry of tasks for the widget, the CLI and the trainer.

Built-in tasks (``napari_hyperres.core.tasks``) are registered through the same
``hyperres_tasks`` hook as third-party packages found via the ``napari_hyperres``
entry-point group. The plugin manager is the package's only global state that changes what a
call computes; it also remembers which plugins are broken and the registry it built. (The other
module-level state is a per-process timing, :func:`napari_hyperres.core.devices.cpu_bfloat16_speedup`,
that picks the CPU's default precision once; ``NAPARI_HYPERRES_PRECISION`` fixes it.)

A broken plugin breaks only itself: one that fails to import, raises in its hook, returns
something other than a list of :class:`Task`, or registers a task name that is already
taken is skipped with a :class:`PluginWarning` naming its entry point and distribution, and
listed by :func:`broken_plugins` (``napari-hyperres tasks`` shows them). Built-ins and the
other plugins keep working. Plugin authors can set ``NAPARI_HYPERRES_STRICT_PLUGINS=1`` to
turn each of these into a :class:`~napari_hyperres.errors.PluginError` instead.
"""

from __future__ import annotations

import functools
import importlib
import os
import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import NamedTuple

import pluggy

from .. import hookspecs
from ..errors import PluginError, UnknownTaskError
from .tasks import Task
from .tasks.base import raised_at

ENTRY_POINT_GROUP = hookspecs.PROJECT
STRICT_ENV = "NAPARI_HYPERRES_STRICT_PLUGINS"


class PluginWarning(UserWarning):
    """A plugin was skipped (it is broken); the message names it and says why."""


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that was skipped: its entry-point (or registration) name, its distribution, and why."""

    name: str
    distribution: str
    error: str
    whole: bool = True
    """Whether the whole plugin was skipped (``False``: one of its tasks; its others are registered)."""

    def describe(self) -> str:
        return f"plugin {self.name!r} ({self.distribution}): {self.error}"

    def notice(self) -> str:
        """What was done, in one line: ``napari-hyperres skipped plugin …`` or, where one task of it clashed,
        ``napari-hyperres left out one task of plugin …`` (its other tasks are registered)."""
        what = "skipped" if self.whole else "left out one task of"  # a name clash drops one task, not the plugin
        return f"napari-hyperres {what} {self.describe()}"


class TaskPluginManager(pluggy.PluginManager):
    """pluggy's manager, with the registry of tasks it builds and the plugins it had to skip."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.broken: dict[str, BrokenPlugin] = {}  # import failures, then hook failures of the last registry build
        self.import_failures: dict[str, BrokenPlugin] = {}
        self.distributions: dict[str, str] = {"builtins": "built in"}  # plugin name → "distribution version"
        self.distribution_names: dict[str, str] = {}  # plugin name → its distribution's name (entry points only)
        self.tasks_built: tuple[tuple[int, ...], dict[str, Task]] | None = None  # (registered plugins, registry)
        self.task_owners: dict[str, str] = {}  # task name → the plugin that registered it, for the last registry built

    def skip(self, name: str, distribution: str, error: str, whole: bool = True) -> BrokenPlugin:
        """Record ``name`` as broken (``whole=False``: one of its tasks) and warn, or raise
        :class:`PluginError` in strict mode."""
        broken = BrokenPlugin(name, distribution, error, whole)
        if os.environ.get(STRICT_ENV) == "1":
            raise PluginError(broken.describe())
        warnings.warn(broken.notice(), PluginWarning, stacklevel=3)
        self.broken[name if whole else f"{name}: {error}"] = broken
        return broken

    def load_entry_point_plugins(self) -> None:
        """Import and register every ``napari_hyperres`` entry point; a failing one is skipped.

        Skipped too: a module whose hooks pluggy refuses (a misspelt hook name such as
        ``hyperres_task``, a hook asking for arguments the spec has not), and one that
        registers no hook at all (its function lacks ``@napari_hyperres.hookimpl``)."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if self.get_plugin(ep.name) is not None or self.is_blocked(ep.name):
                continue
            dist = self.distributions[ep.name] = _distribution(ep)
            if getattr(ep, "dist", None) is not None:
                self.distribution_names[ep.name] = ep.dist.metadata["name"]
            try:
                module = ep.load()
            except Exception as exc:  # any import-time error of third-party code
                hint = ""
                if isinstance(exc, ModuleNotFoundError) and exc.name and ep.value.split(":")[0].startswith(exc.name):
                    hint = ("; if it was just installed (pip install -e finds its code through a .pth file read at "
                            "start-up), restart Python or napari")
                self.import_failures[ep.name] = self.skip(ep.name, dist, f"failed to import {ep.value!r}: {type(exc).__name__}: {exc}{hint}")
                continue
            error = self._register_checked(module, ep.name)
            if error is not None:
                self.import_failures[ep.name] = self.skip(ep.name, dist, f"{ep.value!r} could not be registered: {error}")

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """pluggy's ``register``, refusing what pluggy would take in silence: a hook name no spec has (a
        misspelling such as ``hyperres_task``) and a module with no hook at all (its function lacks
        ``@napari_hyperres.hookimpl``). The plugin is unregistered again and :class:`PluginError` says what
        to fix (a plugin author's review: registered in process, as the README's try-out does, both went
        through without a word and the task was simply missing)."""
        try:
            registered = super().register(plugin, name=name)
        except pluggy.PluginValidationError as exc:  # a hook asking for arguments the spec has not
            raise PluginError(f"{exc}; see napari_hyperres.hookspecs for the hooks and their arguments") from None
        if registered is None:  # pluggy's answer for a blocked name: nothing was registered, nothing to check
            return None
        callers = self.get_hookcallers(plugin) or []
        unknown = sorted(caller.name for caller in callers if not caller.has_spec())
        if unknown or not callers:
            self.unregister(plugin)
            if unknown:
                known = sorted(name for name, caller in vars(self.hook).items() if caller.has_spec())
                raise PluginError(f"unknown hook {', '.join(map(repr, unknown))} (a misspelling?); the hooks are {', '.join(known)} "
                                  "(napari_hyperres.hookspecs)")
            raise PluginError("it has no hook: mark its function with @napari_hyperres.hookimpl (napari_hyperres.hookspecs lists the hooks)")
        return registered

    def _register_checked(self, module: object, name: str) -> str | None:
        """Register ``module`` as plugin ``name``; on a problem (:meth:`register`) return what to fix."""
        try:
            self.register(module, name=name)
        except PluginError as exc:
            return str(exc)
        return None

    def distribution_of(self, plugin: object) -> str:
        """The distribution (``name version``) that installed ``plugin``, or ``"registered in process"``."""
        return self.distributions.get(self.get_name(plugin) or "", "registered in process")


def _distribution(ep) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.metadata['name']} {dist.version}" if dist is not None else "unknown distribution"


@functools.lru_cache(maxsize=1)
def get_plugin_manager() -> TaskPluginManager:
    """The plugin manager, with built-ins and entry-point plugins loaded (created once)."""
    from . import tasks as builtin_tasks

    pm = TaskPluginManager()
    pm.register(builtin_tasks, name="builtins")
    pm.load_entry_point_plugins()
    pm.check_pending()
    return pm


def reset_plugin_manager() -> None:
    """Forget the plugin manager so the next call re-reads entry points (after installing a plugin;
    an editable install, ``pip install -e``, needs a restart of Python: its code is found through
    a ``.pth`` file read only at start-up)."""
    importlib.invalidate_caches()  # a package installed since into a folder already on sys.path
    get_plugin_manager.cache_clear()


def broken_plugins() -> list[BrokenPlugin]:
    """Plugins skipped so far (import failures at start-up; hook failures once the registry is built)."""
    pm = get_plugin_manager()
    get_tasks()
    return list(pm.broken.values())


def get_tasks() -> dict[str, Task]:
    """All registered tasks by name, built-ins first.

    Each plugin's hook runs once per set of registered plugins (the registry is kept on the
    plugin manager). A plugin whose hook raises or returns anything but a list of
    :class:`Task` is skipped as a whole; a task whose name is already taken is skipped (the
    earlier registration, built-ins first, keeps it). Both warn (:class:`PluginWarning`),
    or raise :class:`PluginError` in strict mode.
    """
    pm = get_plugin_manager()
    key = tuple(id(plugin) for plugin in pm.get_plugins())
    if pm.tasks_built is not None and pm.tasks_built[0] == key:
        return dict(pm.tasks_built[1])
    found: dict[str, Task] = {}
    owner: dict[str, str] = {}
    pm.broken = dict(pm.import_failures)  # hook failures are found again for the current set of plugins
    registered = [plugin for _, plugin in pm.list_name_plugin()]  # registration order: built-ins first
    impls = sorted(pm.hook.hyperres_tasks.get_hookimpls(), key=lambda impl: registered.index(impl.plugin))
    for impl in impls:  # not pluggy's call order: a trylast / tryfirst hook must not go before the built-ins
        plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
        dist = pm.distribution_of(impl.plugin)
        try:
            result = impl.function()
        except Exception as exc:  # third-party code
            pm.skip(plugin, dist, f"hyperres_tasks() raised {type(exc).__name__} {raised_at(exc, impl.function)}: {exc}")
            continue
        if not isinstance(result, (list, tuple)) or not all(isinstance(task, Task) for task in result):
            got = type(result).__name__ if not isinstance(result, (list, tuple)) else ", ".join(sorted({type(t).__name__ for t in result}))
            pm.skip(plugin, dist, f"hyperres_tasks() must return a list of napari_hyperres.Task, got {got}")
            continue
        for task in result:
            if task.name in found:
                pm.skip(
                    plugin, dist,
                    f"its task {task.name!r} was left out: plugin {owner[task.name]!r} registers that name first "
                    "(rename the task, or uninstall one of the two); its other tasks are registered",
                    whole=False,
                )
                continue
            found[task.name] = task
            owner[task.name] = plugin
    pm.tasks_built = (key, found)
    pm.task_owners = owner
    return dict(found)


class TaskOrigin(NamedTuple):
    """Where a third-party task comes from: its plugin's name, ``label`` (``"name version"`` of the distribution
    that installed it, or ``"registered in process"``) and the distribution's name (``None`` in process)."""

    plugin: str
    label: str
    distribution: str | None


def task_origin(name: str) -> TaskOrigin | None:
    """The plugin that registers task ``name`` (:class:`TaskOrigin`); ``None`` for a built-in task (and for a
    name no plugin registers). What exports of a third-party task credit instead of napari-hyperres."""
    pm = get_plugin_manager()
    get_tasks()
    owner = pm.task_owners.get(name)
    if owner is None or owner == "builtins":
        return None
    return TaskOrigin(owner, pm.distributions.get(owner, "registered in process"), pm.distribution_names.get(owner))


def get_task(name: str | Task) -> Task:
    """The task called ``name`` (a :class:`Task` passes through).

    Raises:
        UnknownTaskError: no plugin registers ``name``; the message lists what exists
            (and the plugins that were skipped as broken).
    """
    if isinstance(name, Task):
        return name
    tasks = get_tasks()
    if name not in tasks:
        import difflib

        broken = get_plugin_manager().broken
        skipped = f"; skipped broken plugins: {', '.join(sorted(broken))}" if broken else ""
        folded = [task for task in tasks if task.lower() == str(name).strip().lower()]
        close = folded or difflib.get_close_matches(str(name), list(tasks), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownTaskError(
            f"unknown task {name!r}{hint}; installed tasks: {', '.join(sorted(tasks))} "
            f"(a third-party task appears once its package is installed){skipped}"
        )
    return tasks[name]


def list_task_names() -> list[str]:
    """Names of all registered tasks."""
    return list(get_tasks())
