"""Crash-safe file writes shared by everything that keeps editors' work on disk.

`write_whole` replaces a file in one step (a hidden temporary file beside it, flushed to disk,
then renamed over it), so a crash leaves the old text or the new, never half of either;
`sync_folder` makes a rename or a new file in a folder survive a power cut.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_whole(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data` atomically; the temporary file is removed on any failure."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w", **({} if isinstance(data, bytes) else {"encoding": "utf-8", "newline": "\n"})) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sync_folder(folder: Path) -> None:
    """fsync a folder, so the entries just added, renamed or removed in it are on disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
