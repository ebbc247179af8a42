"""Where attrkit's files live: a local path, or a URL whose scheme names a handler.

Readers and writers call the functions here and never look at the scheme themselves (as
papermill's I/O registry does). A handler is a module with ``download(url, suffix_filter=)``
(an object, or every object under a prefix ending in ``/``, as local files; optionally
``download_named``, the same with each object's URL, and patterns), ``fetch(url)``
(one object) and ``upload(local, url, kms_key_arn=, content_type=)``; ``s3://`` is the one
registered today (:mod:`attrkit.storage.s3`). Local writes are atomic
(:mod:`attrkit.storage.local`); a remote write is a finished local file uploaded.
"""

from __future__ import annotations

import glob
import importlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from attrkit.errors import ConfigError, os_errors_named
from attrkit.storage.local import (
    atomic_path,
    atomic_write_csv,
    atomic_write_text,
    check_name,
    read_small,
    remove_later,
    together,
    unique_path,
    write_frame,
)

HANDLERS = {"s3": "attrkit.storage.s3"}
"""URL scheme → the module that moves bytes for it (imported on first use)."""

PathLike = str | Path


def scheme(path: Any) -> str | None:
    """The URL scheme of a remote ``path`` that has a handler, else None (a local path).

    Example:
        >>> scheme("s3://bucket/key.csv"), scheme("data/events.csv")
        ('s3', None)
    """
    if isinstance(path, str) and "://" in path:
        name = path.split("://", 1)[0].lower()
        if name in HANDLERS:
            return name
    return None


def from_file_uri(path: Any) -> Any:
    """A ``file:`` URI (``file:///data/e.parquet``, as Spark and Hadoop write a local path) as
    the local path it names, percent-escapes decoded; anything else as it is.

    Example:
        >>> from_file_uri("file:///data/my%20events.parquet"), from_file_uri("e.csv")
        ('/data/my events.parquet', 'e.csv')
    """
    if not (isinstance(path, str) and path[:5].lower() == "file:"):
        return path
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(path)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(f"{path}: a file on another host ({parts.netloc}); give a path on "
                          "this machine")
    return unquote(parts.path)


def is_remote(path: Any) -> bool:
    """Whether ``path`` is a URL with a handler (``s3://...``)."""
    return scheme(path) is not None


def handler(path: str) -> ModuleType:
    """The handler module for a remote ``path``."""
    name = scheme(path)
    if name is None:
        raise ValueError(f"{path}: not a remote URL attrkit can read ({', '.join(HANDLERS)})")
    return importlib.import_module(HANDLERS[name])


def local_file(path: PathLike) -> Path:
    """``path`` as a local file: remote objects are fetched to a scratch copy kept until the
    process ends (a prefix is an error: this input takes one object)."""
    return handler(path).fetch(path) if is_remote(path) else Path(path)


def local_files(path: PathLike, suffixes: tuple[str, ...]) -> list[Path]:
    """Every file that ``path`` names (see :func:`expand`), as local files in name order."""
    return [local for _, local in expand(path, suffixes)]


GLOB = frozenset("*?[")
"""Characters that make a path a pattern (``events/2026-11-*.parquet``)."""


def is_pattern(path: Any) -> bool:
    """Whether ``path`` is a glob pattern rather than one file or folder."""
    return any(c in GLOB for c in str(path))


def expand(path: PathLike, suffixes: tuple[str, ...]) -> list[tuple[str, Path]]:
    """Every data file that ``path`` names, as ``(name to show in messages, local file)`` in
    name order: a file; a folder (searched to any depth, following links, as data lakes
    partition them); a glob pattern (``**`` for any depth; a folder it matches is searched
    too); an ``s3://`` key, prefix ending in ``/``, or key pattern. In folders and patterns
    only names ending in one of ``suffixes`` count, and hidden, temporary and marker files and
    folders (``.x``, ``_SUCCESS``, ``_temporary/``) are skipped. Each file is listed once,
    however many links or patterns lead to it. A link to nothing is an error.
    A folder or pattern that names no file gives an empty list."""
    if is_remote(path):
        remote = handler(path)
        if hasattr(remote, "download_named"):
            return remote.download_named(str(path), suffix_filter=suffixes)
        # a handler with ``download`` only: objects under a prefix are named by their file name
        return [(str(path) + local.name if str(path).endswith("/") else str(path), local)
                for local in remote.download(str(path), suffix_filter=suffixes)]
    text = str(path)
    if Path(text).is_dir():
        found = _walk(Path(text), suffixes)
    elif is_pattern(text) and not Path(text).exists():
        root = Path(os.path.dirname(re.split(r"[*?\[]", text, maxsplit=1)[0]) or ".")
        found = []
        for hit in sorted(glob.glob(text, recursive=True)):
            p = Path(hit)
            if not all(listed(part) for part in p.relative_to(root).parts):
                continue
            found += _walk(p, suffixes) if p.is_dir() else [p] if p.suffix.lower() in suffixes \
                else []
    else:
        return [(text, Path(text))]
    seen: set[Path] = set()
    out = []
    for p in sorted(found):
        if p.is_symlink() and not p.exists():
            raise ConfigError(f"{p}: a link to nothing; remove it or point it at a file")
        real = p.resolve()
        if real not in seen and p.is_file():
            seen.add(real)
            out.append((str(p), p))
    return out


