"""The package's layers: every import points down (core → blind → engine → io → ui | cli).

Read from the source (every ``import`` statement, the ones inside functions too), so a
lazy import cannot hide a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "napari_hyperres"

LAYERS = {"": 0, "core": 1, "blind": 2, "engine": 3, "io": 4, "ui": 5, "cli": 5}
"""Rank of each sub-package ("": the top-level errors and hookspecs); a module may import its
own rank or lower, and ui and cli (the two front ends) not each other."""

GUI = ("napari", "magicgui", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "superqt")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py" and p != PACKAGE / "__init__.py")


def _layer(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else ""


def _imports(path: Path) -> list[tuple[str, int]]:
    """``(absolute module, line)`` of every import in the file."""
    package = ".".join(("napari_hyperres",) + path.relative_to(PACKAGE).parent.parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if node.module is None:  # from . import name: name may be a module
                found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((module, node.lineno))
    return found


def _target_layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "napari_hyperres":
        return None
    if len(parts) == 1 or parts[1] not in LAYERS:
        return ""
    return parts[1]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    here = _layer(path)
    wrong = []
    for module, line in _imports(path):
        there = _target_layer(module)
        if there is None:
            continue
        if LAYERS[there] > LAYERS[here] or (there != here and LAYERS[there] == LAYERS[here] and there != ""):
            wrong.append(f"line {line}: {module} ({there} is above {here or 'the top level'})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_widget_modules_import_napari_or_qt(path):
    if path.parent == PACKAGE / "ui" and path.name.startswith("widget"):
        return
    gui = [f"line {line}: {module}" for module, line in _imports(path) if module.split(".")[0] in GUI]
    assert not gui, "\n".join(gui)


TRAINER = PACKAGE.parent / "trainer"


@pytest.mark.parametrize("path", sorted(TRAINER.glob("*.py")), ids=lambda p: p.name)
def test_the_trainer_imports_no_front_end(path):
    """The trainer runs on machines with no display and is itself a front end: it imports core, blind,
    engine and io (images read as the package reads them), never ui or cli."""
    package = "trainer"
    wrong = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
        wrong += [f"line {node.lineno}: {name}" for name in names if name.split(".")[:2] in (["napari_hyperres", "ui"], ["napari_hyperres", "cli"])]
    assert not wrong, f"{package}/{path.name}: " + "; ".join(sorted(set(wrong)))


def test_every_layer_says_what_it_owns_and_may_import():
    for layer in ("core", "blind", "engine", "io", "ui", "cli"):
        doc = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text())) or ""
        assert "import" in doc, f"napari_hyperres/{layer}/__init__.py must say what it may import"


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    """The rule itself can fail: a core module importing the engine is reported."""
    fake = PACKAGE / "core" / "_upward_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "from ..engine import Restorer\n" if self == fake else _read(self))
    with pytest.raises(AssertionError, match="engine is above core"):
        test_imports_point_down(fake)


_read = Path.read_text
