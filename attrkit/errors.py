"""The errors attrkit raises.

Callers catch :class:`AttrkitError` for anything attrkit reports about its inputs; the
subclasses say which kind of input was wrong. Every message names where the problem is (file,
line or row, column) and the rule that failed, on one line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import unicodedata
from collections.abc import Iterator
from typing import Any


class AttrkitError(Exception):
    """Base class: a problem with the caller's inputs or options, explained in one line.

    Example:
        >>> import attrkit
        >>> try:
        ...     attrkit.attribute("no-such-file.csv", {"name": "m", "metrics": [{"eventType": "c",
        ...         "metricName": "c", "expression": "SAMPLECOUNT()"}]})
        ... except attrkit.AttrkitError as exc:
        ...     print(type(exc).__name__)
        InputError
    """


class ConfigError(AttrkitError, ValueError):
    """The metric attribution configuration or an option breaks a rule.

    Example:
        >>> import attrkit
        >>> try:
        ...     attrkit.MetricAttribution.from_dict({"name": "m", "metrics": []})
        ... except attrkit.ConfigError as exc:
        ...     print(isinstance(exc, ValueError))
        True
    """


class InputError(AttrkitError, ValueError):
    """A data file or frame breaks a rule of its schema.

    Attributes:
        source: the file path or a description of the frame.
        line: 1-based line number in a CSV/JSONL file, counting the header as line 1; ``None``
            for Parquet and in-memory frames, where ``row`` is given instead.
        row: 0-based row number for Parquet and frames.
        column: the column that broke the rule, when there is one.
        rule: what was expected.

    Example:
        >>> from attrkit import InputError
        >>> err = InputError("events.csv", "required value is missing", line=3, column="USER_ID")
        >>> err.line, err.column
        (3, 'USER_ID')
    """

    def __init__(
        self,
        source: str,
        rule: str,
        *,
        line: int | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.source, self.rule, self.line, self.row, self.column = source, rule, line, row, column
        where = source
        if line is not None:
            where += f", line {line}"
        elif row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {rule}")


class AwsError(AttrkitError):
    """An AWS call failed: access, missing bucket or key, credentials or endpoint."""


class ReportError(AttrkitError):
    """A report notebook failed; the HTML with the error was still written.

    Attributes:
        bad_input: the failure was the user's input or a parameter (an :class:`InputError` or
            :class:`ConfigError` inside the notebook), not attrkit: the CLI exits 2, not 1.
    """

    def __init__(self, message: str, *, bad_input: bool = False) -> None:
        super().__init__(message)
        self.bad_input = bad_input


_OS_HINTS = {
    errno.EACCES: "check its permissions",
    errno.EPERM: "check its permissions",
    errno.ENOSPC: "the disk is full: free space or write elsewhere",
    errno.EDQUOT: "the disk quota is used up: free space or write elsewhere",
    errno.EFBIG: "the file is larger than this system allows (a file-size limit): write elsewhere",
    errno.EIO: "the disk failed to read or write: check the device, or write elsewhere",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.ENAMETOOLONG: "a file name is at most 255 bytes: choose a shorter one",
    errno.EISDIR: "a folder is there, where a file was expected",
    errno.ENOTDIR: "a file is in the way, where a folder was expected",
    errno.EEXIST: "a file is in the way, where a folder was expected",
    errno.ENOENT: "check the path",
}


_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def os_errno(exc: BaseException) -> int | None:
    """The operating system's error number behind ``exc``: an ``OSError``'s own, or the
    ``(os error 28)`` that polars' Rust I/O writes into its messages (its ``OSError`` and
    ``ComputeError`` carry no ``errno``); ``None`` for any other failure.

    Example:
        >>> os_errno(OSError("No space left on device (os error 28)"))
        28
        >>> os_errno(ValueError("x")) is None
        True
        >>> str(explain(FileNotFoundError("No such file or directory (os error 2): /d/e.csv")))
        '/d/e.csv: no such file or directory; check the path'
    """
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    module = type(exc).__module__.split(".", 1)[0]
    if isinstance(exc, OSError) or module in ("polars", "pyo3_runtime"):
        found = _OS_ERROR.search(str(exc))
        if found:
            return int(found.group(1))
    return None


def named_os_error(exc: BaseException, path: Any) -> OSError | None:
    """``exc`` as an ``OSError`` naming ``path`` (the file being written) when it is the
    operating system's failure and does not name a file itself; else ``None``."""
    code = os_errno(exc)
    if code is None or getattr(exc, "filename", None) is not None:
        return None
    return OSError(code, os.strerror(code), str(path))


