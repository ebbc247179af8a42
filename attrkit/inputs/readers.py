"""Where data comes from and goes to: files, frames, and atomic writes.

:func:`load` turns a path (CSV, Parquet, PutEvents JSON Lines) or a pandas/polars frame into a
:class:`Dataset`: raw columns plus ``__attrkit_pos`` (the line in a text file, the row
elsewhere), still lazy.
Typing and row rules are :mod:`attrkit.inputs.schema`'s job. Damage a fast reader cannot get past
(malformed CSV lines, bytes that are not UTF-8, JSON that does not parse) is found by a slower,
line-by-line pass that names the line; see :meth:`Dataset.repair`.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import polars as pl

from attrkit import defaults as D
from attrkit import storage
from attrkit.errors import InputError, has_surrogate, json_problem
from attrkit.frames import RESERVED_PREFIX, is_pandas, iso_seconds
from attrkit.inputs.schema import Column, DatasetName, missing_required

Format = Literal["csv", "parquet", "jsonl", "frame"]
_SUFFIXES: dict[str, Format] = {
    ".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}
_CSV_TYPES: dict[str, dict[str, pl.DataType]] = {
    "interactions": {"TIMESTAMP": pl.Int64, "EVENT_VALUE": pl.Float64},
    "recommendations": {"TIMESTAMP": pl.Int64},
}
_BROKEN_SCHEMA = {"__attrkit_pos": pl.Int64, "__attrkit_column": pl.String,
                  "__attrkit_rule": pl.String, "__attrkit_value": pl.String}

# PutEvents limits the service enforces on its own API.
_PUT_EVENTS_OVERRIDES = (
    Column("ITEM_ID", "id"),  # itemId is optional in PutEvents
    Column("RECOMMENDATION_ID", "id", max_len=D.MAX_PUT_EVENTS_RECOMMENDATION_ID_LENGTH),
)


@dataclass(frozen=True)
class Dataset:
    """One loaded input, not yet typed or checked row by row.

    Attributes:
        name: ``interactions``, ``items`` or ``recommendations``.
        source: the file path, or ``<pandas.DataFrame>`` / ``<polars.DataFrame>``.
        format: ``csv``, ``parquet``, ``jsonl`` or ``frame``.
        raw: the raw columns plus ``__attrkit_pos`` (Int64: 1-based line for text files,
            0-based row else).
        broken: rows that could not be read at all (``__attrkit_pos``, ``__attrkit_column``,
            ``__attrkit_rule``, ``__attrkit_value``).
        overrides: column rules that replace the schema's for this format.

    Example:
        >>> import polars as pl
        >>> from attrkit import load
        >>> ds = load("interactions", pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i"],
        ...                                         "TIMESTAMP": [1], "EVENT_TYPE": ["click"]}))
        >>> ds.name, ds.format, ds.position
        ('interactions', 'frame', 'row')
    """

    name: DatasetName
    source: str
    format: Format
    raw: pl.LazyFrame
    broken: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_BROKEN_SCHEMA))
    overrides: tuple[Column, ...] = ()
    repaired: bool = False
    location: str | None = None
    """The local file behind ``source`` when it is not the same (a downloaded S3 object)."""
    text: pl.LazyFrame | None = None
    """For CSV: the same file read as text, used when the typed read meets a value it cannot
    parse, so that the row rules can name the line, the column and the rule."""
    counted: pl.LazyFrame | None = None
    """For CSV: the file read without dropping its empty lines (see
    :func:`_without_empty_lines`), whose rows polars counts without parsing them: at least as
    many as ``raw`` has, for sizing a run."""
    parts: tuple[Dataset, ...] = ()
    """For an input of several files: each file's own dataset. ``raw`` is then their rows in
    file order, and ``__attrkit_pos`` holds the file's index above :data:`PART_BITS` bits and
    the line or row within the file below them, so positions stay unique and ordered."""

    def file_of(self, pos: int | None) -> Dataset:
        """The file (a part, or this dataset) that position ``pos`` is in."""
        return self.parts[pos >> PART_BITS] if self.parts and pos is not None else self

    def file_name(self) -> pl.Expr:
        """Each row's file, from ``__attrkit_pos``."""
        if not self.parts:
            return pl.lit(self.source, dtype=pl.String)
        return (pl.col("__attrkit_pos") // (1 << PART_BITS)).replace_strict(
            list(range(len(self.parts))), [p.source for p in self.parts], return_dtype=pl.String)

    def position_in_file(self) -> pl.Expr:
        """Each row's line or row number within its file, from ``__attrkit_pos``."""
        pos = pl.col("__attrkit_pos")
        return pos % (1 << PART_BITS) if self.parts else pos

    def named(self, source: str) -> Dataset:
        """The file of this input called ``source`` (this dataset when it is one file)."""
        return next((p for p in self.parts if p.source == source), self)

    def lacking(self, column: str) -> str | None:
        """The first file of this input without ``column`` (parts may differ, as data lakes'
        Parquet parts do), or ``None``."""
        files = self.parts or (self,)
        return next((p.source for p in files if column not in p.columns), None)

    @property
    def position(self) -> Literal["line", "row"]:
        """Whether ``__attrkit_pos`` is a line number (CSV, JSONL) or a row number (Parquet, frames)."""
        return "line" if self.format in ("csv", "jsonl") else "row"

    @property
    def rows(self) -> pl.LazyFrame:
        """What to count the rows of for sizing a run: ``counted`` where there is one (a CSV
        file's empty lines too, counted without parsing), else ``raw``."""
        return self.raw if self.counted is None else self.counted

    @property
    def columns(self) -> list[str]:
        """The dataset's own column names."""
        return [c for c in self.raw.collect_schema() if c != "__attrkit_pos"]

    def error(self, pos: int | None, rule: str, column: str | None = None) -> InputError:
        """An :class:`InputError` pointing at ``pos`` in this dataset, naming the column as the
        file does (a PutEvents field such as ``sentAt``, not attrkit's ``TIMESTAMP``)."""
        if self.parts and pos is not None:
            return self.file_of(pos).error(pos % (1 << PART_BITS), rule, column)
        if self.format == "jsonl" and column in _JSON_FIELDS:
            rule = rule.replace(column, _JSON_FIELDS[column])
            column = _JSON_FIELDS[column]
        if self.position == "line":
            return InputError(self.source, rule, line=pos, column=column)
        return InputError(self.source, rule, row=pos, column=column)

    def repair(self) -> Dataset | None:
        """Find rows a fast reader cannot read; return the dataset without them, or ``None``.

        Only CSV files are repaired this way (JSON Lines are always read line by line). A CSV
        file is first re-read as text (when the typed read failed on a value); if that fails too,
        it is read line by line, and the returned dataset holds the readable rows in memory and
        the unreadable ones in ``broken``.
        """
        if self.parts:
            fixed = [p.repair() for p in self.parts]
            if not any(fixed):
                return None
            return combine(self.name, self.source,
                           tuple(f or p for f, p in zip(fixed, self.parts, strict=True)))
        if self.text is not None:
            return replace(self, raw=self.text, text=None)
        if self.format != "csv" or self.repaired:
            return None
        # Even when no line is broken, the line-by-line read is the one to keep: the fast reader
        # and Python's csv module disagreed about the file (a stray quote inside a field).
        good, broken = _read_csv_by_line(Path(self.location or self.source))
        return replace(self, raw=good.lazy(), broken=broken, repaired=True, counted=None)


