"""The attribution on Apache Spark: the same plan — row rules, source resolution, windows,
exact sums, duplicates, unresolved IDs, health and the per-user data — on Spark DataFrames.

Spark computes the plan's grouped outputs (one row per window, event type, label and source;
per user and day; the log's exposure and assignment); only those small results come back to the
driver, where the same code as the embedded engine's turns them into windows, health and users,
so that the report is byte-identical. Nothing proportional to the events is collected: the bad
rows of ``on_bad_rows="quarantine"`` stay on Spark, counted while the inputs are read and
written by the executors (:class:`SparkQuarantine`).

Where Spark cannot know what the embedded engine knows, the difference is documented in the
documentation's Large inputs page: CSV line numbers are blank (Spark reads a file in splits),
PutEvents JSON Lines are read by the embedded engine only, and the order of bad rows within a CSV
file is the order Spark read them in.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.attribution import plan
from attrkit.attribution.config import MetricAttribution
from attrkit.attribution.spark_users import SparkUserData, _to_polars, described
from attrkit.errors import ConfigError, InputError, first_line
from attrkit.frames import RESERVED_PREFIX, is_pandas
from attrkit.inputs.schema import (
    _ISO,
    _MILLISECONDS,
    _NOT_PRINTABLE_ASCII,
    _SECONDS,
    BLANK_NUMBER,
    ROUNDED,
    SCHEMAS,
    SECONDS_AS_MS,
    raw_record,
    rounded_words,
    shown,
    timestamp_words,
)
from attrkit.inputs.schema import Column as Rule
from attrkit.storage.local import children_stderr_to

warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                        category=FutureWarning)

FILE, ROW = "__attrkit_file", "__attrkit_pos"
HIT, RECORD, HASH = "__attrkit_hit", "__attrkit_raw", "__attrkit_hash"
SERVED = plan.SERVED_BY


def session(spark: Any = None, master: str | None = None, remote: str | None = None) -> Any:
    """``spark``; else a Spark Connect session with the server at ``remote`` (``sc://HOST:PORT``,
    or ``ATTRKIT_SPARK_REMOTE``); else a new local session (``master``, default ``local[2]``,
    or ``ATTRKIT_SPARK_MASTER``) for attrkit."""
    if spark is not None:
        return spark
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("engine='spark' needs pyspark: pip install 'attrkit[spark]'") from None
    remote = remote or os.environ.get("ATTRKIT_SPARK_REMOTE")
    if remote:
        if master:
            raise ConfigError("a Spark master and a Spark Connect remote: give one of them")
        try:
            made = SparkSession.builder.remote(remote).getOrCreate()
        except ImportError as exc:  # the Connect client's own packages
            raise ConfigError(f"Spark Connect needs pyspark's connect extra ({exc.name} is "
                              "missing): pip install 'attrkit[spark]'") from None
        made.conf.set("spark.sql.session.timeZone", "UTC")
        made.conf.set("spark.sql.caseSensitive", "true")
        return made
    master = master or os.environ.get("ATTRKIT_SPARK_MASTER") or "local[2]"
    if master.startswith("local"):  # Python workers (the quarantine's text) run this Python
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (SparkSession.builder.master(master)
               .appName("attrkit").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "8")
               # a file read in at least 8 parts (as the shuffles), not one per core: the
               # duplicates' aggregate of one row hash per event holds a part's hashes at
               # once (10M events, local[2]: 55 -> 50 s)
               .config("spark.sql.files.minPartitionNum", "8")
               .config("spark.sql.session.timeZone", "UTC")
               # column names told apart by case, as the files and the embedded engine do
               .config("spark.sql.caseSensitive", "true")
               .config("spark.ui.showConsoleProgress", "false")
               # PySpark records the Python line behind each column function for its error
               # messages: four or five calls to the JVM a function, thousands a run, and the
               # lines would be attrkit's own
               .config("spark.python.sql.dataFrameDebugging.enabled", "false")
               .config("spark.driver.memory",
                       os.environ.get("ATTRKIT_SPARK_DRIVER_MEMORY", "4g")))
    # The JVM's own warnings and Spark's log go to a file, not the user's terminal.
    with children_stderr_to("spark"):
        made = builder.getOrCreate()
    made.sparkContext.setLogLevel("ERROR")
    return made


@dataclass(frozen=True)
class Result:
    """What the Spark run gives the driver: the plan's outputs, as the embedded engine's."""

    out: dict[str, pl.DataFrame]
    quarantine: SparkQuarantine
    rows_read: dict[str, int]
    valid_rows: int
    duplicates: int
    unassigned: int
    users: Any = None
    """the per-user data, kept on Spark (:class:`~attrkit.attribution.spark_users.SparkUserData`)."""
    unlogged: tuple[int, int] | None = None
    """users with events the log does not know, and their events served by its sources."""
    columns: dict[str, list[str]] = field(default_factory=dict)
    """each dataset's columns, as read."""


def _read(spark: Any, name: str, data: Any) -> Any:
    """A dataset as a Spark DataFrame of raw columns plus its file and row (Parquet)."""
    from pyspark.sql import functions as F

    if isinstance(data, pl.DataFrame | pl.LazyFrame) or is_pandas(data):
        return _read_frame(spark, name, data), "frame"
    path = str(data)
    files = _local_files(spark, name, path)
    fmt = _format(path, files)
    read = [_hadoop_literal(real) for _, real in files] if files else [path]
    # (a folder's files, or the files the embedded engine found: no partition columns made
    # of folder names; only where Spark lists a folder or pattern itself would it add some)
    reader = spark.read.option("recursiveFileLookup", "true") \
        if files or os.path.isdir(path) else spark.read
    # each local CSV file's header as the embedded engine checks it (a name twice; the files
    # of one input share one header, in any order): Spark names a file's columns by the first
    # file's header, so each order of the columns is read on its own and matched by name
    groups = [read]
    if fmt == "csv" and files:
        groups = _by_header(files)
    try:
        with _case_sensitive(spark) as insensitive:
            if fmt == "parquet":
                df = reader.parquet(*read).select(
                    "*", F.col("_metadata.file_path").alias(FILE),
                    F.col("_metadata.row_index").alias(ROW))
            else:
                df = reduce(lambda a, b: a.unionByName(b), [_csv(reader, g) for g in groups])
            names = df.columns
    except Exception as exc:  # (no such path, a type it cannot read: Spark's own errors)
        from pyspark.errors import PySparkException

        if not isinstance(exc, PySparkException):
            raise
        raise InputError(path, f"Spark cannot read it: {first_line(exc)}" + (
            " (nanosecond timestamps: set spark.sql.legacy.parquet.nanosAsLong=true on "
            "the session, or use the embedded engine)" if "NANOS" in str(exc) else "")
        ) from None
    _refuse_names(path, name, [c for c in names if c not in (FILE, ROW)], insensitive)
    # the file's own name: Spark gives a URI, percent-encoded ('a b' as 'a%20b'; a '+' stays)
    local = F.regexp_replace(F.regexp_replace(F.col(FILE), "^file:(//)?", ""), r"\+", "%2B")
    spark_name = F.url_decode(local)
    return df.withColumn(FILE, F.coalesce(_named_as(files, spark_name), spark_name) if files
                         else spark_name), fmt


def _read_frame(spark: Any, name: str, data: Any) -> Any:
    """A polars or pandas frame as a Spark DataFrame of its columns plus its name (FILE) and
    0-based row (ROW), as the embedded engine names and numbers them. The frame goes to Spark
    as Arrow (a pandas frame read by polars first, as on the embedded engine), so that its
    types are kept: through pandas, an integer column with a missing value would arrive as
    floats."""
    from pyspark.sql import functions as F

    from attrkit.inputs.readers import frame_source, polars_of_pandas, refuse_objects

    shown = frame_source(data)
    frame = polars_of_pandas(data) if is_pandas(data) else data.lazy().collect()
    _refuse_names(shown, name, frame.columns,
                  _ignores_case(spark.conf.get("spark.sql.caseSensitive", None)))
    refuse_objects(shown, frame.schema)
    for col, dtype in frame.schema.items():
        # (Spark takes no unsigned 64-bit integers from Arrow, polars gives none of 128 bits)
        wide = {pl.UInt64: "unsigned 64-bit", pl.Int128: "128-bit",
                pl.UInt128: "unsigned 128-bit"}.get(dtype)
        if wide:
            raise ConfigError(f"{shown}: column {col} of {name} holds {wide} integers, which "
                              "Spark cannot take from a frame; cast it to Int64 or write the "
                              "frame to Parquet")
    table = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW)).to_arrow()
    df = spark.createDataFrame(table)
    return df.select(*[_column(c) for c in frame.columns], F.lit(shown).alias(FILE), ROW)


