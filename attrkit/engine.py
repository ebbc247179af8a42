"""The attribution engine: events in, one value per (window, metric, source) out.

The whole job is a small relational plan on polars lazy frames, so it streams and could be
written as SQL or Spark just as well:

1. type and check each dataset's rows (:mod:`attrkit.schema`); items and the recommendations
   log, which the joins need whole, are checked first;
2. look up each event's serving source in the log (:mod:`attrkit.sources`: a join on hashed
   IDs that returns a small source code), and left-join the items a ``SUM(Items.X)`` needs;
3. optionally drop exact duplicate events;
4. group by window start, event type, label and source code, with every count and sum any
   metric needs. Source names and upper-cased event types are worked out on that small frame,
   and each metric is read off it;
5. beside it, from the same read of the events: the counts the health summary needs (valid
   rows, distinct unresolved recommendation IDs) and a 64-bit hash per row, sorted afterwards
   to count exact duplicates. Bad rows are described and fetched with a query of their own
   only when there are any.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from attrkit import _defaults as D
from attrkit.config import MetricAttribution
from attrkit.errors import ConfigError, InputError
from attrkit.health import Health, MetricHealth
from attrkit.io import Dataset, load
from attrkit.report import WINDOW_SCHEMA, write_report
from attrkit.schema import SCHEMAS, coerce, may_repeat
from attrkit.sources import lookup_sources, source_of
from attrkit.users import (
    ASSIGNMENT_SCHEMA,
    SERVED_SCHEMA,
    VALUES_SCHEMA,
    UserData,
    assignment_plan,
    day_of,
    served_plan,
)
from attrkit.windows import check_window, to_datetime, window_start

QUARANTINE_SCHEMA = pl.Schema({
    "DATASET": pl.String, "FILE": pl.String, "LINE": pl.Int64, "ROW": pl.Int64,
    "COLUMN": pl.String, "RULE": pl.String, "VALUE": pl.String, "RECORD": pl.String,
})

Input = str | os.PathLike[str] | pl.DataFrame | pl.LazyFrame | Dataset | Any


@dataclass(frozen=True)
class Attribution:
    """The result of :func:`attribute`.

    Attributes:
        windows: the tidy frame, one row per (window, metric, source); see
            :data:`attrkit.report.WINDOW_SCHEMA`.
        health: what was read, used and skipped.
        quarantine: rows set aside (``on_bad_rows="quarantine"``), each with its dataset, file,
            line or row, column, rule, offending value and the raw record.
        metric_attribution: the configuration used.
        window_seconds, window_origin: the windowing used.
        exposure: recommendations served per ``timestamp`` (window start) and ``source``, from
            the recommendations log (``None`` without a log): the denominator of rates.
        traffic: per ``source``, distinct ``users`` and ``recommendations`` in the log (``None``
            without a log or without its ``USER_ID`` column): for sample-ratio checks.
        users: per-user assignment and outcomes (:class:`~attrkit.users.UserData`; ``None``
            without a log or without its ``USER_ID`` column): the units of a user-randomised
            comparison.
    """

    windows: pl.DataFrame
    health: Health
    quarantine: pl.DataFrame
    metric_attribution: MetricAttribution
    window_seconds: int = D.WINDOW_SECONDS
    window_origin: int = D.WINDOW_ORIGIN
    exposure: pl.DataFrame | None = None
    traffic: pl.DataFrame | None = None
    users: UserData | None = None

    def write_report(
        self, path: str | Path, *, import_mode: D.ImportMode = D.IMPORT_MODE,
        when: float | None = None,
    ) -> Path | str:
        """Write the S3 report CSV (see :func:`attrkit.report.write_report`); an ``s3://``
        target is encrypted with the metric attribution's KMS key when it names one."""
        return write_report(self.windows, path, import_mode=import_mode, when=when,
                            kms_key_arn=self.metric_attribution.kms_key_arn)

    def to_pandas(self) -> Any:
        """The windowed frame as a pandas DataFrame."""
        return self.windows.to_pandas()

    def _repr_html_(self) -> str:
        return self.health._repr_html_() + self.windows._repr_html_()


