"""Plots for reports, on seaborn: sources in a stable order with stable colours, UTC time axes.

Every function takes ``ax=None`` (a new figure when None) and returns the Axes. attrkit's theme
applies while a plot is drawn (a context, not a process-wide change); :func:`set_theme` makes it
the default for a whole notebook. Intervals always come from attrkit's statistics, never from
seaborn's own estimates (``errorbar=None``). Labels are drawn as text, never interpreted, so a
hostile source name is harmless.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import polars as pl
import seaborn as sns

from attrkit import defaults as D
from attrkit.frames import to_datetime
from attrkit.names import short_label

PALETTE = ("#1b6ca8", "#e07b39", "#3a9e5c", "#b5475b", "#7d5ba6", "#8c6d46", "#d16ba5",
           "#6e7b85", "#a3a322", "#2aa7b8")
UNDEFINED_COLOUR = "#9a9a9a"

THEME = {
    "figure.figsize": (9, 3.6), "figure.dpi": 100, "savefig.dpi": 100,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.color": "#e4e4e4", "grid.linewidth": 0.8, "axes.titlesize": 12,
    "axes.titleweight": "bold", "axes.labelsize": 10, "legend.fontsize": 8,
    "legend.frameon": False, "font.family": "DejaVu Sans", "svg.fonttype": "none",
    "text.usetex": False, "text.parse_math": False,  # a label with $...$ is text, not maths
}


STYLE = "whitegrid"
"""seaborn's style under attrkit's theme."""

F = TypeVar("F", bound=Callable[..., Any])


def set_theme() -> None:
    """Make attrkit's plot theme the default for the whole process (a notebook's first cell);
    the plot functions apply it while they draw either way."""
    sns.set_theme(style=STYLE, rc=THEME)


@contextlib.contextmanager
def theme() -> Iterator[None]:
    """attrkit's theme for the plots drawn inside the block only."""
    with sns.axes_style(STYLE), plt.rc_context(THEME):
        yield


def _themed(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with theme():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def source_colours(sources: list[str]) -> dict[str, str]:
    """Stable colours: sources sorted, ``SOURCE_NAME_UNDEFINED`` always grey.

    Example:
        >>> source_colours(["b", "a", "SOURCE_NAME_UNDEFINED"])["a"]
        '#1b6ca8'
    """
    named = sorted(s for s in set(sources) if s != D.UNDEFINED_SOURCE)
    colours = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(named)}
    if D.UNDEFINED_SOURCE in sources:
        colours[D.UNDEFINED_SOURCE] = UNDEFINED_COLOUR
    return colours


def _ax(ax: Any, size: tuple[float, float] | None = None) -> Any:
    if ax is not None:
        return ax
    _, new = plt.subplots(figsize=size or THEME["figure.figsize"])
    return new


def _time_axis(ax: Any, times: Any = None) -> None:
    """UTC dates on the x axis, spanning the data (with a margin of at least 15 minutes), so
    that two windows do not stretch the axis over years."""
    times = [t for t in (times if times is not None else []) if t is not None]
    if times:
        first, last = min(times), max(times)
        pad = max((last - first) * 0.03, timedelta(minutes=15))
        ax.set_xlim(first - pad, last + pad)
    locator = mdates.AutoDateLocator(tz=mdates.UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=mdates.UTC))
    ax.set_xlabel("window start (UTC)")


def _lines(ax: Any, frame: pl.DataFrame, x: str, y: str, legend_loc: str) -> None:
    """One line per source, in stable colours, labels shortened; seaborn computes nothing."""
    colours = source_colours(frame["source"].unique().to_list())
    data = frame.select(x, y, pl.col("source").replace_strict(
        {s: short_label(s) for s in colours}, return_dtype=pl.String)).sort("source", x)
    if data.height == 0:
        return
    sparse = data.group_by("source").len()["len"].max() <= 12  # a few points: show each one
    sns.lineplot(data=data.to_pandas(), x=x, y=y, hue="source",
                 hue_order=[short_label(s) for s in colours],
                 palette={short_label(s): c for s, c in colours.items()},
                 estimator=None, errorbar=None, sort=False, lw=1.2, ax=ax,
                 marker="o" if sparse else None, markersize=5)
    ax.legend(loc=legend_loc, ncol=2, title=None)


