"""Mahnwerk as it was at another commit, for a same-run baseline: `code_at(ref)` gives the environment in which the
installed `mahnwerk` command imports that commit's code instead of the working tree's; `output_digest` runs a command
and hashes what it prints, so two versions' outputs can be compared byte for byte.

The tree comes from `git archive REF`; a folder on PYTHONPATH maps its top-level folders into the `mahnwerk`
namespace as pyproject's package-dir does. The libraries are the current environment's.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = ("connectors", "sync", "policy")  # pyproject: package-dir "mahnwerk.<folder>" = "<folder>"


@dataclass(frozen=True)
class Code:
    """Where to run a child so that it imports one version of mahnwerk: its environment and working directory."""

    label: str  # the commit, short
    env: dict[str, str] | None
    cwd: Path | None


WORKING_TREE = Code("working tree", None, None)


@contextmanager
def code_at(ref: str) -> Iterator[Code]:
    """Mahnwerk at `ref`, extracted into a temporary folder for as long as the context lasts."""
    label = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref], capture_output=True, text=True,
                           check=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory(prefix="mahnwerk-bench-ref-") as tmp:
        tree, path = Path(tmp) / "tree", Path(tmp) / "path"
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
        shutil.copytree(tree / "mahnwerk", path / "mahnwerk")
        for folder in NAMESPACE:
            (path / "mahnwerk" / folder).symlink_to(tree / folder)
        # cwd outside the repository: `python -m` would put it first on sys.path
        yield Code(label, {**os.environ, "PYTHONPATH": str(path)}, Path(tmp))


def output_digest(command: list[str], code: Code = WORKING_TREE) -> tuple[str, int]:
    """Run `command` as `code`: the sha256 of its stdout and its length in bytes (not timed)."""
    digest, size = hashlib.sha256(), 0
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, env=code.env, cwd=code.cwd)
    assert proc.stdout is not None
    while block := proc.stdout.read(1 << 20):
        digest.update(block)
        size += len(block)
    if proc.wait() != 0:
        raise SystemExit(f"{' '.join(command)} failed ({code.label})")
    return digest.hexdigest(), size
