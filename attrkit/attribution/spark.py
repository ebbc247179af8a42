"""The attribution on Apache Spark: the same plan — row rules, source resolution, windows,
exact sums, duplicates, unresolved IDs, health and the per-user data — on Spark DataFrames.

Spark computes the plan's grouped outputs (one row per window, event type, label and source;
per user and day; the log's exposure and assignment); only those small results come back to the
driver, where the same code as the embedded engine's turns them into windows, health and users,
so that the report is byte-identical. Nothing proportional to the events is collected but the
bad rows of ``on_bad_rows="quarantine"``.

Where Spark cannot know what the embedded engine knows, the difference is documented in the
README: CSV line numbers are blank (Spark reads a file in splits), PutEvents JSON Lines are read
by the embedded engine only, and the order of bad rows within a CSV file is not defined.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.attribution import plan
from attrkit.attribution.config import MetricAttribution
from attrkit.errors import ConfigError, InputError
from attrkit.frames import RESERVED_PREFIX
from attrkit.inputs.schema import (
    _ISO,
    _MILLISECONDS,
    _NOT_PRINTABLE_ASCII,
    _OUT_OF_RANGE,
    SCHEMAS,
    raw_record,
    shown,
)
from attrkit.inputs.schema import Column as Rule

warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                        category=FutureWarning)

FILE, ROW = "__attrkit_file", "__attrkit_pos"
BAD, COL, RULE, RECORD = "__attrkit_bad", "__attrkit_column", "__attrkit_rule", "__attrkit_raw"
SERVED = plan.SERVED_BY


def session(spark: Any = None, master: str | None = None) -> Any:
    """``spark``, or a new local session (``master``, default ``local[2]``) for attrkit."""
    if spark is not None:
        return spark
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("engine='spark' needs pyspark: pip install 'attrkit[spark]'") from None
    builder = (SparkSession.builder.master(master or os.environ.get("ATTRKIT_SPARK_MASTER")
                                          or "local[2]")
               .appName("attrkit").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "8")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.memory",
                       os.environ.get("ATTRKIT_SPARK_DRIVER_MEMORY", "4g")))
    # The JVM's own warnings and Spark's log go to a file, not the user's terminal: the
    # Java process takes the stderr it is started with.
    log = Path(tempfile.gettempdir()) / f"attrkit-spark-{os.getpid()}.log"
    saved = os.dup(2)
    target = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.dup2(target, 2)
        made = builder.getOrCreate()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)
    made.sparkContext.setLogLevel("ERROR")
    return made


@dataclass(frozen=True)
class Result:
    """What the Spark run gives the driver: the plan's outputs, as the embedded engine's."""

    out: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame
    rows_read: dict[str, int]
    valid_rows: int
    duplicates: int
    unassigned: int
    log_users: bool


def _read(spark: Any, name: str, data: Any) -> Any:
    """A dataset as a Spark DataFrame of raw columns plus its file and row (Parquet)."""
    from pyspark.sql import functions as F

    if isinstance(data, pl.DataFrame | pl.LazyFrame):
        data = data.lazy().collect().to_pandas()
    if hasattr(data, "to_numpy") and hasattr(data, "columns"):  # pandas
        df = spark.createDataFrame(data)
        return df.withColumn(FILE, F.lit(f"<{type(data).__name__}>")).withColumn(
            ROW, F.monotonically_increasing_id()), "frame"
    path = str(data)
    fmt = _format(path)
    reader = spark.read.option("recursiveFileLookup", "true") if os.path.isdir(path) else spark.read
    if fmt == "parquet":
        df = reader.parquet(path).select("*", F.col("_metadata.file_path").alias(FILE),
                                         F.col("_metadata.row_index").alias(ROW))
    else:
        df = reader.option("header", "true").option("mode", "PERMISSIVE").csv(path).select(
            "*", F.col("_metadata.file_path").alias(FILE), F.lit(None).cast("long").alias(ROW))
    bad_names = [c for c in df.columns if c.startswith(RESERVED_PREFIX) and c not in (FILE, ROW)]
    if bad_names:
        raise InputError(path, f"column names starting with {RESERVED_PREFIX!r} are reserved "
                         "for attrkit's working columns; rename it", column=bad_names[0])
    df = df.withColumn(FILE, F.regexp_replace(F.col(FILE), "^file:(//)?", ""))
    if fmt == "csv":
        df = _numbers_read_as_such(df, name)
    return df, fmt


_CSV_NUMBERS = {"interactions": {"TIMESTAMP": ("long", r"^[+-]?[0-9]+$"),
                                 "EVENT_VALUE": ("double", r"^[^\s]+$")},
                "recommendations": {"TIMESTAMP": ("long", r"^[+-]?[0-9]+$")}}
"""The CSV columns the embedded engine parses while reading, with what a value must look like."""


def _numbers_read_as_such(df: Any, name: str) -> Any:
    """As the embedded engine reads CSV: the numeric columns typed while reading when every
    value in the input parses, else all text (and the row rules name the bad values)."""
    from pyspark.sql import functions as F

    wanted = {c: t for c, t in _CSV_NUMBERS.get(name, {}).items() if c in df.columns}
    if not wanted:
        return df
    checks = [F.min(F.when(F.col(c).isNull() | (F.col(c).rlike(shape)
                                                & F.col(c).try_cast(kind).isNotNull()), 1)
                    .otherwise(0)).alias(c) for c, (kind, shape) in wanted.items()]
    ok = df.select(*checks).first()
    if all(ok[c] in (1, None) for c in wanted):
        return df.withColumns({c: F.col(c).try_cast(kind) for c, (kind, _) in wanted.items()})
    return df


def _format(path: str) -> str:
    """CSV or Parquet, from the path's suffix (or pattern's), or a local folder's files."""
    lower = path.lower().rstrip("/")
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        raise ConfigError(f"{path}: PutEvents JSON Lines are read by the embedded engine only")
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith(".csv"):
        return "csv"
    if os.path.isdir(path):
        found = {f.rsplit(".", 1)[-1].lower() for _, _, fs in os.walk(path) for f in fs
                 if not f.startswith((".", "_")) and "." in f}
        if found & {"parquet", "pq"} and "csv" in found:
            raise ConfigError(f"{path}: holds CSV and Parquet files; one format per input")
        if found & {"parquet", "pq"} or "csv" in found:
            return "parquet" if found & {"parquet", "pq"} else "csv"
    raise ConfigError(f"{path}: cannot tell CSV from Parquet here; name the files with a "
                      f"pattern such as {path.rstrip('/')}/*.parquet")