def _by_header(files: list[tuple[str, str]]) -> list[list[str]]:
    """Local CSV files (names and real paths) checked as the embedded engine checks them, in
    groups that share the order of their header's columns (Spark's paths, in file order)."""
    from attrkit.inputs.readers import _check_csv_header, check_same_header

    groups: dict[tuple[str, ...], list[str]] = {}
    first: tuple[str, list[str]] | None = None
    for name, real in files:
        header = _check_csv_header(Path(real), name)
        first = first or (name, header)
        check_same_header(first[0], first[1], name, header)
        groups.setdefault(tuple(header), []).append(_hadoop_literal(real))
    return list(groups.values())


def _csv(reader: Any, paths: list[str]) -> Any:
    """CSV files whose headers name the same columns in the same order, as raw text columns
    plus their file: a quote inside a quoted field is doubled (RFC 4180, as the embedded engine
    reads it); a line of commas only holds no record, as a blank one or one of whitespace
    (which Spark's reader skips), and as the embedded engine reads them
    (:func:`attrkit.inputs.readers._without_empty_lines`)."""
    from pyspark.sql import functions as F

    from attrkit.inputs.readers import WHITESPACE

    df = reader.option("header", "true").option("mode", "PERMISSIVE").option(
        "escape", '"').option("emptyValue", _QUOTED_EMPTY).csv(paths)
    first = _column(df.columns[0])
    return df.select(*[F.when(_column(c) == _QUOTED_EMPTY, F.lit("")).otherwise(
        _column(c)).alias(c) for c in df.columns], F.col("_metadata.file_path").alias(FILE),
        F.lit(None).cast("long").alias(ROW)).filter(F.greatest(
            first.isNotNull() & ~first.rlike(WHITESPACE),
            *[_column(c).isNotNull() for c in df.columns[1:]], F.lit(False)))


_QUOTED_EMPTY = "\x00attrkit: quoted empty\x00"
"""What Spark's CSV reader gives a quoted empty field (``""``), made an empty string again
after reading: by default Spark reads it as missing, as it does an empty field without quotes,
where the embedded engine reads an empty string (a blank ID, a bad row; in a number column, a
missing value on both)."""


def _ignores_case(setting: str | None) -> bool:
    """Whether a session whose ``spark.sql.caseSensitive`` is ``setting`` (None: not set,
    Spark's default) ignores the case of column names."""
    return (setting or "false").strip().lower() != "true"


@contextmanager
def _case_sensitive(spark: Any) -> Iterator[bool]:
    """Inside, the session tells column names apart by case, as the embedded engine and the
    files do (Spark's default does not: a CSV header with ``RECOMMENDATION_ID`` and
    ``recommendation_id`` would have both renamed); the session's own setting is put back
    after. Yields whether that setting ignores case."""
    key = "spark.sql.caseSensitive"
    before = spark.conf.get(key, None)  # (None: not set, Spark's default)
    insensitive = _ignores_case(before)
    if insensitive:
        spark.conf.set(key, "true")
    try:
        yield insensitive
    finally:
        if insensitive and before is None:
            spark.conf.unset(key)
        elif insensitive:
            spark.conf.set(key, before)


def _refuse_names(path: str, name: str, columns: list[str], insensitive: bool) -> None:
    """The embedded engine's checks of the column names (reserved, read as a pattern, required
    and missing); in a session that ignores case (whose later queries could not tell them
    apart), a clear error for two names that differ only in case, or a name that differs only
    in case from one attrkit reads or makes, instead of a wrong column."""
    from attrkit.inputs.readers import refuse_missing, refuse_reserved

    refuse_reserved(path, columns)
    refuse_missing(name, path, columns)
    if not insensitive:
        return
    ours = {c.name.lower(): c.name for c in SCHEMAS[name]}
    seen: dict[str, str] = {}
    why = ("and this Spark session ignores case: rename it, or set spark.sql.caseSensitive=true "
           "on the session")
    for column in columns:
        low = column.lower()
        if low in seen:
            raise InputError(path, f"columns {seen[low]} and {column} differ only in case, {why}",
                             column=column)
        if low in ours and column != ours[low]:
            raise InputError(path, f"column {column} differs from {ours[low]} only in case, "
                             f"{why}", column=column)
        if low.startswith(RESERVED_PREFIX):
            raise InputError(path, f"column names starting with {RESERVED_PREFIX!r} in any case "
                             f"are reserved for attrkit's working columns, {why}", column=column)
        seen[low] = column


def _local_files(spark: Any, name: str, path: str) -> list[tuple[str, str]] | None:
    """The files of a local ``path`` that the embedded engine would read (a file, a folder's
    data files at any depth, a pattern's matches; hidden, temporary and marker files skipped,
    links followed), each as ``(its name there, its real absolute path)``: Spark is given
    exactly these, from Python's working folder (Spark's JVM resolves a relative path in the
    folder it was started in, which a notebook's ``os.chdir`` does not move). None for a path
    with a scheme (``s3a://``, ``file://``: Spark's alone), or for one not here when Spark's
    default file system is not this machine's (a relative path on HDFS)."""
    from attrkit import storage
    from attrkit.inputs.readers import _SUFFIXES

    if _SCHEME.match(path):
        return None
    found = [(shown, os.path.realpath(local)) for shown, local in storage.expand(
        path, tuple(_SUFFIXES)) if local.is_file()]
    for given, real in found:
        if ":" in os.path.basename(real):  # (Hadoop takes 'a:b' for a scheme and fails)
            raise InputError(given, "Spark cannot read a file whose name holds ':'; rename "
                             "it, or use the embedded engine")
    if found:
        return found
    if not _files_are_local(spark):
        return None
    many = storage.is_pattern(path) or os.path.isdir(path)
    raise InputError(path, f"no {name} files here" if many else f"{name} file not found")


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")
"""A URI's scheme (``s3a:/``, ``file:/``, ``hdfs:/``): ``t:1/p.parquet`` is a relative path."""


def _column(name: str) -> Any:
    """The column called ``name``, whatever it holds (a dot, a backtick: quoted, a backtick
    doubled)."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _files_are_local(spark: Any) -> bool:
    """Whether a path without a scheme is a file of this machine for Spark (its default file
    system is ``file:``, as in local mode); not known on Spark Connect."""
    sc = getattr(spark, "_sc", None)
    if sc is None:
        return False
    default = sc._jsc.hadoopConfiguration().get("fs.defaultFS")
    return default is None or str(default).startswith("file:")


def _hadoop_literal(path: str) -> str:
    """A file's path with Hadoop's pattern characters escaped: ``a[1].parquet`` is that file,
    not ``a1.parquet``."""
    return re.sub(r"([\\*?\[\]{}])", r"\\\1", path)


def _named_as(files: list[tuple[str, str]], read: Any) -> Any:
    """Each row's file named as the embedded engine names it, from ``read``, the real path
    Spark read, and ``files`` (names and real paths): one SQL map, whatever their number."""
    from pyspark.sql import functions as F

    def text(x: str) -> str:
        return "'" + x.replace("\\", "\\\\").replace("'", "\\'") + "'"

    pairs = ", ".join(f"{text(real)}, {text(shown)}" for shown, real in files)
    return F.try_element_at(F.expr(f"map({pairs})"), read)


_CSV_NUMBERS = {"interactions": {"TIMESTAMP": ("long", r"^[+-]?[0-9]+$"),
                                 "EVENT_VALUE": ("double", r"^[^\s]+$")},
                "recommendations": {"TIMESTAMP": ("long", r"^[+-]?[0-9]+$")}}
"""The CSV columns the embedded engine parses while reading, with what a value must look like.
Spark reads them as text; where every value of a column parses, the embedded engine would have
read it as numbers, which shows only in the bad rows' VALUE and RECORD (:func:`_quarantine`):
the rules give the same verdicts and values either way."""

def _parses(df: Any, name: str) -> dict[str, Any]:
    """Per number column of a CSV dataset: whether a row's value parses (or is missing)."""
    from pyspark.sql import functions as F

    return {c: F.col(c).isNull() | (F.col(c) == "") | (
                F.col(c).rlike(shape) & F.col(c).try_cast(kind).isNotNull())
            for c, (kind, shape) in _CSV_NUMBERS.get(name, {}).items() if c in df.columns}


