"""The report's data: what it analyses and over which dates, from its parameters.

:func:`load_data` reads the bundled sample, the user's files or a Personalize report CSV and
keeps the date range; :func:`compare_data` compares them with the report's options;
:func:`about_run` lists the parameters that applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.frames import when
from attrkit.reports import render
from attrkit.reports.render import Html


def utc_minute(ts: int | None) -> str:
    """Unix seconds as ``2026-11-02 14:15 UTC`` (a dash for none)."""
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def data_window(windows: pl.DataFrame, window_seconds: int = D.WINDOW_SECONDS) -> dict[str, Any]:
    """First and last window (their starts), the end of the last, how many there are, and
    how many are missing in between."""
    if windows.height == 0:
        return {"first": None, "last": None, "windows": 0, "missing_windows": 0}
    ts = windows["timestamp"].unique()
    first, last = int(ts.min()), int(ts.max())
    expected = (last - first) // window_seconds + 1
    return {"first": first, "last": last, "first_utc": utc_minute(first), "last_utc": utc_minute(last),
            "end_utc": utc_minute(last + window_seconds),
            "windows": ts.len(), "missing_windows": int(expected - ts.len())}


def epoch(text: str) -> int:
    """A date as Unix seconds: ISO (UTC unless it says otherwise) or relative to today
    (``-7d``, ``today``; see :func:`attrkit.frames.when`).

    Example:
        >>> epoch("2026-01-05T00:00")
        1767571200
    """
    return when(text)


def between(windows: pl.DataFrame, exposure: pl.DataFrame | None, users: Any,
            start: str = "", end: str = "") -> tuple[pl.DataFrame, pl.DataFrame | None, Any]:
    """The report's date range (:func:`attrkit.attribution.windows.between`): windows and
    exposure from ``start`` (inclusive) to ``end`` (exclusive), ISO date-times in UTC or dates
    relative to today (``-7d``, ``today``), empty for open; per-user data by whole UTC days."""
    from attrkit.attribution.windows import between as in_range

    return in_range(windows, exposure, users, start or None, end or None)


@dataclass
class ReportData:
    """What the report analyses, from its parameters (:func:`load_data`).

    Attributes:
        origin: ``"sample"`` (the bundled synthetic data), ``"files"`` (the user's interactions)
            or ``"report_csv"`` (the service's aggregates: no users, no exposure).
        inputs: the inputs as the report names them.
        metrics: metric names in the metric attribution's order (the report CSV's, read back).
        primary_metric: the metric the report's answer is about.
        baseline, sources: resolved source names (``None`` for every source / every pair).
        segments: see below.
    """

    windows: pl.DataFrame
    health: Any
    exposure: pl.DataFrame | None
    traffic: pl.DataFrame | None
    users: Any
    origin: str
    inputs: dict[str, str]
    metrics: list[str]
    primary_metric: str
    baseline: str | None
    sources: list[str] | None
    until_end: Any = None
    """(windows, exposure, users) before ``end`` only, when a ``start`` is given: the days
    before the start, for CUPED (:func:`compare_data`)."""
    holdout: str | None = None
    """the holdout arm (resolved source name), when one is named."""
    segments: Any = None
    """the segments to compare within (:class:`~attrkit.comparison.segments.Segmentation`), when
    asked for (or the sample's devices)."""


def load_data(p: dict[str, Any]) -> ReportData:
    """The report's data from its parameters (as :func:`~attrkit.reports.checks.
    check_attribution_report` checked them): the bundled sample when no input is given, the
    user's files, or a Personalize report CSV; then the date range ``start``–``end``.
    ``baseline`` and ``sources`` (comma-separated) accept the names the report shows."""
    import attrkit
    from attrkit.names import resolve_source
    from attrkit.reports.checks import given
    from attrkit.simulate.sample import RECOMMENDER_A
    from attrkit.storage.local import scratch_dir

    health = exposure = traffic = users = None
    baseline = p.get("baseline") or ""
    if given(p.get("report_csv")):
        origin, inputs = "report_csv", {"report_csv": p["report_csv"]}
        windows = attrkit.read_report(p["report_csv"])
        metrics = windows["metric_name"].unique(maintain_order=True).to_list()
    else:
        names = {k: p.get(k, "") for k in ("interactions", "items", "recommendations",
                                           "metric_attribution")}
        origin = "files" if given(names["interactions"]) else "sample"
        if origin == "sample":
            sample = attrkit.generate_sample(scratch_dir("attrkit-sample-"),
                                             seed=p.get("seed", 0), days=p.get("sample_days", 14))
            names = {"interactions": str(sample.interactions), "items": str(sample.items),
                     "recommendations": str(sample.recommendations),
                     "metric_attribution": str(sample.metric_attribution)}
            baseline = baseline or RECOMMENDER_A  # the sample's control arm
            p = _sample_defaults(p, sample)
        result = attrkit.attribute(
            names["interactions"], names["metric_attribution"],
            items=names["items"] if given(names["items"]) else None,
            recommendations=names["recommendations"] if given(names["recommendations"]) else None,
            dedupe=p.get("dedupe", False), timestamp_unit=p.get("timestamp_unit", "s"),
            window_seconds=p.get("window_seconds", 900),
            window_origin=p.get("window_origin", 0), engine=p.get("engine") or "polars")
        windows, health, exposure, traffic, users = (result.windows, result.health,
                                                     result.exposure, result.traffic, result.users)
        metrics = [m.name.upper() for m in result.metric_attribution.metrics]
        inputs = {k: v for k, v in names.items() if given(v)} if origin == "files" else {}
    until_end = (between(windows, exposure, users, "", p.get("end", ""))
                 if p.get("start") and users is not None else None)
    windows, exposure, users = between(windows, exposure, users, p.get("start", ""),
                                       p.get("end", ""))
    known = windows["source"].unique().to_list()
    wanted = [s.strip() for s in (p.get("sources") or "").split(",") if s.strip()]
    primary = (p.get("primary_metric") or (metrics[0] if metrics else "")).upper()
    if metrics and primary not in metrics:
        from attrkit.errors import ConfigError

        raise ConfigError(f"parameter primary_metric={p['primary_metric']!r}: no such metric; "
                          f"metrics are {', '.join(metrics)}")
    seg = _segments(p, origin, result if origin != "report_csv" else None)
    holdout = None
    if given(p.get("holdout")):
        holdout = resolve_source(p["holdout"], sorted(set(known) | set(
            users.arms if users is not None else [])), "holdout")
    return ReportData(
        windows, health, exposure, traffic, users, origin, inputs, metrics, primary,
        resolve_source(baseline, known) if baseline else None,
        [resolve_source(s, known, "sources") for s in wanted] or None, until_end, holdout, seg)


def _sample_defaults(p: dict[str, Any], sample: Any) -> dict[str, Any]:
    """The bundled sample's holdout arm and Users dataset (segments by ``DEVICE``), unless the
    parameters name others."""
    from attrkit.reports.checks import given
    from attrkit.simulate.sample import HOLDOUT

    p = {**p, "holdout": p.get("holdout") or HOLDOUT}
    if not p.get("segments") and not given(p.get("user_metadata")):
        p = {**p, "segments": "DEVICE"}
    return {**p, "user_metadata": p.get("user_metadata") or str(sample.users)}


def _segments(p: dict[str, Any], origin: str, result: Any) -> Any:
    """The segments the parameters ask for (``segments``, ``user_metadata``), or None."""
    from attrkit.reports.checks import given

    if not given(p.get("segments")):
        return None
    if origin == "report_csv":
        from attrkit.errors import ConfigError

        raise ConfigError("parameter segments: compares users, which a report CSV does not "
                          "have; give interactions and a recommendations log with USER_ID")
    from attrkit.comparison.segments import segmentation

    return segmentation(p["segments"], user_metadata=p["user_metadata"]
                        if given(p.get("user_metadata")) else None,
                        interactions=result.interactions, timestamp_unit=result.timestamp_unit)


def compare_data(data: ReportData, p: dict[str, Any]) -> Any:
    """:func:`attrkit.compare` on the report's data, with the report's options."""
    from attrkit.comparison import compare

    windows, exposure, users, start = cuped_range(
        (data.windows, data.exposure, data.users), data.until_end, p.get("start", ""),
        p.get("cuped", "auto"))
    return compare(windows, exposure=exposure, traffic=data.traffic, users=users,
                   baseline=data.baseline, sources=data.sources, design=p.get("design") or None,
                   alpha=p.get("alpha", D.ALPHA), correction=p.get("correction", D.CORRECTION),
                   segments=data.segments, start=start, holdout=data.holdout,
                   cuped=False if p.get("cuped") == "off" else None)


def cuped_range(in_range: tuple, until_end: tuple | None, start: str, cuped: str
                ) -> tuple[Any, Any, Any, int | None]:
    """What :func:`attrkit.compare` is given for a date range, so that CUPED can be used where
    it is valid: the data before ``end`` and the ``start`` (midnight UTC) when per-user data
    and a start are known and CUPED is not ``off``; else the range as it is, and no start."""
    if (cuped == "off" or until_end is None or until_end[2] is None or not start
            or when(start) % 86_400):
        return (*in_range, None)
    return (*until_end, when(start))


NOT_APPLICABLE = {
    "sample": {"interactions", "items", "recommendations", "metric_attribution", "report_csv",
               "timestamp_unit", "user_metadata"},
    "files": {"report_csv", "seed", "sample_days"},
    "report_csv": {"interactions", "items", "recommendations", "metric_attribution", "seed",
                   "sample_days", "dedupe", "window_seconds", "window_origin", "timestamp_unit",
                   "segments", "user_metadata", "cuped", "holdout"},
}
"""Parameters that do not apply to each kind of data, and are not shown."""


def about_run(params: dict[str, Any], data: ReportData) -> Html:
    """The run's parameters, collapsed, only those that apply to the data analysed."""
    hidden = NOT_APPLICABLE[data.origin] | ({k for k in ("items", "recommendations")
                                             if k not in data.inputs} if data.origin == "files"
                                            else set())
    shown = [(k, v if v != "" else "(default)") for k, v in params.items() if k not in hidden]
    return render.heading("About this run") + render.details(
        "Parameters of this run", render.key_values(shown), open=False)
