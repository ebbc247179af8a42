"""The data-health summary of one attribution run: what was read, used, skipped and why."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.attribution.plan import EVENT_TYPE, SERVED_BY, WINDOW
from attrkit.errors import one_line


@dataclass(frozen=True)
class MetricHealth:
    """How the events behind one metric were used.

    Attributes:
        events: events of the metric's type.
        not_summed: events whose value was missing (item not found, or a null value), counted
            but contributing nothing to a ``SUM``.
        items_not_found: of those, events whose item is not in the items data.

    Example:
        >>> from attrkit import MetricHealth
        >>> MetricHealth(events=10, not_summed=2, items_not_found=1)
        MetricHealth(events=10, not_summed=2, items_not_found=1)
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
        first_window: the first window start (Unix seconds), or None.
        last_window: the last window start, or None.
        users_not_in_log: users with events whom the recommendations log (with ``USER_ID``)
            does not know, and ``events_of_users_not_in_log`` their events attributed to a
            source the log serves: they cannot be tied to an arm, so a per-user comparison
            leaves them out (``None`` without a log with ``USER_ID``).
        warnings: plain-language notes on anything a reader should know.

    Example:
        >>> import polars as pl, attrkit
        >>> events = pl.DataFrame({"USER_ID": ["u1", "u2", "u2"], "ITEM_ID": ["i1", "i2", "i2"],
        ...     "TIMESTAMP": [1700000000, 1700000950, 1700000950],
        ...     "EVENT_TYPE": ["click", "click", "click"],
        ...     "EVENT_ATTRIBUTION_SOURCE": ["partner", None, None]})
        >>> ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
        ...                                 "expression": "SAMPLECOUNT()"}]}
        >>> h = attrkit.attribute(events, ma).health
        >>> h.events_used, h.duplicates, h.unattributed_events, h.metrics["clicks"].events
        (3, 1, 2, 3)
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
        """A short text block for a terminal. Values from the data (event types, sources,
        metric names) are shown escaped: a control character or a newline in a source can
        neither drive the terminal nor forge a line."""
        def n(x: int) -> str:
            return f"{x:,}"

        def e(text: str) -> str:
            return one_line(str(text), 200)

        lines = [
            "rows read:        " + ", ".join(f"{k} {n(v)}" for k, v in self.rows_read.items()),
            "quarantined rows: " + (", ".join(f"{k} {n(v)}" for k, v in self.quarantined.items()
                                              if v) or "none"),
            f"duplicates:       {n(self.duplicates)} "
            + ("(removed)" if self.duplicates_removed else "(kept; pass --dedupe to remove)"),
            f"events used:      {n(self.events_used)}",
            "events by type:   " + ", ".join(f"{e(k)} {n(v)}" for k, v in self.events_by_type.items()),
            f"unattributed:     {n(self.unattributed_events)} ({self.unattributed_share:.1%})",
            f"unresolved recommendation IDs: {n(self.unresolved_ids)} distinct, "
            f"{n(self.unresolved_events)} events",
            f"events matching no metric: {n(self.unmatched_events)}",
            *([f"users with events, not in the log: {n(self.users_not_in_log)} "
               f"({n(self.events_of_users_not_in_log or 0)} of their events served by a "
               "recommender, left out of per-user comparisons)"]
              if self.users_not_in_log is not None else []),
            "events by source:",
            *(f"  {e(k)}: {n(v)}" for k, v in self.events_by_source.items()),
            "metrics:",
        ]
        for name, m in self.metrics.items():
            extra = (f", {n(m.not_summed)} not summed ({n(m.items_not_found)} items not found)"
                     if m.not_summed or m.items_not_found else "")
            lines.append(f"  {e(name)}: {n(m.events)} events{extra}")
        lines += [f"warning: {one_line(w)}" for w in self.warnings]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from attrkit.reports import render

        return render.key_values((k, v) for k, v in self.to_dict().items() if k != "warnings"
                                 ) + render.bullets(self.warnings)


