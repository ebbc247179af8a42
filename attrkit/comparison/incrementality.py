"""What does personalisation add? Each arm against a holdout.

Attribution credits a recommender with every event on its lists, including clicks the user would
have made anyway (browsing, search, the carousel). A *holdout* — an arm of users served a
non-personalised list (a popularity recommender, or a label such as ``holdout``) — answers the
question attribution cannot: against it, each arm's **total engagement per assigned user across
all sources and organic events** is the incremental effect, with its interval (Welch, users as
units). Beside it, the metric the arm's own source was *attributed* per assigned user, and the
ratio attributed ÷ incremental: "attribution credits B with 3.1× the clicks it adds".

The incremental rows form a family of their own, adjusted with the comparison's correction; the
ratio's interval is the attributed mean over the incremental interval's ends (unbounded when the
incremental effect's interval reaches zero: then nothing shown is added for certain).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.errors import ConfigError
from attrkit.names import short_label, short_name

INCREMENTALITY_SCHEMA = pl.Schema({
    "metric": pl.String, "arm": pl.String, "holdout": pl.String,
    "arm_users": pl.Int64, "holdout_users": pl.Int64,
    "attributed_per_user": pl.Float64,
    "total_per_user": pl.Float64, "holdout_total_per_user": pl.Float64,
    "incremental_per_user": pl.Float64, "incremental_ci_low": pl.Float64,
    "incremental_ci_high": pl.Float64, "incremental_lift": pl.Float64,
    "p_value": pl.Float64, "p_adjusted": pl.Float64, "significant": pl.Boolean,
    "attributed_over_incremental": pl.Float64, "ratio_ci_low": pl.Float64,
    "ratio_ci_high": pl.Float64, "method": pl.String, "warnings": pl.String,
})
"""One row per metric and arm: the arm against the holdout (see the module docs)."""


@dataclass(frozen=True)
class Incrementality:
    """Each arm against the holdout.

    Attributes:
        holdout: the holdout's source.
        frame: :data:`INCREMENTALITY_SCHEMA` rows.
        alpha: as the comparison's.
        correction: as the comparison's.
    """

    holdout: str
    frame: pl.DataFrame
    alpha: float = D.ALPHA
    correction: str = D.CORRECTION

    def sentence(self, metric: str, arm: str) -> str:
        """What the arm adds over the holdout, and how much attribution credits it with."""
        r = self.frame.filter(metric=metric, arm=arm).row(0, named=True)
        name, hold = short_label(arm), short_label(self.holdout)
        if r["incremental_per_user"] is None or not math.isfinite(r["incremental_per_user"]):
            return f"No incremental effect of {name} on {metric} could be computed."
        ci = (f"{1 - self.alpha:.0%} CI {r['incremental_ci_low']:+.3g} to "
              f"{r['incremental_ci_high']:+.3g}")
        adds = (f"Against the holdout ({hold}), {name} adds {r['incremental_per_user']:+.3g} "
                f"{metric} per assigned user across all sources ({r['incremental_lift']:+.1%}; "
                f"{ci}, p = {r['p_adjusted']:.2g} adjusted)")
        if r["significant"] is None:
            adds += ", no verdict"
        elif not r["significant"]:
            adds += ", not significantly different from nothing"
        credit = (f"; attribution credits it with {r['attributed_per_user']:.3g} per user")
        ratio = r["attributed_over_incremental"]
        if ratio is not None and math.isfinite(ratio) and r["incremental_per_user"] > 0:
            hi = r["ratio_ci_high"]
            credit += (f", {ratio:.2g}× what it adds ({r['ratio_ci_low']:.2g}× to "
                       + (f"{hi:.2g}×)" if math.isfinite(hi) else "unbounded)"))
        return adds + credit + "."


def incrementality(users: Any, holdout: str, metrics: list[str], alpha: float,
                   correction: str, *, min_users: int = D.MIN_USERS) -> Incrementality:
    """Every other arm of ``users`` against the ``holdout`` arm, on each metric (from the arms'
    exact moments, either engine)."""
    from attrkit.stats import adjust_pvalues, mean_test

    arms = users.arms
    if holdout not in arms:
        raise ConfigError(f"holdout={short_name(holdout)!r}: no user was assigned to it, so it "
                          "is not a holdout arm; the arms are "
                          + ", ".join(map(short_name, arms)))
    others = [a for a in arms if a != holdout]
    if not others:
        raise ConfigError(f"holdout={short_name(holdout)!r}: it is the only arm; nothing to "
                          "compare with it")
    rows = []
    for metric in metrics:
        for arm in others:
            m = users.arm_moments(metric, [holdout, arm]).raw
            h, a = m[holdout], m[arm]
            row = {"metric": metric, "arm": arm, "holdout": holdout, "arm_users": a.n,
                   "holdout_users": h.n}
            notes = []
            if min(a.n, h.n) < min_users:
                notes.append(f"only {min(a.n, h.n)} users in an arm: no verdict below "
                             f"{min_users}")
            try:
                absolute = mean_test(h.sample("total"), a.sample("total"), relative=False,
                                     alpha=alpha)
            except (ValueError, ZeroDivisionError) as exc:
                rows.append(row | {"method": "not computed", "warnings": str(exc)})
                continue
            attributed = a.sample("value").mean
            lo, hi, d = absolute.ci_low, absolute.ci_high, absolute.effect
            ratio = attributed / d if d > 0 else math.nan
            r_lo, r_hi = (attributed / hi, attributed / lo if lo > 0 else math.inf) \
                if d > 0 and hi > 0 else (math.nan, math.nan)
            base = absolute.control
            rows.append(row | {
                "attributed_per_user": attributed, "total_per_user": absolute.treatment,
                "holdout_total_per_user": base, "incremental_per_user": d,
                "incremental_ci_low": lo, "incremental_ci_high": hi,
                "incremental_lift": d / base if base else math.nan,
                "p_value": absolute.p_value, "attributed_over_incremental": ratio,
                "ratio_ci_low": r_lo, "ratio_ci_high": r_hi,
                "method": f"{absolute.method}; users as units; each user's total across all "
                          "sources and organic events",
                "warnings": "; ".join(notes) or None})
    frame = pl.DataFrame(rows, schema=INCREMENTALITY_SCHEMA, orient="row")
    tested = frame.with_row_index().filter(pl.col("p_value").is_not_null()
                                           & pl.col("p_value").is_not_nan())
    p_adj, sig = [None] * frame.height, [None] * frame.height
    if tested.height:
        adj = adjust_pvalues(tested["p_value"].to_numpy(), correction, alpha=alpha)
        small = (pl.min_horizontal("arm_users", "holdout_users") < min_users)
        for i, pa, rej, few in zip(tested["index"], adj.p_adjusted, adj.rejected,
                                   tested.select(small).to_series(), strict=True):
            p_adj[i], sig[i] = float(pa), (None if few else bool(rej))
    frame = frame.with_columns(pl.Series("p_adjusted", p_adj, dtype=pl.Float64),
                               pl.Series("significant", sig, dtype=pl.Boolean))
    return Incrementality(holdout, frame, alpha, correction)


__all__ = ["INCREMENTALITY_SCHEMA", "Incrementality", "incrementality"]