@_themed
def plot_metric(windows: pl.DataFrame, metric: str, *, ax: Any = None, unit: str = "",
                resample: str | None = "1h") -> Any:
    """One metric per source over time (summed into ``resample`` buckets for readability).

    Args:
        windows: the tidy windowed frame.
        metric: metric name (upper case, as in reports).
        unit: the y axis unit, e.g. ``"events"`` or ``"minutes"``.
        resample: a polars duration to sum windows into, or None for raw 15-minute windows.
    """
    ax = _ax(ax)
    w = windows.filter(pl.col("metric_name") == metric.upper())
    if resample:
        w = (w.sort("window_start").group_by_dynamic("window_start", every=resample,
                                                     group_by="source")
             .agg(pl.col("value").sum()))
    _lines(ax, w, "window_start", "value", "upper left")
    bucket = f"per {resample}" if resample else "per 15-minute window"
    ax.set_ylabel(f"{metric.upper()} {bucket}" + (f" ({unit})" if unit else ""))
    ax.set_title(f"{metric.upper()} by source")
    _time_axis(ax, w["window_start"].to_list())
    return ax


@_themed
def plot_forest(table: Any, *, ax: Any = None) -> Any:
    """Relative lifts with their intervals (attrkit's), one row per comparison: a forest plot.
    Significant rows (after correction) are filled blue, the rest grey. ``table`` may be a
    :class:`~attrkit.ComparisonTable`, its frame, or a comparison by segment's frame."""
    frame = table.frame if hasattr(table, "frame") else table
    frame = frame.filter(pl.col("lift").is_not_nan())
    if "segment" in frame.columns:  # a comparison by segment: the segment leads each label
        frame = frame.with_columns((pl.col("segment") + " · " + pl.col("metric")).alias("metric"))
    ax = _ax(ax, (9, max(1.6, 0.45 * frame.height + 1.0)))
    kind = (" " + pl.col("kind").str.replace_all("_", " ") if "kind" in frame.columns
            else pl.lit(""))
    rows = frame.select(
        (pl.col("metric") + kind.fill_null("") + ": " + pl.col("treatment").map_elements(
            lambda s: short_label(s, 24), return_dtype=pl.String) + " vs "
         + pl.col("control").map_elements(lambda s: short_label(s, 24), return_dtype=pl.String))
        .alias("comparison"),
        (pl.col("lift") * 100).alias("lift"), (pl.col("lift_ci_low") * 100).alias("low"),
        (pl.col("lift_ci_high") * 100).alias("high"),
        pl.when(pl.col("significant").fill_null(False)).then(pl.lit("significant"))
        .otherwise(pl.lit("not significant")).alias("verdict"),
    )
    colours = {"significant": PALETTE[0], "not significant": "#777777"}
    y = list(range(rows.height))[::-1]  # the first comparison on top
    for verdict, colour in colours.items():
        sel = [i for i, v in enumerate(rows["verdict"].to_list()) if v == verdict]
        ax.hlines([y[i] for i in sel], rows["low"].gather(sel).to_list(),
                  rows["high"].gather(sel).to_list(), color=colour, lw=2)
    if rows.height:
        sns.scatterplot(x=rows["lift"].to_list(), y=y, hue=rows["verdict"].to_list(),
                        palette=colours, s=40, legend=False, ax=ax, zorder=3)
    ax.axvline(0, color="#444444", lw=1)
    ax.set_yticks(y, rows["comparison"].to_list())
    ax.set_xlabel("relative lift (%), with confidence interval")
    ax.set_title("Lift by comparison (filled blue: significant after correction)")
    return ax


