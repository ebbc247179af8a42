"""The frame contracts every module agrees on, and the one adapter from pandas to polars.

attrkit works on polars frames and accepts pandas wherever a frame goes in; results go out as
polars with ``to_pandas()`` beside. The schemas here are the shapes that cross module
boundaries: the windowed metrics (what the engine writes and a report reads back), the exposure
(recommendations served), the quarantine (rows set aside), the per-user data, and the
comparison's rows.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

WINDOW_SCHEMA = pl.Schema({
    "window_start": pl.Datetime("us", "UTC"),
    "timestamp": pl.Int64,
    "metric_name": pl.String,
    "event_type": pl.String,
    "math_function": pl.String,
    "source": pl.String,
    "value": pl.Float64,
    "events": pl.Int64,
})
"""The tidy windowed frame: one row per (window, metric, source). ``events`` is null where the
number of events is not known (a ``sum`` read back from a report)."""

EXPOSURE_SCHEMA = pl.Schema({"timestamp": pl.Int64, "source": pl.String, "exposure": pl.Float64})
"""Recommendations served per 15-minute window and source."""

QUARANTINE_SCHEMA = pl.Schema({
    "DATASET": pl.String, "FILE": pl.String, "LINE": pl.Int64, "ROW": pl.Int64,
    "COLUMN": pl.String, "RULE": pl.String, "VALUE": pl.String, "RECORD": pl.String,
})
"""One row per input row set aside (``quarantine=True``): where it was and the rule it broke."""

ASSIGNMENT_SCHEMA = pl.Schema({"USER_ID": pl.String, "arm": pl.String,
                               "first_served": pl.Int64, "sources_served": pl.Int64})
VALUES_SCHEMA = pl.Schema({"USER_ID": pl.String, "day": pl.Int64, "metric_name": pl.String,
                           "source": pl.String, "value": pl.Float64})
SERVED_SCHEMA = pl.Schema({"USER_ID": pl.String, "day": pl.Int64, "source": pl.String,
                           "recommendations": pl.Int64})
"""Per-user data (:class:`~attrkit.attribution.users.UserData`): each user's arm, the metric
per user, UTC day and source, and the recommendations served per user, day and source."""
USER_ORDER = {"assignment": ("USER_ID",), "values": ("USER_ID", "day", "metric_name", "source"),
              "served": ("USER_ID", "day", "source")}
"""The per-user frames' order, as every engine gives them whole."""

RESULT_SCHEMA = pl.Schema({
    "metric": pl.String, "control": pl.String, "treatment": pl.String,
    "control_total": pl.Float64, "treatment_total": pl.Float64,
    "control_exposure": pl.Float64, "treatment_exposure": pl.Float64,
    "control_rate": pl.Float64, "treatment_rate": pl.Float64,
    "effect": pl.Float64, "lift": pl.Float64, "lift_ci_low": pl.Float64,
    "lift_ci_high": pl.Float64, "lift_se": pl.Float64, "p_value": pl.Float64, "p_adjusted": pl.Float64,
    "significant": pl.Boolean, "chance_to_win": pl.Float64, "expected_loss": pl.Float64,
    "method": pl.String, "why": pl.String, "windows": pl.Int64,
    "warnings": pl.String, "kind": pl.String, "unit": pl.String, "control_n": pl.Int64,
    "treatment_n": pl.Int64, "tested": pl.Boolean,
})
"""One row per metric, kind and pair. ``control_rate``/``treatment_rate`` are the estimator's
arm values (mean per user, ratio per recommendation, or rate per exposure); ``lift`` is
relative; ``tested`` says whether the row is in the multiple-comparison family (randomised and
computed); ``significant`` is null where no verdict is given. ``lift_se`` is the relative lift's
standard error (delta method; for window-level rows, from the interval's width).
``chance_to_win`` (the chance that
the treatment beats the control) and ``expected_loss`` (the relative loss expected from choosing
the treatment) are the decision numbers of tested rows (:func:`attrkit.stats.decision`), null
elsewhere."""


RESERVED_PREFIX = "__attrkit_"
"""attrkit's working columns (row positions, rule descriptions, hashes) start with this; the
readers refuse data columns that do, so the two can never meet."""


