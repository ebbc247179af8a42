"""The three datasets' schemas, and the row rules that turn raw columns into typed ones.

Every rule is a polars expression, so checking stays inside the lazy plan: each row gets the
first rule it breaks in ``__attrkit_column`` / ``__attrkit_rule`` (null when it breaks none)
and the offending raw value in ``__attrkit_value``. What happens to a bad row (stop, or
quarantine) is the caller's choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from attrkit import defaults as D

Kind = Literal["id", "text", "label", "timestamp", "number"]
DatasetName = Literal["interactions", "items", "recommendations", "user_metadata"]


@dataclass(frozen=True)
class Column:
    """One column's rules.

    ``id``: a non-empty string of at most ``max_len`` characters (integers are accepted and turned
    into text). ``text``: any string; empty means absent. ``label``: printable ASCII, not blank.
    ``timestamp``: Unix epoch seconds. ``number``: a finite float.
    """

    name: str
    kind: Kind
    required: bool = False
    max_len: int = D.MAX_ID_LENGTH
    unique: bool = False


INTERACTIONS = (
    Column("USER_ID", "id", required=True),
    Column("ITEM_ID", "id", required=True),
    Column("TIMESTAMP", "timestamp", required=True),
    Column("EVENT_TYPE", "id", required=True),
    Column("EVENT_VALUE", "number"),
    Column("IMPRESSION", "text"),
    Column("RECOMMENDATION_ID", "id"),
    Column("EVENT_ATTRIBUTION_SOURCE", "label", max_len=D.MAX_ATTRIBUTION_SOURCE_LENGTH),
)
ITEMS = (Column("ITEM_ID", "id", required=True, unique=True),)
RECOMMENDATIONS = (
    Column("RECOMMENDATION_ID", "id", required=True, unique=True),
    Column("SOURCE", "id", required=True, max_len=D.MAX_ATTRIBUTION_SOURCE_LENGTH),
    Column("TIMESTAMP", "timestamp", required=True),
    Column("USER_ID", "id"),
    Column("ITEM_IDS", "text"),
)
USER_METADATA = (Column("USER_ID", "id", required=True, unique=True),)
"""Personalize's Users dataset: ``USER_ID`` and metadata columns (segments of a comparison)."""
SCHEMAS: dict[str, tuple[Column, ...]] = {
    "interactions": INTERACTIONS, "items": ITEMS, "recommendations": RECOMMENDATIONS,
    "user_metadata": USER_METADATA,
}

_ISO = r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}.*)?$"
_NOT_PRINTABLE_ASCII = r"[^\x20-\x7E]"
_BLANK = r"^\s*$"  # Unicode white space, as str.strip_chars() strips


_MILLISECONDS = ("looks like milliseconds; TIMESTAMP must be Unix epoch seconds "
                 "(or pass timestamp_unit='ms'; on the command line --timestamp-unit ms, "
                 "for a report -p timestamp_unit ms)")


_SECONDS = ("looks like seconds; with timestamp_unit='ms' TIMESTAMP must be Unix epoch "
            "milliseconds (for seconds leave it out: on the command line --timestamp-unit s, for "
            "a report -p timestamp_unit s)")
SECONDS_AS_MS = (10**8, D.MAX_PLAUSIBLE_SECONDS)
"""Milliseconds in this range (1970-01-02 to 1973-03-03) are plausible seconds (1973 to 5138):
seconds read as milliseconds by mistake, which would put every event in early 1970."""

ROUNDED = r"^[+-]?[0-9]*(?:\.([0-9]*))?[eE]\+([0-9]+)$"
"""A number in scientific notation with a plus sign (``1.76457E+09``, as a spreadsheet saves a
long number, or C's ``%e``): group 1 holds the digits after the point, group 2 the exponent. A
time written with fewer digits after the point than its exponent was rounded (Java's ``1.7E9``,
the shortest text of its double, has no sign and is exact)."""


def rounded_words(unit: D.TimestampUnit) -> str:
    """The rule a time rounded in scientific notation breaks (both engines say it)."""
    epoch = "Unix epoch milliseconds" if unit == "ms" else "Unix epoch seconds"
    return (f"is rounded in scientific notation, as a spreadsheet saves a long number, and has "
            f"lost its last digits; TIMESTAMP must be {epoch} written in full (format the "
            "column as a whole number before saving)")