@_themed
def plot_monitor(frame: pl.DataFrame, *, ax: Any = None, title: str = "") -> Any:
    """The always-valid interval on the lift over time, from :func:`attrkit.monitor`."""
    ax = _ax(ax)
    t = frame["window_start"].to_list()
    ax.fill_between(t, (frame["ci_low"] * 100).to_list(), (frame["ci_high"] * 100).to_list(),
                    color=PALETTE[0], alpha=0.2, lw=0, label="always-valid interval")
    if frame.height:
        sns.lineplot(x=t, y=(frame["effect"] * 100).to_list(), color=PALETTE[0], lw=1.2,
                     label="lift", estimator=None, errorbar=None, sort=False, ax=ax)
    ax.axhline(0, color="#444444", lw=1)
    finite = frame.filter(pl.col("ci_high").is_finite() & pl.col("ci_low").is_finite())
    if finite.height:
        span = finite.tail(max(1, finite.height * 3 // 4))
        lo, hi = span["ci_low"].min() * 100, span["ci_high"].max() * 100
        pad = (hi - lo) * 0.5 if math.isfinite(hi - lo) and hi > lo else 1
        ax.set_ylim(lo - pad, hi + pad)
    low, high = ax.get_ylim()  # zero, the line that matters, is always in view
    margin = 0.05 * (high - low)
    ax.set_ylim(min(low, -margin), max(high, margin))
    ax.set_ylabel("relative lift (%)")
    ax.set_title(title or "Always-valid monitoring")
    _time_axis(ax, t)
    ax.legend(loc="upper right")
    return ax


@_themed
def plot_traffic_share(exposure: pl.DataFrame, *, ax: Any = None, resample: str = "1h") -> Any:
    """Each source's share of recommendations served over time."""
    ax = _ax(ax)
    e = exposure.with_columns(to_datetime(pl.col("timestamp")).alias("t"))
    e = (e.sort("t").group_by_dynamic("t", every=resample, group_by="source")
         .agg(pl.col("exposure").sum()))
    e = e.with_columns((pl.col("exposure") / pl.col("exposure").sum().over("t") * 100)
                       .alias("share"))
    _lines(ax, e, "t", "share", "lower left")
    ax.set_ylabel(f"share of recommendations served per {resample} (%)")
    ax.set_title("Traffic share by source")
    _time_axis(ax, e["t"].to_list())
    return ax


DAILY = {"total": "per day", "per_recommendation": "per recommendation served, by day",
         "per_assigned_user": "per assigned user, by day"}
"""What each column of :func:`attrkit.reports.over_time.daily_rates` shows."""


@_themed
def plot_daily(daily: pl.DataFrame, metric: str, column: str, *, ax: Any = None) -> Any:
    """One column of a metric's daily rates (``total``, ``per_recommendation`` or
    ``per_assigned_user``) per source, one point per UTC day."""
    ax = _ax(ax)
    shown = daily.filter(pl.col(column).is_not_null()) if column in daily.columns else daily[:0]
    _lines(ax, shown.select("day", "source", column), "day", column, "best")
    ax.set_ylabel(f"{metric.upper()} {DAILY.get(column, column)}")
    ax.set_title(f"{metric.upper()} {DAILY.get(column, column)}")
    _time_axis(ax, shown["day"].to_list())
    ax.set_xlabel("day (UTC)")
    return ax


@_themed
def plot_runs(points: pl.DataFrame, metric: str, *, ax: Any = None) -> Any:
    """A metric's headline lift in each run, oldest first, one point per run with its interval:
    filled where the interval is always-valid (runs that look at one experiment), open where it
    is the run's own fixed-horizon interval.

    Args:
        points: ``run`` (the x label), ``pair`` (treatment vs control), ``lift``, ``low``,
            ``high`` (relative, as fractions; null or infinite where unbounded) and
            ``always_valid``.
    """
    ax = _ax(ax, (max(6.0, min(16.0, 1.0 + 0.55 * points.height)), 3.4))
    pairs = points["pair"].unique(maintain_order=True).to_list()
    colours = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(pairs)}
    x = list(range(points.height))
    finite = [v for c in ("low", "high", "lift") for v in points[c].to_list()
              if v is not None and math.isfinite(v)]
    lo, hi = (min(finite) * 100, max(finite) * 100) if finite else (-1.0, 1.0)
    pad = max((hi - lo) * 0.15, 0.5)
    for i, r in enumerate(points.iter_rows(named=True)):
        colour = colours[r["pair"]]
        low = r["low"] * 100 if r["low"] is not None and math.isfinite(r["low"]) else lo - pad
        high = r["high"] * 100 if r["high"] is not None and math.isfinite(r["high"]) else hi + pad
        ax.vlines(i, low, high, color=colour, lw=2.2 if r["always_valid"] else 1.2)
        ax.plot([i], [r["lift"] * 100], marker="o", markersize=6, color=colour,
                markerfacecolor=colour if r["always_valid"] else "white", zorder=3)
    for p, c in colours.items():
        ax.plot([], [], marker="o", color=c, lw=1.2, label=p)
    ax.axhline(0, color="#444444", lw=1)
    ax.set_ylim(min(lo - pad, -pad), max(hi + pad, pad))
    ax.set_xlim(-0.6, max(x, default=0) + 0.6)
    ax.set_xticks(x, points["run"].to_list(), rotation=30 if points.height > 6 else 0,
                  ha="right" if points.height > 6 else "center")
    ax.set_ylabel("relative lift (%)")
    ax.set_xlabel("run (data up to)")
    ax.set_title(f"{metric}: lift by run (filled: always-valid interval)")
    ax.legend(loc="best")
    return ax


def png(ax: Any) -> bytes:
    """The figure of ``ax`` as PNG bytes, the same bytes for the same plot (no metadata), and
    the figure closed."""
    import io

    fig = ax.figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