def _walk(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Data files under ``root`` at any depth, following links to folders once each (a loop of
    links is not followed round), skipping hidden, temporary and marker names."""
    out, visited = [], set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = sorted(d for d in dirs if listed(d))
        out += [Path(folder) / f for f in files
                if listed(f) and Path(f).suffix.lower() in suffixes]
    return out


def listed(name: str) -> bool:
    """Whether a file found in a folder or under a prefix is data to read: not hidden
    (attrkit's own temporary files start with a dot, as editors' and Spark's do) and not a
    marker such as ``_SUCCESS`` or ``_temporary``.

    Example:
        >>> [listed(n) for n in ("r.csv", ".r.x1.tmp.csv", "_SUCCESS", "part-0.csv")]
        [True, False, False, True]
    """
    return not name.startswith((".", "_"))


def same_file(path: PathLike, others: list[PathLike]) -> bool:
    """Whether local ``path`` is one of the local files ``others`` (links and ``..`` resolved)."""
    if is_remote(path):
        return any(str(path) == str(o) for o in others)
    try:
        target = Path(path).resolve()
        return any(not is_remote(o) and Path(o).resolve() == target for o in others)
    except (RuntimeError, OSError):  # a symbolic link loop
        raise ConfigError(f"{check_name(str(path))}: a loop of symbolic links") from None


def remove_local(path: PathLike) -> bool:
    """Delete a local regular file if it exists (when the enclosing :func:`together` block
    succeeds, if any); True if there was one (remote: never)."""
    return not is_remote(path) and remove_later(Path(path))


def is_folder(path: PathLike) -> bool:
    """Whether ``path`` names a folder or prefix to write into (it exists as a folder, or ends
    in a slash)."""
    return str(path).endswith(("/", "\\")) or (not is_remote(path) and Path(path).is_dir())


def join(folder: PathLike, name: str) -> PathLike:
    """``name`` inside ``folder`` (a local folder or a remote prefix)."""
    if is_remote(folder):
        return str(folder).rstrip("/") + "/" + name
    return Path(folder) / name


def sibling(path: PathLike, name: str) -> PathLike:
    """``name`` beside the file ``path`` (locally or under the same remote prefix)."""
    if is_remote(path):
        return str(path).rsplit("/", 1)[0] + "/" + name
    return Path(path).with_name(name)


def write_with(path: PathLike, write: Callable[[Path], None], *, kms_key_arn: str | None = None,
               content_type: str | None = None) -> PathLike:
    """Write one file through ``write(local_path)``: atomically in place for a local ``path``;
    to a scratch file then uploaded for a remote one (encrypted with ``kms_key_arn`` when
    given). Returns where the file now is."""
    if not is_remote(path):
        target = Path(path)
        with atomic_path(target) as tmp:
            write(tmp)
        return target
    with tempfile.TemporaryDirectory(prefix="attrkit-put-") as d:
        local = Path(d) / str(path).rsplit("/", 1)[-1]
        with os_errors_named(local):  # the scratch disk filled up before the upload
            write(local)
        return put(local, str(path), kms_key_arn=kms_key_arn, content_type=content_type)


def put(local: PathLike, url: str, *, kms_key_arn: str | None = None,
        content_type: str | None = None) -> str:
    """Upload a finished local file to ``url`` (a prefix ending in ``/`` keeps its name)."""
    return handler(url).upload(local, url, kms_key_arn=kms_key_arn, content_type=content_type)


def share_link(url: str, *, expires: int = 3600) -> str:
    """A time-limited link to a remote object, for sharing a report."""
    return handler(url).presign(url, expires=expires)


__all__ = ["GLOB", "HANDLERS", "atomic_path", "atomic_write_csv", "atomic_write_text",
           "check_name", "expand", "handler", "is_folder", "is_pattern", "is_remote", "join",
           "listed", "local_file", "local_files", "put", "read_small", "remove_local",
           "remove_later", "same_file", "scheme", "share_link", "sibling", "together",
           "unique_path", "write_frame", "write_with"]