def load(
    name: DatasetName,
    data: str | os.PathLike[str] | pl.DataFrame | pl.LazyFrame | Any,
    *,
    format: Format | None = None,
) -> Dataset:
    """Load one dataset from a path or a frame.

    Args:
        name: ``interactions``, ``items`` or ``recommendations``.
        data: a path (``.csv``, ``.parquet``, ``.jsonl``; local or ``s3://bucket/key``), a
            polars or pandas DataFrame, a polars LazyFrame, or a :class:`Dataset` (returned
            as is).
        format: overrides the format the file name suggests.

    Raises:
        InputError: the file is missing, unreadable, or lacks a required column.

    Example:
        >>> import polars as pl
        >>> ds = load("items", pl.DataFrame({"ITEM_ID": ["a"], "LENGTH": [90]}))
        >>> ds.format, ds.columns
        ('frame', ['ITEM_ID', 'LENGTH'])
    """
    if isinstance(data, Dataset):
        return data
    if isinstance(data, pl.DataFrame | pl.LazyFrame):
        ds = Dataset(name, frame_source(data), "frame", _with_row_pos(data.lazy()))
    elif is_pandas(data):
        ds = Dataset(name, PANDAS, "frame", _with_row_pos(polars_of_pandas(data).lazy()))
    elif isinstance(data, str | os.PathLike):
        ds = _load_files(name, storage.from_file_uri(data), format)
    else:
        raise TypeError(f"{name}: expected a path or a DataFrame, got {type(data).__name__}")
    refuse_objects(ds.source, ds.raw.collect_schema())
    refuse_missing(name, ds.source, ds.columns)
    return ds