def attribute(
    interactions: Input,
    metric_attribution: MetricAttribution | dict[str, Any] | str | os.PathLike[str],
    *,
    items: Input | None = None,
    recommendations: Input | None = None,
    window_seconds: int = D.WINDOW_SECONDS,
    window_origin: int = D.WINDOW_ORIGIN,
    dedupe: bool = False,
    on_bad_rows: D.OnBadRows = "error",
    max_sources: int = D.MAX_SOURCES,
    timestamp_unit: D.TimestampUnit = "s",
    low_memory: bool = False,
) -> Attribution:
    """Attribute interactions to sources and aggregate the metrics in windows.

    Args:
        interactions: events: a path (CSV, Parquet, PutEvents JSON Lines) or a frame.
        metric_attribution: a :class:`MetricAttribution`, its request dict, or a JSON path.
        items: the items data, needed by ``SUM(Items.X)`` metrics.
        recommendations: the recommendations log that resolves recommendation IDs to sources.
        window_seconds: window length (the service uses 900).
        window_origin: windows start at ``origin + k * window_seconds``.
        dedupe: remove exact duplicate events (they are counted either way).
        on_bad_rows: ``"error"`` stops at the first bad row; ``"quarantine"`` sets bad rows
            aside in :attr:`Attribution.quarantine` and goes on.
        max_sources: more distinct sources than this is an error (the service allows 100).
        timestamp_unit: ``"s"``, or ``"ms"`` to convert millisecond timestamps.
        low_memory: read the events twice, for the windows and then for the health counts,
            instead of once for both: a lower peak memory (about 40% at 10 to 50 million
            events) for a longer run (15 to 50%). The results are the same.

    Returns:
        An :class:`Attribution`.

    Raises:
        InputError: a bad row (with ``on_bad_rows="error"``), a missing column, too many sources.
        ConfigError: a bad configuration or option.

    Example:
        >>> import polars as pl
        >>> events = pl.DataFrame({"USER_ID": ["u1", "u2"], "ITEM_ID": ["i1", "i2"],
        ...     "TIMESTAMP": [1700000000, 1700000950], "EVENT_TYPE": ["click", "click"],
        ...     "EVENT_ATTRIBUTION_SOURCE": ["partner", None]})
        >>> ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
        ...                                 "expression": "SAMPLECOUNT()"}]}
        >>> attribute(events, ma).windows.select("timestamp", "source", "value").rows()
        [(1699999200, 'partner', 1.0), (1700000100, 'SOURCE_NAME_UNDEFINED', 1.0)]
    """
    ma = _as_config(metric_attribution)
    check_window(window_seconds, window_origin)
    if on_bad_rows not in ("error", "quarantine"):
        raise ConfigError(f"on_bad_rows={on_bad_rows!r}: must be 'error' or 'quarantine'")
    if timestamp_unit not in ("s", "ms"):
        raise ConfigError(f"timestamp_unit={timestamp_unit!r}: must be 's' or 'ms'")
    if isinstance(max_sources, bool) or not isinstance(max_sources, int) or max_sources < 1:
        raise ConfigError(f"max_sources={max_sources!r}: must be a positive whole number")
    datasets = {"interactions": load("interactions", interactions)}
    if items is not None:
        datasets["items"] = load("items", items)
    if recommendations is not None:
        datasets["recommendations"] = load("recommendations", recommendations)
    _check_metric_columns(ma, datasets)

    opts = dict(window_seconds=window_seconds, window_origin=window_origin, dedupe=dedupe,
                quarantine=on_bad_rows == "quarantine", timestamp_unit=timestamp_unit,
                low_memory=low_memory)
    while True:
        if on_bad_rows == "error":
            _raise_first_broken(datasets)
        try:
            windows, health, quarantine, exposure, traffic, users = _run(ma, datasets, **opts)
            break
        except pl.exceptions.ComputeError:
            # A fast reader stopped at damage it cannot skip; find the lines, then go on without.
            repaired = {k: ds.repair() for k, ds in datasets.items()}
            if not any(repaired.values()):
                raise
            datasets = {k: repaired[k] or ds for k, ds in datasets.items()}

    if on_bad_rows == "error" and quarantine.height:
        first = quarantine.row(0, named=True)
        ds = datasets[first["DATASET"]]
        raise ds.error(first["LINE"] if first["LINE"] is not None else first["ROW"],
                       _with_value(first["RULE"], first["VALUE"]), first["COLUMN"])
    n_sources = len(health.events_by_source)
    if n_sources > max_sources:
        raise InputError(datasets["interactions"].source,
                         f"{n_sources} distinct attribution sources; the service allows at most "
                         f"{max_sources} (raise max_sources / --max-sources to allow more)")
    return Attribution(windows, health, quarantine, ma, window_seconds, window_origin, exposure,
                       traffic, users)