def _format(path: str, files: list[tuple[str, str]] | None = None) -> str:
    """CSV or Parquet, from the path's suffix, else from the names of ``files`` (a local
    folder's or pattern's files, as the embedded engine lists them)."""
    from attrkit.inputs.readers import _SUFFIXES

    many = files and (len(files) > 1 or files[0][0] != path)  # a folder's or pattern's
    kinds = sorted({_SUFFIXES[os.path.splitext(shown)[1].lower()] for shown, _ in files}) \
        if many else [_SUFFIXES.get(os.path.splitext(path.lower().rstrip("/"))[1])]
    if len(kinds) > 1:
        raise ConfigError(f"{path}: holds files of more than one format ("
                          f"{', '.join(kinds)}); one format per input")
    if kinds[0] == "jsonl":
        raise ConfigError(f"{path}: PutEvents JSON Lines are read by the embedded engine only")
    if kinds[0] is None:
        raise ConfigError(f"{path}: cannot tell CSV from Parquet here; name the files with a "
                          f"pattern such as {path.rstrip('/')}/*.parquet")
    return kinds[0]


def _polars_type(dtype: Any) -> str:
    """How the embedded engine names a type in a rule (``must be text, not Float64``)."""
    names = {"DoubleType": "Float64", "FloatType": "Float32", "BooleanType": "Boolean",
             "DateType": "Date", "BinaryType": "Binary",
             "TimestampType": "Datetime(time_unit='us', time_zone='UTC')",
             "TimestampNTZType": "Datetime(time_unit='us', time_zone=None)"}
    return names.get(type(dtype).__name__, dtype.simpleString())


def _blank(value: Any) -> Any:
    """Empty or only Unicode white space (as the embedded engine's ``^\\s*$``). A value that
    starts with a visible ASCII character is not, and skips the regular expression."""
    from pyspark.sql import functions as F

    return F.when(F.ascii(value).between(33, 126), False).when(
        value.isNotNull(), value.rlike(r"(?U)^\s*$"))


def _text_rules(rule: Rule, dtype: Any, raw: Any, rules: list[tuple[Any, str]],
                integral: bool) -> tuple[Any, list[tuple[Any, str]]]:
    """The rules of an ID, a text or a label column (see :func:`_rules`)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    value = raw if isinstance(dtype, T.StringType) else raw.cast("string")
    if not (integral or isinstance(dtype, T.StringType)):
        rules.append((raw.isNotNull(), f"must be text, not {_polars_type(dtype)}"))
    if rule.kind == "id":
        rules.append((_blank(value), "must not be empty or blank"))
        rules.append((F.char_length(value) > rule.max_len,
                      f"longer than {rule.max_len} characters"))
        return value, rules
    value = F.when(value == "", None).otherwise(value)
    if rule.kind == "label":
        rules.append((_blank(value), "must not be blank"))
        rules.append((F.char_length(value) > rule.max_len,
                      f"longer than {rule.max_len} characters"))
        rules.append((value.rlike(_NOT_PRINTABLE_ASCII), "must be printable ASCII"))
    return value, rules


_NUMBER = r"(?i)^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?|inf|infinity|nan)$"
"""A number as the embedded engine parses text (after white space is trimmed)."""


def _number_of_text(raw: Any) -> Any:
    """A number column's text as the embedded engine parses it, a double (null: no number).
    Spark's cast trims ASCII white space and control characters itself; the rest of Unicode's
    white space only where that cast fails. Java reads more forms than the embedded engine
    (1d, 17e8f, 0x1p30, a control character around): a value of other characters than a plain
    number's (one character class, tested on every value) must have the embedded engine's
    shape too, and "-nan" is a NaN there. :func:`_typed` works it out once, in a column of its
    own, which the rules read (inlined in each, it made every CSV query a third slower)."""
    from pyspark.sql import functions as F

    trimmed = _trimmed(raw)
    parsed = F.coalesce(raw.try_cast("double"), trimmed.try_cast("double"))
    plain = ~raw.rlike(r"[^0-9.eE+\-]")
    return F.when(plain, parsed).when(trimmed.rlike(r"(?i)^[+-]?nan$"), F.lit(
        float("nan"))).when(trimmed.rlike(_NUMBER), parsed)


def _trimmed(raw: Any) -> Any:
    """Text without Unicode white space at either end (as polars' ``strip_chars``)."""
    from pyspark.sql import functions as F

    return F.regexp_replace(raw, r"(?U)^\s+|\s+$", "")


def _text_number(rule: Rule, dtype: Any) -> bool:
    """Whether the column is a number or time read from text (:func:`_number_of_text`)."""
    from pyspark.sql import types as T

    return rule.kind not in ("id", "text", "label") and isinstance(dtype, T.StringType)


def _raw(rule: Rule, dtype: Any) -> Any:
    """The column a rule reads: as it is, but for a number or time read from text, where an
    empty value, or one of spaces and tabs only, is a missing one (``BLANK_NUMBER``)."""
    from pyspark.sql import functions as F

    raw = _column(rule.name)
    return F.when(~raw.rlike(BLANK_NUMBER), raw) if _text_number(rule, dtype) else raw


def _rules(rule: Rule, dtype: Any, unit: str, parsed_text: Any = None
           ) -> tuple[Any, list[tuple[Any, str]]]:
    """The typed value of one column and its ``(broken, rule)`` pairs, in the embedded engine's
    order and words (:func:`attrkit.inputs.schema._rules_for`). ``parsed_text``: the column
    of :func:`_number_of_text`, given for a number or time read from text (:func:`_typed`)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    raw = _raw(rule, dtype)
    rules: list[tuple[Any, str]] = []
    if rule.required:
        rules.append((raw.isNull(), "required value is missing"))
    integral = isinstance(dtype, T.ByteType | T.ShortType | T.IntegerType | T.LongType)
    numeric = integral or isinstance(dtype, T.FloatType | T.DoubleType | T.DecimalType)
    if rule.kind in ("id", "text", "label"):
        return _text_rules(rule, dtype, raw, rules, integral)
    if isinstance(dtype, T.StringType):
        parsed = parsed_text
        unparsed = raw.isNotNull() & parsed.isNull()
        if rule.kind == "timestamp":
            iso, not_a_number, _ = timestamp_words(unit)
            rules.append((unparsed & raw.rlike("(?U)" + _ISO), iso))
            rules.append((unparsed, not_a_number))
            rules.append((_rounded(raw), rounded_words(unit)))
        else:
            rules.append((unparsed, "must be a number"))
    elif integral and rule.kind == "timestamp":
        limit = D.MAX_PLAUSIBLE_SECONDS * (1000 if unit == "ms" else 1)
        outside = (raw >= limit) | (raw <= -limit)
        if unit == "s":
            far = (raw >= limit * 1000) | (raw <= -limit * 1000)
            rules.append((outside & ~far, _MILLISECONDS))
        else:
            rules.append(((raw >= SECONDS_AS_MS[0]) & (raw < SECONDS_AS_MS[1]), _SECONDS))
        rules.append((outside, timestamp_words(unit)[2]))
        seconds = F.floor(raw / 1000) if unit == "ms" else raw
        return seconds.cast("long"), rules
    elif numeric:
        parsed = raw.cast("double")
    elif rule.kind == "timestamp" and isinstance(dtype, T.TimestampType | T.TimestampNTZType):
        # a date-time, from its stored microseconds as the embedded engine reads one (with or
        # without a time zone: the number stored, not the session's wall clock)
        parsed = _micros(raw, dtype).cast("double") / 1e6 * (1000.0 if unit == "ms" else 1.0)
    else:
        parsed = F.lit(None).cast("double")
        rules.append((raw.isNotNull(), f"must be a number, not {_polars_type(dtype)}"))
    infinite = parsed.isin(float("inf"), float("-inf"))
    rules.append((F.isnan(parsed) | infinite, "must be a finite number"))
    if rule.kind == "number":
        rules.append((F.abs(parsed) > D.MAX_SUMMED_VALUE,
                      f"larger than {D.MAX_SUMMED_VALUE:.0e} in magnitude; too large to sum"))
        return parsed, rules
    seconds = parsed / 1000.0 if unit == "ms" else parsed
    limit = D.MAX_PLAUSIBLE_SECONDS
    if unit == "s":
        rules.append(((F.abs(parsed) >= limit) & (F.abs(parsed) < limit * 1000), _MILLISECONDS))
    elif not isinstance(dtype, T.TimestampType | T.TimestampNTZType):  # (its own unit)
        rules.append(((parsed >= SECONDS_AS_MS[0]) & (parsed < SECONDS_AS_MS[1]), _SECONDS))
    rules.append((F.abs(seconds) >= limit, timestamp_words(unit)[2]))
    safe = F.when(F.isnan(parsed) | infinite | (F.abs(seconds) >= limit), None).otherwise(seconds)
    return F.floor(safe).cast("long"), rules


def _rounded(raw: Any) -> Any:
    """:func:`attrkit.inputs.schema._rounded` on Spark: a time's text rounded in scientific
    notation (the pattern tried only on text holding a plus sign)."""
    from pyspark.sql import functions as F

    candidate = F.when(raw.contains("+"), _trimmed(raw))
    exponent = F.regexp_extract(candidate, ROUNDED, 2)
    return (exponent != "") & (F.length(F.regexp_extract(candidate, ROUNDED, 1))
                               < exponent.try_cast("long"))


def _micros(value: Any, dtype: Any) -> Any:
    """A date-time's microseconds since 1970-01-01 as stored: a time zone's from the epoch's
    instant, one without a time zone from the epoch's wall clock (not in the session's zone)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if isinstance(dtype, T.TimestampNTZType):
        return F.timestamp_diff("MICROSECOND", F.expr("TIMESTAMP_NTZ'1970-01-01 00:00:00'"), value)
    return F.unix_micros(value)


