"""The results of comparing sources, and the display they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.attribution.users import DesignCheck
from attrkit.reports.display import Display

KINDS = {
    "per_user": "per assigned user",
    "per_recommendation": "per recommendation served",
    "user_total": "in total across all sources, per assigned user",
    "window": "per window",
    "volume": "totals (volume, not effectiveness)",
}
"""What each row's ``kind`` compares."""
NO_DESIGN = ("window-level results assume each request was randomised on its own; declare "
             "design='requests' if so (then verdicts are given), or give a recommendations log "
             "with USER_ID for a per-user analysis")



@dataclass(frozen=True)
class ComparisonTable(Display):
    """The result of :func:`compare`: one row per metric and pair of sources.

    Attributes:
        frame: the rows (see :data:`RESULT_SCHEMA`); ``lift`` is relative, with its interval.
        warnings: checks that failed for the whole report (SRM, unattributed share, ...).
        srm: the traffic-share check, when there was one.
        alpha: the significance level used.
        correction: the p-value adjustment used.
        design: the design analysed (``users``, ``requests``, ``observational``), or ``None``
            when none was declared and only windows were known (no verdicts).
        design_check: what the data says about the design
            (:class:`~attrkit.attribution.users.DesignCheck`), under ``users``.
        described: sources and metrics described, not tested: per metric and source the
            total, its share, and (with users) the mean per assigned user.
        unattributed_share: the share of the first metric compared that went to
            ``SOURCE_NAME_UNDEFINED``.
        segments: the comparison by segment (:class:`~attrkit.comparison.segments.SegmentResults`),
            when ``segments`` was asked for.
        notes: how the rows were computed, where an option chose for the user (whether CUPED
            was used, and why not).
        incrementality: each arm against the holdout
            (:class:`~attrkit.comparison.incrementality.Incrementality`), when ``holdout`` was
            given.

    Example:
        >>> import numpy as np, polars as pl
        >>> from attrkit import compare
        >>> rng = np.random.default_rng(0)
        >>> w = pl.DataFrame({"timestamp": np.tile(np.arange(96) * 900, 2),
        ...     "metric_name": "CLICKS", "source": ["A"] * 96 + ["B"] * 96,
        ...     "value": np.concatenate([rng.poisson(100, 96), rng.poisson(120, 96)]) * 1.0})
        >>> table = compare(w, baseline="A", design="requests")
        >>> table.design, table.frame.height, table.row("CLICKS", "A", "B")["significant"]
        ('requests', 1, True)
    """

    frame: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    srm: Any = None
    alpha: float = D.ALPHA
    correction: str = D.CORRECTION
    design: str | None = None
    design_check: DesignCheck | None = None
    described: pl.DataFrame | None = None
    unattributed_share: float | None = None
    segments: Any = None
    notes: list[str] = field(default_factory=list)
    incrementality: Any = None

    @property
    def design_text(self) -> str:
        """The design and what it means, in one sentence."""
        return {
            "users": "users randomised between sources: each user is a unit, analysed in the "
                     "arm that served them first",
            "requests": "requests randomised on their own: 15-minute windows are the units",
            "observational": "observational: nothing was randomised, so sources are described, "
                             "not tested",
        }.get(self.design or "", "not declared: " + NO_DESIGN)

    def to_polars(self) -> pl.DataFrame:
        return self.frame

    def row(self, metric: str, control: str, treatment: str, kind: str | None = None
            ) -> dict[str, Any]:
        """One comparison as a dict: the primary one of the pair (per assigned user under
        ``users``) unless ``kind`` names another (see :data:`KINDS`)."""
        hit = self.frame.filter(metric=metric.upper(), control=control, treatment=treatment)
        if kind is not None:
            hit = hit.filter(kind=kind)
        if hit.height == 0:
            raise KeyError(f"no comparison of {treatment!r} against {control!r} on {metric!r}"
                           + (f" of kind {kind!r}" if kind else ""))
        return hit.row(0, named=True)

    def _notes(self) -> list[str]:
        notes = [f"Design: {self.design_text}."]
        if self.design_check is not None:
            notes.append(self.design_check.summary())
        return [*notes, *(n + "." for n in self.notes), *self.warnings]

    def _repr_html_(self) -> str:
        from attrkit.reports import render

        return render.comparison_table(self.frame, self.alpha, self.correction) + render.bullets(
            self._notes())

    def __repr__(self) -> str:
        """A line per comparison (``.frame`` holds every column), then the notes."""
        from attrkit.names import short_name

        def pct(x: Any) -> str:
            return "–" if x is None or x != x else f"{x:+.1%}"

        lines = [f"ComparisonTable: {self.frame.height} comparisons; design "
                 f"{self.design or 'not declared'}; "
                 f"α {self.alpha:g}, p-values adjusted ({self.correction})"]
        for r in self.frame.iter_rows(named=True):
            verdict = {True: "significant", False: "not significant"}.get(
                r.get("significant"), "no verdict")
            p = r.get("p_adjusted")
            lines.append(
                f"  {r['metric']} {r.get('kind') or ''}: {short_name(r['treatment'])} vs "
                f"{short_name(r['control'])}: lift {pct(r.get('lift'))} "
                f"[{pct(r.get('lift_ci_low'))}, {pct(r.get('lift_ci_high'))}], "
                + (f"adjusted p {p:.3g}, " if p is not None and p == p else "") + verdict)
        return "\n".join(lines + [f"  note: {n}" for n in self._notes()])


def verdicts(frame: pl.DataFrame, design: str | None, correction: str, alpha: float
              ) -> pl.DataFrame:
    """Adjust p-values across the tested rows only; give a verdict only where the design
    supports one and the sample is large enough (:data:`~attrkit.defaults.MIN_USERS` users an
    arm, :data:`~attrkit.defaults.MIN_WINDOWS` windows)."""
    from attrkit.stats import adjust_pvalues  # (the statistics: only when something is compared)

    finite = pl.col("p_value").is_not_nan() & pl.col("p_value").is_not_null()
    randomised = pl.col("kind") != "volume"
    if design == "observational":
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.Float64).alias(c) for c in
            ("p_value", "lift_ci_low", "lift_ci_high")).with_columns(
            pl.lit("observational: described, not tested").alias("why"))
    tested = finite & randomised & pl.lit(design in ("users", "requests"))
    frame = frame.with_columns(tested.alias("tested"))
    idx = frame.with_row_index().filter("tested")
    p_adj = [None] * frame.height
    rejected = [None] * frame.height
    if idx.height:
        adj = adjust_pvalues(idx["p_value"].to_numpy(), correction, alpha=alpha)
        for i, pa, rej in zip(idx["index"], adj.p_adjusted, adj.rejected, strict=True):
            p_adj[i], rejected[i] = float(pa), bool(rej)
    small = ((pl.col("unit") == "users") & (pl.min_horizontal("control_n", "treatment_n")
                                            < D.MIN_USERS)) | (
        (pl.col("unit") == "windows") & (pl.col("windows") < D.MIN_WINDOWS))
    decided = pl.col("tested") & pl.col("chance_to_win").is_not_nan()
    return frame.with_columns(pl.Series("p_adjusted", p_adj, dtype=pl.Float64),
                              pl.Series("significant", rejected, dtype=pl.Boolean)).with_columns(
        pl.when(small & pl.col("tested")).then(None).otherwise(pl.col("significant"))
        .alias("significant"),
        *(pl.when(decided).then(pl.col(c)).alias(c) for c in ("chance_to_win", "expected_loss")))