PANDAS = "<pandas.DataFrame>"


def frame_source(data: Any) -> str:
    """How a frame is named in messages and the quarantine's FILE (both engines)."""
    if isinstance(data, pl.DataFrame | pl.LazyFrame):
        return f"<polars.{type(data).__name__}>"
    return PANDAS


def refuse_objects(source: str, schema: Any) -> None:
    """Refuse a frame with a column of Python objects (polars' Object), which neither engine
    can read as text or numbers."""
    for col, dtype in schema.items():
        if dtype == pl.Object:
            raise InputError(source, "holds Python objects; convert the column to text or "
                             "numbers first", column=col)


def polars_of_pandas(frame: Any) -> pl.DataFrame:
    """A pandas frame as both engines read it: through Arrow, by polars. A column of Python
    objects of several types (``1`` and ``"a"``), which Arrow cannot hold, is refused in one
    line naming it; a column of objects that are all missing (a column never filled in) has no
    type, as Parquet stores it (polars would make it text, which a SUM cannot read)."""
    import pandas as pd
    import pyarrow as pa

    try:
        out = pl.from_pandas(frame)
    except (ValueError, TypeError) as exc:  # (Arrow's errors among them)
        for i, col in enumerate(frame.columns):
            try:
                pa.array(frame.iloc[:, i], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                kinds = sorted({type(v).__name__ for v in frame.iloc[:, i].dropna()})
                raise InputError(PANDAS, f"holds Python values that are not of one type it can "
                                 f"read ({', '.join(kinds[:4])}); convert the column to text or "
                                 "numbers first, e.g. .astype('string')", column=str(col)) from None
        raise InputError(PANDAS, f"cannot be read: {str(exc).splitlines()[0]}") from None
    empty = [out.to_series(i).cast(pl.Null) for i, (_, col) in enumerate(frame.items())
             if col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) == "empty"]
    return out.with_columns(empty) if empty else out


def refuse_missing(name: DatasetName, source: str, columns: list[str]) -> None:
    """Refuse a dataset without one of its required columns, naming a column that differs from
    it only in case."""
    missing = missing_required(name, columns)
    if missing:
        hint = _case_hint(missing[0], columns)
        sep = next((c for c in ";\t|" if len(columns) == 1 and c in columns[0]), None)
        if sep:  # (a spreadsheet's export in a locale that writes ';', or tab-separated text)
            hint += (f" (the header is one column holding {sep!r}: a CSV file is separated by "
                     "commas; export it as comma-separated)")
        raise InputError(source, f"missing required column {missing[0]} for {name}{hint}; "
                         f"columns found: {', '.join(columns) or 'none'}", column=missing[0])


PART_BITS = 40
"""Bits of ``__attrkit_pos`` for the line or row within one file of a many-file input (a
trillion lines per file; the bits above count files)."""


