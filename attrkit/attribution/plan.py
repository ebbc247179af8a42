"""The attribution plan: events in, one value per (window, metric, source) out, as a few steps.

Each step is a function from lazy frames to lazy frames (filter, join, window, group), so the
plan streams, and an executor (:mod:`attrkit.attribution.engine`) decides how to run it:

1. :func:`type_datasets` — type and check each dataset's rows (:mod:`attrkit.inputs.schema`).
   Items and the recommendations log, which the joins need whole, are checked first, in memory.
2. :func:`resolve_events` — look up each event's serving source in the log
   (:mod:`attrkit.attribution.sources`), hash each row (to count exact duplicates), optionally
   drop exact duplicates, and put each event in its window.
3. :func:`aggregate_plans` — the outputs, all from one read of the events: the events grouped by
   window, event type, label and source code with the aggregates the metrics declare
   (:func:`metric_aggregates`); the counts the health summary needs; the exposure and per-user
   data from the log.
4. :func:`by_source` and :func:`metric_values` — on the small grouped frame: name each group's
   source, upper-case its event type, and read each metric off it.

Columns the plan adds are private (``_``-prefixed) and never leave it; their names are here.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from attrkit import defaults as D
from attrkit.attribution.config import Metric, MetricAttribution
from attrkit.attribution.sources import lookup_sources, source_of
from attrkit.attribution.users import UserData, assignment_plan, day_of, served_plan
from attrkit.attribution.windows import window_start
from attrkit.frames import (
    ASSIGNMENT_SCHEMA,
    EXPOSURE_SCHEMA,
    QUARANTINE_SCHEMA,
    SERVED_SCHEMA,
    USER_ORDER,
    VALUES_SCHEMA,
    WINDOW_SCHEMA,
    to_datetime,
)
from attrkit.inputs.readers import Dataset
from attrkit.inputs.schema import SCHEMAS, coerce, may_repeat

WINDOW, DAY, EVENT_TYPE = "_W", "_D", "_ET"
"""The window start, the UTC day, and the upper-cased event type of an event or group."""
HASH, POS = "__attrkit_h", "__attrkit_pos"
"""A 64-bit hash of the whole typed row; the row's line or row number in its input."""
SERVED_BY = "__attrkit_served_by"
"""The log's source for the event's recommendation ID (see
:func:`~attrkit.attribution.sources.lookup_sources`)."""
GROUP_KEYS = (WINDOW, "EVENT_TYPE", "EVENT_ATTRIBUTION_SOURCE", SERVED_BY)
"""The events' group-by: window start, raw event type, label, and the log's source code."""
DESCRIBED = ["__attrkit_column", "__attrkit_rule", "__attrkit_value", "__attrkit_record"]
"""What :func:`~attrkit.inputs.schema.coerce` says about a bad row."""

SUM_DECIMAL = pl.Decimal(38, 9)
"""Sums are added as decimals with nine places: exact, so that the same events give the same
bytes whatever order they are added in (by thread, file format or engine). Each value is
rounded to 1e-9 first (:func:`as_decimal`); totals must stay below 1e29."""

Collect = Callable[[list[pl.LazyFrame]], list[pl.DataFrame]]


@dataclass(frozen=True)
class Options:
    window_seconds: int = D.WINDOW_SECONDS
    window_origin: int = D.WINDOW_ORIGIN
    dedupe: bool = False
    quarantine: bool = False
    timestamp_unit: D.TimestampUnit = "s"
    low_memory: bool = False
    chunk_rows: int = D.CHUNK_ROWS
    progress: bool = False


@dataclass(frozen=True)
class Typed:
    """Step 1: the typed events (a plan, with ``__attrkit_bad`` and the described columns), and items and
    the log typed in memory (``small``, with ``__attrkit_bad``) beside their plans (``small_plans``)."""

    events: pl.LazyFrame
    small: dict[str, pl.DataFrame]
    small_plans: dict[str, pl.LazyFrame]

    def valid(self, name: str) -> pl.LazyFrame:
        lf = self.events if name == "interactions" else self.small[name].lazy()
        return valid(lf)

    @property
    def log(self) -> pl.DataFrame | None:
        """The recommendations log's valid rows, or ``None`` without a log."""
        return self.valid("recommendations").collect() if "recommendations" in self.small else None


@dataclass(frozen=True)
class Resolved:
    """Step 2: the events with their source code and window (``events``), and beside them the
    per-row hashes and the recommendation IDs the log does not know."""

    events: pl.LazyFrame
    hashes: pl.LazyFrame
    unresolved_ids: pl.LazyFrame
    columns: list[str]


