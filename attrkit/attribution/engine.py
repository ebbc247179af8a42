"""The attribution engine: runs the plan (:mod:`attrkit.attribution.plan`) and assembles the result.

:func:`attribute` checks its options and inputs, runs the plan's steps on an *executor* and
turns the outputs into an :class:`Attribution` (windows, health, quarantine, exposure, traffic,
per-user data). The executor is the seam where a second engine plugs in: anything with
``collect(plans) -> frames`` that runs the plan's lazy frames. :class:`PolarsExecutor`, polars'
streaming engine on one machine, is the default.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.attribution import buckets, plan
from attrkit.attribution.config import MetricAttribution
from attrkit.attribution.health import (
    Health,
    build_health,
    unlogged_users,
    with_unlogged_users,
)
from attrkit.attribution.sources import log_keys
from attrkit.attribution.stored_users import StoredUserData
from attrkit.attribution.users import (
    UserData,
)
from attrkit.attribution.windows import check_window
from attrkit.errors import ConfigError, InputError, first_line
from attrkit.frames import EXPOSURE_SCHEMA, QUARANTINE_SCHEMA
from attrkit.inputs.readers import Dataset, load
from attrkit.inputs.schema import coerce
from attrkit.personalize.report_csv import write_report
from attrkit.reports.display import Display

__all__ = ["EXPOSURE_SCHEMA", "EXECUTOR", "QUARANTINE_SCHEMA", "Attribution", "PolarsExecutor",
           "attribute", "attribute_exposure"]

Input = str | os.PathLike[str] | pl.DataFrame | pl.LazyFrame | Dataset | Any


@dataclass(frozen=True)
class Attribution(Display):
    """The result of :func:`attribute`.

    Attributes:
        windows: the tidy frame, one row per (window, metric, source); see
            :data:`attrkit.personalize.report_csv.WINDOW_SCHEMA`.
        health: what was read, used and skipped.
        quarantine: rows set aside (``on_bad_rows="quarantine"``), each with its dataset, file,
            line or row, column, rule, offending value and the raw record (a property; on
            Spark the rows are brought to the driver when it is first read).
        bad_rows: the same rows as the engine holds them: the frame, or on Spark the rows
            kept there (:class:`~attrkit.attribution.spark.SparkQuarantine`), counted in
            :attr:`health` and written by :meth:`write_quarantine` without reaching the driver.
        metric_attribution: the configuration used.
        window_seconds: the window length used.
        window_origin: where windows start.
        exposure: recommendations served per ``timestamp`` (window start) and ``source``, from
            the recommendations log (``None`` without a log): the denominator of rates.
        traffic: per ``source``, distinct ``users`` and ``recommendations`` in the log (``None``
            without a log or without its ``USER_ID`` column): for sample-ratio checks.
        users: per-user assignment and outcomes (:class:`~attrkit.attribution.users.UserData`; ``None``
            without a log or without its ``USER_ID`` column): the units of a user-randomised
            comparison. Attributed in chunks, they stay on disk in buckets of users
            (:class:`~attrkit.attribution.stored_users.StoredUserData`: the same methods and
            answers, a bucket in memory at a time); on Spark, on the executors.
        interactions: the interactions as given (read again only for segments taken from one
            of their columns, :func:`attrkit.compare`'s ``segments``).
        timestamp_unit: the unit of their timestamps.

    Example:
        >>> import polars as pl, attrkit
        >>> events = pl.DataFrame({"USER_ID": ["u1", "u2", "u2"], "ITEM_ID": ["i1", "i2", "i2"],
        ...     "TIMESTAMP": [1700000000, 1700000950, 1700000950],
        ...     "EVENT_TYPE": ["click", "click", "click"],
        ...     "EVENT_ATTRIBUTION_SOURCE": ["partner", None, None]})
        >>> ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
        ...                                 "expression": "SAMPLECOUNT()"}]}
        >>> result = attrkit.attribute(events, ma)
        >>> result.windows.select("source", "value").rows()
        [('partner', 1.0), ('SOURCE_NAME_UNDEFINED', 2.0)]
        >>> result.health.duplicates, result.users is None  # no log: no per-user data
        (1, True)
    """

    windows: pl.DataFrame
    health: Health
    bad_rows: Any = dataclasses.field(repr=False)
    metric_attribution: MetricAttribution
    window_seconds: int = D.WINDOW_SECONDS
    window_origin: int = D.WINDOW_ORIGIN
    exposure: pl.DataFrame | None = None
    traffic: pl.DataFrame | None = None
    users: UserData | StoredUserData | None = None
    interactions: Any = dataclasses.field(default=None, repr=False, compare=False)
    timestamp_unit: str = "s"

    @property
    def quarantine(self) -> pl.DataFrame:
        """The rows set aside, in :data:`~attrkit.frames.QUARANTINE_SCHEMA`; on Spark, brought
        to the driver when first read (:meth:`write_quarantine` writes them without)."""
        q = self.bad_rows
        return q if isinstance(q, pl.DataFrame) else q.collect()

    def write_quarantine(self, path: str | Path, *, parts: bool = False) -> Path | str:
        """Write the rows set aside as one CSV file (atomically; local or ``s3://``). On
        Spark the executors write the rows, which never reach the driver: into a scratch folder
        beside ``path`` that the driver joins into the file, so the executors must see the
        driver's file system (a local master or Connect server); on a cluster, ``parts=True``
        writes a folder of CSV parts at ``path`` instead, passed to Spark untouched
        (``s3a://``, ``abfss://``, ``gs://``, ``hdfs://``), each part with the header.

        Example:
            >>> import polars as pl, attrkit, tempfile, pathlib
            >>> events = pl.DataFrame({"USER_ID": ["u1", None], "ITEM_ID": ["i1", "i2"],
            ...     "TIMESTAMP": [1700000000, 1700000001], "EVENT_TYPE": ["click", "click"]})
            >>> ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
            ...                                 "expression": "SAMPLECOUNT()"}]}
            >>> result = attrkit.attribute(events, ma, on_bad_rows="quarantine")
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "bad.csv"
            >>> print(result.write_quarantine(path).read_text().splitlines()[1][:68])
            interactions,<polars.DataFrame>,,1,USER_ID,required value is missing
        """
        from attrkit import storage

        q = self.bad_rows
        if parts:
            if isinstance(q, pl.DataFrame):
                raise ConfigError("write_quarantine(parts=True): for the Spark engine's rows; "
                                  "the embedded engine writes one file")
            q.write_parts(str(path))
            return path
        write = (q.write_csv if not isinstance(q, pl.DataFrame)
                 else lambda p: q.write_csv(p, line_terminator="\n"))
        return storage.write_with(path, write)

    def write_report(
        self, path: str | Path, *, import_mode: D.ImportMode = D.IMPORT_MODE,
        when: float | None = None,
    ) -> Path | str:
        """Write the S3 report CSV (see :func:`attrkit.personalize.report_csv.write_report`); an ``s3://``
        target is encrypted with the metric attribution's KMS key when it names one."""
        return write_report(self.windows, path, import_mode=import_mode, when=when,
                            kms_key_arn=self.metric_attribution.kms_key_arn)

    def between(self, start: str | int | None = None, end: str | int | None = None
                ) -> Attribution:
        """The same attribution restricted to a date range: windows from ``start`` and before
        ``end`` (ISO dates in UTC, Unix seconds, or relative: ``"-7d"``, ``"today"``), the
        exposure alike, per-user data by whole UTC days. The health still describes every
        row read. ``attrkit.compare(result.between("-7d", "today"))`` is the last seven whole
        days, as ``attrkit compare --start -7d --end today`` and the report's ``start``/``end``.
        """
        from attrkit.attribution.windows import between

        windows, exposure, users = between(self.windows, self.exposure, self.users, start, end)
        return dataclasses.replace(self, windows=windows, exposure=exposure, users=users)

    def to_polars(self) -> pl.DataFrame:
        """The windowed frame."""
        return self.windows

    def _repr_html_(self) -> str:
        from attrkit.reports import render

        n = self.windows.height
        return self.health._repr_html_() + render.table(self.windows.head(50)) + render.paragraphs(
            [f"{n:,} rows" + ("; the first 50 shown." if n > 50 else ".")])


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
    chunk_rows: int = D.CHUNK_ROWS,
    progress: bool = False,
    engine: str = "polars",
    spark: Any = None,
) -> Attribution:
    """Attribute interactions to sources and aggregate the metrics in windows.

    Args:
        interactions: events: a path (CSV, Parquet, PutEvents JSON Lines) or a frame. A path
            may name one file, a folder (read to any depth), a glob pattern or an ``s3://``
            key, prefix or pattern; so may ``items`` and ``recommendations``.
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
        chunk_rows: events (and log rows, each counted twice) attributed at a time (default
            10 million). More events, or a longer log, are first written to temporary files in
            buckets (by recommendation ID, else by row hash), then attributed a bucket at a
            time and added up, so that memory holds one bucket's work
            (:mod:`attrkit.attribution.buckets`); the per-user data is then added up by buckets
            of users and kept on disk. The results are the same, byte for byte.
        progress: show a bar over the buckets on stderr (the command line does in a terminal).
        engine: ``"polars"`` (the embedded engine, the default) or ``"spark"``: the same plan
            on Apache Spark (:mod:`attrkit.attribution.spark`; ``pip install attrkit[spark]``),
            whose report is byte-identical.
        spark: the ``SparkSession`` for ``engine="spark"``; a local one is made when omitted.

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
    if engine not in ("polars", "spark"):
        raise ConfigError(f"engine={engine!r}: must be 'polars' or 'spark'")
    if engine == "spark":
        out = _on_spark(ma, interactions, items, recommendations, spark, plan.Options(
            window_seconds=window_seconds, window_origin=window_origin, dedupe=dedupe,
            quarantine=on_bad_rows == "quarantine", timestamp_unit=timestamp_unit))
        if on_bad_rows == "error" and out.quarantine.height:
            first = out.quarantine.first()
            raise InputError(first["FILE"], _with_value(first["RULE"], first["VALUE"]),
                             line=first["LINE"], row=first["ROW"], column=first["COLUMN"])
        return _checked(out, max_sources, str(interactions), ma, window_seconds, window_origin,
                        interactions, timestamp_unit)
    datasets = {"interactions": load("interactions", interactions)}
    if items is not None:
        datasets["items"] = load("items", items)
    if recommendations is not None:
        datasets["recommendations"] = load("recommendations", recommendations)
    _check_metric_columns(ma, datasets)

    opts = plan.Options(window_seconds=window_seconds, window_origin=window_origin,
                        dedupe=dedupe, quarantine=on_bad_rows == "quarantine",
                        timestamp_unit=timestamp_unit, low_memory=low_memory,
                        chunk_rows=_positive_int("chunk_rows", chunk_rows), progress=progress)
    while True:  # (in error mode too: the first bad row, broken or breaking a rule, is named)
        try:
            out = _run(ma, datasets, opts)
            break
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException) as exc:
            # (a panic: polars met damage it did not expect, in a file it was given)
            # A fast reader stopped at damage it cannot skip; find the lines, then go on without.
            repaired = {k: ds.repair() for k, ds in datasets.items()}
            if not any(repaired.values()):
                failing = [ds for ds in datasets.values() if _unreadable(ds)]
                files = ", ".join(ds.source for ds in failing or datasets.values())
                raise InputError(files, f"could not be read ({first_line(exc)})") from None
            datasets = {k: repaired[k] or ds for k, ds in datasets.items()}

    if on_bad_rows == "error" and out.quarantine.height:
        first = out.quarantine.row(0, named=True)
        ds = datasets[first["DATASET"]].named(first["FILE"])
        raise ds.error(first["LINE"] if first["LINE"] is not None else first["ROW"],
                       _with_value(first["RULE"], first["VALUE"]), first["COLUMN"])
    return _checked(out, max_sources, datasets["interactions"].source, ma, window_seconds,
                    window_origin, datasets["interactions"], timestamp_unit)


def _checked(out: _Outputs, max_sources: int, source: str, ma: MetricAttribution,
             window_seconds: int, window_origin: int, interactions: Any = None,
             timestamp_unit: str = "s") -> Attribution:
    n_sources = len(out.health.events_by_source)
    if n_sources > max_sources:
        raise InputError(source, f"{n_sources} distinct attribution sources; the service allows "
                         f"at most {max_sources} (raise max_sources / --max-sources to allow "
                         "more)")
    return Attribution(out.windows, out.health, out.quarantine, ma, window_seconds,
                       window_origin, out.exposure, out.traffic, out.users, interactions,
                       timestamp_unit)


def _on_spark(ma: MetricAttribution, interactions: Input, items: Input | None,
              recommendations: Input | None, spark: Any, opts: plan.Options) -> _Outputs:
    from attrkit.attribution import spark as on_spark

    result = on_spark.run(ma, interactions, items, recommendations, opts,
                          on_spark.session(spark))
    done = buckets.Buckets(result.out, result.valid_rows, result.duplicates, result.unassigned)
    return _finish(ma, result.columns, opts, done, result.quarantine, result.rows_read, False,
                   spark_users=result.users, unlogged=result.unlogged)


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
            bad = typed.filter(pl.col("__attrkit_bad")).sort("__attrkit_pos").head(1).collect()
            break
        except pl.exceptions.ComputeError:
            repaired = ds.repair()
            if repaired is None:
                raise
            ds = repaired
    if bad.height:
        first = bad.row(0, named=True)
        raise ds.error(first["__attrkit_pos"],
                       _with_value(first["__attrkit_rule"], first["__attrkit_value"]),
                       first["__attrkit_column"])
    served = plan.exposure_plan(typed.filter(~pl.col("__attrkit_bad")), window_seconds, window_origin)
    return EXECUTOR.collect([served])[0].sort("timestamp", "source")


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
        lacking = ds.lacking(m.column)
        if lacking:
            unread = ""
            if ds.broken.height:  # (a column only unreadable lines hold is not seen)
                first = _first_broken(ds)
                unread = (f" (nor any of its {ds.broken.height:,} lines that could not be read; "
                          f"the first, line {first['__attrkit_pos']}: {first['__attrkit_rule']})")
            raise ConfigError(f"{where} reads column {m.column} of {name}, which {lacking} does "
                              f"not have; columns: {', '.join(ds.named(lacking).columns)}{unread}")
        dtype = schema[m.column]
        # (a column of no type, all missing, holds missing numbers)
        if not (dtype.is_numeric() or dtype in (pl.String, pl.Null)):
            raise ConfigError(f"{where} sums column {m.column} of {name} in {ds.source}, which is "
                              f"{dtype}, not numeric")
        if dtype == pl.String and ds.format in ("parquet", "frame"):
            raise ConfigError(f"{where} sums column {m.column} of {name} in {ds.source}, which "
                              "holds text, not numbers")


def _unreadable(ds: Dataset) -> bool:
    """Whether reading every value of ``ds`` alone fails (to name the input a run could not
    read, not every input: on that error's path only)."""
    try:
        ds.raw.select(pl.all().null_count()).collect(engine="streaming")
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        return True
    return False


def _first_broken(ds: Dataset) -> dict[str, Any]:
    """The first line or row of ``ds`` that could not be read at all."""
    return ds.broken.sort("__attrkit_pos").row(0, named=True)


def _raise_first_broken(datasets: dict[str, Dataset]) -> None:
    for ds in datasets.values():
        if ds.broken.height:
            first = _first_broken(ds)
            raise ds.error(first["__attrkit_pos"], first["__attrkit_rule"], first["__attrkit_column"])



def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}={value!r}: must be a positive whole number")
    return value


