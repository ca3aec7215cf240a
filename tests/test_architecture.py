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


def modules(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)


def name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", modules("policy"), ids=name)
def test_policy_imports_only_the_standard_library(path: Path) -> None:
    """policy/ is pure: no HTTP, no database, no third-party code, nothing of sync/ or connectors/."""
    foreign = {m for m in imports(path) if m not in sys.stdlib_module_names and m != "mahnwerk.policy"}
    assert foreign == set()


@pytest.mark.parametrize("path", modules("connectors"), ids=name)
def test_connectors_know_http_not_the_database(path: Path) -> None:
    """connectors/ are the edge: no store, no daemon, no dunning decisions (records in, records out)."""
    assert imports(path) & {"sqlalchemy", "sqlmodel", "alembic", "mahnwerk.sync", "mahnwerk.policy"} == set()


# What only a WooCommerce connector may know: its REST paths, headers, meta keys, statuses and auth words.
SHOP_WORDS = ("wp-json", "wc/v3", "_mahnwerk_", "meta_data", "consumer_key", "consumer_secret", '"trash"',
              "on-hold", "x-wp-", "woocommerce", "woo", "shopware", "sw-access-key", "/api/_action")


@pytest.mark.parametrize("path", modules("sync") + modules("policy"), ids=name)
def test_the_core_knows_no_shop_kind(path: Path) -> None:
    """sync/ and policy/ speak through connectors/shop.py; a kind's wire words stay in its connector package."""
    text = path.read_text(encoding="utf-8").lower()
    assert [w for w in SHOP_WORDS if w in text] == []


@pytest.mark.parametrize("path", modules("sync") + modules("policy") + modules("connectors")
                         + [p for p in modules("mahnwerk") if not {"sandbox", "demo"} & set(p.parts)], ids=name)
def test_production_code_never_imports_the_sandbox(path: Path) -> None:
    """The sandbox shops serve the demo, tests and benches; a merchant's daemon never loads them."""
    assert "mahnwerk.sandbox" not in imports(path)


def test_policy_never_reads_the_clock() -> None:
    """Decisions take `today` as an argument: no date.today() or datetime.now() in policy/."""
    for path in modules("policy"):
        text = path.read_text(encoding="utf-8")
        assert "today()" not in text and ".now(" not in text, path.name


def test_every_package_is_in_the_wheel() -> None:
    """pyproject lists packages by hand (the folders map onto mahnwerk.*): a new sub-package must be listed there."""
    import tomllib

    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folder_of = dict(tool["package-dir"])
    listed = set(tool["packages"])
    found = set()
    for package, folder in folder_of.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *relative)))
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
