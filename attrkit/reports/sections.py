"""The report's sections as plain functions: each takes results and returns what a notebook
cell displays (HTML from :mod:`attrkit.reports.render`, a frame, or sentences).

The notebook's cells call these in order and display what they return; the logic (the date
range, the monitored comparison, the conclusion's wording, the power table) lives and is tested
here. Every piece of text reaches the HTML through the renderer, escaped, so a source label such
as ``<script>…</script>`` is shown as text and never runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.comparison import KINDS
from attrkit.frames import when
from attrkit.plots import short_label
from attrkit.reports import render
from attrkit.reports.render import Html, esc, key_values, paragraphs  # noqa: F401  (earlier names)

table_html = render.table
"""Earlier name of :func:`attrkit.reports.render.table`."""

RESULTS_MIMETYPE = "application/vnd.attrkit.results+json"
"""Notebooks publish their key results under this mimetype; ``attrkit report`` collects them
into the run's JSON, and the HTML does not show them."""


def _utc(ts: int | None) -> str:
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def data_window(windows: pl.DataFrame, window_seconds: int = D.WINDOW_SECONDS) -> dict[str, Any]:
    """First and last window, how many there are, and how many are missing in between."""
    if windows.height == 0:
        return {"first": None, "last": None, "windows": 0, "missing_windows": 0}
    ts = windows["timestamp"].unique()
    first, last = int(ts.min()), int(ts.max())
    expected = (last - first) // window_seconds + 1
    return {"first": first, "last": last, "first_utc": _utc(first), "last_utc": _utc(last),
            "windows": ts.len(), "missing_windows": int(expected - ts.len())}


def totals_table(windows: pl.DataFrame, exposure: pl.DataFrame | None) -> pl.DataFrame:
    """Totals per metric and source, with the rate per recommendation served where known."""
    totals = windows.group_by("metric_name", "source").agg(pl.col("value").sum().alias("total"))
    if exposure is not None:
        served = exposure.group_by("source").agg(pl.col("exposure").sum().alias("served"))
        totals = totals.join(served, on="source", how="left").with_columns(
            (pl.col("total") / pl.col("served")).alias("per_recommendation"))
    return totals.sort("metric_name", "total", descending=[False, True])


CORRECTION_NAMES = {
    "holm": "Holm", "hochberg": "Hochberg", "bonferroni": "Bonferroni", "sidak": "Šidák",
    "holm-sidak": "Holm–Šidák", "hochberg-sidak": "Hochberg–Šidák", "bh": "Benjamini–Hochberg",
    "by": "Benjamini–Yekutieli", "none": "unadjusted"}


def sentence(r: dict[str, Any], table: Any) -> str:
    """One comparison in words, treatment first, with the sign and interval of the table's row.
    "Drove" is said only of a randomised comparison with a verdict."""
    what = f"{r['metric']} {KINDS.get(r['kind'], '')}".strip()
    treatment, control = short_label(r["treatment"]), short_label(r["control"])
    low, high = r["lift_ci_low"], r["lift_ci_high"]
    bounded = low is not None and high is not None and math.isfinite(low) and math.isfinite(high)
    interval = (f"{1 - table.alpha:.0%} CI {low:+.1%} to {high:+.1%}" if bounded else
                f"{1 - table.alpha:.0%} CI unbounded" if low is not None else "no interval")
    p = r["p_adjusted"]
    adjusted = table.correction != "none"
    p_text = ("" if p is None else f", {CORRECTION_NAMES[table.correction]}-adjusted p = {p:.2g}"
              if adjusted else f", p = {p:.2g}")
    caveat = f" Caution: {r['warnings']}." if r["warnings"] else ""
    excludes_zero = bounded and (low > 0 or high < 0)
    if r["tested"] and r["significant"] is None:
        return (f"No verdict on {what}, {treatment} vs {control}: {r['lift']:+.1%} "
                f"({interval}{p_text}).{caveat}")
    if r["tested"] and not r["significant"] and excludes_zero and adjusted:
        return (f"No significant difference in {what} after correcting for "
                f"{_family(table)} tested comparisons, {treatment} vs {control}: "
                f"{r['lift']:+.1%} ({interval} before correction, unadjusted p = "
                f"{r['p_value']:.2g}{p_text}).{caveat}")
    if r["significant"]:
        word = "more" if r["lift"] >= 0 else "less"
        return (f"{treatment} drove {abs(r['lift']):.1%} {word} {what} than {control} "
                f"({interval}{p_text}).{caveat}")
    if r["tested"]:
        return (f"No significant difference in {what}, {treatment} vs {control}: "
                f"{r['lift']:+.1%} ({interval}{p_text}).{caveat}")
    return (f"Described, not tested: {what} attributed to {treatment} vs {control}: "
            f"{r['lift']:+.1%} ({r['why']}).{caveat}")