@dataclass(frozen=True)
class Typing:
    """A dataset typed by its schema (:func:`_typed`)."""

    frame: Any
    """the typed columns, the others as read, FILE, ROW and HIT."""
    rules: tuple[tuple[str, str], ...]
    """every rule as ``(column, words)``, in the order the first broken one is chosen; a row's
    HIT is the index of its first broken rule here (null: none)."""
    unique: tuple[int, str] | None
    """the duplicate rule's index and its column; applied by :func:`_with_unique` only where a
    value repeats (a window over every row costs a sort)."""


def _typed(df: Any, name: str, numeric: tuple[str, ...], unit: str,
           casts: dict[str, str] | None = None) -> Typing:
    """The dataset typed by its schema, each row's first broken rule found (as
    :func:`attrkit.inputs.schema.coerce` does). With ``casts`` (the CSV number columns every
    value of which parses, and their types), the raw row as RECORD too, for the bad rows."""
    from pyspark.sql import functions as F

    types = {f.name: f.dataType for f in df.schema.fields}
    spec = list(SCHEMAS[name]) + [Rule(n, "number") for n in numeric
                                  if n not in {c.name for c in SCHEMAS[name]}]
    texts = {r.name: (f"{RESERVED_PREFIX}number_{i}", _raw(r, types[r.name]))
             for i, r in enumerate(spec) if r.name in types and _text_number(r, types[r.name])}
    columns = df.columns
    if texts:  # (Spark Connect refuses an empty withColumns)
        df = df.withColumns({t: _number_of_text(raw) for t, raw in texts.values()})
    selected, hits, rules, unique = [], [], [], None
    for rule in spec:
        if rule.name not in types:
            continue
        value, pairs = _rules(rule, types[rule.name], unit,
                              F.col(texts[rule.name][0]) if rule.name in texts else None)
        for broken, text in pairs:
            hits.append(F.when(broken, F.lit(len(rules))))
            rules.append((rule.name, text))
        if rule.unique:
            unique = (len(rules), rule.name)
            rules.append((rule.name, f"duplicate {rule.name}; each must appear once"))
        selected.append(value.alias(rule.name))
    named = {r.name for r in spec}
    extra = [_column(c) for c in columns if c not in named and c not in (FILE, ROW)]
    hit = F.coalesce(*hits, F.lit(None).cast("int")).alias(HIT)
    record = []
    if casts is not None:  # the raw row, which the driver writes out as the embedded engine does
        record = [F.struct(*[(_column(c).try_cast(casts[c]) if c in casts
                              else _column(c)).alias(c)
                             for c in columns if c not in (FILE, ROW)]).alias(RECORD)]
    frame = df.select(*selected, *extra, F.col(FILE), F.col(ROW), hit, *record)
    return Typing(frame, tuple(rules), unique)


def _with_unique(frame: Any, unique: tuple[int, str]) -> Any:
    """The duplicate rule added: every repeat of a value after its first (by file and row)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    index, column = unique
    seen = F.row_number().over(Window.partitionBy(column).orderBy(FILE, ROW))
    repeat = F.col(column).isNotNull() & (seen > 1)
    return frame.withColumn(HIT, F.least(F.col(HIT), F.when(repeat, F.lit(index))))


def _counts() -> tuple[Any, Any]:
    """Rows and bad rows: the columns to aggregate, or to observe while the frame is read."""
    from pyspark.sql import functions as F

    return F.count(F.lit(1)).alias("n"), F.count(F.col(HIT)).alias("bad")


def _casts(read: dict[str, tuple[Any, str]]) -> dict[str, dict[str, str]]:
    """Per CSV dataset, its number columns and their types, where every value of every one of
    them in every CSV dataset parses; else none. The embedded engine reads CSV files with
    numbers, or, where one value does not parse, reads them all again as text; which shows in
    the bad rows' VALUE and RECORD (a pass per dataset, made only where there are bad rows)."""
    from pyspark.sql import functions as F

    flags = {k: _parses(df, k) for k, (df, fmt) in read.items() if fmt == "csv"}
    flags = {k: f for k, f in flags.items() if f}
    for k, f in flags.items():
        row = read[k][0].select(*[F.min(flag.cast("int")).alias(c) for c, flag in f.items()])
        if not all(v in (1, None) for v in row.first()):
            return {}
    return {k: {c: _CSV_NUMBERS[k][c][0] for c in f} for k, f in flags.items()}


def _observed(observation: Any, frame: Any) -> dict[str, Any]:
    """The interactions' rows and bad rows, observed while the events were read; counted again
    where Spark dropped the observed part of the plan (adaptive execution replaces a join of no
    rows, as when every row is bad or there is none, by an empty relation, metrics and all)."""
    jo = getattr(observation, "_jo", None)  # (None on Spark Connect)
    if jo is not None and jo.getRow().size():  # (Observation.get fails on an empty row)
        return observation.get
    if jo is None:
        try:
            got = observation.get
            if got:
                return got
        except Exception:  # noqa: BLE001 (Connect: no metrics came back with the job)
            pass
    return frame.groupBy().agg(*_counts()).first().asDict()