def _load_files(name: DatasetName, data: str | os.PathLike[str], format: Format | None) -> Dataset:
    """A file, a folder, a glob pattern or an S3 key, prefix or pattern, as one dataset."""
    shown = str(data)
    many = (storage.is_pattern(shown) and not Path(shown).exists()) or storage.is_folder(data)
    suffixes = tuple(k for k, f in _SUFFIXES.items() if format in (None, f))
    if not many and not storage.is_remote(data):
        return _load_path(name, Path(data), format, shown)
    if not storage.is_remote(data) and not storage.is_pattern(shown) and not Path(shown).exists():
        raise InputError(shown, f"{name} folder not found")
    files = storage.expand(data, suffixes)
    if not files:
        raise InputError(shown, f"no {name} files here (names ending in "
                         f"{', '.join(suffixes)}; hidden, temporary and marker files such as "
                         "_SUCCESS are skipped)")
    formats = sorted({format or _SUFFIXES[Path(n).suffix.lower()] for n, _ in files})
    if len(formats) > 1:
        first = {f: next(n for n, _ in files if _SUFFIXES[Path(n).suffix.lower()] == f)
                 for f in formats}
        raise InputError(shown, "holds files of more than one format ("
                         + ", ".join(first.values()) + "); one format per input")
    if formats[0] == "csv" and len(files) > D.MAX_CSV_FILES:
        raise InputError(shown, f"{len(files):,} CSV files; at most {D.MAX_CSV_FILES:,} are read "
                         "as one input (polars' CSV reader stalls on thousands at once): combine "
                         "them, or write Parquet")
    parts = tuple(replace(_load_path(name, local, formats[0], n), location=str(local))
                  for n, local in files)
    return parts[0] if len(parts) == 1 and not many else combine(name, shown, parts)


def combine(name: DatasetName, source: str, parts: tuple[Dataset, ...]) -> Dataset:
    """Several files of one input as one dataset. Columns are matched by name: CSV headers
    must agree; Parquet parts may differ (a column one part lacks is null there), but each
    part must have the required columns."""
    first = parts[0]
    kinds = {}
    for part in parts:
        for column, dtype in part.raw.collect_schema().items():
            kind = _kind(dtype)
            if kind is not None and kinds.setdefault(column, (kind, part.source))[0] != kind:
                raise InputError(part.source, f"{column} holds {kind} here but "
                                 f"{kinds[column][0]} in {kinds[column][1]}; the files of one "
                                 "input must agree on each column's type", column=column)
        missing = missing_required(name, part.columns)
        if missing:
            raise InputError(part.source, f"missing required column {missing[0]} for {name} "
                             f"(other files of {source} have it)", column=missing[0])
        if first.format == "csv":
            check_same_header(first.source, first.columns, part.source, part.columns)

    def shifted(lf: pl.LazyFrame, i: int) -> pl.LazyFrame:
        return lf.with_columns(pl.col("__attrkit_pos") + (i << PART_BITS))

    raw = pl.concat([shifted(p.raw, i) for i, p in enumerate(parts)], how="diagonal_relaxed")
    text = (pl.concat([shifted(p.text, i) for i, p in enumerate(parts) if p.text is not None],
                      how="diagonal_relaxed")
            if all(p.text is not None for p in parts) else None)
    broken = pl.concat([shifted(p.broken.lazy(), i) for i, p in enumerate(parts)]).collect()
    counted = pl.concat([p.rows for p in parts], how="diagonal_relaxed") \
        if first.format == "csv" else None
    return Dataset(name, source, first.format, raw, broken, first.overrides,
                   repaired=all(p.repaired for p in parts), text=text, parts=parts,
                   counted=counted)


def check_same_header(first: str, first_columns: list[str], source: str,
                      columns: list[str]) -> None:
    """The CSV files of one input share one header: the same columns, in any order."""
    if set(columns) != set(first_columns):
        extra = sorted(set(columns) ^ set(first_columns))
        raise InputError(source, f"header differs from {first}'s (columns {', '.join(extra)} "
                         "in one only); the CSV files of one input share one header", line=1)