# The events' group-by: window start, raw event type, label, and the log's source code.
_GROUP_KEYS = ("_W", "EVENT_TYPE", "EVENT_ATTRIBUTION_SOURCE", "_served_by")

EXPOSURE_SCHEMA = pl.Schema({"timestamp": pl.Int64, "source": pl.String, "exposure": pl.Float64})


def _exposure_plan(log: pl.LazyFrame, window_seconds: int, window_origin: int) -> pl.LazyFrame:
    return log.group_by(
        window_start("TIMESTAMP", length=window_seconds, origin=window_origin).alias("timestamp"),
        pl.col("SOURCE").alias("source"),
    ).agg(pl.len().cast(pl.Float64).alias("exposure"))


def attribute_exposure(
    recommendations: Input,
    *,
    window_seconds: int = D.WINDOW_SECONDS,
    window_origin: int = D.WINDOW_ORIGIN,
    timestamp_unit: D.TimestampUnit = "s",
) -> pl.DataFrame:
    """Recommendations served per window and source, from the recommendations log alone.

    Bad rows raise :class:`InputError` as in :func:`attribute`.

    Example:
        >>> import polars as pl
        >>> log = pl.DataFrame({"RECOMMENDATION_ID": ["a", "b", "c"], "SOURCE": ["A", "A", "B"],
        ...                     "TIMESTAMP": [0, 10, 950]})
        >>> attribute_exposure(log).rows()
        [(0, 'A', 2.0), (900, 'B', 1.0)]
    """
    check_window(window_seconds, window_origin)
    ds = load("recommendations", recommendations)
    while True:
        _raise_first_broken({"recommendations": ds})
        typed = coerce(ds.raw, "recommendations", timestamp_unit=timestamp_unit)
        try:
            bad = typed.filter(pl.col("_bad")).sort("_pos").head(1).collect()
            break
        except pl.exceptions.ComputeError:
            repaired = ds.repair()
            if repaired is None:
                raise
            ds = repaired
    if bad.height:
        first = bad.row(0, named=True)
        raise ds.error(first["_pos"], _with_value(first["_rule"], first["_value"]),
                       first["_column"])
    plan = _exposure_plan(typed.filter(~pl.col("_bad")), window_seconds, window_origin)
    return plan.collect().cast(dict(EXPOSURE_SCHEMA)).sort("timestamp", "source")


def _with_value(rule: str, value: str | None) -> str:
    if value is None:
        return rule
    shown = value if len(value) <= 60 else value[:57] + "..."
    return f"{rule} (value {shown!r})"


def _as_config(ma: Any) -> MetricAttribution:
    if isinstance(ma, MetricAttribution):
        return ma
    if isinstance(ma, dict):
        return MetricAttribution.from_dict(ma)
    if isinstance(ma, str | os.PathLike):
        return MetricAttribution.from_json(ma)
    raise TypeError(f"metric_attribution: expected a MetricAttribution, dict or path, got "
                    f"{type(ma).__name__}")


