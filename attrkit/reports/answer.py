"""What is the answer? The comparison in sentences, the report's opening and conclusion.

:func:`monitored` picks each metric's primary comparison before any p-value is seen;
:func:`sentence` says one comparison in words, treatment first, with the sign and interval of
the table's row; :func:`summary` leads the report with it.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.comparison import KINDS
from attrkit.names import short_label
from attrkit.reports import render
from attrkit.reports.data import ReportData
from attrkit.reports.data_health import caveats
from attrkit.reports.render import Html

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
                f"{family_size(table)} tested comparisons, {treatment} vs {control}: "
                f"{r['lift']:+.1%} ({interval} before correction, unadjusted p = "
                f"{r['p_value']:.2g}{p_text}).{caveat}")
    if r["significant"]:
        word = "more" if r["lift"] >= 0 else "less"
        return (f"{treatment} drove {abs(r['lift']):.1%} {word} {what} than {control} "
                f"({interval}{p_text}).{caveat}")
    if r["tested"]:
        return (f"No significant difference in {what}, {treatment} vs {control}: "
                f"{r['lift']:+.1%} ({interval}{p_text}).{caveat}")
    if (r.get("why") or "").startswith("no verdict: "):  # withheld: a small heavy-tailed arm
        return (f"No verdict on {what}, {treatment} vs {control}: {r['lift']:+.1%}; "
                f"{r['why'][len('no verdict: '):]}.")
    return (f"Described, not tested: {what} attributed to {treatment} vs {control}: "
            f"{r['lift']:+.1%} ({r['why']}).{caveat}")


def decision_sentence(r: dict[str, Any], table: Any) -> str | None:
    """The row's decision numbers in words (:func:`attrkit.stats.decision`), or None where the
    row was not tested."""
    if r.get("chance_to_win") is None or r.get("expected_loss") is None:
        return None
    treatment, control = short_label(r["treatment"]), short_label(r["control"])
    what = f"{r['metric']} {KINDS.get(r['kind'], '')}".strip()
    return (f"Chance that {treatment} beats {control} on {what}: "
            f"{render.chance(r['chance_to_win'])}; expected loss if {treatment} is chosen: "
            f"{render.loss(r['expected_loss'])} of {control}'s value (a normal approximation of "
            "the lift with a weak prior, as GrowthBook's).")


def added_sentence(table: Any, metric: str, top: dict[str, Any] | None) -> str | None:
    """With a holdout: what the primary comparison's treatment (else the first arm) adds over
    it on ``metric``, and what attribution credits it with."""
    inc = table.incrementality
    if inc is None:
        return None
    rows = inc.frame.filter(metric=metric)
    if not rows.height:
        return None
    arms = rows["arm"].to_list()
    arm = top["treatment"] if top is not None and top["treatment"] in arms else arms[0]
    return inc.sentence(metric, arm)


def incrementality_section(table: Any) -> Html:
    """What personalisation adds: each arm's total per assigned user against the holdout, beside
    what attribution credits it with."""
    inc = table.incrementality
    out = render.heading("What personalisation adds") + render.paragraphs([
        f"Attribution credits a source with every event on its lists, including those a user "
        f"would have made anyway. Against the holdout ({short_label(inc.holdout)}: users served "
        "a non-personalised list), each arm's total per assigned user across all sources and "
        "organic events is what it adds; p-values adjusted "
        f"({inc.correction}) across these rows."])
    out += render.paragraphs([inc.sentence(m, a) for m, a in
                              inc.frame.select("metric", "arm").iter_rows()])
    shown = inc.frame.select(
        "metric", pl.col("arm").map_elements(short_label, return_dtype=pl.String),
        "arm_users", "holdout_users", "attributed_per_user", "incremental_per_user",
        "incremental_ci_low", "incremental_ci_high", "incremental_lift", "p_adjusted",
        "attributed_over_incremental")
    return out + render.table(shown, {
        "attributed_per_user": ".4g", "incremental_per_user": "+.4g",
        "incremental_ci_low": "+.4g", "incremental_ci_high": "+.4g",
        "incremental_lift": "+.2%", "p_adjusted": ".3g", "attributed_over_incremental": ".3g",
        "arm_users": ",", "holdout_users": ","})


def family_size(table: Any) -> int:
    """How many comparisons were tested together (the correction's family)."""
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


def has_lifts(table: Any) -> bool:
    """Whether any comparison has a lift to plot."""
    return bool(table.frame.height and table.frame["lift"].is_not_nan().any())


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
    span = (f"{window.get('first_utc', '–')} to "
            f"{window.get('end_utc', window.get('last_utc', '–'))} "
            f"({window['windows']:,} windows).")
    top = monitored(table, data.primary_metric)
    rows = table.frame.filter(metric=data.primary_metric)
    answer = (sentence(top, table) if top is not None else
              f"No comparison of {data.primary_metric} could be computed from these data"
              + (f": {rows['why'][0]}." if rows.height and rows["why"][0] else "."))
    decided = decision_sentence(top, table) if top is not None else None
    if decided:
        answer += " " + decided
    added = added_sentence(table, data.primary_metric, top)
    if added:  # with a holdout, what personalisation adds is the first answer
        answer = added + " " + answer
    out = (render.heading(title, 1) + render.paragraphs([answer], lead="Answer:")
           + render.paragraphs([table.design_text + "."], lead="Design:"))
    if table.design_check is not None:
        out += render.paragraphs([table.design_check.summary()], lead="What the data shows:")
    out += render.paragraphs([about], lead="Data:") + render.paragraphs([span], lead="Window:")
    notes = caveats(data, table)
    if notes:
        out += render.paragraphs(["Before acting on this:"]) + render.bullets(notes)
    return out


def conclusion_section(sentences: list[str]) -> Html:
    return render.heading("Conclusion") + render.paragraphs(sentences)


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
    if table.notes:
        out += render.paragraphs([n + "." for n in table.notes], lead="How:")
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


def segments_section(table: Any) -> Html:
    """The comparison by segment: where the segments come from, whether the lift differs
    between them (said first, and never a segment called a winner when it does not), the
    segment rows with their verdicts, and the warnings (users without a value, values that
    changed)."""
    seg = table.segments
    out = render.heading("By segment") + render.paragraphs(
        [f"Segments: {seg.segmentation.source}; users per segment: "
         + ", ".join(f"{k} {v:,}" for k, v in seg.users.items()) + "."])
    out += render.paragraphs([seg.sentence(m, c, t, table.alpha) for m, c, t in
                              seg.heterogeneity.select("metric", "control", "treatment")
                              .iter_rows()], lead="Does the lift differ?")
    out += render.paragraphs([
        f"The primary comparison (per assigned user) within each segment, {1 - table.alpha:.0%} "
        f"confidence intervals, p-values adjusted ({table.correction}) across every segment, "
        f"metric and pair; a segment with fewer than {D.MIN_USERS} users in an arm gets no "
        "verdict."])
    shown = seg.frame.with_columns((pl.col("segment") + " · " + pl.col("metric")).alias("metric"))
    out += render.comparison_table(shown, table.alpha, table.correction, label=short_label)
    if seg.warnings:
        out += render.bullets([f"Caution: {w}." for w in seg.warnings])
    return out
