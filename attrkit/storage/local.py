"""Local files, written atomically: a temporary file beside the target, renamed over it on
success and deleted on failure, so readers never see half a file and a failed run leaves
nothing behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``, else delete it.

    Readers never see a half-written file, and a failed run leaves nothing behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                               dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private; give it the mode a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_csv(path: Path, frame: pl.DataFrame) -> None:
    """Write ``frame`` as CSV (``\\n`` line ends, RFC 4180 quoting) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        frame.write_csv(tmp, line_terminator="\n")


def write_frame(path: Path, frame: pl.DataFrame) -> None:
    """Write a frame as CSV or Parquet by the path's suffix, atomically."""
    if path.suffix.lower() in (".parquet", ".pq"):
        with atomic_path(path) as tmp:
            frame.write_parquet(tmp)
    else:
        atomic_write_csv(path, frame)

