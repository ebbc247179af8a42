"""15-minute windows: which window an event falls in.

A window starts at ``origin + floor((t - origin) / length) * length`` (Unix seconds), so a
timestamp exactly on a boundary opens the next window, and times before the origin fall into
windows that start before it.
"""

from __future__ import annotations

import polars as pl

from attrkit import defaults as D
from attrkit.errors import ConfigError
from attrkit.frames import to_datetime

__all__ = ["check_window", "to_datetime", "window_start"]


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
