"""Could these data see an effect? The minimum detectable lift of each tested comparison and,
in words, why a lift may not be significant.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from attrkit.names import short_label
from attrkit.reports import render
from attrkit.reports.answer import family_size
from attrkit.reports.render import Html


def power_table(table: Any, windows: pl.DataFrame, exposure: pl.DataFrame | None, users: Any,
                alpha: float) -> pl.DataFrame:
    """The smallest relative lift each tested comparison would detect with 80 % power, fixed
    horizon and always-valid, from the control arm's variance in the unit the test uses (users
    under a per-user design, windows otherwise), at the arms' sizes (their harmonic mean per
    arm). Per-user rows test the difference, so their
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
            m = users.arm_moments(r["metric"], [r["control"]]).raw[r["control"]]
            stats = (m.ratio("value", "served") if r["kind"] == "per_recommendation" else
                     m.sample("total" if r["kind"] == "user_total" else "value"))
        else:
            c = windows.filter(metric_name=r["metric"], source=r["control"]).sort("timestamp")
            if exposure is not None and r["control_rate"] is not None:
                e = (exposure.filter(source=r["control"]).join(c, on="timestamp", how="left")
                     .fill_null(0))
                stats = RatioStats.from_arrays(e["value"].to_numpy(), e["exposure"].to_numpy())
            else:
                stats = SampleStats.from_array(c["value"].to_numpy())
        # unequal arms (a small holdout, a cautious rollout): the equal split with the same
        # standard error, the harmonic mean of the arms' sizes (their smaller size would
        # overstate what can be detected)
        nc, nt = max(int(r["control_n"]), 1), max(int(r["treatment_n"]), 1)
        n = max(round(2 / (1 / nc + 1 / nt)), 2)
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
    out.append(f"The correction across {family_size(table)} tested comparisons raises the bar "
               "further.")
    missed = table.frame.filter(pl.col("tested") & ~pl.col("significant").fill_null(False))
    if missed.height:
        out.append(f"{missed.height} tested comparison(s) are not significant: a lift that is "
                   "real but not significant here needs more users or more days (the "
                   "detectable lift shrinks with the square root of the sample).")
    return out


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
