"""Plots for reports: one theme, sources in a stable order with stable colours, UTC time axes.

Every function takes ``ax=None`` (a new figure when None) and returns the Axes. Labels are
drawn as text, never interpreted, so a hostile source name is harmless.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import polars as pl

from attrkit import _defaults as D

PALETTE = ("#1b6ca8", "#e07b39", "#3a9e5c", "#b5475b", "#7d5ba6", "#8c6d46", "#d16ba5",
           "#6e7b85", "#a3a322", "#2aa7b8")
UNDEFINED_COLOUR = "#9a9a9a"

THEME = {
    "figure.figsize": (9, 3.6), "figure.dpi": 100, "savefig.dpi": 100,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.color": "#e4e4e4", "grid.linewidth": 0.8, "axes.titlesize": 12,
    "axes.titleweight": "bold", "axes.labelsize": 10, "legend.fontsize": 8,
    "legend.frameon": False, "font.family": "DejaVu Sans", "svg.fonttype": "none",
    "text.usetex": False,
}


def set_theme() -> None:
    """Apply attrkit's plot theme to matplotlib."""
    plt.rcParams.update(THEME)


def short_label(source: str, width: int = 40) -> str:
    """A readable source label: the part of an ARN after the last ``/``, cut to ``width``.

    Example:
        >>> short_label("arn:aws:personalize:us-east-1:111122223333:recommender/top-picks")
        'top-picks'
    """
    text = source.rsplit("/", 1)[-1] if source.startswith("arn:") else source
    return text if len(text) <= width else text[: width - 1] + "…"


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
    set_theme()
    _, new = plt.subplots(figsize=size or THEME["figure.figsize"])
    return new


def _time_axis(ax: Any) -> None:
    locator = mdates.AutoDateLocator(tz=mdates.UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=mdates.UTC))
    ax.set_xlabel("window start (UTC)")


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
    colours = source_colours(w["source"].unique().to_list())
    for source, colour in colours.items():
        s = w.filter(pl.col("source") == source).sort("window_start")
        ax.plot(s["window_start"].to_list(), s["value"].to_list(), color=colour, lw=1.2,
                label=short_label(source))
    bucket = f"per {resample}" if resample else "per 15-minute window"
    ax.set_ylabel(f"{metric.upper()} {bucket}" + (f" ({unit})" if unit else ""))
    ax.set_title(f"{metric.upper()} by source")
    _time_axis(ax)
    ax.legend(loc="upper left", ncol=2)
    return ax


def plot_forest(table: Any, *, ax: Any = None) -> Any:
    """Relative lifts with their intervals, one row per comparison (a forest plot)."""
    frame = table.frame if hasattr(table, "frame") else table
    frame = frame.filter(pl.col("lift").is_not_nan())
    n = frame.height
    ax = _ax(ax, (9, max(1.6, 0.45 * n + 1.0)))
    labels, y = [], list(range(n))[::-1]
    for i, r in zip(y, frame.iter_rows(named=True), strict=True):
        colour = PALETTE[0] if r["significant"] else "#777777"
        lo, hi = r["lift_ci_low"] * 100, r["lift_ci_high"] * 100
        ax.plot([lo, hi], [i, i], color=colour, lw=2)
        ax.plot([r["lift"] * 100], [i], "o", color=colour)
        labels.append(f"{r['metric']}: {short_label(r['treatment'], 24)} vs "
                      f"{short_label(r['control'], 24)}")
    ax.axvline(0, color="#444444", lw=1)
    ax.set_yticks(y, labels)
    ax.set_xlabel("relative lift (%), with confidence interval")
    ax.set_title("Lift by comparison (filled blue: significant after correction)")
    return ax


def plot_monitor(frame: pl.DataFrame, *, ax: Any = None, title: str = "") -> Any:
    """The always-valid interval on the lift over time, from :func:`attrkit.monitor`."""
    ax = _ax(ax)
    t = frame["window_start"].to_list()
    ax.fill_between(t, (frame["ci_low"] * 100).to_list(), (frame["ci_high"] * 100).to_list(),
                    color=PALETTE[0], alpha=0.2, lw=0, label="always-valid interval")
    ax.plot(t, (frame["effect"] * 100).to_list(), color=PALETTE[0], lw=1.2, label="lift")
    ax.axhline(0, color="#444444", lw=1)
    finite = frame.filter(pl.col("ci_high").is_finite() & pl.col("ci_low").is_finite())
    if finite.height:
        span = finite.tail(max(1, finite.height * 3 // 4))
        lo, hi = span["ci_low"].min() * 100, span["ci_high"].max() * 100
        pad = (hi - lo) * 0.5 if math.isfinite(hi - lo) else 1
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_ylabel("relative lift (%)")
    ax.set_title(title or "Always-valid monitoring")
    _time_axis(ax)
    ax.legend(loc="upper right")
    return ax


def plot_traffic_share(exposure: pl.DataFrame, *, ax: Any = None, resample: str = "1h") -> Any:
    """Each source's share of recommendations served over time."""
    ax = _ax(ax)
    e = exposure.with_columns(
        pl.from_epoch("timestamp", time_unit="s").dt.replace_time_zone("UTC").alias("t"))
    e = (e.sort("t").group_by_dynamic("t", every=resample, group_by="source")
         .agg(pl.col("exposure").sum()))
    e = e.with_columns((pl.col("exposure") / pl.col("exposure").sum().over("t")).alias("share"))
    for source, colour in source_colours(e["source"].unique().to_list()).items():
        s = e.filter(pl.col("source") == source).sort("t")
        ax.plot(s["t"].to_list(), (s["share"] * 100).to_list(), color=colour, lw=1.2,
                label=short_label(source))
    ax.set_ylabel(f"share of recommendations served per {resample} (%)")
    ax.set_title("Traffic share by source")
    _time_axis(ax)
    ax.legend(loc="lower left", ncol=2)
    return ax