def _kind(dtype: pl.DataType) -> str | None:
    """What kind of values a column holds, for comparing the parts of one input: numbers and
    text mix (the text rules read both), a date-time and a number do not (the number would be
    read as the date-time's microseconds). ``None``: a column of nulls only, which fits any."""
    if dtype == pl.Null:
        return None
    return "dates or times" if dtype.is_temporal() else "numbers or text"


def _case_hint(wanted: str, columns: list[str]) -> str:
    near = [c for c in columns if c.upper() == wanted.upper()]
    return f" (found {near[0]!r}: column names are case-sensitive)" if near else ""


def refuse_reserved(source: str, columns: Any) -> None:
    """Refuse a column whose name starts with attrkit's reserved prefix, so that attrkit's own
    working columns (``__attrkit_pos``, ``__attrkit_bad``, ...) never meet the data's; and a
    name that polars reads as a pattern of names (``*``, ``^…$``), not as itself."""
    for column in columns:
        if str(column).startswith(RESERVED_PREFIX):
            raise InputError(source, f"column names starting with {RESERVED_PREFIX!r} are "
                             "reserved for attrkit's working columns; rename it", column=column)
        if str(column) == "*" or (str(column).startswith("^") and str(column).endswith("$")):
            raise InputError(source, "a column name that polars reads as a pattern of names "
                             "('*', or '^' to '$'), not as itself; rename it", column=column)


def _with_row_pos(lf: pl.LazyFrame) -> pl.LazyFrame:
    refuse_reserved("<frame>", lf.collect_schema())
    return lf.with_row_index("__attrkit_pos").with_columns(pl.col("__attrkit_pos").cast(pl.Int64))


def _load_path(name: DatasetName, path: Path, format: Format | None,
               shown: str | None = None) -> Dataset:
    src = storage.check_name(shown or str(path))
    fmt = format or _SUFFIXES.get(Path(src).suffix.lower()) or _SUFFIXES.get(
        path.suffix.lower())
    if fmt is None:
        raise InputError(src, f"cannot tell the format from the suffix {path.suffix!r}; "
                         "use .csv, .parquet or .jsonl (or pass format=)")
    if not path.is_file():
        raise InputError(src, f"{name} file not found")
    if fmt == "csv":
        header = _check_csv_header(path, src)

        def scan(types: dict[str, pl.DataType], empty_lines: bool = False) -> pl.LazyFrame:
            lf = pl.scan_csv(path, infer_schema=False, schema_overrides=types or None, glob=False,
                             row_index_name="__attrkit_pos", row_index_offset=2)
            lf = lf if empty_lines else _without_empty_lines(lf)
            return lf.with_columns(pl.col("__attrkit_pos").cast(pl.Int64))

        # Parse the numeric columns while reading (twice as fast as parsing text afterwards);
        # a value that does not parse sends the run back to the text read (Dataset.repair).
        types = {c: t for c, t in _CSV_TYPES.get(name, {}).items() if c in header}
        return Dataset(name, src, "csv", scan(types), text=scan({}) if types else None,
                       counted=scan({}, empty_lines=True))
    if fmt == "parquet":
        try:
            # (glob=False: a file called 'a[1].parquet' is that file, not a pattern)
            refuse_reserved(src, pl.scan_parquet(path, glob=False).collect_schema())
            lf = pl.scan_parquet(path, row_index_name="__attrkit_pos", glob=False)
            lf.collect_schema()
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError) as exc:
            raise InputError(src, f"not a readable Parquet file ({_first_line(exc)})") from None
        return Dataset(name, src, "parquet",
                       lf.with_columns(pl.col("__attrkit_pos").cast(pl.Int64)))
    if fmt == "jsonl":
        if name != "interactions":
            raise InputError(src, f"{name} are read from CSV or Parquet, not JSON Lines")
        good, broken = _read_put_events(path)
        return Dataset(name, src, "jsonl", good.lazy(), broken, _PUT_EVENTS_OVERRIDES)
    raise InputError(src, f"unknown format {fmt!r}")


