"""Local files, written atomically: a temporary file beside the target, renamed over it on
success and deleted on failure, so readers never see half a file and a failed run leaves
nothing behind."""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from attrkit import defaults as D
from attrkit.errors import ConfigError, os_errors_named


class _Group:
    """The writes of one :func:`together` block: temporary files to rename over their targets,
    files to remove and name claims to release once the block ends."""

    def __init__(self) -> None:
        self.moves: list[tuple[Path, Path]] = []
        self.removals: list[Path] = []
        self.releases: list[Callable[[], None]] = []
        self.folders: list[Path] = []

    def commit(self) -> None:
        """Rename each finished file over its target. Should a rename fail (they need no space,
        but a disk can fail), the targets already replaced get their earlier files back: each
        is kept as a hard link until every rename is done."""
        last = {target: tmp for tmp, target in self.moves}  # a target written twice: the last
        for tmp, target in self.moves:
            if last[target] != tmp:
                _unlink(tmp)
        done: list[tuple[Path, Path | None]] = []
        try:
            for target, tmp in last.items():
                backup = _keep(target)
                done.append((target, backup))
                os.replace(tmp, target)
        except OSError as exc:
            *replaced, (failed, _) = done  # the last one was not replaced
            for target, backup in reversed(replaced):
                if backup is not None:
                    os.replace(backup, target)
                else:
                    _unlink(target)
            self.moves = [(tmp, t) for t, tmp in last.items() if t not in dict(replaced)]
            raise OSError(exc.errno, exc.strerror, str(failed)) from exc
        finally:
            for _, backup in done:
                if backup is not None:
                    _unlink(backup)
        self.moves = []
        for path in self.removals:
            if path not in last:  # removed, then written again in the same block: kept
                _unlink(path)

    def discard(self, start: int = 0) -> None:
        """Delete the temporary files written since the ``start``-th move (a failed inner
        block takes back only its own), and, for the whole group, the folders it made."""
        for tmp, _ in self.moves[start:]:
            _unlink(tmp)
        del self.moves[start:]
        if start == 0:
            _remove_folders(sorted(self.folders, key=lambda f: len(f.parts), reverse=True))

    def release(self) -> None:
        for release in self.releases:
            release()


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _keep(target: Path) -> Path | None:
    """A hard link to ``target``'s current file (no space needed), or None if there is no file
    or the file system has no hard links."""
    if not target.is_file():
        return None
    backup = target.with_name(f".{target.name}.{os.getpid()}.previous")
    _unlink(backup)
    try:
        os.link(target, backup)
    except OSError:
        return None
    return backup


_GROUP: contextvars.ContextVar[_Group | None] = contextvars.ContextVar("attrkit_group",
                                                                     default=None)