def build_health(ma: Any, datasets: dict[str, list[str]], dedupe: bool, values: pl.DataFrame,
                 grouped: pl.DataFrame, quarantined: dict[str, int], rows_read: dict[str, int],
                 duplicates: int, unresolved_ids: int) -> Health:
    """The summary from the plan's outputs: ``values`` (each metric per window and source, with
    its counts), ``grouped`` (events per window, event type and source), the rows set aside
    per dataset, and each dataset's columns (``datasets``)."""
    quarantined = {k: 0 for k in datasets} | {k: int(n) for k, n in quarantined.items() if n}
    by_type_source = grouped.group_by(EVENT_TYPE, "SOURCE").agg(pl.col("events", "unresolved").sum())

    def totals(key: str) -> dict[str, int]:
        return {k: int(v) for k, v in by_type_source.group_by(key).agg(pl.col("events").sum())
                .sort("events", key, descending=[True, False]).iter_rows()}

    by_type, by_source = totals(EVENT_TYPE), totals("SOURCE")
    per_metric = {r["metric_name"]: r for r in values.group_by("metric_name").agg(
        pl.col("events", "not_summed", "items_not_found").sum()).iter_rows(named=True)}
    metrics = {}
    for m in ma.metrics:
        r = per_metric.get(m.name.upper())
        metrics[m.name] = MetricHealth(
            events=int(r["events"]) if r else 0,
            not_summed=int(r["not_summed"]) if r and m.function == "sum" else 0,
            items_not_found=int(r["items_not_found"]) if r else 0)
    unresolved_events = int(by_type_source["unresolved"].sum() or 0)
    warnings = []
    if "recommendations" not in datasets and unresolved_events:
        warnings.append(f"no recommendations log given: {unresolved_events:,} events with a "
                        "recommendation ID were counted as SOURCE_NAME_UNDEFINED")
    for m in ma.metrics:
        if metrics[m.name].events == 0:
            # a type that differs only by white space around it (a spreadsheet's "click ")
            near = sorted(k for k in by_type if k != k.strip()
                          and k.strip().upper() == m.event_type.upper())
            warnings.append(f"metric {m.name}: no events of its type" + (
                f" ({by_type[near[0]]:,} events have the type {near[0]!r}: white space "
                "around a type is part of it)" if near else ""))
    if sum(quarantined.values()):
        warnings.append(f"{sum(quarantined.values()):,} rows quarantined; see the quarantine file")
    warnings += unread_columns(datasets)
    metric_types = {m.event_type.upper() for m in ma.metrics}
    w = values[WINDOW]
    return Health(
        rows_read=rows_read, quarantined=quarantined, duplicates=duplicates,
        duplicates_removed=dedupe, events_used=sum(by_type.values()), events_by_type=by_type,
        events_by_source=by_source, unattributed_events=by_source.get(D.UNDEFINED_SOURCE, 0),
        unresolved_events=unresolved_events, unresolved_ids=int(unresolved_ids),
        unmatched_events=sum(v for k, v in by_type.items() if k not in metric_types),
        metrics=metrics, first_window=int(w.min()) if len(w) else None,
        last_window=int(w.max()) if len(w) else None, warnings=warnings)


def unread_columns(columns: dict[str, list[str]]) -> list[str]:
    """A warning for each column that is not read but whose name is close to one of its
    dataset's columns that attrkit reads and the data lacks (``recommendation_id``,
    ``EVENT_ATTRIBUTION_SRC``): a misspelt optional column would otherwise be ignored, and its
    events counted as unattributed, without a word."""
    import difflib

    from attrkit.inputs.schema import SCHEMAS

    out = []
    for name, cols in columns.items():
        known = {c.name for c in SCHEMAS[name]}
        present, absent = known & set(cols), sorted(known - set(cols))
        for col in cols:
            if col.upper() in present:  # (read, or beside the column it resembles)
                continue
            close = difflib.get_close_matches(col.upper(), absent, n=1, cutoff=0.85)
            if close:
                case = " (names are told apart by case)" if col.upper() == close[0] else ""
                out.append(f"column {col} of {name} is not read: did you mean {close[0]}?{case}")
    return out


def unlogged_users(user_values: pl.DataFrame, assignment: pl.DataFrame) -> tuple[int, int]:
    """Users with events that the log does not know (rule: an event's user must appear in the
    recommendations log to be tied to an arm), and their events served by the log's sources."""
    unknown = user_values.join(assignment.select("USER_ID"), on="USER_ID", how="anti")
    served = unknown.filter(pl.col(SERVED_BY).is_not_null()
                            & pl.col("EVENT_ATTRIBUTION_SOURCE").is_null())
    return unknown["USER_ID"].n_unique(), int(served["events"].sum())


def with_unlogged_users(health: Health, users: int, events: int) -> Health:
    """The health summary with :func:`unlogged_users`' counts, and a warning where they
    matter."""
    warnings = list(health.warnings)
    if events:
        warnings.append(f"{events:,} events served by a recommender come from {users:,} users "
                        "the recommendations log does not know: a per-user comparison cannot tie "
                        "them to an arm and leaves them out")
    return dataclasses.replace(health, users_not_in_log=users, events_of_users_not_in_log=events,
                               warnings=warnings)
