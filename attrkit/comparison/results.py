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
        alpha, correction: the options used.
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
        return [*notes, *self.warnings]

    def _repr_html_(self) -> str:
        from attrkit.reports import render

        return render.comparison_table(self.frame, self.alpha, self.correction) + render.bullets(
            self._notes())