@contextlib.contextmanager
def os_errors_named(path: Any) -> Iterator[None]:
    """Inside this block, a failure of the operating system that names no file (polars' Rust
    I/O, a write to a full disk) is raised as an ``OSError`` naming ``path``, the original
    chained; any other failure passes unchanged."""
    try:
        yield
    except Exception as exc:
        named = named_os_error(exc, path)
        if named is None:
            raise
        raise named from exc


def explain(exc: BaseException) -> AttrkitError | None:
    """attrkit's one-line error for a failure of the environment or of the user's input met
    inside a library (the operating system, polars, JSON, YAML, nbformat, Jupyter), or ``None``
    when ``exc`` is none of these: then it is a bug in attrkit.

    Example:
        >>> str(explain(PermissionError(13, "Permission denied", "/data/events.csv")))
        '/data/events.csv: permission denied; check its permissions'
        >>> explain(KeyError("x")) is None
        True
    """
    if isinstance(exc, AttrkitError):
        return exc
    code = os_errno(exc)
    if code is not None:
        where = getattr(exc, "filename", None)
        if where is None:  # polars names the file after its "(os error N): "
            named = re.search(r"\(os error \d+\):\s*(\S.*)$", first_line(exc))
            where = named.group(1) if named else "file system"
        what = (getattr(exc, "strerror", None) or os.strerror(code)).lower()
        hint = _OS_HINTS.get(code)
        return AttrkitError(f"{where}: {what}" + (f"; {hint}" if hint else ""))
    if isinstance(exc, MemoryError):
        return AttrkitError("out of memory: the input is larger than this machine can hold; "
                            "try --low-memory or fewer input files")
    if isinstance(exc, RecursionError):
        return AttrkitError("an input is nested too deeply to read (JSON or YAML nested "
                            "thousands of levels)")
    module = type(exc).__module__.split(".", 1)[0]
    if module in _LIBRARIES:
        return AttrkitError(f"{_LIBRARIES[module]}: {first_line(exc)}")
    return None


_LIBRARIES = {
    "polars": "the data could not be read (polars)",
    "pyo3_runtime": "the data could not be read (polars stopped)",
    "py4j": "Spark failed",
    "pyspark": "Spark failed",
    "json": "not valid JSON",
    "yaml": "not valid YAML",
    "nbformat": "not a Jupyter notebook",
    "jupyter_client": "Jupyter",
    "nbclient": "the notebook's kernel failed",
    "papermill": "the notebook could not be run",
}


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (its type's name if it has none)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def one_line(text: str, limit: int = 2000) -> str:
    """``text`` made safe to print as one terminal line: control characters (newlines, escape
    sequences, bidirectional overrides) shown as escapes, and at most ``limit`` characters.

    Example:
        >>> one_line("source a\\nattrkit: forged line \\x1b[2J")
        'source a\\\\nattrkit: forged line \\\\x1b[2J'
    """
    shown = "".join(_escape(c) for c in text[: limit + 1])
    if len(text) > limit:
        shown = shown[:limit] + f"… ({len(text) - limit:,} more characters)"
    return shown


def _escape(char: str) -> str:
    if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
        return char.encode("unicode_escape", "backslashreplace").decode("ascii")
    return char


def json_problem(exc: BaseException) -> str:
    """What was wrong with text that ``json.loads`` refused, in words (for messages that name
    the file): bad syntax, nesting too deep, a number too long, or bytes that are not UTF-8."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return "not valid UTF-8"
    if hasattr(exc, "msg") and hasattr(exc, "colno"):
        return f"{exc.msg}, line {exc.lineno} column {exc.colno}"
    if "digits" in str(exc):
        return "a number with more than 4,300 digits"
    return first_line(exc)


def has_surrogate(value: Any) -> bool:
    """Whether decoded JSON holds a lone surrogate anywhere (key or string)."""
    if isinstance(value, str):
        return any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(has_surrogate(k) or has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_surrogate(v) for v in value)
    return False