def _rounded(trimmed: pl.Expr) -> pl.Expr:
    """A time's text (white space trimmed) rounded in scientific notation (:data:`ROUNDED`):
    the pattern is tried only on text holding a plus sign."""
    candidate = pl.when(trimmed.str.contains("+", literal=True)).then(trimmed)
    exponent = candidate.str.extract(ROUNDED, 2).cast(pl.Int64, strict=False)
    return exponent.is_not_null() & (
        candidate.str.extract(ROUNDED, 1).str.len_chars().fill_null(0) < exponent)


def timestamp_words(unit: D.TimestampUnit) -> tuple[str, str, str]:
    """The rules a TIMESTAMP that is not a time breaks, in ``unit``'s words: an ISO date-time,
    not a number, out of range (both engines say these)."""
    epoch = "Unix epoch milliseconds" if unit == "ms" else "Unix epoch seconds"
    return (f"looks like an ISO 8601 date-time; TIMESTAMP must be {epoch}",
            f"must be {epoch} (a number)", f"is out of range for {epoch}")


def _too_long(value: pl.Expr, max_len: int) -> pl.Expr:
    """More than ``max_len`` characters. A string has at least as many bytes as characters, so
    characters are counted only where the byte length (free to read) exceeds the limit."""
    return pl.when(value.str.len_bytes() > max_len).then(value).str.len_chars() > max_len


def _castable(dtype: pl.DataType) -> bool:
    """Whether values of ``dtype`` can be read as text or numbers: text, numbers, booleans,
    dates and categories; not lists, structs, arrays, durations or times, nor raw bytes (whose
    cast to text fails outright on bytes that are not UTF-8)."""
    return (dtype == pl.String or dtype.is_numeric() or dtype == pl.Boolean
            or isinstance(dtype, pl.Datetime | pl.Date | pl.Categorical | pl.Enum))