def _kept(t: Typing, measure: tuple[str, ...] = ()) -> tuple[Any, list[Any], dict[str, Any], bool]:
    """Items or the log, typed and kept (cached, read by every later step), with its counts in
    one pass; where a value that must be unique repeats, typed again with the duplicate rule
    and kept instead. The kept frame has no FILE and ROW: only the duplicate rule reads them
    (which repeat comes first), and the bad rows are typed again from the input. ``measure``:
    columns whose text's bytes are added up too (``bytes``). Returns the frame, every frame
    kept, the counts and whether the rule was added."""
    from pyspark.sql import functions as F

    frame = t.frame.drop(FILE, ROW).cache()
    checks = [*_counts()]
    if t.unique is not None:  # distinct hashes prove distinct values (a long is cheaper to
        # count distinct than text); where two share one, the exact rule decides
        value = F.col(t.unique[1])
        checks += [F.count(value).alias("values"),
                   F.count_distinct(F.when(value.isNotNull(), F.xxhash64(value))).alias("distinct")]
    if measure:
        checks.append(F.sum(sum(F.coalesce(F.octet_length(c), F.lit(0)) for c in measure)
                            ).alias("bytes"))
    counts = frame.groupBy().agg(*checks).first().asDict()
    if t.unique is None or counts["values"] == counts["distinct"]:
        return frame, [frame], counts, False
    again = _with_unique(t.frame, t.unique).drop(FILE, ROW).cache()
    counts |= again.groupBy().agg(*_counts()).first().asDict()
    frame.unpersist()  # (typed again from the input: the first is read no more)
    return again, [again], counts, True


_ROW_BYTES = 40
"""What a row of the broadcast log takes besides its text (Spark's row and hash table)."""
_MEASURED = {"recommendations": ("RECOMMENDATION_ID", "SOURCE")}
"""The columns of a dataset whose bytes :func:`_kept` adds up: what the events' join reads."""


def _broadcast(small: dict[str, Any], spark: Any) -> bool:
    """Whether the events' join broadcasts the log (what :func:`_kept` gave): where its IDs and
    sources fit :func:`_broadcast_limit`, the events are not shuffled to meet it (10M events,
    a log of 2.5M: 5-8 s of 60)."""
    if "recommendations" not in small:
        return False
    counts = small["recommendations"][2]
    return (counts["bytes"] or 0) + _ROW_BYTES * counts["n"] <= _broadcast_limit(spark)


def _broadcast_limit(spark: Any) -> int:
    """The most bytes the log's IDs and sources may take (with :data:`_ROW_BYTES` a row) for the
    events' join to broadcast it: the session's ``spark.attrkit.broadcastLogBytes`` (0 or -1: never),
    else an eighth of ``spark.driver.memory`` (the driver builds the table that is sent); at
    most half of ``spark.driver.maxResultSize`` (the rows pass through the driver), and never
    where the session turns broadcasts off (``spark.sql.autoBroadcastJoinThreshold=-1``)."""
    def conf(key: str, default: str | None) -> str | None:
        try:
            return spark.conf.get(key, default)
        except Exception:  # noqa: BLE001 (a Connect server may not show a core setting)
            return default

    if str(conf("spark.sql.autoBroadcastJoinThreshold", "10MB")).strip() == "-1":
        return 0
    own = conf("spark.attrkit.broadcastLogBytes", None)
    if own is not None and own.strip() == "-1":  # (as Spark's own threshold: never)
        return 0
    # (spark.driver.memory without a unit is MiB, as Spark reads it; the other sizes, bytes)
    limit = _bytes(own) if own is not None else _bytes(
        conf("spark.driver.memory", "1g") or "1g", unit="m") // 8
    most = _bytes(conf("spark.driver.maxResultSize", "1g") or "1g")
    return min(limit, most // 2) if most > 0 else limit


def _bytes(size: str, unit: str = "") -> int:
    """A Spark size (``16m``, ``1g``, ``1048576``, ``512MB``) in bytes; a bare number is in
    ``unit`` (bytes, or ``m`` for MiB as ``spark.driver.memory`` is read)."""
    m = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)i?b?\s*", str(size).lower())
    if m is None:
        raise ConfigError(f"not a size Spark understands: {size!r} (such as 64m or 1g)")
    return int(m.group(1)) << (10 * " kmgt".index(m.group(2) or unit or " "))


def _all(jobs: dict[str, Any], spark: Any, doing: str = "") -> dict[str, Any]:
    """Each job's result, the jobs run at once: Spark runs concurrent jobs of one session side
    by side, which on small results saves most of each job's fixed cost (threads inherit the
    caller's job group and local properties). Each job is described in Spark's UI by its key
    and ``doing`` (:func:`_named`)."""
    from concurrent.futures import ThreadPoolExecutor

    from pyspark import inheritable_thread_target

    jobs = {k: _named(spark, SHOWN.get(k, k) + doing, job) for k, job in jobs.items()}
    if len(jobs) < 2:
        return {k: job() for k, job in jobs.items()}
    with ThreadPoolExecutor(max_workers=min(len(jobs), 8)) as pool:
        futures = {k: pool.submit(inheritable_thread_target(spark)(job))
                   for k, job in jobs.items()}
        return {k: f.result() for k, f in futures.items()}


SHOWN = {"grouped": "the events' pass (typed, checked, resolved, windowed and grouped)",
         "unresolved_ids": "unresolved recommendation IDs",
         "materialised": "the per-user frames computed and cached",
         "unlogged": "users with events the log does not know"}
"""How a job of :func:`run` is described in Spark's UI, where its key alone says too little."""


def _named(spark: Any, name: str, job: Any) -> Any:
    """``job``, its Spark jobs :func:`~attrkit.attribution.spark_users.described` as
    ``attrkit: <name>``."""
    def named() -> Any:
        with described(spark, name):
            return job()

    return named