def _polars_type(dtype: Any) -> str:
    """How the embedded engine names a type in a rule (``must be text, not Float64``)."""
    names = {"DoubleType": "Float64", "FloatType": "Float32", "BooleanType": "Boolean",
             "DateType": "Date", "BinaryType": "Binary",
             "TimestampType": "Datetime(time_unit='us', time_zone='UTC')",
             "TimestampNTZType": "Datetime(time_unit='us', time_zone=None)"}
    return names.get(type(dtype).__name__, dtype.simpleString())


def _text_rules(rule: Rule, dtype: Any, raw: Any, rules: list[tuple[Any, str]],
                integral: bool) -> tuple[Any, list[tuple[Any, str]]]:
    """The rules of an ID, a text or a label column (see :func:`_rules`)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    value = raw if isinstance(dtype, T.StringType) else raw.cast("string")
    if not (integral or isinstance(dtype, T.StringType)):
        rules.append((raw.isNotNull(), f"must be text, not {_polars_type(dtype)}"))
    if rule.kind == "id":
        rules.append((value.rlike(r"(?U)^\s*$"), "must not be empty or blank"))
        rules.append((F.char_length(value) > rule.max_len,
                      f"longer than {rule.max_len} characters"))
        return value, rules
    value = F.when(value == "", None).otherwise(value)
    if rule.kind == "label":
        rules.append((value.rlike(r"(?U)^\s*$"), "must not be blank"))
        rules.append((F.char_length(value) > rule.max_len,
                      f"longer than {rule.max_len} characters"))
        rules.append((value.rlike(_NOT_PRINTABLE_ASCII), "must be printable ASCII"))
    return value, rules


def _rules(rule: Rule, dtype: Any, unit: str) -> tuple[Any, list[tuple[Any, str]]]:
    """The typed value of one column and its ``(broken, rule)`` pairs, in the embedded engine's
    order and words (:func:`attrkit.inputs.schema._rules_for`)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    raw = F.col(f"`{rule.name}`")
    rules: list[tuple[Any, str]] = []
    if rule.required:
        rules.append((raw.isNull(), "required value is missing"))
    integral = isinstance(dtype, T.ByteType | T.ShortType | T.IntegerType | T.LongType)
    numeric = integral or isinstance(dtype, T.FloatType | T.DoubleType | T.DecimalType)
    if rule.kind in ("id", "text", "label"):
        return _text_rules(rule, dtype, raw, rules, integral)
    if isinstance(dtype, T.StringType):
        parsed = F.regexp_replace(raw, r"(?U)^\s+|\s+$", "").try_cast("double")
        unparsed = raw.isNotNull() & parsed.isNull()
        if rule.kind == "timestamp":
            rules.append((unparsed & raw.rlike("(?U)" + _ISO), "looks like an ISO 8601 "
                          "date-time; TIMESTAMP must be Unix epoch seconds"))
            rules.append((unparsed, "must be Unix epoch seconds (a number)"))
        else:
            rules.append((unparsed, "must be a number"))
    elif integral and rule.kind == "timestamp":
        limit = D.MAX_PLAUSIBLE_SECONDS * (1000 if unit == "ms" else 1)
        outside = (raw >= limit) | (raw <= -limit)
        if unit == "s":
            far = (raw >= limit * 1000) | (raw <= -limit * 1000)
            rules.append((outside & ~far, _MILLISECONDS))
        rules.append((outside, _OUT_OF_RANGE))
        seconds = F.floor(raw / 1000) if unit == "ms" else raw
        return seconds.cast("long"), rules
    elif numeric:
        parsed = raw.cast("double")
    else:
        parsed = F.lit(None).cast("double")
        rules.append((raw.isNotNull(), f"must be a number, not {_polars_type(dtype)}"))
    infinite = parsed.isin(float("inf"), float("-inf"))
    rules.append((F.isnan(parsed) | infinite, "must be a finite number"))
    if rule.kind == "number":
        rules.append((F.abs(parsed) >= D.MAX_SUMMED_VALUE,
                      f"larger than {D.MAX_SUMMED_VALUE:.0e} in magnitude; too large to sum"))
        return parsed, rules
    seconds = parsed / 1000.0 if unit == "ms" else parsed
    limit = D.MAX_PLAUSIBLE_SECONDS
    if unit == "s":
        rules.append(((F.abs(parsed) >= limit) & (F.abs(parsed) < limit * 1000), _MILLISECONDS))
    rules.append((F.abs(seconds) >= limit, _OUT_OF_RANGE))
    safe = F.when(F.isnan(parsed) | infinite | (F.abs(seconds) >= limit), None).otherwise(seconds)
    return F.floor(safe).cast("long"), rules


