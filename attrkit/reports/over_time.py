"""How do the sources move over time? Daily rates per source and the always-valid monitoring
of the primary comparison, look by look.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from attrkit.names import short_label
from attrkit.reports import render
from attrkit.reports.answer import monitored
from attrkit.reports.data import ReportData
from attrkit.reports.render import Html


def metrics_intro() -> Html:
    return render.heading("Metrics over time") + render.paragraphs([
        "Each metric per source: first the raw counts per hour (summed from 15-minute windows; "
        "unattributed events included), then, where the recommendations log says, the metric "
        "per recommendation served and per assigned user, by day: the rates that compare "
        "sources of different traffic fairly. Time is UTC."])


def unit_of(windows: pl.DataFrame, metric: str) -> str:
    """The y axis unit of a metric's plot: events for a count, the sum of values otherwise."""
    kind = windows.filter(metric_name=metric)["math_function"]
    return {"samplecount": "events", "sum": "sum of values"}.get(kind[0] if len(kind) else "", "")


def daily_rates(data: ReportData, metric: str) -> pl.DataFrame:
    """A metric per UTC day and source: its total, per recommendation served (with the log's
    exposure) and per assigned user (with per-user data: the metric attributed to a source by
    the users assigned to it, over the users assigned to it by the day's end).

    Returns:
        ``day`` (a UTC datetime), ``source``, ``total``, and where known ``per_recommendation``
        and ``per_assigned_user``.
    """
    from attrkit.attribution.users import day_of
    from attrkit.frames import to_datetime

    day = day_of("timestamp")
    out = (data.windows.filter(metric_name=metric.upper()).group_by(day.alias("_d"), "source")
           .agg(pl.col("value").sum().alias("total")))
    if data.exposure is not None:
        served = (data.exposure.group_by(day.alias("_d"), "source")
                  .agg(pl.col("exposure").sum().alias("served")))
        out = out.join(served, on=["_d", "source"], how="left").with_columns(
            (pl.col("total") / pl.col("served")).alias("per_recommendation")).drop("served")
    users = data.users
    if users is not None and users.arms:
        own = users.own_by_day(metric.upper()).rename({"day": "_d"})
        joined = (users.assigned_by_day().rename({"day": "_f"}).sort("_f")
                  .with_columns(pl.col("assigned").cum_sum().over("source")))
        out = (out.sort("_d").join_asof(joined.select("source", "_f", "assigned"),
                                        left_on="_d", right_on="_f", by="source",
                                        check_sortedness=False)  # both sorted by day above
               .join(own, on=["_d", "source"], how="left")
               .with_columns((pl.col("arm_total") / pl.col("assigned"))  # none: no point
                             .alias("per_assigned_user")).drop("_f", "assigned", "arm_total"))
    return (out.with_columns(to_datetime(pl.col("_d")).alias("day")).drop("_d")
            .select("day", pl.exclude("day")).sort("day", "source"))


def monitoring(table: Any, windows: pl.DataFrame, exposure: pl.DataFrame | None, users: Any,
               alpha: float, metric: str | None = None) -> dict[str, Any]:
    """The monitored comparison (:func:`monitored`) look by look. Returns ``intro`` and
    ``details`` (HTML), ``watch`` (the :func:`~attrkit.monitor` frame, or None), ``title``
    (of its chart) and ``note`` (the first significant look, in words)."""
    from attrkit.comparison import lift_by_day, monitor

    top = monitored(table, metric)
    if top is None:
        note = "No comparison to monitor."
        return {"intro": render.heading("Always-valid monitoring") + render.paragraphs([note]),
                "details": Html(""), "watch": None, "title": "", "note": note}
    looks, unit = ("each day", "days") if table.design == "users" else ("every window", "windows")
    pair = f"{short_label(top['treatment'])} vs {short_label(top['control'])}"
    intro = render.heading("Always-valid monitoring") + render.paragraphs([
        f"{top['metric']}, {pair}: the lift's always-valid interval at {looks}; it stays valid "
        "however often it is looked at."])
    watch = monitor(windows, metric=top["metric"], control=top["control"],
                    treatment=top["treatment"], exposure=exposure, users=users,
                    design=table.design, alpha=alpha)
    first = watch.filter(pl.col("significant").fill_null(False))
    unit = unit if not first.height or first["looks"][0] != 1 else unit.rstrip("s")
    note = (f"First significant after {first['looks'][0]:,} {unit} "
            f"({first['window_start'][0]:%Y-%m-%d %H:%M} UTC)." if first.height
            else "Not significant at any look." if table.design in ("users", "requests")
            else "No verdict: the design was not declared.")
    details = render.paragraphs([note])
    if table.design == "users":
        daily = lift_by_day(users, metric=top["metric"], control=top["control"],
                            treatment=top["treatment"], alpha=alpha)
        details = render.paragraphs([note, (
            "Lift by day (each day on its own, users assigned by then): a lift that falls day by "
            "day is a novelty effect. Decide on whole weeks of data, so that every weekday counts "
            "alike.")]) + render.table(daily, {
                "control_mean": ".4g", "treatment_mean": ".4g", "lift": "+.2%",
                "lift_ci_low": "+.2%", "lift_ci_high": "+.2%"}, coloured=["lift"])
    return {"intro": intro, "details": details, "watch": watch, "note": note,
            "title": f"{top['metric']}: {pair}"}