SMALL_INPUT_ROWS = 200_000
"""Fewer events than this are attributed by polars' in-memory engine: each streaming query
pays a start of its own (tens of milliseconds) that a small input does not repay; the same
bytes either way (tests/attribution/test_plan.py). Measured: 38 % less time on the calibration's
simulated experiments (~100,000 events), the same time at 300,000 events, more memory above."""


class PolarsExecutor:
    """Runs the plan with polars' streaming engine (the frames of one call share one read of
    their inputs), or its in-memory engine for a small input (:meth:`sized`)."""

    name = "polars"

    def __init__(self, engine: str = "streaming") -> None:
        self.engine = engine

    def collect(self, plans: list[pl.LazyFrame]) -> list[pl.DataFrame]:
        return pl.collect_all(plans, engine=self.engine)

    def sized(self, rows: int) -> PolarsExecutor:
        """The executor for an input of ``rows`` events (see :data:`SMALL_INPUT_ROWS`)."""
        if rows >= SMALL_INPUT_ROWS:
            return self
        small = copy.copy(self)
        small.engine = "in-memory"
        return small


EXECUTOR = PolarsExecutor()
"""The executor :func:`attribute` uses (tests replace it to inject faults)."""


@dataclass(frozen=True)
class _Outputs:
    windows: pl.DataFrame
    health: Health
    quarantine: Any  # a frame, or the Spark engine's (:class:`~.spark.SparkQuarantine`)
    exposure: pl.DataFrame | None
    traffic: pl.DataFrame | None
    users: UserData | StoredUserData | None


