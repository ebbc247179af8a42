"""The service's S3 report CSV: writing it byte for byte, and reading it (ours or the service's).

Header and column order, exactly::

    METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP

``METRIC_NAME`` and ``EVENT_TYPE`` upper case, ``VALUE`` as float text (``12.0``), ``MATH_FUNCTION``
lower case, ``TIMESTAMP`` the window start in Unix seconds; rows sorted by TIMESTAMP,
METRIC_NAME, EVENT_ATTRIBUTION_SOURCE; only windows that had events.
"""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl

from attrkit import defaults as D
from attrkit import storage
from attrkit.errors import InputError
from attrkit.frames import WINDOW_SCHEMA, to_datetime

REPORT_COLUMNS = (
    "METRIC_NAME", "EVENT_TYPE", "VALUE", "MATH_FUNCTION", "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP",
)


def report_frame(windows: pl.DataFrame) -> pl.DataFrame:
    """The S3 report's rows and columns, from the tidy windowed frame."""
    return windows.sort("timestamp", "metric_name", "source").select(
        pl.col("metric_name").str.to_uppercase().alias("METRIC_NAME"),
        pl.col("event_type").str.to_uppercase().alias("EVENT_TYPE"),
        pl.col("value").cast(pl.Float64).alias("VALUE"),
        pl.col("math_function").str.to_lowercase().alias("MATH_FUNCTION"),
        pl.col("source").alias("EVENT_ATTRIBUTION_SOURCE"),
        pl.col("timestamp").alias("TIMESTAMP"),
    )


def report_filename(import_mode: D.ImportMode = D.IMPORT_MODE, when: float | None = None) -> str:
    """The service's file name: ``AggregatedAttributionMetrics - <ImportMode> - <Timestamp>.csv``.

    attrkit writes the timestamp as Unix seconds of the run.

    Example:
        >>> report_filename("FULL", 1700000000)
        'AggregatedAttributionMetrics - FULL - 1700000000.csv'
    """
    if import_mode not in ("FULL", "INCREMENTAL"):
        raise ValueError(f"import_mode={import_mode!r}: must be 'FULL' or 'INCREMENTAL'")
    stamp = int(time.time() if when is None else when)
    return f"AggregatedAttributionMetrics - {import_mode} - {stamp}.csv"


def write_report(
    windows: pl.DataFrame,
    path: str | Path,
    *,
    import_mode: D.ImportMode = D.IMPORT_MODE,
    when: float | None = None,
    kms_key_arn: str | None = None,
) -> Path | str:
    """Write the S3 report CSV atomically and return its path.

    Args:
        windows: the tidy windowed frame (:attr:`Attribution.windows` or :func:`read_report`).
        path: a file path, or a folder (existing, or ending in ``/``) to write into under the
            service's file name; or ``s3://bucket/key`` / ``s3://bucket/prefix/`` (uploaded
            with SSE-KMS when ``kms_key_arn`` is given).
        import_mode: the ``<ImportMode>`` part of the file name.
        when: the ``<Timestamp>`` part (Unix seconds; default now, and in a local folder the
            next free second, so that two runs never share a name).

    Example:
        >>> import tempfile, polars as pl
        >>> import attrkit
        >>> events = pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i"], "TIMESTAMP": [1700000000],
        ...                        "EVENT_TYPE": ["click"]})
        >>> ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
        ...                                 "expression": "SAMPLECOUNT()"}]}
        >>> path = write_report(attrkit.attribute(events, ma).windows, tempfile.mkdtemp() + "/",
        ...                     when=1700003600)
        >>> path.name
        'AggregatedAttributionMetrics - FULL - 1700003600.csv'
        >>> print(path.read_text().strip())
        METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP
        CLICKS,CLICK,1.0,samplecount,SOURCE_NAME_UNDEFINED,1699999200
    """
    frame = report_frame(windows)

    def write(target: str | Path) -> Path | str:
        return storage.write_with(target, lambda p: frame.write_csv(p, line_terminator="\n"),
                                  kms_key_arn=kms_key_arn, content_type="text/csv")

    if storage.is_folder(path) and when is None and not storage.is_remote(path):
        # a new name per run, even for two runs in the same second
        with storage.unique_path(Path(path), lambda n: report_filename(import_mode, n),
                                 int(time.time())) as target:
            return write(target)
    if storage.is_folder(path):
        path = storage.join(path, report_filename(import_mode, when))
    return write(path)


def read_report(path: str | Path) -> pl.DataFrame:
    """Read report CSVs (attrkit's or the service's) into the tidy windowed frame.

    Args:
        path: one CSV file, or a folder: every ``*.csv`` in it is read and the rows combined
            (rows of one window in several files add up, as the service's publishes of separate
            imports do; two files of the same rows are refused: one report written twice);
            or ``s3://bucket/key.csv`` / ``s3://bucket/prefix/`` (every CSV under it).

    Raises:
        InputError: a file lacks a report column or holds a value of the wrong type; the message
            names the file, line and column.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> path = Path(tempfile.mkdtemp()) / "report.csv"
        >>> _ = path.write_text(chr(10).join([
        ...     "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP",
        ...     "CLICKS,CLICK,3.0,samplecount,top-picks,900"]))
        >>> read_report(path).select("timestamp", "source", "value").rows()
        [(900, 'top-picks', 3.0)]
    """
    files = storage.expand(path, (".csv",))  # (the name to show, and a local copy)
    if not files:
        raise InputError(str(path), "no report CSV files in this folder")
    frames = [_read_one(local, shown) for shown, local in files]
    _refuse_copies([shown for shown, _ in files], frames)
    return pl.concat(frames).sort("timestamp", "metric_name", "source")