def _without_empty_lines(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Without the CSV lines that hold no record: a blank line, one of whitespace only, or one
    of commas only (as spreadsheets export the rows below their data), as pandas, Spark and
    :mod:`csv` read a blank line (polars reads it as a row of nulls, or of one space) and as
    Spark's reader drops a line of whitespace. Such a line has no value in any field but its
    first, which may hold whitespace (:data:`WHITESPACE`); a field quoted empty (``""``) is a
    value. (The test is a column filtered on, not a filter: pushed into the reader, a test of
    ten thousand columns stalls polars' optimiser.)"""
    keep = "__attrkit_has_a_value"
    schema = lf.collect_schema()
    first, *rest = [c for c in schema if c != "__attrkit_pos"]
    blank = pl.col(first).is_null()
    if schema[first] == pl.String:
        blank = blank | pl.col(first).str.contains(WHITESPACE)
    empty = pl.all_horizontal(blank, *[pl.col(c).is_null() for c in rest])
    return lf.with_columns((~empty).alias(keep)).filter(pl.col(keep)).drop(keep)


WHITESPACE = r"^[\x00-\x20]+$"
"""A value of whitespace only, as Spark's CSV reader trims a line (characters up to a space)."""


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _check_csv_header(path: Path, src: str | None = None) -> list[str]:
    src = src or str(path)
    with path.open("rb") as fh:
        head = fh.readline(D.MAX_HEADER_BYTES + 1)
    if len(head) > D.MAX_HEADER_BYTES:
        raise InputError(src, f"header line longer than {D.MAX_HEADER_BYTES:,} bytes: "
                         "not a CSV header", line=1)
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(src, "header is not valid UTF-8", line=1) from None
    if not text.strip():
        raise InputError(src, "empty file: expected a header row", line=1)
    try:
        names = next(csv.reader([text]))
    except csv.Error as exc:
        raise InputError(src, f"header is not a CSV line ({exc})", line=1) from None
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise InputError(src, f"column {n} appears twice in the header", line=1, column=n)
        if not n:
            raise InputError(src, "empty column name in the header", line=1)
        seen.add(n)
    refuse_reserved(src, names)
    return names


def _broken_frame(rows: list[tuple[int, str | None, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=_BROKEN_SCHEMA, orient="row")


def _read_csv_by_line(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read a CSV file record by record, setting aside the records that break its structure.

    This is the slow path, taken only after the fast reader failed: it names each bad line.
    """
    header = _check_csv_header(path)
    cols: dict[str, list[str | None]] = {n: [] for n in header}
    pos: list[int] = []
    broken: list[tuple[int, str | None, str, str | None]] = []
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        next(fh, None)
        lines = _Lines(fh)
        reader = csv.reader(lines)
        while True:
            line = lines.start()
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # a field past the size limit: a quote left open
                broken.append((line, None, f"malformed CSV ({exc})", lines.first()))
                reader = lines.rewind()
                continue
            if lines.spanned() > 1 and len(record) != len(header):
                # A quote opened on this line and closed lines later swallowed the lines between
                # into one field: this line is broken, and the lines after it are read again.
                broken.append((line, None, "malformed CSV line: a quote opened here is closed "
                               f"{lines.spanned() - 1} lines later", lines.first()))
                reader = lines.rewind()
                continue
            text = ",".join(record)
            if not record:
                continue  # a blank line holds no record
            if any(_has_bad_bytes(f) for f in record):
                shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                broken.append((line, None, "not valid UTF-8", shown))
                continue
            # as the fast reader: a field quoted empty is "", one left out is missing
            quoted = _quoted_fields("".join(lines.taken)) if "" in record else ()
            values = [v if v or (i < len(quoted) and quoted[i]) else None
                      for i, v in enumerate(record)]
            if all(v is None or (i == 0 and re.fullmatch(WHITESPACE, v))
                   for i, v in enumerate(values)):
                continue  # (commas or whitespace only, however many: no value, no record)
            if len(record) > len(header):
                broken.append((line, None, f"malformed CSV line: {len(record)} fields, the header "
                               f"has {len(header)}", text))
            else:
                pos.append(line)
                for i, n in enumerate(header):
                    cols[n].append(values[i] if i < len(values) else None)
    good = pl.DataFrame({"__attrkit_pos": pl.Series(pos, dtype=pl.Int64),
                         **{n: pl.Series(v, dtype=pl.String) for n, v in cols.items()}})
    return good, _broken_frame(broken)


class _Lines:
    """A CSV file's lines for :mod:`csv`, remembering those of the record being read so that a
    broken record that ran over several lines can be read again from its second line."""

    def __init__(self, fh: Any) -> None:
        self.fh, self.replay, self.taken, self.read = fh, [], [], 1  # the header is line 1

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.replay.pop() if self.replay else next(self.fh)
        self.taken.append(line)
        self.read += 1
        return line

    def start(self) -> int:
        """Begin a record; returns its first line's number."""
        self.taken = []
        return self.read + 1

    def spanned(self) -> int:
        return len(self.taken)

    def first(self) -> str | None:
        """The record's first line, as text (bytes that are not UTF-8 replaced), shortened."""
        if not self.taken:
            return None
        line = self.taken[0].rstrip("\r\n")[:1000]
        return line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

    def rewind(self) -> Any:
        """Read again from the second line of the record just read; a fresh reader."""
        again = self.taken[1:]
        self.replay += reversed(again)
        self.read -= len(again)
        return csv.reader(self)


def _quoted_fields(raw: str) -> list[bool]:
    """Which fields of one CSV record (its text) begin with a quote: :mod:`csv` gives ``""`` for
    a quoted empty field and for an empty one alike, where the fast reader (polars, Spark's too)
    reads the first as an empty string and the second as missing."""
    quoted: list[bool] = []
    start, inside, in_quotes = True, False, False
    for ch in raw.rstrip("\r\n"):
        if start:
            start, in_quotes = False, ch == '"'
            quoted.append(in_quotes)
            if in_quotes:
                inside = True
                continue
        if in_quotes and ch == '"':  # (a doubled quote closes and opens again)
            inside = not inside
        elif ch == "," and not inside:
            start = True
    return [*quoted, False] if start else quoted


def _has_bad_bytes(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_EVENT_FIELDS = {
    "eventType": "EVENT_TYPE", "sentAt": "TIMESTAMP", "eventId": "EVENT_ID",
    "eventValue": "EVENT_VALUE", "itemId": "ITEM_ID", "recommendationId": "RECOMMENDATION_ID",
}


_JSON_FIELDS = {col: key for key, col in _EVENT_FIELDS.items()} | {
    "USER_ID": "userId", "SESSION_ID": "sessionId",
    "EVENT_ATTRIBUTION_SOURCE": "metricAttribution.eventAttributionSource"}
"""attrkit's column → the PutEvents field it came from, for error messages."""


def _sent_at(value: Any) -> str | None:
    """``sentAt`` as Unix seconds: the SDKs send a number, or an ISO 8601 date-time string
    (``2026-01-05T10:00:00Z``; without a zone, UTC). Anything else is passed on for the row
    rules to name.

    Example:
        >>> _sent_at("2026-01-05T00:00:01.5Z"), _sent_at(1767571201), _sent_at("soon")
        ('1767571201.5', '1767571201', 'soon')
    """
    if isinstance(value, str) and re.match(r"^\s*\d{4}-\d{2}-\d{2}", value):
        try:
            seconds = iso_seconds(value)
        except ValueError:
            return value
        return str(int(seconds)) if seconds == int(seconds) else repr(seconds)
    return _text(value)


def upper_snake(key: str) -> str:
    """``watchSeconds`` → ``WATCH_SECONDS``: how PutEvents property keys become columns.

    Example:
        >>> upper_snake("numberOfRatings")
        'NUMBER_OF_RATINGS'
    """
    return _CAMEL.sub("_", key).upper()


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _read_put_events(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Flatten PutEvents requests (one JSON object per line) into one row per event."""
    rows: list[dict[str, str | None]] = []
    broken: list[tuple[int, str | None, str, str | None]] = []
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError:
                broken.append((line_no, None, "not valid UTF-8",
                               raw.decode("utf-8", "replace").rstrip("\r\n")))
                continue
            if not text.strip():
                continue
            try:
                request = json.loads(text)
                if _SURROGATE.search(text) and has_surrogate(request):
                    problem = (None, "holds a \\u escape that is no character (a lone "
                               "surrogate); text must be valid Unicode")
                    events = []
                else:
                    events, problem = _flatten_request(request)
            except (ValueError, RecursionError) as exc:  # syntax, depth, 4,300+ digits
                events, problem = [], (None, f"not valid JSON ({json_problem(exc)})")
            if problem:
                broken.append((line_no, problem[0], problem[1], text.rstrip("\r\n")))
                continue
            for ev in events:
                ev["__attrkit_pos"] = line_no
                rows.append(ev)
    columns = sorted({k for r in rows for k in r} - {"__attrkit_pos"})
    good = pl.DataFrame(
        {"__attrkit_pos": pl.Series([r["__attrkit_pos"] for r in rows], dtype=pl.Int64),
         **{c: pl.Series([r.get(c) for r in rows], dtype=pl.String) for c in columns}}
    )
    for required in ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"):
        if required not in good.columns:
            good = good.with_columns(pl.lit(None, dtype=pl.String).alias(required))
    return good, _broken_frame(broken)


def _flatten_request(req: Any) -> tuple[list[dict[str, Any]], tuple[str | None, str] | None]:
    if not isinstance(req, dict):
        return [], (None, "must be a JSON object: one PutEvents request per line")
    session = req.get("sessionId")
    if not isinstance(session, str) or not session:
        return [], ("sessionId", "sessionId is required (a non-empty string)")
    user = req.get("userId")
    if user is not None and not isinstance(user, str):
        return [], ("userId", "userId must be a string")
    events = req.get("eventList")
    if not isinstance(events, list) or not 1 <= len(events) <= 10:
        return [], ("eventList", "eventList must be a list of 1 to 10 events")
    out = []
    for i, ev in enumerate(events):
        if not isinstance(ev, dict):
            return [], (f"eventList[{i}]", "each event must be a JSON object")
        # Anonymous sessions: the service keys events by sessionId when userId is absent.
        row: dict[str, Any] = {"USER_ID": user or session, "SESSION_ID": session}
        for key, col in _EVENT_FIELDS.items():
            row[col] = _sent_at(ev.get(key)) if key == "sentAt" else _text(ev.get(key))
        impression = ev.get("impression")
        if impression is not None:
            if (not isinstance(impression, list) or not 1 <= len(impression) <= 25
                    or not all(isinstance(x, str) for x in impression)):
                return [], (f"eventList[{i}].impression", "impression must be 1 to 25 item IDs")
            row["IMPRESSION"] = "|".join(impression)
        attribution = ev.get("metricAttribution")
        if attribution is not None:
            if not isinstance(attribution, dict):
                return [], (f"eventList[{i}].metricAttribution", "must be an object")
            row["EVENT_ATTRIBUTION_SOURCE"] = _text(attribution.get("eventAttributionSource"))
        props = ev.get("properties")
        if props is not None:
            try:
                decoded = json.loads(props) if isinstance(props, str) else None
            except (ValueError, RecursionError):
                decoded = None
            if not isinstance(decoded, dict) or has_surrogate(decoded):
                return [], (f"eventList[{i}].properties",
                            "properties must be a JSON object encoded as a string, in Unicode")
            for key, value in decoded.items():
                col = upper_snake(key)
                if col in row:
                    return [], (f"eventList[{i}].properties",
                                f"property {key!r} would overwrite column {col}")
                row[col] = _text(value)
        out.append(row)
    return out, None
