"""Local files, written atomically: a temporary file beside the target, renamed over it on
success and deleted on failure, so readers never see half a file and a failed run leaves
nothing behind."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from attrkit import defaults as D
from attrkit.errors import ConfigError


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``, else delete it.

    Readers never see a half-written file, and a failed run leaves nothing behind.
    """
    check_name(str(path))
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path}: not a regular file (a folder, device, pipe or socket); "
                          "attrkit writes regular files only, and never replaces anything else")
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



@contextlib.contextmanager
def unique_path(folder: Path, name: Callable[[int], str], start: int) -> Iterator[Path]:
    """A new file name in ``folder``: ``name(n)`` for the first ``n ≥ start`` that neither a file
    nor another running writer holds. Runs claim a name with a hidden marker created
    exclusively, so two runs in the same second get two names; the marker goes when the block
    ends (write the file inside it)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = start
    while True:
        target = folder / name(n)
        claim = folder / f".{target.name}.claim"
        if not target.exists():
            try:
                os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                pass
            else:
                if not target.exists():  # written by a run that finished meanwhile?
                    break
                os.unlink(claim)
        n += 1
    try:
        yield target
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(claim)


def check_name(path: str) -> str:
    """``path`` if its name is text; a name with bytes that are not UTF-8 (which the
    operating system allows) is refused, as the libraries attrkit reads with cannot open it."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = str(path).encode("utf-8", "backslashreplace").decode("ascii", "replace")
        raise ConfigError(f"{shown}: the file name is not valid UTF-8; rename it") from None
    return str(path)


def read_small(path: os.PathLike[str], name: str, limit: int = D.MAX_CONFIG_BYTES) -> str:
    """A configuration file's text (UTF-8), refused unread when over ``limit`` bytes: no
    configuration is that large, and nothing is read into memory to find out."""
    if not stat.S_ISREG(os.stat(path).st_mode):  # a pipe would block, a device never end
        raise ConfigError(f"{name}: not a regular file; a configuration is read from a file")
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ConfigError(f"{name}: larger than {limit:,} bytes; not a configuration file")
    return data.decode("utf-8")