def run(ma: MetricAttribution, interactions: Any, items: Any, recommendations: Any,
        opts: plan.Options, spark: Any) -> Result:
    """The plan on Spark (see the module's docstring). Items and the log are typed once and
    kept; the interactions are read once, their rows and bad rows counted while the valid
    events are joined and aggregated in one pass (:func:`_one_pass`). Bad rows, and rows that
    share a hash with another, are read again."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    given = {"interactions": interactions, "items": items, "recommendations": recommendations}
    read = {k: _read(spark, k, v) for k, v in given.items() if v is not None}
    named = {k: [c for c in df.columns if c not in (FILE, ROW)] for k, (df, _) in read.items()}
    _check_sums(ma, read, given)
    if "items" in read:  # the columns the embedded engine reads of items, no others
        df, fmt = read["items"]
        read["items"] = (df.select("ITEM_ID", *plan.sum_columns(ma, "items"), FILE, ROW), fmt)
    numeric = {"interactions": plan.sum_columns(ma, "interactions"),
               "items": plan.sum_columns(ma, "items"), "recommendations": ()}
    typing = {k: _typed(df, k, numeric[k], opts.timestamp_unit)
              for k, (df, _) in read.items()}
    small = _all({k: (lambda t=t, k=k: _kept(t, _MEASURED.get(k, ()))) for k, t in typing.items()
                  if k != "interactions"}, spark, doing=" typed, checked and kept")
    observed = Observation("attrkit-interactions")
    frames = {"interactions": typing["interactions"].frame.observe(observed, *_counts())}
    frames |= {k: frame for k, (frame, _, _, _) in small.items()}
    valid = {k: frame.filter(F.col(HIT).isNull()).drop(HIT) for k, frame in frames.items()}
    events, columns = _resolved(ma, valid, opts, _broadcast(small, spark))
    # One pass reads the events (and counts the interactions); the rest read what it kept.
    log = valid.get("recommendations")
    passed = _one_pass(ma, events, opts, log is not None and "USER_ID" in log.columns)
    got = _all({"grouped": lambda: _to_polars(passed.part("grouped"))}, spark)
    counts = {"interactions": _observed(observed, typing["interactions"].frame)}
    counts |= {k: c for k, (_, _, c, _) in small.items()}
    rows_read = {k: int(c["n"]) for k, c in counts.items()}
    valid_rows = rows_read["interactions"] - int(counts["interactions"]["bad"])
    repeated = {k for k, (_, _, _, again) in small.items() if again}
    jobs, per_user = _later(passed, columns, valid, opts, typing["interactions"].frame)
    users = None
    if per_user is not None:
        users = _users(ma, *per_user)
        jobs |= _user_jobs(users, per_user[0])
    bad = [k for k in read if counts[k]["bad"]]
    jobs["quarantine"] = lambda: _quarantine(_bad_rows(read, bad, numeric, opts, repeated),
                                             read, opts, {k: int(counts[k]["bad"]) for k in bad})
    got |= _all(jobs, spark)
    quarantine = got.pop("quarantine")
    # After the exact repeats are dropped, every event is in one group: the rest are repeats.
    duplicates = (valid_rows - int(got["grouped"]["events"].sum()) if opts.dedupe
                  else got.pop("duplicates"))
    unassigned = 0
    if "traffic" in got:
        unassigned = int(got["traffic"]["unassigned"].sum())
        got["traffic"] = got["traffic"].drop("unassigned")
    sources = (got["exposure"]["source"].unique().sort() if "exposure" in got
               else pl.Series([], dtype=pl.String))
    unlogged = None
    if users is not None:
        users.log_rows_without_user = unassigned
        unlogged = got.pop("unlogged")
        got.pop("materialised")
    for frame in [passed.frame, *(f for _, kept, _, _ in small.values() for f in kept)]:
        frame.unpersist()
    return Result(_as_embedded(got, sources), quarantine, rows_read, valid_rows, duplicates,
                  unassigned, users, unlogged, named)


def _users(ma: MetricAttribution, grouped: Any, assignment: Any, served: Any) -> Any:
    """The per-user data as the embedded engine's (:func:`attrkit.attribution.plan.user_data`),
    kept on Spark: each group's source named, the groups that then coincide added up, each
    metric read off them."""
    from pyspark.sql import functions as F

    source = F.coalesce(F.col("EVENT_ATTRIBUTION_SOURCE"), F.col(SERVED),
                        F.lit(D.UNDEFINED_SOURCE))
    sums = [c for c in grouped.columns if c.startswith("sum:")]
    g = (grouped.withColumn("__attrkit_type", F.upper("EVENT_TYPE"))
         .withColumn("__attrkit_source", source)
         .groupBy("USER_ID", plan.DAY, "__attrkit_type", "__attrkit_source")
         .agg(F.sum("events").alias("events"), *[F.sum(_column(c)).alias(c) for c in sums]))
    parts = []
    for m in ma.metrics:
        # (a sum of no value is 0, as polars adds up nulls)
        value = F.coalesce((F.col("events") if m.function == "samplecount"
                            else _column(f"sum:{plan.summed(m)}")).cast("double"), F.lit(0.0))
        parts.append(g.filter(F.col("__attrkit_type") == m.event_type.upper()).select(
            "USER_ID", F.col(plan.DAY).alias("day"), F.lit(m.name.upper()).alias("metric_name"),
            F.col("__attrkit_source").alias("source"), value.alias("value")))
    values = reduce(lambda a, b: a.unionByName(b), parts)
    assignment = assignment.select("USER_ID", F.col("arm").cast("string").alias("arm"),
                                   F.col("first_served").cast("long").alias("first_served"),
                                   F.col("sources_served").cast("long").alias("sources_served"))
    served = served.select("USER_ID", F.col("day").cast("long").alias("day"), "source",
                           F.col("recommendations").cast("long").alias("recommendations"))
    return SparkUserData(assignment.cache(), values.cache(), served.cache(),
                         metrics=tuple(sorted({m.name.upper() for m in ma.metrics})))


def _user_jobs(users: Any, grouped: Any) -> dict[str, Any]:
    """Jobs for :func:`_all` that fill the per-user caches and count what the health summary
    says of users the log does not know."""
    from pyspark.sql import functions as F

    def unlogged() -> tuple[int, int]:
        unknown = grouped.join(users.assignment.select("USER_ID"), on="USER_ID",
                               how="left_anti")
        by_log = F.col(SERVED).isNotNull() & F.col("EVENT_ATTRIBUTION_SOURCE").isNull()
        r = unknown.agg(F.count_distinct("USER_ID"),
                        F.sum(F.when(by_log, F.col("events")))).first()
        return int(r[0]), int(r[1] or 0)

    return {"materialised": lambda: (users.arms, users.values.count(), users.served.count()),
            "unlogged": unlogged}


GID = "__attrkit_set"


@dataclass(frozen=True)
class OnePass:
    """The events' aggregates of :func:`_one_pass`: one frame, kept, of every grouping set's
    rows, and each set's grouping columns, its ``grouping_id`` and its aggregates."""

    frame: Any
    sets: dict[str, tuple[list[str], int, list[str]]]

    def part(self, name: str) -> Any:
        """One grouping set's rows: its grouping columns and aggregates."""
        from pyspark.sql import functions as F

        keys, gid, values = self.sets[name]
        return self.frame.filter(F.col(GID) == gid).select(*keys, *values)


def _one_pass(ma: MetricAttribution, events: Any, opts: plan.Options, users: bool) -> OnePass:
    """Every aggregate of the events in one read (Spark's grouping sets), kept for the jobs
    after the first: per window, event type, label and source (the report's groups, with the
    unresolved events and those of no known item); the unresolved IDs; without ``dedupe``, the
    row hashes more than one event shares (the rest are distinct events, and are not kept);
    with ``users``, per user, day, event type, label and source. Caching the events instead
    and aggregating them job by job took 33 s where this takes 24 (10M events, local[2])."""
    from pyspark.sql import functions as F

    aggs = _aggregates(ma)
    extra = {"unresolved": F.count("RECOMMENDATION_ID").alias("unresolved")}
    if plan.sum_columns(ma, "items"):
        extra["no_item"] = F.sum(F.col("__attrkit_found").isNull().cast("long")).alias("no_item")
    sets = {"grouped": (list(plan.GROUP_KEYS), [*aggs, *extra]),
            "unresolved_ids": (["RECOMMENDATION_ID"], [])}
    if not opts.dedupe:
        sets["shared"] = ([HASH], [])
    if users:
        sets["user_values"] = (["USER_ID", plan.DAY, *plan.GROUP_KEYS[1:]], list(aggs))
    columns = list(dict.fromkeys(c for keys, _ in sets.values() for c in keys))
    ids = {k: sum(1 << (len(columns) - 1 - i) for i, c in enumerate(columns) if c not in keys)
           for k, (keys, _) in sets.items()}
    out = events.groupingSets([[_column(c) for c in keys] for keys, _ in sets.values()],
                              *[_column(c) for c in columns]).agg(
        *aggs.values(), *extra.values(), F.grouping_id().alias(GID))
    gid = F.col(GID)
    # (a hash one event has, and the resolved events' group of the IDs, are not kept)
    out = out.filter(~(((gid == ids.get("shared", -1)) & (F.col("events") < 2))
                       | ((gid == ids["unresolved_ids"]) & F.col("RECOMMENDATION_ID").isNull())))
    return OnePass(out.cache(), {k: (keys, ids[k], values) for k, (keys, values) in sets.items()})


def _later(passed: OnePass, columns: list[str], valid: dict[str, Any], opts: plan.Options,
           typed: Any) -> tuple[dict[str, Any], tuple[Any, Any, Any] | None]:
    """What is read after the first aggregate, of the events' pass and the log, as jobs for
    :func:`_all`: the unresolved IDs, the log's outputs and (without ``dedupe``) the repeats
    (read again from ``typed``, the interactions typed); and, where the log has users, the
    per-user frames that stay on Spark (:func:`_users`)."""
    outputs = {"unresolved_ids": passed.part("unresolved_ids")}
    outputs |= _log_outputs(valid.get("recommendations"), opts)
    per_user = None
    if "assignment" in outputs:
        per_user = (passed.part("user_values"), outputs.pop("assignment"),
                    outputs.pop("served"))
    jobs = {k: (lambda v=v: _to_polars(v)) for k, v in outputs.items()}
    if not opts.dedupe:
        jobs["duplicates"] = lambda: _duplicates(passed.part("shared"), typed, columns)
    return jobs, per_user


def _bad_rows(read: dict[str, tuple[Any, str]], bad: list[str],
              numeric: dict[str, tuple[str, ...]], opts: plan.Options, repeated: set[str]
              ) -> dict[str, tuple[Any, tuple[tuple[str, str], ...]]]:
    """The datasets with bad rows typed again with each row's raw record, and their rules."""
    casts = _casts(read) if bad else {}
    out = {}
    for name in bad:
        t = _typed(read[name][0], name, numeric[name], opts.timestamp_unit,
                   casts=casts.get(name, {}))
        out[name] = (_with_unique(t.frame, t.unique) if name in repeated else t.frame), t.rules
    return out


