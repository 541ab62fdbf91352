"""Hook specifications for napari-hyperres plugins (pluggy, project ``napari_hyperres``).

A third-party package adds tasks with one hook implementation, found through
the ``napari_hyperres`` entry-point group::

    # pyproject.toml
    [project.entry-points."napari_hyperres"]
    poisson = "hyperres_poisson.hooks"

    # hyperres_poisson/hooks.py
    import napari_hyperres

    @napari_hyperres.hookimpl
    def hyperres_tasks():
        return [napari_hyperres.Task(...)]

The built-in tasks are registered through this same hook.
"""

from __future__ import annotations

import pluggy

PROJECT = "napari_hyperres"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def hyperres_tasks() -> list:
    """Return the restoration tasks this plugin provides.

    Returns:
        A list of :class:`napari_hyperres.Task`. Results of all plugins are
        concatenated in registration order (built-ins first); a task whose ``name`` is
        taken already, a hook that raises or one that returns anything else is skipped
        with a warning naming the plugin (:mod:`napari_hyperres.core.plugins`; a
        :class:`napari_hyperres.errors.PluginError` under ``NAPARI_HYPERRES_STRICT_PLUGINS=1``).
    """