def shown(name: str | pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Column ``name`` (or an expression) as text, for an error message or the quarantine: raw
    bytes as hex, lists and structs as JSON."""
    col = pl.col(name) if isinstance(name, str) else name
    if dtype == pl.Binary:
        return pl.lit("0x") + col.bin.encode("hex")
    if dtype.is_nested():
        return pl.struct(col.alias("v")).struct.json_encode().str.slice(5).str.head(-1)
    if not _castable(dtype) or isinstance(dtype, pl.Datetime):
        # durations, times; date-times as stored (a date-time beyond the calendar cannot be
        # written out as one)
        return col.cast(pl.Int64, strict=False).cast(pl.String)
    return col.cast(pl.String)


def raw_record(columns: dict[str, pl.DataType], of: Any = None) -> pl.Expr:
    """A row's raw values as one JSON object (the quarantine's RECORD): bytes as hex and
    date-times as stored, which JSON cannot hold as they are. ``of`` gives each column's
    expression (default: the column itself)."""
    of = of or pl.col
    return pl.struct([shown(of(n), t).alias(n) if t == pl.Binary or isinstance(t, pl.Datetime)
                      else of(n).alias(n) for n, t in columns.items()]).struct.json_encode()


def _first_hit(hits: list[pl.Expr], values: list[pl.Expr]) -> pl.Expr:
    """The value of the first rule broken (null where that value is missing, not the next
    rule's: a coalesce would skip it)."""
    if not hits:
        return pl.lit(None, dtype=pl.String)
    chain = pl.when(hits[0]).then(values[0])
    for hit, value in zip(hits[1:], values[1:], strict=True):
        chain = chain.when(hit).then(value)
    return chain.otherwise(pl.lit(None, dtype=pl.String))


BLANK_NUMBER = r"^[ \t]*$"
"""A number's text that is a missing value: empty, or spaces and tabs only (as polars' CSV
reader parses a number column)."""


def _rules_for(
    col: Column, dtype: pl.DataType, *, timestamp_unit: D.TimestampUnit
) -> tuple[pl.Expr, list[tuple[pl.Expr, str]]]:
    """The typed value of ``col`` and its ``(broken, rule)`` pairs, in the order they are checked."""
    raw = pl.col(col.name)
    if col.kind not in ("id", "text", "label") and dtype == pl.String:
        # an empty number, or one of spaces and tabs only, is a missing one (a quoted "" in a
        # CSV file read as text), as when the file's numbers are parsed while reading
        raw = pl.when(~raw.str.contains(BLANK_NUMBER)).then(raw)
    rules: list[tuple[pl.Expr, str]] = []
    if col.required:
        rules.append((raw.is_null(), "required value is missing"))

    if not _castable(dtype):  # lists, structs, binary: no value to read, each row says so
        kind = "text" if col.kind in ("id", "text", "label") else "a number"
        rules.append((raw.is_not_null(), f"must be {kind}, not {dtype}"))
        cast = {"number": pl.Float64, "timestamp": pl.Int64}.get(col.kind, pl.String)
        return pl.lit(None, dtype=cast).alias(col.name), rules

    if col.kind in ("id", "text", "label"):
        if dtype.is_integer() or isinstance(dtype, pl.Categorical | pl.Enum):
            # (a category is text: pandas' category, a Parquet dictionary polars reads back as one)
            value = raw.cast(pl.String)
        elif dtype == pl.String:
            value = raw
        else:
            value = raw.cast(pl.String)
            rules.append((raw.is_not_null(), f"must be text, not {dtype}"))
        if col.kind == "id":
            rules.append((value.str.contains(_BLANK), "must not be empty or blank"))
            rules.append((_too_long(value, col.max_len), f"longer than {col.max_len} characters"))
        elif col.kind == "label":
            # An empty label means "no label" (the service's rule 1 needs it present and not empty).
            value = pl.when(value == "").then(None).otherwise(value)
            rules.append((value.str.contains(_BLANK), "must not be blank"))
            rules.append((_too_long(value, col.max_len), f"longer than {col.max_len} characters"))
            rules.append((value.str.contains(_NOT_PRINTABLE_ASCII), "must be printable ASCII"))
        else:
            value = pl.when(value == "").then(None).otherwise(value)
        return value, rules

    # timestamp and number: parse to float first.
    if dtype == pl.String:
        parsed = raw.str.strip_chars().cast(pl.Float64, strict=False)
        unparsed = raw.is_not_null() & parsed.is_null()
        if col.kind == "timestamp":
            iso, not_a_number, _ = timestamp_words(timestamp_unit)
            rules.append((unparsed & raw.str.contains(_ISO), iso))
            rules.append((unparsed, not_a_number))
            rules.append((_rounded(raw.str.strip_chars()), rounded_words(timestamp_unit)))
        else:
            rules.append((unparsed, "must be a number"))
    elif dtype.is_integer() and col.kind == "timestamp":
        # Whole seconds already: range checks only, no round trip through floats.
        limit = D.MAX_PLAUSIBLE_SECONDS * (1000 if timestamp_unit == "ms" else 1)
        outside = (raw >= limit) | (raw <= -limit)  # not abs(): abs(-2**63) overflows
        if timestamp_unit == "s":
            far = (raw >= limit * 1000) | (raw <= -limit * 1000)
            rules.append((outside & ~far, _MILLISECONDS))
        else:
            rules.append(((raw >= SECONDS_AS_MS[0]) & (raw < SECONDS_AS_MS[1]), _SECONDS))
        rules.append((outside, timestamp_words(timestamp_unit)[2]))
        seconds = raw.floordiv(1000) if timestamp_unit == "ms" else raw
        return seconds.cast(pl.Int64, strict=False), rules  # out of range: null, and a rule
    elif dtype.is_numeric():
        parsed = raw.cast(pl.Float64)
    elif isinstance(dtype, pl.Datetime) and col.kind == "timestamp":
        # From the stored integer: converting a date-time beyond the calendar's range fails.
        per_second = {"ms": 1e3, "us": 1e6, "ns": 1e9}[dtype.time_unit or "us"]
        parsed = raw.cast(pl.Int64).cast(pl.Float64) / per_second * (
            1000.0 if timestamp_unit == "ms" else 1.0)
    else:
        parsed = raw.cast(pl.Float64, strict=False)
        rules.append((raw.is_not_null(), f"must be a number, not {dtype}"))
    rules.append((parsed.is_nan() | parsed.is_infinite(), "must be a finite number"))
    if col.kind == "number":
        # Sums are exact to 9 decimals in 38 digits; a value this large would overflow them.
        rules.append((parsed.abs() > D.MAX_SUMMED_VALUE,
                      f"larger than {D.MAX_SUMMED_VALUE:.0e} in magnitude; too large to sum"))
        return parsed, rules

    seconds = parsed / 1000.0 if timestamp_unit == "ms" else parsed
    limit = D.MAX_PLAUSIBLE_SECONDS
    if timestamp_unit == "s":
        rules.append(((parsed.abs() >= limit) & (parsed.abs() < limit * 1000), _MILLISECONDS))
    elif not isinstance(dtype, pl.Datetime):  # (a date-time has its own unit)
        rules.append(((parsed >= SECONDS_AS_MS[0]) & (parsed < SECONDS_AS_MS[1]), _SECONDS))
    rules.append((seconds.abs() >= limit, timestamp_words(timestamp_unit)[2]))
    # Fractional seconds (PutEvents sentAt) fall into the window that contains them.
    return seconds.floor().cast(pl.Int64, strict=False), rules


def coerce(
    lf: pl.LazyFrame,
    dataset: DatasetName,
    *,
    numeric: tuple[str, ...] = (),
    timestamp_unit: D.TimestampUnit = "s",
    keep_other_columns: bool = False,
    overrides: tuple[Column, ...] = (),
    record: bool = False,
    unique: bool = True,
) -> pl.LazyFrame:
    """Type a raw frame by its dataset's schema and mark each row's first broken rule.

    Args:
        lf: raw columns (strings from CSV/JSONL, typed from Parquet/frames) plus ``__attrkit_pos``.
        dataset: which schema applies.
        numeric: extra columns that must be numbers (those a ``SUM`` metric reads).
        timestamp_unit: ``"s"`` (the service's unit) or ``"ms"`` to convert.
        keep_other_columns: keep columns the schema does not name (used for duplicate checks).
        overrides: columns whose rules replace the schema's (PutEvents' own limits).
        record: add ``__attrkit_record``, the raw row as JSON, for rows that break a rule (quarantine).
        unique: check that the columns that must be unique are (``False`` leaves it to the
            caller, see :func:`may_repeat`).

    Returns:
        The schema's columns present in ``lf`` (typed), the numeric columns, ``__attrkit_pos``,
        ``__attrkit_column``, ``__attrkit_rule``, ``__attrkit_value`` describing the first
        broken rule or null, and ``__attrkit_bad``
        (any rule broken). Filter on ``__attrkit_bad``: it is far cheaper than the descriptions, which a
        lazy plan then computes only for the rows it keeps.
    """
    schema = lf.collect_schema()
    replaced = {c.name: c for c in overrides}
    spec = [replaced.get(c.name, c) for c in SCHEMAS[dataset]]
    named = {c.name for c in spec}
    spec += [Column(n, "number") for n in numeric if n not in named]
    selected: list[pl.Expr] = []
    columns: list[pl.Expr] = []
    rules: list[pl.Expr] = []
    values: list[pl.Expr] = []
    hits: list[pl.Expr] = []
    for col in spec:
        if col.name not in schema:
            continue
        value, col_rules = _rules_for(col, schema[col.name], timestamp_unit=timestamp_unit)
        if col.unique and unique:
            later = ~value.is_first_distinct()
            col_rules.append((value.is_not_null() & later,
                              f"duplicate {col.name}; each must appear once"))
        selected.append(value.alias(col.name))
        for broken, rule in col_rules:
            hit = broken.fill_null(False)
            hits.append(hit)
            columns.append(pl.when(hit).then(pl.lit(col.name)))
            rules.append(pl.when(hit).then(pl.lit(rule)))
            values.append(shown(col.name, schema[col.name]))
    keep = [n for n in schema if n not in {c.name for c in spec} and n != "__attrkit_pos"]
    extra = [pl.col(n) for n in keep] if keep_other_columns else []
    null = pl.lit(None, dtype=pl.String)
    rule = pl.coalesce(rules) if rules else null
    record_of = raw_record({n: t for n, t in schema.items() if n != "__attrkit_pos"})
    return lf.select(
        *selected,
        *extra,
        pl.col("__attrkit_pos"),
        (pl.coalesce(columns) if columns else null).alias("__attrkit_column"),
        rule.alias("__attrkit_rule"),
        (pl.any_horizontal(hits) if hits else pl.lit(False)).alias("__attrkit_bad"),
        _first_hit(hits, values).alias("__attrkit_value"),
        *([pl.when(rule.is_not_null()).then(record_of).alias("__attrkit_record")] if record else []),
    )


def may_repeat(values: pl.Series) -> bool:
    """Whether some non-null value may occur twice. Distinct 64-bit hashes mean distinct values,
    so this is exact when it says no, and far cheaper than comparing the values; only a yes
    (a repeat, or a rare collision) needs the exact check of ``coerce(..., unique=True)``."""
    present = values.drop_nulls()
    return present.hash().n_unique() < present.len()


def missing_required(dataset: DatasetName, columns: list[str]) -> list[str]:
    """Required columns of ``dataset`` absent from ``columns``."""
    return [c.name for c in SCHEMAS[dataset] if c.required and c.name not in columns]
