"""When the realshop tests may skip, and that CI never lets them (no shop needed for these)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.realshop import conftest
from tests.realshop.conftest import kit_problem


def test_a_missing_kit_is_named_with_where_it_was_looked_for() -> None:
    assert "MAHNWERK_REALSHOP_KIT" in kit_problem(None) and "shared/realshop" in kit_problem(None)


def test_a_kit_without_its_code_tarball_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WP_MIRROR", raising=False)
    (tmp_path / "setup.sh").write_text("")
    assert f"{tmp_path / 'wp-woo.tar.xz'} is missing" in kit_problem(tmp_path)


def test_outside_ci_the_reason_becomes_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="no root"):
        conftest.cannot_run("no root")


def test_in_ci_the_reason_becomes_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI must run the realshop tests: no root"):
        conftest.cannot_run("no root")
