"""The data-health summary of one attribution run: what was read, used, skipped and why."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class MetricHealth:
    """How the events behind one metric were used.

    Attributes:
        events: events of the metric's type.
        not_summed: events whose value was missing (item not found, or a null value), counted
            but contributing nothing to a ``SUM``.
        items_not_found: of those, events whose item is not in the items data.
    """

    events: int
    not_summed: int = 0
    items_not_found: int = 0


@dataclass(frozen=True)
class Health:
    """What an attribution run read, used and skipped. Nothing is dropped without a count here.

    Attributes:
        rows_read: rows read per dataset (``interactions``, ``items``, ``recommendations``).
        quarantined: rows set aside per dataset because they broke a rule.
        duplicates: interaction rows that repeat an earlier row exactly.
        duplicates_removed: whether those were removed (``dedupe=True``).
        events_used: interactions attributed (valid, and deduplicated when asked).
        events_by_type: events used per event type (upper-cased).
        events_by_source: events used per resolved source.
        unattributed_events: events that went to ``SOURCE_NAME_UNDEFINED``.
        unresolved_events: events whose recommendation ID the log does not know.
        unresolved_ids: distinct such recommendation IDs.
        unmatched_events: events whose type matches no metric.
        metrics: per metric name, a :class:`MetricHealth`.
        first_window, last_window: the first and last window start (Unix seconds), or None.
        users_not_in_log: users with events whom the recommendations log (with ``USER_ID``)
            does not know, and ``events_of_users_not_in_log`` their events attributed to a
            source the log serves: they cannot be tied to an arm, so a per-user comparison
            leaves them out (``None`` without a log with ``USER_ID``).
        warnings: plain-language notes on anything a reader should know.
    """

    rows_read: dict[str, int]
    quarantined: dict[str, int]
    duplicates: int
    duplicates_removed: bool
    events_used: int
    events_by_type: dict[str, int]
    events_by_source: dict[str, int]
    unattributed_events: int
    unresolved_events: int
    unresolved_ids: int
    unmatched_events: int
    metrics: dict[str, MetricHealth]
    first_window: int | None = None
    last_window: int | None = None
    users_not_in_log: int | None = None
    events_of_users_not_in_log: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def unattributed_share(self) -> float:
        """Share of used events attributed to ``SOURCE_NAME_UNDEFINED`` (0 when none were used)."""
        return self.unattributed_events / self.events_used if self.events_used else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain types only, ready for JSON."""
        out = asdict(self)
        out["unattributed_share"] = self.unattributed_share
        return out

    def summary(self) -> str:
        """A short text block for a terminal."""
        def n(x: int) -> str:
            return f"{x:,}"

        lines = [
            "rows read:        " + ", ".join(f"{k} {n(v)}" for k, v in self.rows_read.items()),
            "quarantined rows: " + (", ".join(f"{k} {n(v)}" for k, v in self.quarantined.items()
                                              if v) or "none"),
            f"duplicates:       {n(self.duplicates)} "
            + ("(removed)" if self.duplicates_removed else "(kept; pass --dedupe to remove)"),
            f"events used:      {n(self.events_used)}",
            "events by type:   " + ", ".join(f"{k} {n(v)}" for k, v in self.events_by_type.items()),
            f"unattributed:     {n(self.unattributed_events)} ({self.unattributed_share:.1%})",
            f"unresolved recommendation IDs: {n(self.unresolved_ids)} distinct, "
            f"{n(self.unresolved_events)} events",
            f"events matching no metric: {n(self.unmatched_events)}",
            *([f"users with events, not in the log: {n(self.users_not_in_log)} "
               f"({n(self.events_of_users_not_in_log or 0)} of their events served by a "
               "recommender, left out of per-user comparisons)"]
              if self.users_not_in_log is not None else []),
            "events by source:",
            *(f"  {k}: {n(v)}" for k, v in self.events_by_source.items()),
            "metrics:",
        ]
        for name, m in self.metrics.items():
            extra = (f", {n(m.not_summed)} not summed ({n(m.items_not_found)} items not found)"
                     if m.not_summed or m.items_not_found else "")
            lines.append(f"  {name}: {n(m.events)} events{extra}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in self.to_dict().items() if k != "warnings"
        )
        warn = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        return f"<table>{rows}</table>" + (f"<ul>{warn}</ul>" if warn else "")