def _family(table: Any) -> int:
    return int(table.frame["tested"].sum())


def conclusion(table: Any, alpha: float) -> list[str]:
    """Sentences written from the comparison results: the design first, then the randomised
    comparisons in the table's order (metric, pair, per user first), then what was only
    described."""
    out = [f"Design: {table.design_text}."]
    if table.design_check is not None:
        out.append(table.design_check.summary())
    frame = table.frame.filter(pl.col("lift").is_not_nan())
    if frame.height == 0:
        out.append("No comparison could be computed from these data.")
    for r in frame.sort("tested", descending=True, maintain_order=True).iter_rows(named=True):
        out.append(sentence(r, table))
    if table.design == "users" and table.described is not None:
        for r in table.described.iter_rows(named=True):
            out.append(f"Described, not tested (not randomised): {short_label(r['source'])} was "
                       f"attributed {r['total']:,.0f} {r['metric']} ({r['share']:.1%} of all), "
                       f"{r['per_assigned_user']:.3g} per assigned user.")
    for w in table.warnings:
        out.append(f"Caution: {w}.")
    return out


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


def monitored(table: Any, metric: str | None = None) -> dict[str, Any] | None:
    """The primary comparison, chosen before looking at any p-value: of ``metric`` (default
    every metric), the first tested row (the baseline pair, per assigned user), else the first
    row with a lift; None when nothing was compared."""
    frame = table.frame.filter(pl.col("lift").is_not_nan())
    if metric is not None and frame.filter(metric=metric.upper()).height:
        frame = frame.filter(metric=metric.upper())
    tested = frame.filter(pl.col("tested"))
    chosen = tested if tested.height else frame
    return chosen.row(0, named=True) if chosen.height else None


def power_table(table: Any, windows: pl.DataFrame, exposure: pl.DataFrame | None, users: Any,
                alpha: float) -> pl.DataFrame:
    """The smallest relative lift each tested comparison would detect with 80 % power, fixed
    horizon and always-valid, from the control arm's variance in the unit the test uses (users
    under a per-user design, windows otherwise). Per-user rows test the difference, so their
    lift is the detectable difference over the control's mean. NaN where no lift is within
    reach."""
    from attrkit.stats import RatioStats, SampleStats, mde

    def reach(stats: Any, **kw: Any) -> float:
        try:
            if unit == "users":  # the difference test, as a share of the control's mean
                return mde(stats=stats, relative=False, **kw) / stats.mean
            return mde(stats=stats, **kw)
        except (ValueError, ZeroDivisionError):  # no lift reaches 80 % power with so little data
            return math.nan

    unit = "users" if table.design == "users" else "windows"
    rows = []
    for r in table.frame.filter(pl.col("tested")).iter_rows(named=True):
        if unit == "users":
            pu = users.per_user(r["metric"], [r["control"]])
            stats = (RatioStats.from_frame(pu, "value", "served")
                     if r["kind"] == "per_recommendation" else
                     SampleStats.from_frame(pu, "total" if r["kind"] == "user_total" else "value"))
        else:
            c = windows.filter(metric_name=r["metric"], source=r["control"]).sort("timestamp")
            if exposure is not None and r["control_rate"] is not None:
                e = (exposure.filter(source=r["control"]).join(c, on="timestamp", how="left")
                     .fill_null(0))
                stats = RatioStats.from_arrays(e["value"].to_numpy(), e["exposure"].to_numpy())
            else:
                stats = SampleStats.from_array(c["value"].to_numpy())
        n = max(int(min(r["control_n"], r["treatment_n"])), 2)
        rows.append({"metric": r["metric"], "kind": r["kind"],
                     "comparison": f"{short_label(r['treatment'])} vs {short_label(r['control'])}",
                     unit: n, "mde_fixed": reach(stats=stats, n_per_arm=n, alpha=alpha),
                     "mde_sequential": reach(stats=stats, n_per_arm=n, alpha=alpha,
                                             sequential=True)})
    return pl.DataFrame(rows, schema={"metric": pl.String, "kind": pl.String,
                                      "comparison": pl.String, unit: pl.Int64,
                                      "mde_fixed": pl.Float64, "mde_sequential": pl.Float64})