def _check_sums(ma: MetricAttribution, read: dict[str, Any], given: dict[str, Any]) -> None:
    """A SUM must read a column that exists and, where the file is typed, holds numbers (as
    the embedded engine checks before reading any row)."""
    from pyspark.sql import types as T

    from attrkit.inputs.readers import frame_source

    for m in ma.metrics:
        if m.function != "sum":
            continue
        name = "items" if m.dataset == "items" else "interactions"
        where = f"metric {m.name!r}: {m.expression}"
        if name not in read:
            raise ConfigError(f"{where} needs the items dataset; pass items= (--items)")
        df, fmt = read[name]
        source = frame_source(given[name]) if fmt == "frame" else given[name]
        types = {f.name: f.dataType for f in df.schema.fields}
        if m.column not in types:
            raise ConfigError(f"{where} reads column {m.column} of {name}, which {source} "
                              f"does not have; columns: "
                              f"{', '.join(c for c in df.columns if c not in (FILE, ROW))}")
        dtype = types[m.column]
        # (a column of no type, all missing, holds missing numbers)
        if not isinstance(dtype, T.NumericType | T.StringType | T.NullType):
            raise ConfigError(f"{where} sums column {m.column} of {name} in {source}, which "
                              f"is {_polars_type(dtype)}, not numeric")
        if fmt in ("parquet", "frame") and isinstance(dtype, T.StringType):
            raise ConfigError(f"{where} sums column {m.column} of {name} in {source}, which "
                              "holds text, not numbers")


def _resolved(ma: MetricAttribution, valid: dict[str, Any], opts: plan.Options,
              broadcast: bool = False) -> tuple[Any, list[str]]:
    """The valid events with their source, item columns and window (exact repeats dropped with
    ``dedupe``), with only the columns :func:`_one_pass` reads, and the columns that make an
    event; the log broadcast to them with ``broadcast``."""
    from pyspark.sql import functions as F

    events = _comparable(valid["interactions"].drop(FILE, ROW))
    columns = events.columns
    for c in ("RECOMMENDATION_ID", "EVENT_ATTRIBUTION_SOURCE"):
        if c not in columns:
            events = events.withColumn(c, F.lit(None).cast("string"))
    if opts.dedupe:
        events = events.dropDuplicates(columns)
    log = valid.get("recommendations")
    if log is not None:
        served = log.select("RECOMMENDATION_ID", F.col("SOURCE").alias(SERVED))
        events = events.join(F.broadcast(served) if broadcast else served,
                             on="RECOMMENDATION_ID", how="left")
    else:
        events = events.withColumn(SERVED, F.lit(None).cast("string"))
    label, rec = F.col("EVENT_ATTRIBUTION_SOURCE"), F.col("RECOMMENDATION_ID")
    unresolved = label.isNull() & rec.isNotNull() & F.col(SERVED).isNull()
    item_cols = plan.sum_columns(ma, "items")
    if item_cols:
        events = events.join(valid["items"].select(
            "ITEM_ID", *[F.col(c).alias(f"__attrkit_item_{c}") for c in item_cols],
            F.lit(True).alias("__attrkit_found")), on="ITEM_ID", how="left")
    # What the aggregates read, and no more. An event's ID is kept where it is unresolved, and
    # says that it is.
    kept = [_window(F.col("TIMESTAMP"), opts.window_seconds, opts.window_origin)
            .alias(plan.WINDOW), *plan.GROUP_KEYS[1:],
            F.when(unresolved, rec).alias("RECOMMENDATION_ID"),
            *dict.fromkeys(plan.summed(m) for m in ma.metrics if m.function == "sum")]
    if item_cols:
        kept.append("__attrkit_found")
    if log is not None and "USER_ID" in log.columns:  # (each user's days)
        kept += ["USER_ID", _window(F.col("TIMESTAMP"), 86400, 0).alias(plan.DAY)]
    if not opts.dedupe:  # for the exact repeats (:func:`_duplicates`)
        kept.append(_row_hash(columns).alias(HASH))
    return events.select(*kept), columns


def _log_outputs(log: Any, opts: plan.Options) -> dict[str, Any]:
    """What the log gives: exposure; with users, traffic (with the lists served to no user),
    assignment and recommendations served (as :func:`attrkit.attribution.plan.log_user_plans`)."""
    from pyspark.sql import functions as F

    if log is None:
        return {}
    out = {"exposure": log.groupBy(
        _window(F.col("TIMESTAMP"), opts.window_seconds, opts.window_origin).alias("timestamp"),
        F.col("SOURCE").alias("source")).agg(F.count(F.lit(1)).cast("double").alias("exposure"))}
    if "USER_ID" not in log.columns:
        return out
    day, users = _window(F.col("TIMESTAMP"), 86400, 0), F.col("USER_ID")
    out["traffic"] = log.groupBy(F.col("SOURCE").alias("source")).agg(
        (F.count_distinct(users) + F.max(users.isNull().cast("long"))).alias("users"),
        F.count(F.lit(1)).alias("recommendations"),
        F.sum(users.isNull().cast("long")).alias("unassigned"))
    known = log.filter(users.isNotNull())
    out["assignment"] = known.groupBy("USER_ID").agg(
        F.min_by("SOURCE", F.struct("TIMESTAMP", "SOURCE")).alias("arm"),
        F.min("TIMESTAMP").alias("first_served"),
        F.count_distinct("SOURCE").alias("sources_served"))
    out["served"] = known.groupBy("USER_ID", day.alias("day"), F.col("SOURCE").alias(
        "source")).agg(F.count(F.lit(1)).alias("recommendations"))
    return out


def _comparable(df: Any) -> Any:
    """``df`` with each column that holds a map (at any depth) as its JSON text, which Spark can
    hash, group and compare, as it cannot a map. Equal where the embedded engine's values are
    equal: a map is a list of entries there, compared in order, as its JSON is written."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    def has_map(t: Any) -> bool:
        if isinstance(t, T.MapType):
            return True
        if isinstance(t, T.ArrayType):
            return has_map(t.elementType)
        return isinstance(t, T.StructType) and any(has_map(f.dataType) for f in t.fields)

    maps = {f.name: F.to_json(_column(f.name)) for f in df.schema.fields if has_map(f.dataType)}
    return df.withColumns(maps) if maps else df


def _row_hash(columns: list[str]) -> Any:
    """A 64-bit hash of an event's columns."""
    from pyspark.sql import functions as F

    return F.xxhash64(*[_column(c) for c in columns])


def _duplicates(shared: Any, typed: Any, columns: list[str]) -> int:
    """Rows that exactly repeat another: rows whose hash no other row shares are distinct
    (``shared``: the hashes more than one valid event has, of the events' pass); only where
    one is shared are the rows read again and the valid ones compared whole (as the embedded
    engine does). ``typed``: the interactions typed, with each row's HIT, which is looked at
    only for the rows that share a hash (Spark works out a column only when a row needs it; a
    filter on it would be moved before the join)."""
    from pyspark.sql import functions as F

    if shared.isEmpty():
        return 0
    rows = _comparable(typed.select(*[_column(c) for c in columns], HIT)).withColumn(
        HASH, _row_hash(columns))
    sharing = rows.join(F.broadcast(shared), on=HASH)
    copies = sharing.groupBy(*[_column(c) for c in columns]).agg(
        F.count(F.when(F.col(HIT).isNull(), 1)).alias("__attrkit_n"))
    return int(copies.agg(F.sum(F.greatest(F.col("__attrkit_n") - 1, F.lit(0)))
                          ).first()[0] or 0)


def _window(ts: Any, length: int, origin: int) -> Any:
    """The window start of a whole-second timestamp (floor division, as the embedded engine)."""
    from pyspark.sql import functions as F

    return (F.floor((ts - origin) / length).cast("long") * length + origin).cast("long")


def _as_decimal(x: Any) -> Any:
    """:func:`attrkit.attribution.plan.as_decimal` on Spark: the whole part (at most 1e18) as a
    long, the fraction rounded half to even at 1e-9 (``bround``), each a decimal narrow enough
    that their sum keeps nine places (a sum of two DECIMAL(38, 9) would drop one)."""
    from pyspark.sql import functions as F

    whole = x.cast("long")
    fraction = F.bround((x - whole.cast("double")) * 1e9, 0) / 1e9
    return (whole.cast("decimal(28,9)") + fraction.cast("decimal(10,9)")).cast("decimal(38,9)")


