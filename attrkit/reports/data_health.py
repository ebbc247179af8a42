"""Is the data sound? The report's health section, the sample-ratio check, totals per source,
and the caveats that matter to the answer.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.reports import render
from attrkit.reports.data import ReportData, utc_minute
from attrkit.reports.render import Html


def health_section(health: Any, window: dict[str, Any]) -> Html:
    """Data health in plain words, then the numbers."""
    out = render.heading("Data health")
    if health is None:
        return out + render.paragraphs([
            "Read from a Personalize report: event-level health (duplicates, unresolved IDs, "
            "quarantined rows) is not available."]) + render.key_values(
            [("missing windows", window["missing_windows"])])
    h = health
    scope = []
    if (window.get("first") is not None and h.first_window is not None
            and (window["first"], window["last"]) != (h.first_window, h.last_window)):
        scope = [f"These counts cover every row read, windows from {utc_minute(h.first_window)} to "
                 f"{utc_minute(h.last_window)}; the comparisons cover {window['first_utc']} to "
                 f"{window['last_utc']} (start and end)."]
    rows = [
        ("events used", f"{h.events_used:,}"),
        ("unattributed share (SOURCE_NAME_UNDEFINED)", f"{h.unattributed_share:.1%}"),
        ("unresolved recommendation IDs", f"{h.unresolved_ids:,} distinct, "
                                          f"{h.unresolved_events:,} events"),
        ("exact duplicate events", f"{h.duplicates:,} "
                                   + ("(removed)" if h.duplicates_removed else "(kept)")),
        ("quarantined rows", ", ".join(f"{k} {v:,}" for k, v in h.quarantined.items())),
        ("events matching no metric", f"{h.unmatched_events:,}"),
        ("missing windows", f"{window['missing_windows']:,}"),
    ]
    rows += [(f"{name}: events not summed", f"{m.not_summed:,} ({m.items_not_found:,} items "
              "not found)") for name, m in h.metrics.items() if m.not_summed]
    return out + render.paragraphs(scope) + render.key_values(rows) + render.bullets(h.warnings)


def traffic_section(table: Any, traffic: pl.DataFrame | None, users: Any) -> Html:
    """The sample-ratio check, in words."""
    if table.srm is None:
        return render.paragraphs(["No sample ratio check: no exposure or planned split is known."])
    unit = "users" if traffic is not None or users is not None else "recommendations served"
    verdict = "MISMATCH" if table.srm.mismatch else "no mismatch"
    return render.paragraphs([f"Sample ratio check on {unit}: chi-square = "
                              f"{table.srm.statistic:.3g}, p = {table.srm.p_value:.3g} ({verdict} "
                              f"at p < {table.srm.threshold:g})."])


def caveats(data: ReportData, table: Any) -> list[str]:
    """The data-health caveats that matter to the answer, in words."""
    out = []
    h = data.health
    if h is None:
        out.append("Read from the service's report: duplicates, unresolved recommendation IDs and "
                   "bad rows cannot be checked, and with no users nothing is tested.")
    else:
        if h.unattributed_events and not any(D.UNDEFINED_SOURCE in w for w in table.warnings):
            out.append(f"{h.unattributed_share:.0%} of events have no source "
                       "(SOURCE_NAME_UNDEFINED: no label, and no recommendation ID the log "
                       "knows).")
        if h.unresolved_events:
            out.append(f"{h.unresolved_events:,} events carry a recommendation ID the log does "
                       f"not know ({h.unresolved_ids:,} distinct IDs).")
        if h.duplicates:
            out.append(f"{h.duplicates:,} exact duplicate events " + (
                "were removed." if h.duplicates_removed else
                "are counted, as the service counts them (dedupe=true removes them)."))
        if sum(h.quarantined.values()):
            out.append(f"{sum(h.quarantined.values()):,} bad rows were set aside.")
    if table.srm is not None and table.srm.mismatch:
        out.append(f"Sample ratio mismatch (p = {table.srm.p_value:.2g}): the arms' sizes are not "
                   "the planned split, so the assignment may be broken.")
    out += [w[0].upper() + w[1:] + ("" if w.endswith(".") else ".") for w in table.warnings
            if "sample ratio" not in w.lower()]
    return out


def totals_table(windows: pl.DataFrame, exposure: pl.DataFrame | None) -> pl.DataFrame:
    """Totals per metric and source, with the rate per recommendation served where known."""
    totals = windows.group_by("metric_name", "source").agg(pl.col("value").sum().alias("total"))
    if exposure is not None:
        served = exposure.group_by("source").agg(pl.col("exposure").sum().alias("served"))
        totals = totals.join(served, on="source", how="left").with_columns(
            (pl.col("total") / pl.col("served")).alias("per_recommendation"))
    return totals.sort("metric_name", "total", descending=[False, True])


def totals_section(windows: pl.DataFrame, exposure: pl.DataFrame | None) -> Html:
    return render.heading("Totals and rates per recommendation served") + render.paragraphs([
        "Everything attributed to each source, and per recommendation it served, over all "
        "traffic. The comparisons below estimate per assigned user (and per recommendation "
        "served to assigned users), so their values differ from these where users are not "
        "in the log or were served by several sources."]) + render.table(
        totals_table(windows, exposure),
        {"total": ",.0f", "served": ",.0f", "per_recommendation": ".4f"})