def planted_lift(truth: Any) -> float | None:
    """The lift the sample plants per recommendation served, from its ``truth.json``."""
    import json
    from pathlib import Path

    data = json.loads(Path(truth).read_text()) if not isinstance(truth, dict) else truth
    return data.get("planted", {}).get("relative_lift_clicks_per_list_B_vs_A")


def why_not_significant(table: Any, power: pl.DataFrame, planted: float | None = None
                        ) -> list[str]:
    """Why a lift may not be significant on these data, in sentences, from the power table
    (:func:`power_table`): the smallest lift each tested comparison detects with 80 % power,
    against the planted lift when the data are the sample (``truth.json``), and what would
    help."""
    if not power.height:
        return ["Nothing was tested, so there is no power to discuss: declare the design, or "
                "give a recommendations log with USER_ID."]
    unit = power.columns[3]
    n = int(power[unit].min())
    out = [f"With {n:,} {unit} in the smaller arm, the smallest lifts these data detect with 80% "
           f"power range from {power['mde_fixed'].min():.1%} to {power['mde_fixed'].max():.1%} "
           f"(fixed horizon), and {power['mde_sequential'].min():.1%} to "
           f"{power['mde_sequential'].max():.1%} for the always-valid interval."]
    where = power.filter(kind="per_recommendation")
    if planted is not None and where.height:
        below = where.filter(pl.col("mde_fixed") > planted)
        out.append(
            f"The sample plants a {planted:+.1%} lift per recommendation served on every "
            "metric (watches follow clicks). "
            + (f"{below.height} of the {where.height} comparisons per recommendation served "
               f"cannot reliably see it (their detectable lift is above {planted:.1%}): "
               + ", ".join(r["metric"] for r in below.iter_rows(named=True))
               + "; they miss an effect of that size more often than they find it." if below.height
               else "Every comparison per recommendation served can see it with 80% power: "
               "one time in five an effect of that size is still missed."))
        seen = table.frame.filter(pl.col("tested") & (pl.col("kind") == "per_recommendation"))
        out.append("Here, per recommendation served: " + "; ".join(
            f"{r['metric']} {r['lift']:+.1%}, "
            + render.verdict(r["significant"], r["lift"], r["tested"], r["method"])
            for r in seen.iter_rows(named=True)) + ".")
    out.append(f"The correction across {_family(table)} tested comparisons raises the bar "
               "further.")
    missed = table.frame.filter(pl.col("tested") & ~pl.col("significant").fill_null(False))
    if missed.height:
        out.append(f"{missed.height} tested comparison(s) are not significant: a lift that is "
                   "real but not significant here needs more users or more days (the "
                   "detectable lift shrinks with the square root of the sample).")
    return out


def results_bundle(data: dict[str, Any]) -> Any:
    """A display object carrying results for ``attrkit report`` (invisible in the HTML)."""
    from IPython.display import display

    display({RESULTS_MIMETYPE: data, "text/plain": ""}, raw=True)