def _run(ma: MetricAttribution, datasets: dict[str, Dataset], opts: plan.Options) -> _Outputs:
    """The plan's steps in order, on :data:`EXECUTOR`: in one pass, or in buckets when the
    events are more than a chunk (:mod:`~attrkit.attribution.buckets`); the same bytes."""
    counted = ["interactions", *(["recommendations"] if "recommendations" in datasets else [])]
    total, *log_rows = (df.item() for df in EXECUTOR.collect(  # (CSV: with empty lines)
        [datasets[k].rows.select(pl.len()) for k in counted]))
    # (Parquet: from the metadata) another executor than polars' runs every size alike
    collect = getattr(EXECUTOR, "sized", lambda _: EXECUTOR)(total).collect
    # more events or log rows than a chunk: buckets that hold a chunk of both together, a log
    # row counted twice (a bucket holds its log in memory while its events stream past)
    n = 1 if max([total, *log_rows]) <= opts.chunk_rows else -(-(total + 2 * sum(log_rows))
                                                               // opts.chunk_rows)
    if n > 1:
        typed = plan.type_datasets(ma, datasets, opts, collect, log_in_memory=False)
        try:
            done = buckets.run(ma, typed, opts, n, collect, progress=opts.progress)
        except buckets.NeedsOnePass:  # the log repeats an ID (the one pass names the row), or
            # no event is valid
            pass
        else:
            log_users = "recommendations" in typed.small_plans and "USER_ID" in \
                typed.small_plans["recommendations"].collect_schema()
            return _finish(ma, _columns(datasets), opts, done,
                           *_local(datasets, typed, opts, total, done, collect), log_users)
    typed = plan.type_datasets(ma, datasets, opts, collect)
    log = typed.log
    resolved = plan.resolve_events(ma, typed, log, opts,
                                   log_keys(log) if log is not None else None)
    plans = plan.aggregate_plans(ma, typed, resolved, log, datasets["interactions"].raw, opts)
    # Sharing one read, the executor holds the events until every output has taken them; with
    # low_memory the windows are read first, then the counts.
    names = list(plans)
    batches = [names[:1], names[1:]] if opts.low_memory else [names]
    out = {n: df for batch in batches
           for n, df in zip(batch, collect([plans[n] for n in batch]), strict=True)}
    duplicates = plan.count_duplicates(out["hashes"], typed.valid("interactions"),
                                       resolved.columns, collect)
    unassigned = int(log["USER_ID"].null_count()) if plan.by_user(log) else 0
    done = buckets.Buckets(out, out["hashes"].height, duplicates, unassigned)
    return _finish(ma, _columns(datasets), opts, done,
                   *_local(datasets, typed, opts, total, done, collect), plan.by_user(log))


def _columns(datasets: dict[str, Dataset]) -> dict[str, list[str]]:
    return {k: list(ds.columns) for k, ds in datasets.items()}


def _finish(ma: MetricAttribution, columns: dict[str, list[str]], opts: plan.Options,
            done: buckets.Buckets, quarantine: Any, rows_read: dict[str, int], log_users: bool,
            *, spark_users: Any = None, unlogged: tuple[int, int] | None = None) -> _Outputs:
    """The health summary and the per-user data from the aggregated outputs (either engine:
    Spark's per-user data stays on Spark, with the counts of users the log does not know);
    ``columns``: each dataset's columns as read."""
    out = done.out
    grouped = plan.by_source(out["grouped"], plan.WINDOW)
    values = plan.metric_values(grouped, ma, plan.WINDOW, health=True)
    quarantined = (dict(quarantine.group_by("DATASET").len().iter_rows())
                   if isinstance(quarantine, pl.DataFrame) else quarantine.counts)
    health = build_health(ma, columns, opts.dedupe, values, grouped, quarantined, rows_read,
                          done.duplicates, out["unresolved_ids"].height)
    users = spark_users
    if done.users is not None:  # (stored by buckets of users)
        users, unlogged = done.users, done.unlogged
    elif log_users:
        users = plan.user_data(ma, out, done.unassigned)
        unlogged = unlogged_users(out["user_values"], out["assignment"])
    if users is not None:
        health = with_unlogged_users(health, *unlogged)
    return _Outputs(
        plan.windows_frame(values), health, quarantine,
        out["exposure"].sort("timestamp", "source") if "exposure" in out else None,
        out["traffic"].sort("source") if "traffic" in out else None, users)


def _local(datasets: dict[str, Dataset], typed: plan.Typed, opts: plan.Options, rows: int,
           done: buckets.Buckets, collect: plan.Collect) -> tuple[pl.DataFrame, dict[str, int]]:
    """The embedded engine's quarantine and rows read. ``rows`` may count a CSV file's empty
    lines, which hold no record: the events read are the valid ones and the quarantined."""
    quarantine = plan.quarantine_frame(datasets, typed, rows - done.valid_rows, opts.quarantine,
                                       collect)
    bad = quarantine.filter(pl.col("DATASET") == "interactions").height  # (broken ones too)
    return quarantine, {"interactions": done.valid_rows + bad} | {
        k: df.height + datasets[k].broken.height for k, df in typed.small.items()}