def _aggregates(ma: MetricAttribution) -> dict[str, Any]:
    """What each group needs, as :func:`attrkit.attribution.plan.metric_aggregates` declares:
    the count, and per ``SUM`` column its exact sum (decimal, 9 places) and missing values."""
    from pyspark.sql import functions as F

    out = {"events": F.count(F.lit(1)).alias("events")}
    for m in ma.metrics:
        if m.function == "sum":
            col = plan.summed(m)
            out[f"sum:{col}"] = F.sum(_as_decimal(F.col(col).cast("double"))).alias(f"sum:{col}")
            out[f"null:{col}"] = F.sum(F.col(col).isNull().cast("long")).alias(f"null:{col}")
    return out




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


def _quarantine(typed: dict[str, tuple[Any, tuple[tuple[str, str], ...]]], read: dict[str, Any],
                opts: plan.Options, counts: dict[str, int]) -> SparkQuarantine:
    """Every dataset's bad rows (its frame with RECORD, and its rules) in the quarantine's
    shape, kept on Spark: Parquet rows numbered within their file; CSV lines blank (Spark reads
    a file in splits and cannot number them exactly), in the order they were read."""
    from pyspark.sql import functions as F

    frames = {}
    for name, (df, rules) in typed.items():
        fmt = read[name][1]
        at = F.col(HIT) + 1
        frames[name] = df.filter(F.col(HIT).isNotNull()).select(
            F.lit(name).alias("DATASET"), F.col(FILE).alias("FILE"),
            F.lit(None).cast("long").alias("LINE"),
            (F.col(ROW) if fmt != "csv" else F.lit(None).cast("long")).alias("ROW"),
            F.element_at(F.array(*[F.lit(c) for c, _ in rules]), at).alias("COLUMN"),
            F.element_at(F.array(*[F.lit(t) for _, t in rules]), at).alias("RULE"),
            F.col(RECORD).alias("_raw"), F.col(ROW).alias("_pos"),
            F.monotonically_increasing_id().alias("_seq"))  # (read order, for CSV)
    return SparkQuarantine(frames, {k: counts[k] for k in frames}, opts.quarantine)


class SparkQuarantine:
    """The bad rows of a Spark run, kept on Spark: counted while the inputs were read, written
    by the executors (:meth:`write_csv`, :meth:`write_parts`), brought to the driver only when
    asked (:meth:`collect`, :meth:`first`). Each row is described (VALUE, RECORD) by the
    embedded engine's own functions, so that its text is the same on both engines; writing
    runs them on the executors (Python workers with attrkit installed)."""

    def __init__(self, frames: dict[str, Any], counts: dict[str, int], record: bool) -> None:
        self.frames, self.counts, self.record = frames, dict(counts), record
        self._collected: pl.DataFrame | None = None

    @property
    def height(self) -> int:
        """Bad rows, all datasets."""
        return sum(self.counts.values())

    def _sorted(self) -> list[Any]:
        """Each dataset's bad rows in input order (by file, row or read order)."""
        from pyspark.sql import functions as F

        return [self.frames[k].orderBy(*[F.col(c).asc_nulls_last()
                                         for c in ("FILE", "_pos", "_seq")])
                for k in self.frames if self.counts[k]]

    def first(self) -> dict[str, Any] | None:
        """The first bad row (in input order), as a quarantine row; None without one."""
        if not self.height:
            return None
        if self._collected is not None:
            return self._collected.row(0, named=True)
        return _described_raw(_to_polars(self._sorted()[0].limit(1)), self.record).row(
            0, named=True)

    def collect(self) -> pl.DataFrame:
        """Every bad row on the driver, in :data:`~attrkit.frames.QUARANTINE_SCHEMA` (kept
        once collected)."""
        from attrkit.frames import QUARANTINE_SCHEMA

        if self._collected is None:
            parts = [_described_raw(_to_polars(f), self.record) for f in self._sorted()]
            self._collected = pl.concat(parts) if parts else pl.DataFrame(
                schema=QUARANTINE_SCHEMA)
        return self._collected

    def _lines(self, header_each_part: bool) -> Any:
        """The rows as the embedded engine's CSV text, made on the executors: one text value
        per Arrow batch, in order (each dataset sorted, then mapped, which keeps the order;
        the datasets' parts one after another)."""
        record, header = self.record, ",".join(_columns())

        def to_csv(batches: Any) -> Any:  # (per partition, on an executor)
            import pyarrow as pa

            from attrkit.attribution.spark import _csv_text

            first = header_each_part
            for batch in batches:
                text = _csv_text(batch, record)
                if first and text:
                    text, first = header + "\n" + text, False
                if text:
                    yield pa.RecordBatch.from_arrays([pa.array([text[:-1]], pa.string())],
                                                     names=["value"])

        return reduce(lambda a, b: a.unionAll(b),
                      [f.mapInArrow(to_csv, "value string") for f in self._sorted()])

    def write_parts(self, folder: str) -> None:
        """Written by the executors into ``folder`` (passed to Spark untouched: a local path,
        ``s3a://``, ``abfss://``, ``gs://``, ``hdfs://``): CSV part files in order, each with
        the header. Replaces what the folder held."""
        if self.height:
            with _on_the_executors():
                self._lines(True).write.mode("overwrite").option("lineSep", "\n").text(folder)

    def write_csv(self, path: str | os.PathLike[str]) -> None:
        """One CSV file at the local ``path``, the embedded engine's bytes (CSV lines blank):
        the executors write the rows into a scratch folder beside it, which the driver joins
        (copying bytes, not rows). The executors must see the driver's file system (a local
        master, a local Connect server); on a cluster, :meth:`write_parts` to shared storage."""
        import shutil
        import tempfile

        target = Path(path)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.stem}.parts-", dir=target.parent))
        try:
            if self.height:
                with _on_the_executors():
                    self._lines(False).write.mode("overwrite").option("lineSep", "\n").text(
                        str(scratch / "rows"))
            if self.height and not (scratch / "rows" / "_SUCCESS").is_file():
                raise ConfigError(
                    f"{target.name}: the executors wrote the quarantine where this machine "
                    "cannot see it (a cluster, or a Connect server elsewhere); write it to "
                    "shared storage instead: --quarantine-out, or write_quarantine(..., "
                    "parts=True)")
            with open(target, "wb") as out:
                out.write((",".join(_columns()) + "\n").encode())
                for part in sorted((scratch / "rows").glob("part-*")):
                    with open(part, "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 20)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def _on_the_executors() -> Iterator[None]:
    """Python code of attrkit's run on the executors: where they cannot import it, one line
    that says what to install."""
    try:
        yield
    except Exception as exc:  # (Spark's PythonException, raised through Py4J or Connect)
        missing = re.search(r"No module named '([^']+)'", str(exc))
        if missing is None:
            raise
        raise ConfigError(
            f"the quarantine's rows are written by the executors with attrkit's own functions, "
            f"and they cannot import {missing.group(1)}: install attrkit (with its "
            "dependencies) where the executors run (a cluster library; Glue's "
            "--additional-python-modules), or read the rows on the driver with "
            "result.quarantine") from None


def _columns() -> tuple[str, ...]:
    """The quarantine's columns, in order (:data:`~attrkit.frames.QUARANTINE_SCHEMA`)."""
    from attrkit.frames import QUARANTINE_SCHEMA

    return tuple(QUARANTINE_SCHEMA)


def _described_raw(bad: pl.DataFrame, record: bool) -> pl.DataFrame:
    """Bad rows as Spark gives them (their raw values in a struct) described as the embedded
    engine describes them (:func:`_described`), in the quarantine's schema."""
    from attrkit.frames import QUARANTINE_SCHEMA

    return _described(bad, record).drop("_pos", "_seq").cast(dict(QUARANTINE_SCHEMA))


def _csv_text(batch: Any, record: bool) -> str:
    """A batch of bad rows as the embedded engine's CSV lines (no header)."""
    frame = _described_raw(pl.from_arrow(batch), record)
    return frame.write_csv(include_header=False, line_terminator="\n")