def jsonable(x: Any) -> Any:
    """Floats that JSON can hold (inf and NaN become strings), recursively."""
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    return x


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
        scope = [f"These counts cover every row read, windows from {_utc(h.first_window)} to "
                 f"{_utc(h.last_window)}; the comparisons cover {window['first_utc']} to "
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


def metrics_intro() -> Html:
    return render.heading("Metrics over time") + render.paragraphs([
        "Each metric per source: first the raw counts per hour (summed from 15-minute windows; "
        "unattributed events included), then, where the recommendations log says, the metric "
        "per recommendation served and per assigned user, by day: the rates that compare "
        "sources of different traffic fairly. Time is UTC."])


def totals_section(windows: pl.DataFrame, exposure: pl.DataFrame | None) -> Html:
    return render.heading("Totals and rates per recommendation served") + render.paragraphs([
        "Everything attributed to each source, and per recommendation it served, over all "
        "traffic. The comparisons below estimate per assigned user (and per recommendation "
        "served to assigned users), so their values differ from these where users are not "
        "in the log or were served by several sources."]) + render.table(
        totals_table(windows, exposure),
        {"total": ",.0f", "served": ",.0f", "per_recommendation": ".4f"})


def comparisons_section(table: Any) -> Html:
    """The comparisons: the design, what the data says about it, the table (verdicts, lifts
    coloured by direction, methods as footnotes), and what was described, not tested."""
    out = render.heading("Comparisons") + render.paragraphs([table.design_text + "."],
                                                            lead="Design:")
    if table.design_check is not None:
        out += render.paragraphs([table.design_check.summary()], lead="What the data shows:")
    out += render.paragraphs([
        f"Relative lift of each source over its comparison source, {1 - table.alpha:.0%} "
        f"confidence intervals (each on its own), p-values adjusted ({table.correction}) across "
        "the tested rows; the verdict is the adjusted p-value's."
        + (" The first row of each metric, per assigned user, is the primary result."
           if table.design == "users" else "")])
    out += render.comparison_table(table.frame, table.alpha, table.correction, label=short_label)
    if table.described is not None and table.design == "users" and table.described.height:
        described = table.described.with_columns(
            pl.col("source").map_elements(short_label, return_dtype=pl.String))
        out += render.heading("Described, not tested", 3) + render.paragraphs([
            "Sources nobody randomised against the recommenders (a labelled carousel, organic "
            "traffic): what was attributed to them, with the mean per assigned user. Comparing "
            "their totals would measure traffic, not effectiveness."]) + render.table(
            described, {"total": ",.0f", "share": ".1%", "per_assigned_user": ".4g"})
    return out


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


def traffic_section(table: Any, traffic: pl.DataFrame | None, users: Any) -> Html:
    """The sample-ratio check, in words."""
    if table.srm is None:
        return render.paragraphs(["No sample ratio check: no exposure or planned split is known."])
    unit = "users" if traffic is not None or users is not None else "recommendations served"
    verdict = "MISMATCH" if table.srm.mismatch else "no mismatch"
    return render.paragraphs([f"Sample ratio check on {unit}: chi-square = "
                              f"{table.srm.statistic:.3g}, p = {table.srm.p_value:.3g} ({verdict} "
                              f"at p < {table.srm.threshold:g})."])


def power_section(table: Any, windows: pl.DataFrame, exposure: pl.DataFrame | None, users: Any,
                  alpha: float) -> Html:
    unit = "users" if table.design == "users" else "windows"
    out = render.heading("Power and minimum detectable effect") + render.paragraphs([
        "For the data at hand, the smallest relative lift each comparison would detect with 80% "
        f"power, {unit} as units, from the control arm's variance as the test uses it; blank "
        "where no lift is within reach of the data."])
    power = power_table(table, windows, exposure, users, alpha)
    if not power.height:
        return out + render.paragraphs(["No tested comparison: no power to compute."])
    return out + render.table(power, {"mde_fixed": ".2%", "mde_sequential": ".2%"})


def conclusion_section(sentences: list[str]) -> Html:
    return render.heading("Conclusion") + render.paragraphs(sentences)


def headlines(table: Any, data: ReportData, alpha: float) -> list[dict[str, Any]]:
    """Each metric's primary comparison (:func:`monitored`, chosen before any p-value is seen):
    the lift with its fixed-horizon interval and verdict, and where it was tested, the
    always-valid interval at the run's last look (:func:`~attrkit.monitor`), which stays valid
    however many runs look at the same experiment. For the run's JSON and the index."""
    from attrkit.comparison import monitor

    out = []
    for metric in data.metrics:
        r = monitored(table, metric)
        if r is None or r["metric"] != metric:
            continue
        low = high = None
        if r["tested"] and table.design in ("users", "requests"):
            watch = monitor(data.windows, metric=metric, control=r["control"],
                            treatment=r["treatment"], exposure=data.exposure, users=data.users,
                            design=table.design, alpha=alpha)
            if watch.height:
                low, high = watch["ci_low"][-1], watch["ci_high"][-1]
        out.append({k: r[k] for k in ("metric", "kind", "control", "treatment", "lift",
                                      "lift_ci_low", "lift_ci_high", "p_adjusted", "significant",
                                      "tested")}
                   | {"verdict": render.verdict(r["significant"], r["lift"], r["tested"],
                                                r["method"]),
                      "always_valid_low": low, "always_valid_high": high})
    return out


def frame_payload(frame: pl.DataFrame) -> str:
    """A frame as base64 Arrow IPC: carried in the results bundle so that ``attrkit report``
    writes the comparison table beside the JSON exactly as :func:`~attrkit.compare` made it."""
    import base64
    import io

    buf = io.BytesIO()
    frame.write_ipc(buf)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def results(title: str, window: dict[str, Any], table: Any, sentences: list[str], health: Any,
            monitor_note: str, headline: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The run's key results, for its JSON (:func:`results_bundle`): ``headline`` is each
    metric's primary comparison (:func:`headlines`); ``comparison_ipc`` carries the whole
    comparison table, which ``attrkit report`` writes as CSV and Parquet, not into the JSON."""
    return jsonable({
        "title": title, "data_window": window, "comparison_ipc": frame_payload(table.frame),
        "results": {
            "headline": headline, "alpha": table.alpha, "correction": table.correction,
            "conclusion": sentences, "design": table.design,
            "design_check": (table.design_check.to_dict() if table.design_check is not None
                             else None),
            "comparisons": table.frame.select(
                "metric", "kind", "control", "treatment", "lift", "lift_ci_low", "lift_ci_high",
                "p_value", "p_adjusted", "significant", "tested", "method", "warnings").to_dicts(),
            "warnings": table.warnings,
            "srm_p_value": table.srm.p_value if table.srm is not None else None,
            "unattributed_share": health.unattributed_share if health is not None else None,
            "monitor": monitor_note,
        },
    })


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


def load_data(p: dict[str, Any]) -> ReportData:
    """The report's data from its parameters (as :func:`~attrkit.reports.checks.
    check_attribution_report` checked them): the bundled sample when no input is given, the
    user's files, or a Personalize report CSV; then the date range ``start``–``end``.
    ``baseline`` and ``sources`` (comma-separated) accept the names the report shows."""
    import tempfile
    from pathlib import Path

    import attrkit
    from attrkit.reports.checks import given, resolve_source
    from attrkit.simulate.sample import RECOMMENDER_A

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
            sample = attrkit.generate_sample(Path(tempfile.mkdtemp(prefix="attrkit-sample-")),
                                             seed=p.get("seed", 0), days=p.get("sample_days", 14))
            names = {"interactions": str(sample.interactions), "items": str(sample.items),
                     "recommendations": str(sample.recommendations),
                     "metric_attribution": str(sample.metric_attribution)}
            baseline = baseline or RECOMMENDER_A  # the sample's control arm
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
    windows, exposure, users = between(windows, exposure, users, p.get("start", ""),
                                       p.get("end", ""))
    known = windows["source"].unique().to_list()
    wanted = [s.strip() for s in (p.get("sources") or "").split(",") if s.strip()]
    primary = (p.get("primary_metric") or (metrics[0] if metrics else "")).upper()
    if metrics and primary not in metrics:
        from attrkit.errors import ConfigError

        raise ConfigError(f"parameter primary_metric={p['primary_metric']!r}: no such metric; "
                          f"metrics are {', '.join(metrics)}")
    return ReportData(
        windows, health, exposure, traffic, users, origin, inputs, metrics, primary,
        resolve_source(baseline, known) if baseline else None,
        [resolve_source(s, known, "sources") for s in wanted] or None)


def compare_data(data: ReportData, p: dict[str, Any]) -> Any:
    """:func:`attrkit.compare` on the report's data, with the report's options."""
    from attrkit.comparison import compare

    return compare(data.windows, exposure=data.exposure, traffic=data.traffic, users=data.users,
                   baseline=data.baseline, sources=data.sources, design=p.get("design") or None,
                   alpha=p.get("alpha", D.ALPHA), correction=p.get("correction", D.CORRECTION))


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
                       "(SOURCE_NAME_UNDEFINED: no label, no recommendation ID).")
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


def summary(title: str, data: ReportData, table: Any, window: dict[str, Any],
            p: dict[str, Any]) -> Html:
    """The report's opening: the question, the data, the answer for the primary metric, the
    design and what the data says about it, and the caveats."""

    if data.origin == "sample":
        about = (f"the bundled synthetic sample (seed {p.get('seed', 0)}, "
                 f"{p.get('sample_days', 14)} days): simulated traffic with known effects, not "
                 "real users.")
    elif data.origin == "report_csv":
        about = ("a Personalize metric-attribution report: totals per 15-minute window and "
                 "source, with no users and no recommendations served.")
    else:
        about = "; ".join(f"{k} {v}" for k, v in data.inputs.items()) + "."
    span = (f"{window.get('first_utc', '–')} to {window.get('last_utc', '–')} "
            f"({window['windows']:,} windows).")
    top = monitored(table, data.primary_metric)
    rows = table.frame.filter(metric=data.primary_metric)
    answer = (sentence(top, table) if top is not None else
              f"No comparison of {data.primary_metric} could be computed from these data"
              + (f": {rows['why'][0]}." if rows.height and rows["why"][0] else "."))
    out = (render.heading(title, 1) + render.paragraphs([answer], lead="Answer:")
           + render.paragraphs([table.design_text + "."], lead="Design:"))
    if table.design_check is not None:
        out += render.paragraphs([table.design_check.summary()], lead="What the data shows:")
    out += render.paragraphs([about], lead="Data:") + render.paragraphs([span], lead="Window:")
    notes = caveats(data, table)
    if notes:
        out += render.paragraphs(["Before acting on this:"]) + render.bullets(notes)
    return out


NOT_APPLICABLE = {
    "sample": {"interactions", "items", "recommendations", "metric_attribution", "report_csv",
               "timestamp_unit"},
    "files": {"report_csv", "seed", "sample_days"},
    "report_csv": {"interactions", "items", "recommendations", "metric_attribution", "seed",
                   "sample_days", "dedupe", "window_seconds", "window_origin", "timestamp_unit"},
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


def unit_of(windows: pl.DataFrame, metric: str) -> str:
    """The y axis unit of a metric's plot: events for a count, the sum of values otherwise."""
    kind = windows.filter(metric_name=metric)["math_function"]
    return {"samplecount": "events", "sum": "sum of values"}.get(kind[0] if len(kind) else "", "")


def has_lifts(table: Any) -> bool:
    """Whether any comparison has a lift to plot."""
    return bool(table.frame.height and table.frame["lift"].is_not_nan().any())


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
    if users is not None and users.assignment.height:
        arm = users.assignment.select("USER_ID", pl.col("arm").alias("source"))
        own = (users.values.filter(metric_name=metric.upper())
               .join(arm, on=["USER_ID", "source"]).group_by(pl.col("day").alias("_d"), "source")
               .agg(pl.col("value").sum().alias("arm_total")))
        joined = (users.assignment.group_by(pl.col("arm").alias("source"),
                                            day_of("first_served").alias("_f"))
                  .len().sort("_f").with_columns(pl.col("len").cum_sum().over("source")
                                                 .alias("assigned")))
        out = (out.sort("_d").join_asof(joined.select("source", "_f", "assigned"),
                                        left_on="_d", right_on="_f", by="source",
                                        check_sortedness=False)  # both sorted by day above
               .join(own, on=["_d", "source"], how="left")
               .with_columns((pl.col("arm_total") / pl.col("assigned"))  # none: no point
                             .alias("per_assigned_user")).drop("_f", "assigned", "arm_total"))
    return (out.with_columns(to_datetime(pl.col("_d")).alias("day")).drop("_d")
            .select("day", pl.exclude("day")).sort("day", "source"))