def _check_metric_columns(ma: MetricAttribution, datasets: dict[str, Dataset]) -> None:
    """A SUM must read a column that exists and (where the data is typed) is numeric."""
    for m in ma.metrics:
        if m.function != "sum":
            continue
        name = "items" if m.dataset == "items" else "interactions"
        where = f"metric {m.name!r}: {m.expression}"
        ds = datasets.get(name)
        if ds is None:
            raise ConfigError(f"{where} needs the items dataset; pass items= (--items)")
        schema = ds.raw.collect_schema()
        if m.column not in schema:
            raise ConfigError(f"{where} reads column {m.column} of {name}, which {ds.source} does "
                              f"not have; columns: {', '.join(ds.columns)}")
        dtype = schema[m.column]
        if not (dtype.is_numeric() or dtype == pl.String):
            raise ConfigError(f"{where} sums column {m.column} of {name} in {ds.source}, which is "
                              f"{dtype}, not numeric")
        if dtype == pl.String and ds.format in ("parquet", "frame"):
            raise ConfigError(f"{where} sums column {m.column} of {name} in {ds.source}, which "
                              "holds text, not numbers")


def _raise_first_broken(datasets: dict[str, Dataset]) -> None:
    for ds in datasets.values():
        if ds.broken.height:
            first = ds.broken.sort("_pos").row(0, named=True)
            raise ds.error(first["_pos"], first["_rule"], first["_column"])


def _sum_columns(ma: MetricAttribution, dataset: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.column for m in ma.metrics
                               if m.function == "sum" and m.dataset == dataset and m.column))


def _bad_rows(ds: Dataset, typed: pl.LazyFrame, quarantine: bool, order: int) -> pl.LazyFrame:
    pos = pl.col("_pos")
    line = pos if ds.position == "line" else pl.lit(None, dtype=pl.Int64)
    row = pos if ds.position == "row" else pl.lit(None, dtype=pl.Int64)
    record = pl.col("_record") if quarantine else pl.lit(None, dtype=pl.String)
    checked = typed.filter(pl.col("_bad"))
    broken = ds.broken.lazy().with_columns(pl.col("_value").alias("_record"),
                                           pl.lit(None, dtype=pl.String).alias("_value"))
    if not quarantine:
        broken = broken.with_columns(pl.lit(None, dtype=pl.String).alias("_record"))
    cols = [pl.lit(ds.name).alias("DATASET"), pl.lit(ds.source).alias("FILE"),
            line.alias("LINE"), row.alias("ROW"), pl.col("_column").alias("COLUMN"),
            pl.col("_rule").alias("RULE"), pl.col("_value").alias("VALUE"),
            record.alias("RECORD")]
    keys = [pos, pl.lit(order).alias("_ds")]
    return pl.concat([checked.select(*cols, *keys), broken.select(*cols, *keys)], how="vertical")