def _refuse_copies(files: list[str], frames: list[pl.DataFrame]) -> None:
    """Two files of a folder that hold the same rows are one report written twice (a run
    repeated into the same folder, a copy): read together, every total would be doubled.
    Files that share some windows are added up, as the service's publishes of separate imports
    are."""
    seen: dict[int, list[tuple[str, pl.DataFrame]]] = {}
    for path, frame in zip(files, frames, strict=True):
        rows = frame.sort(frame.columns)
        for earlier, other in seen.get(frame.height, []):
            if rows.equals(other):
                raise InputError(path, f"holds the same rows as {earlier} (one report "
                                 "written twice, whose totals would be doubled): read one of "
                                 "them, or move the other out of the folder")
        seen.setdefault(frame.height, []).append((path, rows))


def _read_one(path: Path, shown: str | None = None) -> pl.DataFrame:
    """One report file (``shown``: its name in messages, where ``path`` is a local copy)."""
    name = shown or str(path)
    if not path.is_file():
        raise InputError(name, "report file not found")
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise InputError(name, f"not a readable CSV file ({str(exc).splitlines()[0]})") from None
    for col in REPORT_COLUMNS:
        if col not in raw.columns:
            raise InputError(name, f"missing report column {col}; a report has "
                             + ",".join(REPORT_COLUMNS), line=1, column=col)
    typed = raw.select(list(REPORT_COLUMNS)).with_row_index("__attrkit_line", offset=2).select(
        pl.col("__attrkit_line"),
        pl.col("METRIC_NAME").str.to_uppercase(),
        pl.col("EVENT_TYPE").str.to_uppercase(),
        pl.col("VALUE").cast(pl.Float64, strict=False).alias("__attrkit_value"),
        pl.col("VALUE"),
        pl.col("MATH_FUNCTION").str.to_lowercase(),
        pl.col("EVENT_ATTRIBUTION_SOURCE"),
        pl.col("TIMESTAMP").cast(pl.Int64, strict=False).alias("__attrkit_ts"),
        pl.col("TIMESTAMP"),
    )
    checks = [
        ("METRIC_NAME", pl.col("METRIC_NAME").is_null(), "required value is missing"),
        ("VALUE", ~pl.col("__attrkit_value").is_finite().fill_null(False), "must be a number"),
        ("VALUE", (pl.col("MATH_FUNCTION") == "samplecount") & (
            (pl.col("__attrkit_value") < 0) | (pl.col("__attrkit_value") >= 2.0**63)
            | (pl.col("__attrkit_value").round() != pl.col("__attrkit_value"))).fill_null(False),
         "a samplecount must be a whole number of events"),
        ("MATH_FUNCTION", ~pl.col("MATH_FUNCTION").is_in(["samplecount", "sum"]).fill_null(False),
         "must be samplecount or sum"),
        ("EVENT_ATTRIBUTION_SOURCE", pl.col("EVENT_ATTRIBUTION_SOURCE").is_null(),
         "required value is missing"),
        ("TIMESTAMP", pl.col("__attrkit_ts").is_null(), "must be whole Unix seconds"),
        ("TIMESTAMP", (pl.col("__attrkit_ts") >= D.MAX_PLAUSIBLE_SECONDS)
         | (pl.col("__attrkit_ts") <= -D.MAX_PLAUSIBLE_SECONDS),
         "is out of range for Unix epoch seconds"),
    ]
    for column, broken, rule in checks:
        bad = typed.filter(broken)
        if bad.height:
            line = int(bad["__attrkit_line"][0])
            raise InputError(name, f"{rule} (value {bad[column][0]!r})", line=line,
                             column=column)
    return typed.select(
        to_datetime(pl.col("__attrkit_ts")).alias("window_start"),
        pl.col("__attrkit_ts").alias("timestamp"),
        pl.col("METRIC_NAME").alias("metric_name"),
        pl.col("EVENT_TYPE").alias("event_type"),
        pl.col("MATH_FUNCTION").alias("math_function"),
        pl.col("EVENT_ATTRIBUTION_SOURCE").alias("source"),
        pl.col("__attrkit_value").alias("value"),
        # A count's value is its number of events; a sum's is unknown from the report alone.
        pl.when(pl.col("MATH_FUNCTION") == "samplecount")
        .then(pl.col("__attrkit_value").cast(pl.Int64))
        .otherwise(None)
        .alias("events"),
    ).cast(dict(WINDOW_SCHEMA))
