"""Files Mahnwerk hands to people and other programs (letters, agency exports): written whole or not at all, and
readable by the owner only, because they hold customers' names, addresses and debts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_private(path: Path, data: bytes) -> Path:
    """Replace `path` with `data` atomically (a reader sees the old file or the new one, never half), mode 0o600,
    creating its folder with mode 0o700; durable once this returns. Raises OSError."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0o600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)  # the rename is durable only once the folder's entry is on disk
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return path
