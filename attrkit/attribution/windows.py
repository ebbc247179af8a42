"""15-minute windows: which window an event falls in.

A window starts at ``origin + floor((t - origin) / length) * length`` (Unix seconds), so a
timestamp exactly on a boundary opens the next window, and times before the origin fall into
windows that start before it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.errors import ConfigError, InputError
from attrkit.frames import to_datetime, when

__all__ = ["between", "check_window", "to_datetime", "window_start"]


def check_window(length: int, origin: int) -> None:
    """Raise :class:`ConfigError` unless ``length`` is a positive whole number of seconds and
    ``origin`` whole seconds, both within the range of plausible timestamps."""
    if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
        raise ConfigError(f"window_seconds={length!r}: must be a positive whole number of seconds")
    if isinstance(origin, bool) or not isinstance(origin, int):
        raise ConfigError(f"window_origin={origin!r}: must be a whole number of Unix seconds")
    # Timestamps are within ±MAX_PLAUSIBLE_SECONDS, so these bounds keep every window start
    # (origin + k * length) inside 64 bits.
    limit = D.MAX_PLAUSIBLE_SECONDS
    if length > limit:
        raise ConfigError(f"window_seconds={length}: must be at most {limit:,} seconds "
                          "(about 3,000 years)")
    if not -limit < origin < limit:
        raise ConfigError(f"window_origin={origin}: must be within ±{limit:,} Unix seconds")


def window_start(
    timestamp: pl.Expr | str = "TIMESTAMP",
    *,
    length: int = D.WINDOW_SECONDS,
    origin: int = D.WINDOW_ORIGIN,
) -> pl.Expr:
    """The start (Unix seconds, Int64) of the window holding ``timestamp``.

    Example:
        >>> import polars as pl
        >>> pl.select(window_start(pl.lit(1799), length=900, origin=0)).item()
        900
        >>> pl.select(window_start(pl.lit(23), length=900, origin=24)).item()
        -876
    """
    check_window(length, origin)
    t = pl.col(timestamp) if isinstance(timestamp, str) else timestamp
    # Integer floor division floors toward minus infinity, which is what negative offsets need.
    return ((t - origin) // length) * length + origin


def between(windows: pl.DataFrame, exposure: pl.DataFrame | None, users: Any,
            start: str | int | None = None, end: str | int | None = None
            ) -> tuple[pl.DataFrame, pl.DataFrame | None, Any]:
    """Windows, exposure and per-user data in a date range: windows that start from ``start``
    (inclusive) and before ``end`` (exclusive), per-user data by whole UTC days. Each bound is
    Unix seconds, an ISO date or date-time in UTC, or a date relative to today (``-7d``,
    ``today``; :func:`attrkit.frames.when`); empty or None for open.

    Raises:
        ConfigError: a bound that is not a date, or ``start`` not before ``end``.
    """
    def bound(name: str, x: Any) -> int | None:
        if x is None or x == "":
            return None
        if isinstance(x, int) and not isinstance(x, bool):
            return x
        try:
            return when(str(x))
        except ValueError as exc:
            raise ConfigError(f"{name}={exc}") from None

    lo, hi = bound("start", start), bound("end", end)
    if lo is not None and hi is not None and lo >= hi:
        raise ConfigError(f"start={start!r} and end={end!r}: start must be before end")
    keep = pl.lit(True)
    if lo is not None:
        keep &= pl.col("timestamp") >= lo
    if hi is not None:
        keep &= pl.col("timestamp") < hi
    if exposure is not None:
        exposure = exposure.filter(keep)
    if users is not None and (lo is not None or hi is not None):
        users = users.between(lo, hi)
    kept = windows.filter(keep)
    if windows.height and not kept.height:
        span = [f"{datetime.fromtimestamp(t, tz=UTC):%Y-%m-%d %H:%M} UTC"
                for t in (windows["timestamp"].min(), windows["timestamp"].max())]
        given = " ".join(f"{k}={v}" for k, v in (("start", start), ("end", end))
                         if v is not None and v != "")
        raise InputError(given, "no data in this date "
                         f"range; the data's windows run from {span[0]} to {span[1]}")
    return kept, exposure, users