def valid(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.filter(~pl.col("__attrkit_bad")).drop(*DESCRIBED, "__attrkit_bad", strict=False)


def sum_columns(ma: MetricAttribution, dataset: str) -> tuple[str, ...]:
    """The columns of ``dataset`` that some ``SUM`` metric reads, each once."""
    return tuple(dict.fromkeys(m.column for m in ma.metrics
                               if m.function == "sum" and m.dataset == dataset and m.column))


def summed(metric: Metric) -> str:
    """The events' column a ``SUM`` metric adds up (item columns arrive prefixed ``_item_``)."""
    return f"__attrkit_item_{metric.column}" if metric.dataset == "items" else str(metric.column)


def as_decimal(x: pl.Expr) -> pl.Expr:
    """A Float64 value as a decimal of nine places: its whole part exactly, its fraction rounded
    to 1e-9, ties to even, in double arithmetic. The same steps on every engine give the same
    decimal (the Spark engine's ``_as_decimal``); a plain cast does not, since polars rounds the
    double times 1e9 (1.0000000005 to 1.000000000) and Spark rounds the double's text
    (1.000000001). Values are at most :data:`~attrkit.defaults.MAX_SUMMED_VALUE`, so the whole
    part fits an Int64."""
    whole = x.sign() * x.abs().floor()
    fraction = ((x - whole) * 1e9).round(mode="half_to_even") / 1e9
    return whole.cast(pl.Int64).cast(SUM_DECIMAL) + fraction.cast(SUM_DECIMAL)


def exact_sum(column: str) -> pl.Expr:
    return as_decimal(pl.col(column).cast(pl.Float64)).sum()


def metric_aggregates(metric: Metric) -> dict[str, pl.Expr]:
    """The aggregates a metric needs from each group of events: its count for ``SAMPLECOUNT()``;
    the exact sum and the count of missing values for ``SUM(column)``."""
    if metric.function == "samplecount":
        return {"events": pl.len().cast(pl.Int64)}
    col = summed(metric)
    return {f"sum:{col}": exact_sum(col), f"null:{col}": pl.col(col).null_count().cast(pl.Int64)}


def metric_value(metric: Metric) -> tuple[pl.Expr, pl.Expr]:
    """The metric's value in a group, and how many of its events had nothing to add."""
    if metric.function == "samplecount":
        return pl.col("events").cast(pl.Float64), pl.lit(0, dtype=pl.Int64)
    col = summed(metric)
    return pl.col(f"sum:{col}").cast(pl.Float64), pl.col(f"null:{col}")


def type_events(ma: MetricAttribution, ev: Dataset, raw: pl.LazyFrame, opts: Options
                ) -> pl.LazyFrame:
    """The interactions' rows ``raw`` (all of them, or a chunk) typed and checked."""
    return coerce(raw, "interactions", numeric=sum_columns(ma, "interactions"),
                  timestamp_unit=opts.timestamp_unit, keep_other_columns=True,
                  overrides=ev.overrides, record=opts.quarantine)


def type_datasets(ma: MetricAttribution, datasets: dict[str, Dataset], opts: Options,
                  collect: Collect, log_in_memory: bool = True) -> Typed:
    """Step 1. Which rule a bad row breaks is worked out later, only if there are bad rows. IDs
    that must be unique are checked by hash first; exactly only when a hash repeats."""
    ev = datasets["interactions"]
    events = type_events(ma, ev, ev.raw, opts)
    item_cols = sum_columns(ma, "items")

    def typed(k: str, unique: bool) -> pl.LazyFrame:
        if k == "items":
            return coerce(datasets[k].raw.select("ITEM_ID", *item_cols, POS), "items",
                          numeric=item_cols, record=opts.quarantine, unique=unique)
        return coerce(datasets[k].raw, k, timestamp_unit=opts.timestamp_unit,
                      record=opts.quarantine, unique=unique)

    names = [k for k in ("items", "recommendations") if k in datasets]
    plans = {k: typed(k, unique=False) for k in names}

    def kept(k: str) -> pl.LazyFrame:  # the log's sources as codes: few names, many rows
        if k == "recommendations" and not log_in_memory:  # how many rows, which are bad
            return plans[k].select("__attrkit_bad")
        lf = plans[k].drop(DESCRIBED, strict=False)
        return lf.with_columns(pl.col("SOURCE").cast(pl.Categorical)) if k != "items" else lf

    small = dict(zip(names, collect([kept(k) for k in names]), strict=True))
    for k in names:
        unique_col = next(c.name for c in SCHEMAS[k] if c.unique)
        if unique_col in small[k].columns and may_repeat(small[k][unique_col]):
            plans[k] = typed(k, unique=True)
            small[k] = collect([kept(k)])[0]
    if "recommendations" in small and log_in_memory:  # codes in the sources' sorted order
        log = small["recommendations"]
        small["recommendations"] = log.with_columns(pl.col("SOURCE").cast(pl.String).cast(
            pl.Enum(log["SOURCE"].drop_nulls().unique().cast(pl.String).sort())))
    return Typed(events, small, plans)


def resolve_events(ma: MetricAttribution, typed: Typed, log: pl.DataFrame | None,
                   opts: Options, keys: pl.DataFrame | None = None) -> Resolved:
    """Step 2. Sources are looked up before duplicates are dropped (a row and its copy resolve
    alike), so the counts and the windows share one read. Each column carried through the join
    costs time: only those the metrics need go on (all of them when duplicates are dropped)."""
    events = typed.valid("interactions")
    columns = [c for c in events.collect_schema().names() if c != POS]  # the same in every chunk
    needed = ["TIMESTAMP", "EVENT_TYPE", "EVENT_ATTRIBUTION_SOURCE", "RECOMMENDATION_ID",
              *(["ITEM_ID"] if sum_columns(ma, "items") else []),
              *(["USER_ID"] if by_user(log) else []), *sum_columns(ma, "interactions")]
    carried = columns if opts.dedupe else [c for c in columns if c in needed]
    events = events.select(*carried, row_hash(columns).alias(HASH), POS)
    resolved = lookup_sources(events, log, keys)
    unresolved_ids = resolved.filter("__attrkit_unresolved").select("RECOMMENDATION_ID").unique()
    hashes = resolved.select(HASH, POS)
    if opts.dedupe:
        resolved = resolved.unique(subset=columns, keep="any")
    resolved = resolved.with_columns(window_start(
        "TIMESTAMP", length=opts.window_seconds, origin=opts.window_origin).alias(WINDOW))
    return Resolved(resolved, hashes, unresolved_ids, columns)


def by_user(log: pl.DataFrame | None) -> bool:
    """Whether the log ties recommendations to users (so per-user data can be built)."""
    return log is not None and "USER_ID" in log.columns


def with_items(ma: MetricAttribution, typed: Typed, events: pl.LazyFrame) -> pl.LazyFrame:
    """Left-join the item columns a ``SUM(Items.X)`` reads (prefixed ``_item_``), and
    ``__attrkit_found`` to count events whose item is missing."""
    item_cols = sum_columns(ma, "items")
    if not item_cols:
        return events
    items = typed.valid("items").select(
        "ITEM_ID", *[pl.col(c).alias(f"__attrkit_item_{c}") for c in item_cols],
        pl.lit(True).alias("__attrkit_found"))
    return events.join(items, on="ITEM_ID", how="left", build_side="force_right")


def aggregate_plans(ma: MetricAttribution, typed: Typed, resolved: Resolved,
                    log: pl.DataFrame | None, raw: pl.LazyFrame, opts: Options,
                    log_outputs: bool = True) -> dict[str, pl.LazyFrame]:
    """Step 3: every output, named. The metrics declare what each group needs; the health
    summary adds the events, the unresolved ones, and the items not found. The outputs that
    read the log alone come with the first chunk of events only (``log_outputs``)."""
    events = with_items(ma, typed, resolved.events)
    declared = functools.reduce(operator.or_, (metric_aggregates(m) for m in ma.metrics), {})
    declared.pop("events", None)
    aggs = [pl.len().cast(pl.Int64).alias("events"), *(e.alias(k) for k, e in declared.items())]
    extra = [pl.col("__attrkit_unresolved").sum().cast(pl.Int64).alias("unresolved")]
    if sum_columns(ma, "items"):
        extra.append(pl.col("__attrkit_found").null_count().cast(pl.Int64).alias("no_item"))
    plans = {
        "grouped": events.group_by(*GROUP_KEYS).agg(*aggs, *extra),
        "unresolved_ids": resolved.unresolved_ids,
        "hashes": resolved.hashes,
    }
    if log is not None and log_outputs:
        plans["exposure"] = exposure_plan(log.lazy(), opts.window_seconds, opts.window_origin)
    if by_user(log):
        lf = log.lazy()
        # Per user and UTC day: the units of a user-randomised comparison.
        keys = ("USER_ID", day_of("TIMESTAMP").alias(DAY), *GROUP_KEYS[1:])
        plans["user_values"] = events.group_by(*keys).agg(*aggs)
        if log_outputs:
            plans |= log_user_plans(lf)
    return plans


def log_user_plans(log: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
    """What the log alone says about users: traffic per source, each user's assignment, and
    the recommendations served per user, day and source."""
    return {
        "traffic": log.group_by(pl.col("SOURCE").cast(pl.String).alias("source")).agg(
            pl.col("USER_ID").n_unique().cast(pl.Int64).alias("users"),
            pl.len().cast(pl.Int64).alias("recommendations")),
        "assignment": assignment_plan(log),
        "served": served_plan(log),
    }


ADDED_UP = ("grouped", "user_values", "hashes", "unresolved_ids")
"""The outputs each chunk of events gives part of; :func:`add_up` joins the parts."""


def add_up(parts: list[dict[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    """One output from the chunks' partial outputs: groups and hashes side by side (the steps
    after group them again, and sums are exact decimals, so the order does not matter), the
    unresolved IDs once each. (The rows read are counted once, before the chunks.)"""
    out = dict(parts[0])
    if len(parts) == 1:
        return out
    for name in ADDED_UP:
        if name in out:
            out[name] = pl.concat([p[name] for p in parts])
    out["unresolved_ids"] = out["unresolved_ids"].unique()
    return out


def exposure_plan(log: pl.LazyFrame, window_seconds: int, window_origin: int) -> pl.LazyFrame:
    """Recommendations served per window and source."""
    return log.group_by(
        window_start("TIMESTAMP", length=window_seconds, origin=window_origin).alias("timestamp"),
        pl.col("SOURCE").alias("source"),
    ).agg(pl.len().cast(pl.Float64).alias("exposure")).cast(dict(EXPOSURE_SCHEMA))


def by_source(grouped: pl.DataFrame, key: str) -> pl.DataFrame:
    """Step 4: name each group's source and upper-case its event type, then add up the groups
    that now coincide: one row per (``key``, event type, source), and per user when grouped by
    user. Sums are decimals, exact in any order, so the groups need no sorting first."""
    keys = [c for c in ("USER_ID",) if c in grouped.columns]
    raw_keys = [*keys, key, *GROUP_KEYS[1:]]
    return grouped.with_columns(
        pl.col("EVENT_TYPE").str.to_uppercase().alias(EVENT_TYPE), source_of().alias("SOURCE"),
    ).group_by(*keys, key, EVENT_TYPE, "SOURCE").agg(pl.exclude(raw_keys).sum())


def metric_values(grouped: pl.DataFrame, ma: MetricAttribution, key: str, *,
                  health: bool = False) -> pl.DataFrame:
    """Step 4: each metric read off the grouped events: one row per group key, metric and
    source, with ``value`` (and, for the health summary, the counts behind it)."""
    keys = [c for c in ("USER_ID", key) if c in grouped.columns]
    parts = []
    for m in ma.metrics:
        value, not_summed = metric_value(m)
        extra = []
        if health:
            missing = pl.col("no_item") if m.dataset == "items" else pl.lit(0, dtype=pl.Int64)
            extra = ["events", not_summed.alias("not_summed"), missing.alias("items_not_found")]
        parts.append(grouped.filter(pl.col(EVENT_TYPE) == m.event_type.upper()).select(
            *keys, "SOURCE", pl.lit(m.name.upper()).alias("metric_name"),
            pl.lit(m.event_type.upper()).alias("event_type"),
            pl.lit(m.math_function).alias("math_function"), value.alias("value"), *extra))
    return pl.concat(parts)


def row_hash(columns: list[str]) -> pl.Expr:
    """A 64-bit hash of a whole row: one hash of the row as a struct, so that a file with
    thousands of columns gives one shallow expression, not a chain one column deep each."""
    return pl.struct(columns).hash()


def count_duplicates(hashes: pl.DataFrame, events: pl.LazyFrame, columns: list[str],
                     collect: Collect) -> int:
    """Rows that exactly repeat an earlier row. Rows whose hash no other row shares are
    distinct; only the rest (duplicates, or a rare hash collision) are compared exactly, read
    again by their position so that only they are typed a second time."""
    ordered = hashes[HASH].sort()
    if ordered.n_unique() == ordered.len():  # one linear pass over sorted values
        return 0
    shared = ordered.filter(ordered == ordered.shift(1)).unique()
    if POS in hashes.columns:
        positions = hashes.filter(pl.col(HASH).is_in(shared.implode()))[POS]
        rows = events.filter(pl.col(POS).is_in(positions.implode()))
    else:  # hashes of many chunks come without positions: hash the events again to find them
        rows = events.filter(row_hash(columns).is_in(shared.implode()))
    sharing, distinct = collect([rows.select(pl.len(), pl.struct(columns).n_unique())])[0].row(0)
    return int(sharing - distinct)


def bad_rows(ds: Dataset, typed: pl.LazyFrame, quarantine: bool, order: int) -> pl.LazyFrame:
    """The dataset's bad rows in the quarantine's shape (plus ``__attrkit_pos`` and
    ``__attrkit_ds`` to sort):
    those the row rules caught and those the reader could not parse."""
    pos = ds.position_in_file()
    line = pos if ds.position == "line" else pl.lit(None, dtype=pl.Int64)
    row = pos if ds.position == "row" else pl.lit(None, dtype=pl.Int64)
    record = pl.col("__attrkit_record") if quarantine else pl.lit(None, dtype=pl.String)
    checked = typed.filter(pl.col("__attrkit_bad"))
    broken = ds.broken.lazy().with_columns(pl.col("__attrkit_value").alias("__attrkit_record"),
                                           pl.lit(None, dtype=pl.String).alias("__attrkit_value"))
    if not quarantine:
        broken = broken.with_columns(pl.lit(None, dtype=pl.String).alias("__attrkit_record"))
    cols = [pl.lit(ds.name).alias("DATASET"), ds.file_name().alias("FILE"),
            line.alias("LINE"), row.alias("ROW"), pl.col("__attrkit_column").alias("COLUMN"),
            pl.col("__attrkit_rule").alias("RULE"), pl.col("__attrkit_value").alias("VALUE"),
            record.alias("RECORD")]
    keys = [pl.col(POS), pl.lit(order).alias("__attrkit_ds")]
    return pl.concat([checked.select(*cols, *keys), broken.select(*cols, *keys)], how="vertical")


def quarantine_frame(datasets: dict[str, Dataset], typed: Typed, bad_events: int,
                     quarantine: bool, collect: Collect) -> pl.DataFrame:
    """Every dataset's bad rows, in input order; fetched with a pass of their own only when the
    counts say there are any."""
    plans = []
    for i, k in enumerate(datasets):
        ds = datasets[k]
        if k == "interactions" and (bad_events or ds.broken.height):
            plans.append(bad_rows(ds, typed.events, quarantine, i))
        elif k != "interactions" and (typed.small[k]["__attrkit_bad"].any() or ds.broken.height):
            plans.append(bad_rows(ds, typed.small_plans[k], quarantine, i))
    if not plans:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return (pl.concat(collect(plans)).sort("__attrkit_ds", POS).drop(POS, "__attrkit_ds")
            .cast(dict(QUARANTINE_SCHEMA)))


def windows_frame(values: pl.DataFrame) -> pl.DataFrame:
    """Step 4's output: the metrics per window, in :data:`~attrkit.frames.WINDOW_SCHEMA`."""
    return values.select(
        to_datetime(pl.col(WINDOW)).alias("window_start"), pl.col(WINDOW).alias("timestamp"),
        "metric_name", "event_type", "math_function", pl.col("SOURCE").alias("source"),
        "value", "events",
    ).cast(dict(WINDOW_SCHEMA)).sort("timestamp", "metric_name", "source")


def user_data(ma: MetricAttribution, out: dict[str, pl.DataFrame], unassigned: int, *,
              sort: bool = True) -> UserData:
    """Step 4's per-user output: assignment, the metrics per user, day and source, and the
    recommendations served (:class:`~attrkit.attribution.users.UserData`), sorted by user
    unless ``sort`` is False (a bucket of users on disk: its answers do not depend on order,
    and its whole frames are sorted when they are read)."""
    values = metric_values(by_source(out["user_values"], DAY), ma, DAY).select(
        "USER_ID", pl.col(DAY).alias("day"), "metric_name", pl.col("SOURCE").alias("source"),
        "value")
    frames = {"assignment": out["assignment"].cast(dict(ASSIGNMENT_SCHEMA)),
              "values": values.cast(dict(VALUES_SCHEMA)),
              "served": out["served"].cast(dict(SERVED_SCHEMA))}
    if sort:
        frames = {k: f.sort(*USER_ORDER[k]) for k, f in frames.items()}
    return UserData(*frames.values(), unassigned)
