"""Building blocks for report notebooks: escaped HTML sections, the conclusion, the results.

Everything that reaches the HTML goes through :func:`html.escape` here, so a source label such
as ``<script>…</script>`` is shown as text and never runs.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from typing import Any

import polars as pl

from attrkit import _defaults as D
from attrkit.comparison import KINDS
from attrkit.plots import short_label

RESULTS_MIMETYPE = "application/vnd.attrkit.results+json"
"""Notebooks publish their key results under this mimetype; ``attrkit report`` collects them
into the run's JSON, and the HTML does not show them."""


def esc(x: Any) -> str:
    """Text for HTML."""
    return html.escape(str(x), quote=True)


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


def key_values(rows: list[tuple[str, Any]]) -> str:
    """A two-column HTML table."""
    body = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th>"
                   f"<td style='text-align:left'>{esc(v)}</td></tr>" for k, v in rows)
    return f"<table class='attrkit-kv'>{body}</table>"


def header(title: str, params: dict[str, Any], window: dict[str, Any]) -> str:
    """The report's title block: the run's parameters and the data window."""
    shown = [(k, v if v != "" else "(default)") for k, v in params.items()]
    span = (f"{window.get('first_utc', '–')} to {window.get('last_utc', '–')}: "
            f"{window['windows']:,} windows, {window['missing_windows']:,} missing")
    return (f"<h1>{esc(title)}</h1><p><b>Data window:</b> {esc(span)}</p>"
            f"<details open><summary><b>Parameters of this run</b></summary>"
            f"{key_values(shown)}</details>")


def health_section(health: Any, window: dict[str, Any]) -> str:
    """Data health in plain words, then the numbers."""
    if health is None:
        return ("<p>Read from a Personalize report: event-level health (duplicates, "
                "unresolved IDs, quarantined rows) is not available.</p>"
                + key_values([("missing windows", window["missing_windows"])]))
    h = health
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
    for name, m in h.metrics.items():
        if m.not_summed:
            rows.append((f"{name}: events not summed", f"{m.not_summed:,} "
                         f"({m.items_not_found:,} items not found)"))
    warn = "".join(f"<li>{esc(w)}</li>" for w in h.warnings)
    return key_values(rows) + (f"<ul>{warn}</ul>" if warn else "")


def totals_table(windows: pl.DataFrame, exposure: pl.DataFrame | None) -> pl.DataFrame:
    """Totals per metric and source, with the rate per recommendation served where known."""
    totals = windows.group_by("metric_name", "source").agg(pl.col("value").sum().alias("total"))
    if exposure is not None:
        served = exposure.group_by("source").agg(pl.col("exposure").sum().alias("served"))
        totals = totals.join(served, on="source", how="left").with_columns(
            (pl.col("total") / pl.col("served")).alias("per_recommendation"))
    return totals.sort("metric_name", "total", descending=[False, True])


def table_html(frame: pl.DataFrame, formats: dict[str, str] | None = None) -> str:
    """A plain HTML table of a small frame, every cell escaped."""
    formats = formats or {}

    def cell(col: str, v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        if col in formats and isinstance(v, int | float):
            return format(v, formats[col])
        return str(v)

    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(cell(c, v))}</td>" for c, v in row.items())
                   + "</tr>" for row in frame.iter_rows(named=True))
    return f"<table class='attrkit-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def conclusion(table: Any, alpha: float) -> list[str]:
    """Sentences written from the comparison results: the design first, then the randomised
    comparisons in the table's order (metric, pair, per user first), then what was only
    described. "Drove" is said only of a randomised comparison with a verdict."""
    method = {"holm": "Holm", "hochberg": "Hochberg", "bonferroni": "Bonferroni",
              "sidak": "Šidák", "holm-sidak": "Holm–Šidák", "hochberg-sidak": "Hochberg–Šidák",
              "bh": "Benjamini–Hochberg", "by": "Benjamini–Yekutieli",
              "none": "unadjusted"}[table.correction]
    level = f"{1 - alpha:.0%}"
    out = [f"Design: {table.design_text}."]
    if table.design_check is not None:
        out.append(table.design_check.summary())
    frame = table.frame.filter(pl.col("lift").is_not_nan())
    if frame.height == 0:
        out.append("No comparison could be computed from these data.")
    for r in frame.sort("tested", descending=True, maintain_order=True).iter_rows(named=True):
        what = f"{r['metric']} {KINDS.get(r['kind'], '')}".strip()
        pair = f"{short_label(r['treatment'])} vs {short_label(r['control'])}"
        interval = (f"{level} CI {r['lift_ci_low']:+.1%} to {r['lift_ci_high']:+.1%}"
                    if r["lift_ci_low"] is not None and math.isfinite(r["lift_ci_low"]) else "")
        p = r["p_adjusted"]
        p_text = ("" if p is None else f", {method}-adjusted p = {p:.2g}"
                  if table.correction != "none" else f", p = {p:.2g}")
        caveat = f" Caution: {r['warnings']}." if r["warnings"] else ""
        if r["significant"]:
            word = "more" if r["lift"] >= 0 else "less"
            out.append(f"{short_label(r['treatment'])} drove {abs(r['lift']):.1%} {word} "
                       f"{what} than {short_label(r['control'])} ({interval}{p_text}).{caveat}")
        elif r["tested"]:
            out.append(f"No significant difference in {what}, {pair}: {r['lift']:+.1%} "
                       f"({interval}{p_text}).{caveat}")
        else:
            out.append(f"Described, not tested: {what} attributed to "
                       f"{short_label(r['treatment'])} vs {short_label(r['control'])}: "
                       f"{r['lift']:+.1%} ({r['why']}).{caveat}")
    if table.design == "users" and table.described is not None:
        for r in table.described.iter_rows(named=True):
            out.append(f"Described, not tested (not randomised): {short_label(r['source'])} was "
                       f"attributed {r['total']:,.0f} {r['metric']} ({r['share']:.1%} of all), "
                       f"{r['per_assigned_user']:.3g} per assigned user.")
    for w in table.warnings:
        out.append(f"Caution: {w}.")
    return out


def epoch(text: str) -> int:
    """An ISO date-time (UTC unless it says otherwise) as Unix seconds.

    Example:
        >>> epoch("2026-01-05T00:00")
        1767571200
    """
    t = datetime.fromisoformat(text)
    return int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp())


def between(windows: pl.DataFrame, exposure: pl.DataFrame | None, users: Any,
            start: str = "", end: str = "") -> tuple[pl.DataFrame, pl.DataFrame | None, Any]:
    """The report's date range: windows and exposure from ``start`` (inclusive) to ``end``
    (exclusive), ISO date-times in UTC, empty for open; per-user data by whole UTC days."""
    lo, hi = (epoch(start) if start else None), (epoch(end) if end else None)
    keep = pl.lit(True)
    if lo is not None:
        keep &= pl.col("timestamp") >= lo
    if hi is not None:
        keep &= pl.col("timestamp") < hi
    if exposure is not None:
        exposure = exposure.filter(keep)
    if users is not None and (lo is not None or hi is not None):
        users = users.between(lo, hi)
    return windows.filter(keep), exposure, users


def monitored(table: Any) -> dict[str, Any] | None:
    """The comparison the report monitors, chosen before looking at any p-value: the first
    tested row (the baseline pair's first metric, per assigned user), else the first row with
    a lift; None when nothing was compared."""
    frame = table.frame.filter(pl.col("lift").is_not_nan())
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


def paragraphs(lines: list[str]) -> str:
    return "".join(f"<p>{esc(line)}</p>" for line in lines)


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