def _repeats(df: Any, name: str) -> bool:
    """Whether the column that must be unique holds a value twice (one aggregate; the row rule,
    a window over every row, is added only then)."""
    from pyspark.sql import functions as F

    column = next((c.name for c in SCHEMAS[name] if c.unique), None)
    if column is None or column not in df.columns:
        return False
    value = F.col(column).cast("string")
    return bool(df.filter(value.isNotNull()).groupBy(value).count()
                .filter(F.col("count") > 1).limit(1).count())


def _typed(df: Any, name: str, numeric: tuple[str, ...], unit: str, unique: bool = True) -> Any:
    """The dataset typed by its schema, each row's first broken rule described (as
    :func:`attrkit.inputs.schema.coerce` does)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    types = {f.name: f.dataType for f in df.schema.fields}
    spec = list(SCHEMAS[name]) + [Rule(n, "number") for n in numeric
                                  if n not in {c.name for c in SCHEMAS[name]}]
    selected, hits = [], []
    for rule in spec:
        if rule.name not in types:
            continue
        value, rules = _rules(rule, types[rule.name], unit)
        if rule.unique and unique:
            seen = F.row_number().over(Window.partitionBy(value).orderBy(FILE, ROW))
            rules.append((value.isNotNull() & (seen > 1),
                          f"duplicate {rule.name}; each must appear once"))
        selected.append(value.alias(rule.name))
        for broken, text in rules:
            hits.append((F.coalesce(broken, F.lit(False)), rule.name, text))
    named = {r.name for r in spec}
    extra = [F.col(f"`{c}`") for c in df.columns if c not in named and c not in (FILE, ROW)]
    # The raw row, for the bad rows' VALUE and RECORD, which the driver writes out as the
    # embedded engine does (its number formats, not Java's).
    raw = F.struct(*[F.col(f"`{c}`") for c in df.columns if c not in (FILE, ROW)])
    first = hits
    return df.select(
        *selected, *extra, F.col(FILE), F.col(ROW),
        (F.greatest(*[h for h, _, _ in first]) if first else F.lit(False)).alias(BAD),
        F.coalesce(*[F.when(h, F.lit(c)) for h, c, _ in first], F.lit(None).cast("string")
                   ).alias(COL),
        F.coalesce(*[F.when(h, F.lit(t)) for h, _, t in first], F.lit(None).cast("string")
                   ).alias(RULE),
        raw.alias(RECORD))


def run(ma: MetricAttribution, interactions: Any, items: Any, recommendations: Any,
        opts: plan.Options, spark: Any) -> Result:
    """The plan on Spark (see the module's docstring)."""
    from pyspark.sql import functions as F

    given = {"interactions": interactions, "items": items, "recommendations": recommendations}
    read = {k: _read(spark, k, v) for k, v in given.items() if v is not None}
    if "items" in read:  # the columns the embedded engine reads of items, no others
        df, fmt = read["items"]
        read["items"] = (df.select("ITEM_ID", *plan.sum_columns(ma, "items"), FILE, ROW), fmt)
    numeric = {"interactions": plan.sum_columns(ma, "interactions"),
               "items": plan.sum_columns(ma, "items"), "recommendations": ()}
    _check_sums(ma, read, given)
    # The raw record of a row is written out only for bad rows, read again for them alone.
    described = {k: _typed(df, k, numeric[k], opts.timestamp_unit, unique=_repeats(df, k))
                 for k, (df, _) in read.items()}
    typed = {k: df.drop(RECORD).cache() for k, df in described.items()}
    counts = {k: typed[k].groupBy().agg(F.count(F.lit(1)).alias("n"),
                                        F.sum(F.col(BAD).cast("long")).alias("bad")).first()
              for k in typed}
    rows_read = {k: int(c["n"]) for k, c in counts.items()}
    quarantine = _quarantine({k: df for k, df in described.items() if counts[k]["bad"]}, read,
                             opts)
    valid = {k: df.filter(~F.col(BAD)).drop(BAD, COL, RULE, RECORD)
             for k, df in typed.items()}
    events, duplicates = _resolved(ma, valid, opts)
    aggs = _aggregates(ma)
    extra = [F.sum(F.col("__attrkit_unresolved").cast("long")).alias("unresolved")]
    if plan.sum_columns(ma, "items"):
        extra.append(F.sum(F.col("__attrkit_found").isNull().cast("long")).alias("no_item"))
    out = {"grouped": events.groupBy(*plan.GROUP_KEYS).agg(*aggs, *extra),
           "unresolved_ids": events.filter("__attrkit_unresolved")
           .select("RECOMMENDATION_ID").distinct()}
    log = valid.get("recommendations")
    logged, unassigned = _log_outputs(log, events, aggs, opts)
    frames = {k: _to_polars(v) for k, v in (out | logged).items()}
    sources = (frames["exposure"]["source"].unique().sort() if "exposure" in frames
               else pl.Series([], dtype=pl.String))
    for df in [*typed.values(), events]:
        df.unpersist()
    valid_rows = rows_read["interactions"] - int(counts["interactions"]["bad"] or 0)
    return Result(_as_embedded(frames, sources), quarantine, rows_read, valid_rows, duplicates,
                  unassigned, "user_values" in logged)


def _check_sums(ma: MetricAttribution, read: dict[str, Any], given: dict[str, Any]) -> None:
    """A SUM must read a column that exists and, where the file is typed, holds numbers (as
    the embedded engine checks before reading any row)."""
    from pyspark.sql import types as T

    for m in ma.metrics:
        if m.function != "sum":
            continue
        name = "items" if m.dataset == "items" else "interactions"
        where = f"metric {m.name!r}: {m.expression}"
        if name not in read:
            raise ConfigError(f"{where} needs the items dataset; pass items= (--items)")
        df, fmt = read[name]
        types = {f.name: f.dataType for f in df.schema.fields}
        if m.column not in types:
            raise ConfigError(f"{where} reads column {m.column} of {name}, which {given[name]} "
                              f"does not have; columns: "
                              f"{', '.join(c for c in df.columns if c not in (FILE, ROW))}")
        if fmt == "parquet" and isinstance(types[m.column], T.StringType):
            raise ConfigError(f"{where} sums column {m.column} of {name} in {given[name]}, which "
                              "holds text, not numbers")


def _resolved(ma: MetricAttribution, valid: dict[str, Any], opts: plan.Options
              ) -> tuple[Any, int]:
    """The valid events with their source, item columns and window (cached), and how many
    exactly repeat another."""
    from pyspark.sql import functions as F

    events = valid["interactions"].drop(FILE, ROW)
    columns = events.columns
    for c in ("RECOMMENDATION_ID", "EVENT_ATTRIBUTION_SOURCE"):
        if c not in columns:
            events = events.withColumn(c, F.lit(None).cast("string"))
    duplicates = _duplicates(events, columns)
    if opts.dedupe:
        events = events.dropDuplicates(columns)
    log = valid.get("recommendations")
    if log is not None:
        events = events.join(log.select("RECOMMENDATION_ID", F.col("SOURCE").alias(SERVED)),
                             on="RECOMMENDATION_ID", how="left")
    else:
        events = events.withColumn(SERVED, F.lit(None).cast("string"))
    label, rec = F.col("EVENT_ATTRIBUTION_SOURCE"), F.col("RECOMMENDATION_ID")
    events = events.withColumn("__attrkit_unresolved",
                               label.isNull() & rec.isNotNull() & F.col(SERVED).isNull())
    item_cols = plan.sum_columns(ma, "items")
    if item_cols:
        events = events.join(valid["items"].select(
            "ITEM_ID", *[F.col(c).alias(f"__attrkit_item_{c}") for c in item_cols],
            F.lit(True).alias("__attrkit_found")), on="ITEM_ID", how="left")
    window = _window(F.col("TIMESTAMP"), opts.window_seconds, opts.window_origin)
    return events.withColumn(plan.WINDOW, window).cache(), duplicates


def _log_outputs(log: Any, events: Any, aggs: list[Any], opts: plan.Options
                 ) -> tuple[dict[str, Any], int]:
    """What the log gives: exposure; with users, the per-user values, traffic, assignment and
    recommendations served (as :func:`attrkit.attribution.plan.log_user_plans`)."""
    from pyspark.sql import functions as F

    if log is None:
        return {}, 0
    out = {"exposure": log.groupBy(
        _window(F.col("TIMESTAMP"), opts.window_seconds, opts.window_origin).alias("timestamp"),
        F.col("SOURCE").alias("source")).agg(F.count(F.lit(1)).cast("double").alias("exposure"))}
    if "USER_ID" not in log.columns:
        return out, 0
    day, users = _window(F.col("TIMESTAMP"), 86400, 0), F.col("USER_ID")
    out["user_values"] = events.groupBy("USER_ID", day.alias(plan.DAY),
                                        *plan.GROUP_KEYS[1:]).agg(*aggs)
    out["traffic"] = log.groupBy(F.col("SOURCE").alias("source")).agg(
        (F.count_distinct(users) + F.max(users.isNull().cast("long"))).alias("users"),
        F.count(F.lit(1)).alias("recommendations"))
    known = log.filter(users.isNotNull())
    out["assignment"] = known.groupBy("USER_ID").agg(
        F.min_by("SOURCE", F.struct("TIMESTAMP", "SOURCE")).alias("arm"),
        F.min("TIMESTAMP").alias("first_served"),
        F.count_distinct("SOURCE").alias("sources_served"))
    out["served"] = known.groupBy("USER_ID", day.alias("day"), F.col("SOURCE").alias(
        "source")).agg(F.count(F.lit(1)).alias("recommendations"))
    return out, log.filter(users.isNull()).count()


def _duplicates(events: Any, columns: list[str]) -> int:
    """Rows that exactly repeat another: rows whose 64-bit hash no other row shares are
    distinct; only the rest are compared whole (as the embedded engine does)."""
    from pyspark.sql import functions as F

    rows = events.select(*[F.col(f"`{c}`") for c in columns]).withColumn(
        "__attrkit_h", F.xxhash64(*[F.col(f"`{c}`") for c in columns]))
    shared = rows.groupBy("__attrkit_h").count().filter(F.col("count") > 1).select("__attrkit_h")
    if not shared.limit(1).count():
        return 0
    sharing = rows.join(F.broadcast(shared), on="__attrkit_h").drop("__attrkit_h")
    return sharing.count() - sharing.distinct().count()


def _window(ts: Any, length: int, origin: int) -> Any:
    """The window start of a whole-second timestamp (floor division, as the embedded engine)."""
    from pyspark.sql import functions as F

    return (F.floor((ts - origin) / length).cast("long") * length + origin).cast("long")


def _aggregates(ma: MetricAttribution) -> list[Any]:
    """What each group needs, as :func:`attrkit.attribution.plan.metric_aggregates` declares:
    the count, and per ``SUM`` column its exact sum (decimal, 9 places) and missing values."""
    from pyspark.sql import functions as F

    out = {"events": F.count(F.lit(1)).alias("events")}
    for m in ma.metrics:
        if m.function == "sum":
            col = plan.summed(m)
            out[f"sum:{col}"] = F.sum(F.col(col).cast("double").cast("decimal(38,9)")).alias(
                f"sum:{col}")
            out[f"null:{col}"] = F.sum(F.col(col).isNull().cast("long")).alias(f"null:{col}")
    return list(out.values())


def _to_polars(df: Any) -> pl.DataFrame:
    """A small Spark result on the driver, as polars."""
    table = df.toArrow()
    return pl.from_arrow(table) if table.num_rows else pl.from_arrow(table).clear()


def _as_embedded(frames: dict[str, pl.DataFrame], sources: pl.Series) -> dict[str, pl.DataFrame]:
    """The embedded engine's types: sources as an Enum, counts as Int64, sums as decimals."""
    enum = pl.Enum(sources.drop_nulls().unique().sort())
    out = {}
    for name, frame in frames.items():
        casts = {}
        for col, dtype in frame.schema.items():
            if col in (SERVED, "arm") or (name == "served" and col == "source"):
                casts[col] = enum
            elif col.startswith("sum:"):
                casts[col] = plan.SUM_DECIMAL
            elif dtype.is_integer():
                casts[col] = pl.Int64
        out[name] = frame.with_columns(pl.col(c).cast(pl.String).cast(t) if isinstance(
            t, pl.Enum) else pl.col(c).cast(t) for c, t in casts.items())
    return out


def _described(bad: pl.DataFrame, record: bool) -> pl.DataFrame:
    """The bad rows' VALUE (the offending raw value) and RECORD (the raw row as JSON), written
    by the embedded engine's own functions from the raw values Spark sent."""
    fields = {f.name: f.dtype for f in bad.schema["_raw"].fields}

    def field(name: str) -> pl.Expr:
        return pl.col("_raw").struct.field(name)

    value = pl.coalesce([pl.when(pl.col("COLUMN") == n).then(shown(field(n), t))
                         for n, t in fields.items()] or [pl.lit(None, dtype=pl.String)])
    whole = raw_record(fields, of=field) if record else pl.lit(None, dtype=pl.String)
    return bad.with_columns(value.alias("VALUE"), whole.alias("RECORD")).drop("_raw")


def _quarantine(typed: dict[str, Any], read: dict[str, Any], opts: plan.Options) -> pl.DataFrame:
    """Every dataset's bad rows in the quarantine's shape: Parquet rows numbered within their
    file; CSV lines blank (Spark reads a file in splits and cannot number them exactly)."""
    from pyspark.sql import functions as F

    parts = []
    for order, (name, df) in enumerate(typed.items()):
        fmt = read[name][1]
        bad = df.filter(F.col(BAD)).select(
            F.lit(name).alias("DATASET"), F.col(FILE).alias("FILE"),
            F.lit(None).cast("long").alias("LINE"),
            (F.col(ROW) if fmt == "parquet" else F.lit(None).cast("long")).alias("ROW"),
            F.col(COL).alias("COLUMN"), F.col(RULE).alias("RULE"), F.col(RECORD).alias("_raw"),
            F.lit(order).alias("_ds"), F.col(ROW).alias("_pos"))
        parts.append(_described(_to_polars(bad), opts.quarantine))
    frame = pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()
    from attrkit.frames import QUARANTINE_SCHEMA

    if frame.is_empty():
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return (frame.sort("_ds", "FILE", "_pos", nulls_last=True).drop("_ds", "_pos")
            .cast(dict(QUARANTINE_SCHEMA)))