@contextlib.contextmanager
def together() -> Iterator[None]:
    """The atomic local writes inside this block replace their files together, when it ends:
    if any write fails (a full disk, a quota, an I/O error), every file written in the block is
    deleted and each earlier file stays as it was. A run's report and its quarantine, or a
    report's notebook, HTML, JSON and exports, appear all at once or not at all (remote
    objects are uploaded as each is written). A block inside another joins the outer one: its
    files appear when the outer block ends, and if it fails, its own files are taken back."""
    outer = _GROUP.get()
    if outer is not None:
        start, removals = len(outer.moves), len(outer.removals)
        try:
            yield
        except BaseException:
            outer.discard(start)
            del outer.removals[removals:]
            raise
        return
    group = _Group()
    token = _GROUP.set(group)
    try:
        yield
        _GROUP.reset(token)
        token = None
        group.commit()
    except BaseException:
        group.discard()
        raise
    finally:
        if token is not None:
            _GROUP.reset(token)
        group.release()


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path`` (at the end of
    the enclosing :func:`together` block, if any), else delete it.

    Readers never see a half-written file, and a failed run leaves nothing behind. A failure of
    the operating system while writing (a full disk, a quota) names ``path``.
    """
    check_name(str(path))
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path}: not a regular file (a folder, device, pipe or socket); "
                          "attrkit writes regular files only, and never replaces anything else")
    created = _make_folder(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                                   dir=path.parent)
    except BaseException:
        _remove_folders(created)
        raise
    os.close(fd)
    group = _GROUP.get()
    if group is not None:
        group.folders += created
    with os_errors_named(path):
        try:
            yield Path(tmp)
            # mkstemp makes the file private; give it the mode a plain open() would have.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            if group is not None:
                group.moves.append((Path(tmp), path))
            else:
                os.replace(tmp, path)
        except BaseException:
            _unlink(Path(tmp))
            if group is None:
                _remove_folders(created)
            raise


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those this call created, deepest
    first (one another process made meanwhile is not ours). If one cannot be made, those made
    are removed again and the error raised."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    made: list[Path] = []
    try:
        for f in reversed(missing):
            try:
                f.mkdir()
            except FileExistsError:
                continue
            made.insert(0, f)
    except BaseException:
        _remove_folders(made)
        raise
    return made


def _remove_folders(folders: list[Path]) -> None:
    """Remove the folders a failed write created, deepest first, where they are still empty."""
    for f in folders:
        with contextlib.suppress(OSError):
            f.rmdir()


_SCRATCH: list[str] = []
# The logs of processes that ended are kept this many days (to read after a failed run), then
# removed by the next attrkit process that writes a log of the same kind.
LOG_DAYS = 7


def scratch_dir(prefix: str) -> Path:
    """A new private folder under the system's temporary folder, removed with everything in it
    when the process ends (downloads, the bundled sample a report generates). Its name holds the
    process's ID: folders of a process that was killed (its exit handlers never ran: a kernel
    stopped with SIGKILL) are removed by the next one, once an hour old."""
    _sweep(prefix)
    d = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")
    if not _SCRATCH:
        atexit.register(lambda: [shutil.rmtree(p, ignore_errors=True) for p in _SCRATCH])
    _SCRATCH.append(d)
    return Path(d)


def _sweep(prefix: str, older_than: float = 3600.0, *, end: str = "-") -> None:
    """Remove ``prefix<pid>-*`` scratch folders (``end=".log"``: ``prefix<pid>.log`` logs)
    whose process is gone and that have not changed for ``older_than`` seconds (a process of
    another PID namespace sharing the folder would look gone: the age keeps its fresh ones)."""
    import time

    for path in Path(tempfile.gettempdir()).glob(f"{prefix}*{end}*"):
        pid = path.name[len(prefix):].split(end, 1)[0]
        with contextlib.suppress(OSError):
            if (pid.isdigit() and not _alive(int(pid))
                    and time.time() - path.stat().st_mtime > older_than):
                if end == "-":
                    shutil.rmtree(path, ignore_errors=True)
                elif path.name == f"{prefix}{pid}{end}" and path.is_file():
                    path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # (another user's process)
        return True
    return True


def remove_later(path: Path) -> bool:
    """Delete the local regular file ``path`` if it exists: now, or when the enclosing
    :func:`together` block succeeds (its writes may yet fail). True if there is one to delete."""
    if not path.is_file():
        return False
    group = _GROUP.get()
    if group is not None:
        group.removals.append(path)
    else:
        path.unlink()
    return True


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
    created = _make_folder(folder)
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
    def release() -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(claim)
        if not target.exists():  # the write failed: no folder of ours left behind
            _remove_folders(created)

    try:
        yield target
    finally:
        group = _GROUP.get()
        if group is not None:  # the file appears when the group ends: hold the name till then
            group.releases.append(release)
        else:
            release()


@contextlib.contextmanager
def children_stderr_to(name: str, *, drop_empty: bool = False) -> Iterator[Path]:
    """Processes started in the block (a notebook kernel, Spark's JVM) write their stderr to
    ``$TMPDIR/attrkit-<name>-<pid>.log``, not the terminal: a child takes the stderr it is
    started with. Python's own ``sys.stderr`` still reaches the terminal. ``drop_empty``: the
    log is removed when nothing was written (not for a child that goes on writing after).
    Logs of this name whose process is gone are removed once :data:`LOG_DAYS` days old."""
    import sys

    _sweep(f"attrkit-{name}-", LOG_DAYS * 86_400.0, end=".log")
    log = Path(tempfile.gettempdir()) / f"attrkit-{name}-{os.getpid()}.log"
    sys.stderr.flush()
    saved, target = os.dup(2), os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    ours, sys.stderr = sys.stderr, os.fdopen(os.dup(saved), "w", encoding="utf-8",
                                             errors="backslashreplace")
    try:
        os.dup2(target, 2)
        yield log
    finally:
        sys.stderr.close()
        sys.stderr = ours
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)
        if drop_empty and log.stat().st_size == 0:
            log.unlink(missing_ok=True)


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
    """A configuration file's text (UTF-8, a byte-order mark at its start dropped, as Windows
    editors write one), refused unread when over ``limit`` bytes: no configuration is that
    large, and nothing is read into memory to find out."""
    if not stat.S_ISREG(os.stat(path).st_mode):  # a pipe would block, a device never end
        raise ConfigError(f"{name}: not a regular file; a configuration is read from a file")
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ConfigError(f"{name}: larger than {limit:,} bytes; not a configuration file")
    return data.decode("utf-8-sig")