def _run(
    ma: MetricAttribution,
    datasets: dict[str, Dataset],
    *,
    window_seconds: int,
    window_origin: int,
    dedupe: bool,
    quarantine: bool,
    timestamp_unit: D.TimestampUnit,
    low_memory: bool,
) -> tuple[pl.DataFrame, Health, pl.DataFrame, pl.DataFrame | None, pl.DataFrame | None,
           UserData | None]:
    ev_ds = datasets["interactions"]
    typed: dict[str, pl.LazyFrame] = {
        "interactions": coerce(ev_ds.raw, "interactions",
                               numeric=_sum_columns(ma, "interactions"),
                               timestamp_unit=timestamp_unit, keep_other_columns=True,
                               overrides=ev_ds.overrides, record=quarantine)
    }
    item_cols = _sum_columns(ma, "items")

    def typed_small(k: str, unique: bool) -> pl.LazyFrame:
        if k == "items":
            return coerce(datasets[k].raw.select("ITEM_ID", *item_cols, "_pos"), "items",
                          numeric=item_cols, record=quarantine, unique=unique)
        return coerce(datasets[k].raw, k, timestamp_unit=timestamp_unit, record=quarantine,
                      unique=unique)

    # Items and the log are needed whole by the joins: type and check them once, in memory.
    # Which rule a bad row breaks is worked out later, only if there are bad rows. IDs that must
    # be unique are checked by hash first; the exact check runs only when a hash repeats.
    small = [k for k in ("items", "recommendations") if k in datasets]
    described = ["_column", "_rule", "_value", "_record"]
    typed.update({k: typed_small(k, unique=False) for k in small})
    small_df = dict(zip(small, pl.collect_all(
        [typed[k].drop(described, strict=False) for k in small], engine="streaming"),
        strict=True))
    for k in small:
        unique_col = next(c.name for c in SCHEMAS[k] if c.unique)
        if may_repeat(small_df[k][unique_col]):
            typed[k] = typed_small(k, unique=True)
            small_df[k] = typed[k].drop(described, strict=False).collect(engine="streaming")

    def valid(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.filter(~pl.col("_bad")).drop(*described, "_bad", strict=False)

    good = {k: valid(df.lazy()) for k, df in small_df.items()}
    typed_events = typed["interactions"]
    events = valid(typed_events)
    event_cols = [c for c in events.collect_schema().names() if c != "_pos"]
    value_cols = list(_sum_columns(ma, "interactions"))
    # Exact duplicates share a row hash: an 8-byte hash per row is computed before the joins and
    # sorted after the pass; only rows whose hash repeats are then compared exactly. Each column
    # carried through a join costs time, so only the columns the counts need go on (all of them
    # when duplicates are to be dropped).
    log_df = good["recommendations"].collect() if "recommendations" in good else None
    by_user = log_df is not None and "USER_ID" in log_df.columns
    needed = ["TIMESTAMP", "EVENT_TYPE", "EVENT_ATTRIBUTION_SOURCE", "RECOMMENDATION_ID",
              *(["ITEM_ID"] if item_cols else []), *(["USER_ID"] if by_user else []),
              *value_cols]
    carried = event_cols if dedupe else [c for c in event_cols if c in needed]
    events = events.select(*carried, _row_hash(event_cols).alias("_h"), "_pos")
    # Sources are looked up before duplicates are dropped (a row and its copy resolve alike), so
    # the whole-table counts and the windows share one read of the typed, resolved events.
    resolved = lookup_sources(events, log_df)
    unresolved_ids = resolved.filter("_unresolved").select("RECOMMENDATION_ID").unique()
    hashes = resolved.select("_h", "_pos")
    read = ev_ds.raw.select(pl.len().cast(pl.Int64).alias("rows"))  # Parquet: its metadata
    if dedupe:
        resolved = resolved.unique(subset=event_cols, keep="any")
    events = resolved.with_columns(
        window_start("TIMESTAMP", length=window_seconds, origin=window_origin).alias("_W"))
    # One pass over the events: group by window, event type, label and served-by code, with every
    # count and sum any metric needs. The source names and upper-cased event types are worked
    # out afterwards on this small frame, and the metrics read off it.
    aggs = [pl.len().cast(pl.Int64).alias("events"),
            pl.col("_unresolved").sum().cast(pl.Int64).alias("unresolved")]
    if item_cols:
        items = good["items"].select(
            "ITEM_ID", *[pl.col(c).alias(f"_item_{c}") for c in item_cols],
            pl.lit(True).alias("_found"))
        events = events.join(items, on="ITEM_ID", how="left", build_side="force_right")
        value_cols += [f"_item_{c}" for c in item_cols]
        aggs.append(pl.col("_found").null_count().cast(pl.Int64).alias("no_item"))
    sums = [_exact_sum(c).alias(f"sum:{c}") for c in value_cols]
    aggs += sums + [pl.col(c).null_count().cast(pl.Int64).alias(f"null:{c}") for c in value_cols]
    grouped = events.group_by(*_GROUP_KEYS).agg(aggs)

    plans = [grouped, unresolved_ids, read, hashes]
    if log_df is not None:
        log = log_df.lazy()
        plans.append(_exposure_plan(log, window_seconds, window_origin))
        if by_user:
            plans.append(log.group_by(pl.col("SOURCE").alias("source")).agg(
                pl.col("USER_ID").n_unique().cast(pl.Int64).alias("users"),
                pl.len().cast(pl.Int64).alias("recommendations")))
            # Per user and UTC day: the units of a user-randomised comparison.
            user_keys = ("USER_ID", day_of("TIMESTAMP").alias("_D"), *_GROUP_KEYS[1:])
            plans += [events.group_by(*user_keys).agg(pl.len().cast(pl.Int64).alias("events"),
                                                      *sums),
                      assignment_plan(log), served_plan(log)]
    # Sharing one read, polars holds the events until every output has taken them; with
    # low_memory the windows are read first, then the counts.
    batches = [plans[:1], plans[1:]] if low_memory else [plans]
    grouped_df, unresolved_df, read_df, hashes_df, *rest = [
        df for batch in batches for df in pl.collect_all(batch, engine="streaming")]
    grouped_df = _by_source(grouped_df, "_W")
    total = {"rows": read_df.item(), "valid": hashes_df.height}
    total["bad"] = total["rows"] - total["valid"]
    # Bad rows are fetched with a pass of their own only when there are any.
    bad_parts = []
    for i, k in enumerate(typed):
        if k == "interactions":
            if total["bad"] or datasets[k].broken.height:
                bad_parts.append(_bad_rows(datasets[k], typed_events, quarantine, i).collect(
                    engine="streaming"))
        elif small_df[k]["_bad"].any() or datasets[k].broken.height:
            bad_parts.append(_bad_rows(datasets[k], typed[k], quarantine, i).collect())
    bad_df = (pl.concat(bad_parts).sort("_ds", "_pos") if bad_parts
              else pl.DataFrame(schema={**QUARANTINE_SCHEMA, "_pos": pl.Int64, "_ds": pl.Int32}))
    rows_read = {"interactions": total["rows"], **{k: small_df[k].height for k in small}}
    for k, ds in datasets.items():
        rows_read[k] += ds.broken.height
    duplicates = _count_duplicates(hashes_df, valid(typed_events), event_cols)
    exposure_df = (rest[0].cast(dict(EXPOSURE_SCHEMA)).sort("timestamp", "source")
                   if rest else None)
    traffic_df = rest[1].sort("source") if len(rest) > 1 else None
    users = None
    if by_user:
        user_df, assignment_df, served_df = rest[2:]
        values = _metric_values(_by_source(user_df, "_D"), ma, "_D").select(
            "USER_ID", pl.col("_D").alias("day"), "metric_name", pl.col("SOURCE").alias("source"),
            "value")
        users = UserData(
            assignment_df.cast(dict(ASSIGNMENT_SCHEMA)).sort("USER_ID"),
            values.cast(dict(VALUES_SCHEMA)).sort("USER_ID", "day", "metric_name", "source"),
            served_df.cast(dict(SERVED_SCHEMA)).sort("USER_ID", "day", "source"),
            int(log_df["USER_ID"].null_count()))
    by_type_df = grouped_df.group_by("_ET", "SOURCE").agg(pl.col("events", "unresolved").sum())
    joined = _metric_values(grouped_df, ma, "_W", health=True)
    windows = joined.select(
        to_datetime(pl.col("_W")).alias("window_start"),
        pl.col("_W").alias("timestamp"),
        "metric_name", "event_type", "math_function",
        pl.col("SOURCE").alias("source"),
        "value", "events",
    ).cast(dict(WINDOW_SCHEMA)).sort("timestamp", "metric_name", "source")

    quarantine_df = bad_df.drop("_pos", "_ds").cast(dict(QUARANTINE_SCHEMA))
    health = _health(ma, datasets, dedupe, joined, by_type_df, quarantine_df, rows_read,
                     duplicates, unresolved_df.height)
    if users is not None:
        health = _with_unlogged_users(health, user_df, assignment_df)
    return windows, health, quarantine_df, exposure_df, traffic_df, users


def _with_unlogged_users(health: Health, user_df: pl.DataFrame, assignment: pl.DataFrame
                         ) -> Health:
    """Count users with events that the log does not know (rule: an event's user must appear in
    the recommendations log to be tied to an arm), and their events served by the log's
    sources."""
    unknown = user_df.join(assignment.select("USER_ID"), on="USER_ID", how="anti")
    served = unknown.filter(pl.col("_served_by").is_not_null()
                            & pl.col("EVENT_ATTRIBUTION_SOURCE").is_null())
    users, events = unknown["USER_ID"].n_unique(), int(served["events"].sum())
    warnings = list(health.warnings)
    if events:
        warnings.append(f"{events:,} events served by a recommender come from {users:,} users "
                        "the recommendations log does not know: a per-user comparison cannot tie "
                        "them to an arm and leaves them out")
    return dataclasses.replace(health, users_not_in_log=users, events_of_users_not_in_log=events,
                               warnings=warnings)


SUM_DECIMAL = pl.Decimal(38, 9)
"""Sums are added as decimals with nine places: exact, so that the same events give the same
bytes whatever order they are added in (by thread, file format or engine). Values are rounded
to 1e-9 first; totals must stay below 1e29."""


def _exact_sum(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64).cast(SUM_DECIMAL).sum()


def _metric_values(grouped: pl.DataFrame, ma: MetricAttribution, key: str, *,
                   health: bool = False) -> pl.DataFrame:
    """Each metric read off the grouped events: one row per group key, metric and source, with
    ``value`` (and, for the health summary, the counts behind it)."""
    keys = [c for c in ("USER_ID", key) if c in grouped.columns]
    parts = []
    for m in ma.metrics:
        rows = grouped.filter(pl.col("_ET") == m.event_type.upper())
        if m.function == "samplecount":
            value, not_summed = pl.col("events").cast(pl.Float64), pl.lit(0, dtype=pl.Int64)
        else:
            col = f"_item_{m.column}" if m.dataset == "items" else m.column
            value, not_summed = pl.col(f"sum:{col}").cast(pl.Float64), pl.col(f"null:{col}")
        extra = []
        if health:
            missing = pl.col("no_item") if m.dataset == "items" else pl.lit(0, dtype=pl.Int64)
            extra = ["events", not_summed.alias("not_summed"), missing.alias("items_not_found")]
        parts.append(rows.select(
            *keys, "SOURCE", pl.lit(m.name.upper()).alias("metric_name"),
            pl.lit(m.event_type.upper()).alias("event_type"),
            pl.lit(m.math_function).alias("math_function"), value.alias("value"), *extra))
    return pl.concat(parts)


def _row_hash(columns: list[str]) -> pl.Expr:
    """A 64-bit hash of a whole row: each column hashed with its own seed, combined by xor."""
    return functools.reduce(operator.xor, [pl.col(c).hash(seed=i) for i, c in enumerate(columns)])


def _count_duplicates(hashes: pl.DataFrame, events: pl.LazyFrame, columns: list[str]) -> int:
    """Rows that exactly repeat an earlier row. Rows whose hash (``_h``) no other row shares are
    distinct; only the rest (duplicates, or a rare hash collision) are compared exactly, read
    again by their position (``_pos``) so that only they are typed a second time."""
    ordered = hashes["_h"].sort()
    if ordered.n_unique() == ordered.len():  # one linear pass over sorted values
        return 0
    shared = ordered.filter(ordered == ordered.shift(1)).unique()
    positions = hashes.filter(pl.col("_h").is_in(shared.implode()))["_pos"]
    rows = events.filter(pl.col("_pos").is_in(positions.implode()))
    sharing, distinct = rows.select(pl.len(), pl.struct(columns).n_unique()).collect(
        engine="streaming").row(0)
    return int(sharing - distinct)


def _by_source(grouped: pl.DataFrame, key: str) -> pl.DataFrame:
    """Name each group's source and upper-case its event type, then add up the groups that
    now coincide: one row per (``key``, event type, source), and per user when grouped by user.
    Sums are decimals, exact in any order, so the groups need no sorting first; callers sort
    the results."""
    keys = [c for c in ("USER_ID",) if c in grouped.columns]
    raw_keys = [*keys, key, *_GROUP_KEYS[1:]]
    return grouped.with_columns(
        pl.col("EVENT_TYPE").str.to_uppercase().alias("_ET"), source_of().alias("SOURCE"),
    ).group_by(*keys, key, "_ET", "SOURCE").agg(pl.exclude(raw_keys).sum())


def _health(
    ma: MetricAttribution,
    datasets: dict[str, Dataset],
    dedupe: bool,
    grouped: pl.DataFrame,
    by_type_source: pl.DataFrame,
    quarantine: pl.DataFrame,
    rows_read: dict[str, int],
    duplicates: int,
    unresolved_ids: int,
) -> Health:
    quarantined = {k: 0 for k in datasets}
    for k, n in quarantine.group_by("DATASET").len().iter_rows():
        quarantined[k] = n
    by_type = {k: int(v) for k, v in by_type_source.group_by("_ET").agg(pl.col("events").sum())
               .sort("events", "_ET", descending=[True, False]).iter_rows()}
    by_source = {k: int(v) for k, v in by_type_source.group_by("SOURCE")
                 .agg(pl.col("events").sum())
                 .sort("events", "SOURCE", descending=[True, False]).iter_rows()}
    used = sum(by_type.values())
    metric_types = {m.event_type.upper() for m in ma.metrics}
    per_metric = grouped.group_by("metric_name").agg(
        pl.col("events").sum(), pl.col("not_summed").sum(), pl.col("items_not_found").sum())
    stats = {r["metric_name"]: r for r in per_metric.iter_rows(named=True)}
    metrics = {}
    for m in ma.metrics:
        r = stats.get(m.name.upper())
        metrics[m.name] = MetricHealth(
            events=int(r["events"]) if r else 0,
            not_summed=int(r["not_summed"]) if r and m.function == "sum" else 0,
            items_not_found=int(r["items_not_found"]) if r else 0,
        )
    unresolved_events = int(by_type_source["unresolved"].sum() or 0)
    warnings = []
    if "recommendations" not in datasets and unresolved_events:
        warnings.append(f"no recommendations log given: {unresolved_events:,} events with a "
                        "recommendation ID were counted as SOURCE_NAME_UNDEFINED")
    for name, mh in metrics.items():
        if mh.events == 0:
            warnings.append(f"metric {name}: no events of its type")
    total_q = sum(quarantined.values())
    if total_q:
        warnings.append(f"{total_q:,} rows quarantined; see the quarantine file")
    w = grouped["_W"]
    return Health(
        rows_read=rows_read,
        quarantined=quarantined,
        duplicates=duplicates,
        duplicates_removed=dedupe,
        events_used=used,
        events_by_type=by_type,
        events_by_source=by_source,
        unattributed_events=by_source.get(D.UNDEFINED_SOURCE, 0),
        unresolved_events=unresolved_events,
        unresolved_ids=int(unresolved_ids),
        unmatched_events=sum(v for k, v in by_type.items() if k not in metric_types),
        metrics=metrics,
        first_window=int(w.min()) if len(w) else None,
        last_window=int(w.max()) if len(w) else None,
        warnings=warnings,
    )

