"""The layers stay visible: policy/ is pure, connectors/ know HTTP but not the database."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imports(path: Path) -> set[str]:
    """Top-level module names and `mahnwerk.x` packages a file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
        for name in names:
            parts = name.split(".")
            found.add(".".join(parts[:2]) if parts[0] == "mahnwerk" else parts[0])
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "policy").glob("*.py")), ids=lambda p: p.name)
def test_policy_imports_only_the_standard_library(path: Path) -> None:
    """policy/ is pure: no HTTP, no database, no third-party code, nothing of sync/ or connectors/."""
    foreign = {m for m in imports(path) if m not in sys.stdlib_module_names and m != "mahnwerk.policy"}
    assert foreign == set()


@pytest.mark.parametrize("path", sorted((ROOT / "connectors").glob("*.py")), ids=lambda p: p.name)
def test_connectors_know_http_not_the_database(path: Path) -> None:
    """connectors/ never touch the store or the daemon's modules."""
    assert imports(path) & {"sqlalchemy", "sqlmodel", "alembic", "mahnwerk.sync"} == set()


def test_policy_never_reads_the_clock() -> None:
    """Decisions take `today` as an argument: no date.today() or datetime.now() in policy/."""
    for path in (ROOT / "policy").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "today()" not in text and ".now(" not in text, path.name