def to_datetime(epoch_seconds: pl.Expr) -> pl.Expr:
    """Unix seconds as a UTC datetime (microsecond precision): ``timestamp`` → ``window_start``."""
    return pl.from_epoch(epoch_seconds, time_unit="s").dt.replace_time_zone("UTC")


def iso_seconds(text: str) -> float:
    """An ISO 8601 date-time as Unix seconds: UTC when it names no zone, ``Z`` accepted.

    Raises:
        ValueError: not an ISO 8601 date-time.

    Example:
        >>> iso_seconds("2026-01-05T00:00"), iso_seconds(" 2026-01-05T00:00:01.5Z")
        (1767571200.0, 1767571201.5)
    """
    t = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


TODAY_VARIABLE = "ATTRKIT_TODAY"
"""An environment variable naming the day relative dates count from (``2026-11-30``); unset,
today's date in UTC. A scheduler's backfill sets it to the run's date."""
_RELATIVE = re.compile(r"([+-])(\d{1,5})([dw])", re.ASCII)


def today() -> int:
    """Midnight UTC of the day relative dates count from, as Unix seconds: the date in
    ``ATTRKIT_TODAY`` when it is set, else today's date in UTC."""
    pinned = os.environ.get(TODAY_VARIABLE, "").strip()
    if not pinned:
        now = datetime.now(UTC)
        return int(datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp())
    try:
        day = date.fromisoformat(pinned)
    except ValueError:
        raise ValueError(f"{TODAY_VARIABLE}={pinned!r}: not a date such as 2026-11-30") from None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def when(text: str) -> int:
    """A date as Unix seconds: an ISO 8601 date or date-time (UTC unless it names a zone), or a
    date relative to today (:func:`today`, midnight UTC): ``today``, ``yesterday``, ``-7d``
    (midnight seven days before today), ``+1d``, ``-2w``. ``start=-7d`` with ``end=today`` is
    the last seven whole days, whenever it runs.

    Raises:
        ValueError: none of these.

    Example:
        >>> os.environ[TODAY_VARIABLE] = "2026-11-30"
        >>> when("today"), when("-7d") == when("2026-11-23"), when("2026-11-30T06:00Z")
        (1795996800, True, 1796018400)
        >>> del os.environ[TODAY_VARIABLE]
    """
    t = str(text).strip().lower()
    if t in ("today", "yesterday"):
        return today() - (86_400 if t == "yesterday" else 0)
    hit = _RELATIVE.fullmatch(t)
    if hit:
        sign, n, unit = hit.groups()
        days = int(n) * (7 if unit == "w" else 1)
        return today() + (1 if sign == "+" else -1) * days * 86_400
    try:
        return int(iso_seconds(str(text)))
    except ValueError:
        raise ValueError(f"{text!r}: not a date: give an ISO date or date-time in UTC "
                         "(2026-11-23, 2026-11-23T06:00), today, yesterday, or days or weeks "
                         "before or after today (-7d, +1d, -2w)") from None


def is_relative(text: Any) -> bool:
    """Whether ``text`` is a date relative to today (``today``, ``yesterday``, ``-7d``)."""
    t = str(text).strip().lower()
    return isinstance(text, str) and (t in ("today", "yesterday") or bool(_RELATIVE.fullmatch(t)))


def iso_day(seconds: int) -> str:
    """Unix seconds as an ISO date-time in UTC, to the second (``2026-11-23T00:00:00Z``)."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_polars(x: Any, what: str) -> pl.DataFrame:
    """A polars frame from a polars or pandas frame (or lazy frame, or anything with a
    ``windows`` frame, such as an :class:`~attrkit.Attribution`); a one-line error otherwise."""
    if hasattr(x, "windows") and isinstance(x.windows, pl.DataFrame):
        return x.windows
    if isinstance(x, pl.LazyFrame):
        return x.collect()
    if isinstance(x, pl.DataFrame):
        return x
    if is_pandas(x):
        return pl.from_pandas(x)
    raise TypeError(f"{what}: expected a polars or pandas frame, got {type(x).__name__}")


def is_pandas(x: Any) -> bool:
    """Whether ``x`` is a pandas object (tested by module, so pandas is not imported here)."""
    return type(x).__module__.startswith("pandas")
