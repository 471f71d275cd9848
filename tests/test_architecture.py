"""The layers hold: core and CLI never import Qt; heavy libraries load only when used."""

from __future__ import annotations

import ast
import graphlib
import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING

from tests.helpers.starter import REPO

if TYPE_CHECKING:
    from pathlib import Path

QT_FREE = [REPO / "app" / "core", REPO / "app" / "commands", REPO / "app" / "cli.py"]
FORBIDDEN = ("PySide6", "pyqtgraph", "app.ui", "app.workers")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_cli_and_commands_never_import_qt_or_the_upper_layers() -> None:
    files = [p for root in QT_FREE for p in ([root] if root.is_file() else root.rglob("*.py"))]
    assert len(files) > 10
    offenders = {
        str(path.relative_to(REPO)): sorted(
            name for name in imported_modules(path)
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
        )
        for path in files
    }  # fmt: skip
    assert {k: v for k, v in offenders.items() if v} == {}


def test_workers_never_import_the_ui() -> None:
    for path in (REPO / "app" / "workers").rglob("*.py"):
        assert not [n for n in imported_modules(path) if n.startswith("app.ui")], path


def test_opening_the_core_loads_no_qt_and_no_heavy_libraries() -> None:
    code = (
        "import sys, json; from app.core.context import AppContext; import app.cli; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'llama_cpp', 'huggingface_hub', 'pyqtgraph', 'numpy'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True)  # fmt: skip
    assert json.loads(out.stdout) == []


def test_backend_hooks_are_declared_never_probed_with_getattr() -> None:
    """Issue 21: every hook a model source may offer is declared on `Backend` with a
    default; nothing looks one up with `getattr`."""
    from app.core.llm.contract import Backend

    hooks = {name for name in vars(Backend) if not name.startswith("_")}
    assert {"prepare", "count_prompt", "context_length", "accepts_images", "billing_model",
            "provider", "default_model", "routes", "routes_itself", "is_local"} <= hooks
    probes = []
    for path in (REPO / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant) and node.args[1].value in hooks):
                probes.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert probes == []


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_core_has_no_import_circle() -> None:
    """Every import counts (function-level and type-checking ones too): two modules in a
    circle can't be read, tested or moved apart (billing had prices -> resolve ->
    maintained -> prices)."""
    paths = {_module_name(p): p for p in (REPO / "app" / "core").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                # `from package import module` imports the module, not only the package.
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[module] = {t for t in targets if t in paths and t != module}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        raise AssertionError(f"import circle: {' -> '.join(exc.args[1])}") from None


SQL = re.compile(r"\bSELECT\b.*\bFROM\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b"
                 r"|\bCREATE (?:TABLE|INDEX|TRIGGER)\b", re.S)  # fmt: skip


def test_the_window_asks_the_core_for_rows_and_writes_no_sql() -> None:
    """The core owns its tables (the Billing tab reads `app.core.billing.requests`)."""
    offenders = [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for path in (REPO / "app" / "ui").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and SQL.search(node.value)
    ]  # fmt: skip
    assert offenders == []


def test_no_module_in_app_is_over_600_lines() -> None:
    """Modules small and named for what they hold (issue 21: the Chat tab was 843 lines)."""
    long = {
        str(p.relative_to(REPO)): n
        for p in (REPO / "app").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}
