"""The attribution on Apache Spark (local mode, two cores) against the embedded engine: the
same report bytes, health, exposure, per-user data and quarantine, on random data with every
edge and bad rows; bad input gets the same one line. The DuckDB differential test runs on both
engines too (test_differential.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from conftest import CLICKS_WATCH_MINUTES as MA
from conftest import run_attrkit
from hypothesis import given, settings
from hypothesis import strategies as st
from spark_cases import _damaged, _write

import attrkit

EXTRA = {"recommendation_id": "x", "note`s": "y", "a.b": "z"}
"""Extra columns named alike but for case, with a backtick, with a dot: a Spark session that
ignores case, or a name unquoted, confuses them (Spark's default renamed both CSV columns alike
but for case: every event went unattributed)."""


def _same_error(spark, kind, match: str, *args, **kw) -> None:
    """Both engines refuse the input with the same one line, which says ``match``."""
    messages = []
    for engine in ({}, {"engine": "spark", "spark": spark}):
        with pytest.raises(kind, match=match) as caught:
            attrkit.attribute(*args, **kw, **engine)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


def _both(paths: dict[str, str], spark, **kw) -> tuple[attrkit.Attribution, attrkit.Attribution]:
    args = (paths["interactions"], MA)
    inputs = {"items": paths["items"], "recommendations": paths["recommendations"]}
    return (attrkit.attribute(*args, **inputs, **kw),
            attrkit.attribute(*args, **inputs, engine="spark", spark=spark, **kw))


def _assert_same(a: attrkit.Attribution, b: attrkit.Attribution, folder: Path, fmt: str, *,
                 comparisons: bool = False) -> None:
    assert a.windows.equals(b.windows)
    assert a.health == b.health
    assert (a.write_report(folder / "a.csv", when=0).read_bytes()
            == b.write_report(folder / "b.csv", when=0).read_bytes())
    assert a.exposure.equals(b.exposure) and a.traffic.equals(b.traffic)
    on_driver = b.users.to_polars()  # (kept on Spark: brought back to compare them whole)
    for part in ("assignment", "values", "served"):
        assert getattr(a.users, part).equals(getattr(on_driver, part)), part
    # the comparisons from Spark's moments: the same frame, every float to the bit
    arms = a.users.arms
    assert b.users.arms == arms
    if comparisons:
        ca, cb = attrkit.compare(a), attrkit.compare(b)
        assert ca.frame.equals(cb.frame)
        assert ca.described.equals(cb.described) and ca.design_check == cb.design_check
        # a date range (the report's start and end): per-user data restricted by whole days
        days = sorted(a.users.days())
        if len(days) > 1:
            ra, rb = (attrkit.compare(x.between(days[1], days[-1] + 86_400)) for x in (a, b))
            assert ra.frame.equals(rb.frame) and not ra.frame.equals(ca.frame)
        for fn in (attrkit.monitor, attrkit.lift_by_day):
            metric = a.windows["metric_name"][0]
            assert fn(a, metric=metric, control=arms[0], treatment=arms[1]).equals(
                fn(b, metric=metric, control=arms[0], treatment=arms[1])), fn.__name__
    # CSV lines are blank on Spark (it reads a file in splits); everything else is the same
    cols = [c for c in a.quarantine.columns if c != "LINE"]
    assert a.quarantine.select(cols).sort(cols).equals(b.quarantine.select(cols).sort(cols))
    assert b.quarantine["LINE"].null_count() == b.quarantine.height
    if fmt == "parquet":
        assert a.quarantine.equals(b.quarantine)  # rows numbered, in the same order
    # the quarantine file: written by the executors, the embedded engine's bytes (CSV: in the
    # order Spark read the rows, LINE blank)
    qa, qb = a.write_quarantine(folder / "qa.csv"), b.write_quarantine(folder / "qb.csv")
    if fmt == "parquet":
        assert qa.read_bytes() == qb.read_bytes()
    else:
        got = pl.read_csv(qb, infer_schema=False)
        assert got.drop("LINE").equals(
            b.quarantine.drop("LINE").cast(pl.String)) and got["LINE"].null_count() == got.height
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]  # (no scratch left)


# (CSV: make test-spark; the smaller CSV cases below run in make test)
@pytest.mark.parametrize("fmt", ["parquet", pytest.param("csv", marks=pytest.mark.spark_matrix)])
def test_spark_gives_the_embedded_engines_bytes(spark, tmp_path, fmt):
    data = _damaged(3)
    data["interactions"] = data["interactions"].with_columns(
        pl.lit(v).alias(k) for k, v in EXTRA.items())
    paths = _write(data, tmp_path, fmt)
    a, b = _both(paths, spark, on_bad_rows="quarantine")
    assert a.quarantine.height > 20 and len(a.users.arms) == 3
    _assert_same(a, b, tmp_path, fmt, comparisons=fmt == "parquet")  # (the same users either way)
    # the per-user export: one file here, Spark's folder of parts there; the same rows
    a.users.write_parquet(tmp_path / "users.parquet")
    b.users.write_parquet(str(tmp_path / "users"))
    want = pl.read_parquet(tmp_path / "users.parquet")
    got = pl.read_parquet(tmp_path / "users" / "*.parquet").sort("USER_ID", "metric_name")
    assert want.equals(got) and want.height == 20 * 4
    # the quarantine as a folder of CSV parts (as on a cluster's storage), each with the header
    b.write_quarantine(str(tmp_path / "bad"), parts=True)
    parts = sorted((tmp_path / "bad").glob("part-*"))
    rows = pl.concat([pl.read_csv(p, infer_schema=False) for p in parts if p.stat().st_size])
    written = pl.read_csv(a.write_quarantine(tmp_path / "bad.csv"), infer_schema=False)
    assert rows.drop("LINE").equals(written.drop("LINE"))
    assert written.height == a.quarantine.height
    assert rows["LINE"].null_count() == rows.height  # (Parquet has rows; CSV lines: blank)
    with pytest.raises(attrkit.ConfigError, match="parts=True"):
        a.write_quarantine(tmp_path / "x", parts=True)
    # each arm's users: the export adds up to the per-user values the comparisons tested
    arms = a.users.arms
    for metric in ("CLICKS", "WATCH_VALUE"):
        per_user = a.users.per_user(metric, arms)
        rows = want.filter(metric_name=metric).sort("USER_ID")
        assert rows["USER_ID"].equals(per_user["USER_ID"])
        for col in ("value", "served", "total"):
            assert rows[col].to_list() == pytest.approx(per_user[col].to_list(), rel=1e-12)


@pytest.mark.spark_matrix
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000), length=st.sampled_from([60, 900, 3600]),
       origin=st.integers(-1000, 1000), dedupe=st.booleans(),
       fmt=st.sampled_from(["parquet", "csv"]))
def test_both_engines_write_the_same_bytes(spark, tmp_path_factory, seed, length, origin,
                                           dedupe, fmt):
    folder = tmp_path_factory.mktemp("spark")
    data = _damaged(seed)  # a user the log does not know: the health counts them alike
    data["recommendations"] = data["recommendations"].filter(pl.col("USER_ID") != "u19")
    data["interactions"] = data["interactions"].with_columns(
        pl.lit(v).alias(k) for k, v in EXTRA.items())
    paths = _write(data, folder, fmt)
    a, b = _both(paths, spark, on_bad_rows="quarantine", window_seconds=length,
                 window_origin=origin, dedupe=dedupe)
    assert a.health.users_not_in_log == 1
    _assert_same(a, b, folder, fmt)


@pytest.mark.spark_matrix
def test_a_folder_of_parts_on_both_engines(spark, tmp_path, monkeypatch):
    """Relative paths, as a user types them after ``os.chdir``: Spark reads the files the
    embedded engine reads (not what its JVM's folder, a hidden or marker folder, a file of
    another kind or Hadoop's pattern syntax would give it), and the quarantine names each as
    the embedded engine does (the path as given, a folder's part under the folder as
    written), not the absolute path Spark reads; the same bytes."""
    data = _damaged(4)
    events = tmp_path / "events"
    for part in ("day=1", "day=2", ".hidden", "_skipped=1", "day=3"):
        (events / part).mkdir(parents=True)
    data["interactions"].head(200).write_parquet(events / "day=1" / "p.parquet")
    data["interactions"].tail(-200).write_parquet(events / "day=2" / "p[1].parquet")
    for skipped in (events / ".hidden" / "p.parquet", events / "_skipped=1" / "p.parquet",
                    events / "day=3" / "part-00000"):
        data["interactions"].head(5).write_parquet(skipped)
    (events / "_SUCCESS").write_text("")
    (events / "README.txt").write_text("not data")
    _write({k: v for k, v in data.items() if k != "interactions"}, tmp_path, "parquet")
    # a relative folder whose first part holds ':' (no scheme); a pattern that matches folders
    # only, one of them a link (the format is the files', found through the link)
    (tmp_path / "t:1").mkdir()
    (tmp_path / "items.parquet").rename(tmp_path / "t:1" / "items.parquet")
    (tmp_path / "logs" / "a").mkdir(parents=True)
    (tmp_path / "recs").mkdir()
    (tmp_path / "recommendations.parquet").rename(tmp_path / "logs" / "a" / "r.parquet")
    (tmp_path / "recs" / "r1").symlink_to(tmp_path / "logs" / "a", target_is_directory=True)
    monkeypatch.chdir(tmp_path)  # (the session's JVM started elsewhere)
    # a folder, a single file and a pattern, each relative: one of each in one run
    paths = {"interactions": "./events", "items": "t:1/items.parquet",
             "recommendations": "./recs/*"}
    a, b = _both(paths, spark, on_bad_rows="quarantine")
    assert a.windows.equals(b.windows) and a.health == b.health
    assert a.health.rows_read["interactions"] == data["interactions"].height
    assert a.health.rows_read["recommendations"] == data["recommendations"].height
    files = a.quarantine.group_by("DATASET").agg(pl.col("FILE").unique().sort())
    assert dict(files.iter_rows()) == {
        "interactions": ["events/day=1/p.parquet", "events/day=2/p[1].parquet"],
        "recommendations": ["recs/r1/r.parquet"]}
    assert a.quarantine.equals(b.quarantine)
    assert (a.write_quarantine(tmp_path / "qa.csv").read_bytes()
            == b.write_quarantine(tmp_path / "qb.csv").read_bytes())


@pytest.mark.parametrize("fmt, where", [("parquet", "row 3"), ("csv", "")])
def test_a_bad_row_is_one_line_on_spark(spark, tmp_path, fmt, where):
    paths = _write(_damaged(5), tmp_path, fmt)
    with pytest.raises(attrkit.InputError) as caught:
        attrkit.attribute(paths["interactions"], MA, items=paths["items"], engine="spark",
                          spark=spark)
    message = str(caught.value)
    assert message.startswith(paths["interactions"]) and "\n" not in message
    assert where in message and caught.value.column is not None


def test_the_command_line_on_spark(tmp_path, spark):
    # in this process: the command takes the session that is already running (getOrCreate),
    # as it would a cluster's; a command of its own starts one (test_hostile, the README)
    paths = _write(_damaged(6), tmp_path, "parquet")
    base = ["attribute", "--interactions", paths["interactions"],
            "--items", paths["items"], "--metric-attribution", str(tmp_path / "ma.json"),
            "--engine", "spark", "--out"]
    (tmp_path / "ma.json").write_text(__import__("json").dumps(MA))
    bad = run_attrkit(*base, str(tmp_path / "r.csv"))
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0, bad.stderr
    assert "row 3, column USER_ID" in bad.stderr and not (tmp_path / "r.csv").exists()
    good = run_attrkit(*base, str(tmp_path / "q.csv"), "--on-bad-rows", "quarantine")
    assert good.returncode == 0, good.stderr
    want = attrkit.attribute(paths["interactions"], MA, items=paths["items"],
                             on_bad_rows="quarantine").write_report(tmp_path / "w.csv", when=0)
    got = (tmp_path / "q.csv").read_text().splitlines()
    assert got == want.read_text().splitlines()
    embedded = run_attrkit(*base[:-3], "--out", str(tmp_path / "e.csv"), "--on-bad-rows",
                           "quarantine")
    assert embedded.returncode == 0, embedded.stderr
    bad = (tmp_path / "q.quarantine.csv").read_bytes()  # (written by the executors)
    assert bad == (tmp_path / "e.quarantine.csv").read_bytes() and bad.count(b"\n") > 20
    n = bad.count(b"\n") - 1
    assert f"q.quarantine.csv ({n:,} rows)" in good.stdout
    parts = run_attrkit(*base, str(tmp_path / "p.csv"), "--on-bad-rows", "quarantine",
                        "--quarantine-out", str(tmp_path / "bad"))
    assert parts.returncode == 0 and "CSV parts" in parts.stdout, parts.stderr
    assert not (tmp_path / "p.quarantine.csv").exists()
    assert sum(len(p.read_text().splitlines()) - 1 for p in (tmp_path / "bad").glob("part-*")
               if p.stat().st_size) == n
    refused = run_attrkit(*base[:-3], "--out", str(tmp_path / "x.csv"), "--quarantine-out",
                          str(tmp_path / "y"))
    assert refused.returncode == 2 and "--quarantine-out: only with --engine spark" in \
        refused.stderr


KINDS = {  # one bad value of each kind the row rules know, in an otherwise good row
    "missing": ("USER_ID", None), "blank id": ("ITEM_ID", "   "),
    "long id": ("ITEM_ID", "x" * 300), "milliseconds": ("TIMESTAMP", "1700000000000"),
    "iso date": ("TIMESTAMP", "2026-01-05T10:00:00Z"), "not a number": ("TIMESTAMP", "soon"),
    "out of range": ("TIMESTAMP", "99999999999999999"), "label not ascii": (
        "EVENT_ATTRIBUTION_SOURCE", "caf\u00e9"), "blank label": ("EVENT_ATTRIBUTION_SOURCE", " "),
    "value not a number": ("EVENT_VALUE", "lots"), "value too large": ("EVENT_VALUE", "1e30"),
    "value infinite": ("EVENT_VALUE", "inf"), "blank time": ("TIMESTAMP", " \t"),
    # forms Java reads as numbers and the embedded engine does not: bad rows on both
    "java's float": ("EVENT_VALUE", "17e8f"), "java's hex": ("TIMESTAMP", "0x1p30"),
    "a control character": ("TIMESTAMP", "\x011700000000"), "negative nan": ("EVENT_VALUE", "-nan"),
    # a time a spreadsheet rounded (Excel's 1.76457E+09; in milliseconds too); and seconds,
    # which in milliseconds are a time of 1970: the rounded and the good rows' rule
    "rounded time": ("TIMESTAMP", "1.76457E+09"), "rounded, spaced": ("TIMESTAMP", " 1.7e+12 "),
}
TEXT_ONLY = ("value not a number", "java's float", "negative nan")
"""Kinds of EVENT_VALUE that a Parquet column of doubles cannot hold."""


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_kind_of_bad_value_is_set_aside_alike(spark, tmp_path, fmt):
    """The bad-input kinds on both engines: the same rows, columns, rules and values."""
    good = {"USER_ID": "u1", "ITEM_ID": "i1", "TIMESTAMP": "1700000000", "EVENT_TYPE": "watch",
            "EVENT_VALUE": "2.5", "RECOMMENDATION_ID": None, "EVENT_ATTRIBUTION_SOURCE": None}
    kinds = {k: v for k, v in KINDS.items() if fmt == "csv" or k not in TEXT_ONLY}
    rows = [good] + [dict(good, **{column: value}) for column, value in kinds.values()]
    events = pl.DataFrame(rows, schema={k: pl.String for k in good})
    ma = {"name": "m", "metrics": [{"eventType": "watch", "metricName": "value",
                                    "expression": "SUM(Interactions.EVENT_VALUE)"}]}
    path = tmp_path / f"e.{fmt}"
    if fmt == "parquet":  # a summed column of text is refused before any row, by both
        events.write_parquet(path)
        _same_error(spark, attrkit.ConfigError, "holds text, not numbers", str(path), ma)
        events = events.with_columns(pl.col("EVENT_VALUE").cast(pl.Float64))
    getattr(events, f"write_{fmt}")(path)
    a = attrkit.attribute(str(path), ma, on_bad_rows="quarantine")
    b = attrkit.attribute(str(path), ma, on_bad_rows="quarantine", engine="spark", spark=spark)
    assert a.quarantine.height == len(kinds) and a.windows.equals(b.windows)
    cols = ["DATASET", "FILE", "ROW", "COLUMN", "RULE", "VALUE", "RECORD"]
    assert a.quarantine.select(cols).sort(cols).equals(b.quarantine.select(cols).sort(cols))
    assert a.health == b.health
    if fmt == "csv":  # in milliseconds, the timestamps' rules say milliseconds on both
        a, b = (attrkit.attribute(str(path), ma, on_bad_rows="quarantine", timestamp_unit="ms",
                                  **kw) for kw in ({}, {"engine": "spark", "spark": spark}))
        assert a.quarantine.select(cols).sort(cols).equals(b.quarantine.select(cols).sort(cols))
        rules = a.quarantine.filter(COLUMN="TIMESTAMP")["RULE"].to_list()
        assert rules and all("milliseconds" in r for r in rules if "epoch" in r), rules
        assert sum("looks like seconds" in r for r in rules) > len(rows) - len(kinds), rules


@pytest.mark.parametrize("unit", ["s", pytest.param("ms", marks=pytest.mark.spark_matrix)])
def test_a_timestamp_stored_as_a_date_time_is_read_alike(spark, tmp_path, unit):
    """A Parquet TIMESTAMP of date-times (as Spark, Glue and Athena write them): the seconds
    stored, with or without a time zone, in microseconds or milliseconds, before the epoch,
    on a window's edge, and beyond what is plausible; the same windows, health and bad rows on
    both engines (Spark refused every row: "must be a number")."""
    from datetime import UTC, datetime

    times = [datetime(2023, 11, 14, 22, 14, 59, 999_999, tzinfo=UTC),  # 1 µs before a window
             datetime(2023, 11, 14, 22, 15, tzinfo=UTC), datetime(1969, 12, 31, 23, 59, 59,
                                                                    500_000, tzinfo=UTC),
             datetime(1900, 3, 1, 12, tzinfo=UTC), None,
             datetime(6000, 1, 1, tzinfo=UTC)]  # beyond plausible: a bad row
    n = len(times)
    events = pl.DataFrame({"USER_ID": [f"u{i}" for i in range(n)], "ITEM_ID": ["i1"] * n,
                           "TIMESTAMP": times, "EVENT_TYPE": ["watch"] * n,
                           "EVENT_VALUE": [1.5] * n})
    ma = {"name": "m", "metrics": [{"eventType": "watch", "metricName": "value",
                                    "expression": "SUM(Interactions.EVENT_VALUE)"}]}
    cols = ["DATASET", "FILE", "ROW", "COLUMN", "RULE", "VALUE", "RECORD"]
    for i, dtype in enumerate([pl.Datetime("us", "UTC"), pl.Datetime("us"),
                               pl.Datetime("ms", "Europe/Paris"), pl.Datetime("ms")]):
        path = tmp_path / f"e{i}.parquet"
        events.with_columns(pl.col("TIMESTAMP").cast(dtype)).write_parquet(path)
        a, b = (attrkit.attribute(str(path), ma, on_bad_rows="quarantine", timestamp_unit=unit,
                                  **kw) for kw in ({}, {"engine": "spark", "spark": spark}))
        assert a.health.events_used == n - 2, dtype  # (the missing and the implausible)
        assert a.windows.equals(b.windows) and a.health == b.health, dtype
        assert a.windows["timestamp"].unique().sort().to_list() == [
            -2_203_848_000, -900, 1_699_999_200, 1_700_000_100], dtype
        shown = cols if dtype.time_unit == "us" else cols[:-2]  # (Spark shows microseconds)
        assert a.quarantine.select(shown).equals(b.quarantine.select(shown)), dtype


PARQUET_TYPES = {  # each column as writers store it: the same events and bad rows on both
    "decimal values": {"EVENT_VALUE": pl.Decimal(10, 2)},
    "wide decimal values": {"EVENT_VALUE": pl.Decimal(38, 12)},
    "single-precision values": {"EVENT_VALUE": pl.Float32},
    "32-bit and unsigned times": {"TIMESTAMP": pl.UInt32, "EVENT_VALUE": pl.Int32},
    "decimal times": {"TIMESTAMP": pl.Decimal(20, 3)},
    "integer IDs": {"USER_ID": pl.Int64, "ITEM_ID": pl.UInt16},
    "categories": {"USER_ID": pl.Categorical, "EVENT_TYPE": pl.Categorical,
                   "EVENT_ATTRIBUTION_SOURCE": pl.Categorical},
}


@pytest.mark.spark_matrix
def test_parquet_column_types_are_read_alike(spark, tmp_path):
    """Decimals, single-precision floats, narrow and unsigned integers, integer IDs and
    categories (pandas' ``category``, which polars reads back as Categorical: every row had
    been set aside on the embedded engine) give the same windows, health and bad rows."""
    events = pl.DataFrame({"USER_ID": ["1", "2", "3", "1"], "ITEM_ID": ["7", "8", "7", "7"],
                           "TIMESTAMP": [1700000000, 1700000100, 1700001000, 4_000_000_000],
                           "EVENT_TYPE": ["watch", "Watch", "click", " "],  # (a bad row)
                           "EVENT_VALUE": [1.25, None, 3.5, 2.0],
                           "EVENT_ATTRIBUTION_SOURCE": ["a", None, "b", "a"]})
    ma = {"name": "m", "metrics": [{"eventType": "watch", "metricName": "v",
                                    "expression": "SUM(Interactions.EVENT_VALUE)"},
                                   {"eventType": "click", "metricName": "n",
                                    "expression": "SAMPLECOUNT()"}]}
    cols = ["ROW", "COLUMN", "RULE", "VALUE", "RECORD"]
    for i, (case, types) in enumerate(PARQUET_TYPES.items()):
        path = tmp_path / f"e{i}.parquet"
        frame = events.with_columns(pl.col(c).cast(t) for c, t in types.items())
        frame.to_pandas().to_parquet(path) if "categories" in case else frame.write_parquet(path)
        a, b = (attrkit.attribute(str(path), ma, on_bad_rows="quarantine", **kw)
                for kw in ({}, {"engine": "spark", "spark": spark}))
        assert a.health.events_used == 3 and a.quarantine.height == 1, case
        assert a.windows.equals(b.windows) and a.health == b.health, case
        assert a.quarantine.select(cols).equals(b.quarantine.select(cols)), case


def test_a_frame_of_unsigned_64_bit_integers_is_refused_on_spark(spark):
    """Spark cannot take a frame's unsigned 64-bit column through Arrow, and its other path
    read every missing text value as the text 'nan' (a label: every unattributed event went
    to a source called nan, silently); one line names the column instead."""
    events = pl.DataFrame({"USER_ID": ["u1", "u2"], "ITEM_ID": ["i1", "i2"],
                           "TIMESTAMP": [1700000000, 1700000100], "EVENT_TYPE": ["watch"] * 2,
                           "EVENT_ATTRIBUTION_SOURCE": ["a", None]})
    ma = {"name": "m", "metrics": [{"eventType": "watch", "metricName": "n",
                                    "expression": "SAMPLECOUNT()"}]}
    for frame in (events.with_columns(pl.col("TIMESTAMP").cast(pl.UInt64)),
                  events.to_pandas().astype({"TIMESTAMP": "uint64"})):
        with pytest.raises(attrkit.ConfigError, match="column TIMESTAMP of interactions holds "
                                                      "unsigned 64-bit integers") as caught:
            attrkit.attribute(frame, ma, engine="spark", spark=spark)
        assert "\n" not in str(caught.value)
        assert attrkit.attribute(frame, ma).health.events_by_source == {
            "a": 1, "SOURCE_NAME_UNDEFINED": 1}  # (the embedded engine reads it)


def test_frames_are_named_numbered_and_typed_alike(spark):
    """A polars, lazy or pandas frame: its bad rows carry the same FILE (the frame's kind) and
    ROW (from 0) on both engines, its integer IDs with a missing value stay integers (through
    pandas, Spark had read them as floats, ``7.0``), a column never filled in holds missing
    numbers, and what the engines refuse is the same one line, naming the frame."""
    events = pl.DataFrame({"USER_ID": [1, 2, None, 12], "ITEM_ID": ["i1", "i2", "i1", "i2"],
                           "TIMESTAMP": [1700000000, 1700000100, 1700000200, 1700001000],
                           "EVENT_TYPE": ["watch", "watch", "watch", " "],
                           "EVENT_VALUE": [1.5, None, 2.0, 1.0],
                           "RECOMMENDATION_ID": [7, None, 7, 8],
                           "EVENT_ATTRIBUTION_SRC": ["x", None, None, None]})  # (misspelt)
    log = pl.DataFrame({"RECOMMENDATION_ID": ["7"], "SOURCE": ["A"], "TIMESTAMP": [1699999999]})
    ma = {"name": "m", "metrics": [{"eventType": "watch", "metricName": "v",
                                    "expression": "SUM(Interactions.EVENT_VALUE)"}]}
    nullable = events.to_pandas().astype({"USER_ID": "Int64", "RECOMMENDATION_ID": "Int64"})
    for frame, shown in ((events, "<polars.DataFrame>"), (events.lazy(), "<polars.LazyFrame>"),
                         (nullable, "<pandas.DataFrame>"),
                         (nullable.assign(EVENT_VALUE=None), "<pandas.DataFrame>")):
        a, b = (attrkit.attribute(frame, ma, recommendations=log, on_bad_rows="quarantine", **kw)
                for kw in ({}, {"engine": "spark", "spark": spark}))
        assert b.health.events_by_source == {"A": 1, "SOURCE_NAME_UNDEFINED": 1}, shown
        assert a.quarantine["FILE"].to_list() == [shown] * 2
        assert a.quarantine["ROW"].to_list() == [2, 3]
        assert a.quarantine.equals(b.quarantine), shown
        assert a.windows.equals(b.windows) and a.health == b.health, shown
        assert a.users is None and a.health.events_used == 2
        assert ("column EVENT_ATTRIBUTION_SRC of interactions is not read: did you mean "
                "EVENT_ATTRIBUTION_SOURCE?") in b.health.warnings
    texts = events.with_columns(pl.col("EVENT_VALUE").cast(pl.String))
    _same_error(spark, attrkit.ConfigError, "^metric 'v': .* in <polars.DataFrame>, which holds "
                "text, not numbers$", texts, ma)
    mixed = events.to_pandas().astype({"USER_ID": object})
    mixed.loc[1, "USER_ID"] = "u2"
    _same_error(spark, attrkit.InputError, r"^<pandas.DataFrame>, column USER_ID: holds Python "
                r"values that are not of one type it can read \(float, str\)", mixed, ma)
    with pytest.raises(attrkit.ConfigError, match="^<polars.DataFrame>: column TIMESTAMP of "
                       "interactions holds 128-bit integers, which Spark cannot take"):
        attrkit.attribute(events.with_columns(pl.col("TIMESTAMP").cast(pl.Int128)), ma,
                          engine="spark", spark=spark)


def test_a_column_of_maps_is_compared_as_the_embedded_engine_compares_it(spark, tmp_path):
    """A Parquet column of maps (Spark cannot hash or group one, and had stopped with its own
    error): rows that differ only in a map's entries, or in their order, are not repeats, rows
    equal in every column are, with the map at the top or inside a struct; the same report
    and repeats on both engines, with and without ``dedupe``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    props = [[("k", "v")], [("k", "w")], [("k", "v"), ("j", "v")], [("j", "v"), ("k", "v")],
             [("k", "v")], None, None]
    n = len(props)
    table = pa.table({"USER_ID": ["u1"] * n, "ITEM_ID": ["i1"] * n,
                      "TIMESTAMP": [1700000000] * n, "EVENT_TYPE": ["watch"] * n,
                      "EVENT_VALUE": [2.5] * n,
                      "PROPS": pa.array(props, pa.map_(pa.string(), pa.string()))})
    table = table.append_column("CTX", pa.StructArray.from_arrays(
        [table.column("PROPS").combine_chunks()], ["props"]))
    pq.write_table(table, tmp_path / "e.parquet")
    ma = {"name": "m", "metrics": [{"eventType": "watch", "metricName": "v",
                                    "expression": "SUM(Interactions.EVENT_VALUE)"}]}
    for dedupe in (False, True):
        a, b = (attrkit.attribute(str(tmp_path / "e.parquet"), ma, dedupe=dedupe, **kw)
                for kw in ({}, {"engine": "spark", "spark": spark}))
        assert a.health.duplicates == 2, dedupe  # (the first map again, and no map twice)
        assert a.windows["value"].to_list() == [Decimal("12.5") if dedupe else Decimal("17.5")]
        assert a.windows.equals(b.windows) and a.health == b.health, dedupe


def test_a_summed_value_is_the_same_decimal_on_both_engines(spark):
    """A plain cast rounds the double times 1e9 in polars and the double's text half up in
    Spark (1.0000000005: 1.000000000 and 1.000000001); attrkit's own steps give one decimal."""
    import numpy as np
    from pyspark.sql import functions as F

    from attrkit.attribution.plan import as_decimal
    from attrkit.attribution.spark import _as_decimal

    rng = np.random.default_rng(3)
    values = np.concatenate([rng.uniform(-1e3, 1e3, 3000).round(10),
                             rng.integers(-10**12, 10**12, 1000) / 10**10,
                             np.ldexp(rng.uniform(-1, 1, 3000), rng.integers(-40, 59, 3000)),
                             [1.0000000005, -1.0000000005, 2.5e-9, 0.9999999995, -0.0]])
    frame = pl.DataFrame({"i": np.arange(len(values)), "x": values})
    want = frame.select(as_decimal(pl.col("x")))["x"].to_list()
    got = [r[0] for r in spark.createDataFrame(frame.to_pandas()).orderBy("i").select(
        _as_decimal(F.col("x"))).collect()]
    assert got == want
    assert want[-5:-3] == [Decimal("1.000000001"), Decimal("-1.000000001")]


def test_a_session_that_ignores_case_refuses_names_alike_but_for_case(spark, tmp_path):
    """Column names are told apart by case (attrkit's own sessions set it; the same bytes are
    tested with :data:`EXTRA` above); a user's session that ignores case refuses an input
    whose names differ only in case, in one line, and keeps its setting. A name twice in a
    local CSV header: the embedded engine's line."""
    events = pl.DataFrame({"USER_ID": ["u1"], "ITEM_ID": ["i1"], "TIMESTAMP": [1700000000],
                           "EVENT_TYPE": ["watch"], "RECOMMENDATION_ID": ["r1"]}).with_columns(
        pl.lit(v).alias(k) for k, v in EXTRA.items())
    spark.conf.set("spark.sql.caseSensitive", "false")
    try:
        for fmt in ("csv", "parquet"):
            path = tmp_path / f"e.{fmt}"
            getattr(events, f"write_{fmt}")(path)
            with pytest.raises(attrkit.InputError, match="columns RECOMMENDATION_ID and "
                               "recommendation_id differ only in case, and this Spark session "
                               "ignores case"):
                attrkit.attribute(str(path), MA, engine="spark", spark=spark)
            assert spark.conf.get("spark.sql.caseSensitive") == "false"
        with pytest.raises(attrkit.InputError, match="<polars.DataFrame>, column recommendation_id: "
                           "columns RECOMMENDATION_ID and recommendation_id differ only in case"):
            attrkit.attribute(events, MA, engine="spark", spark=spark)
        # a name attrkit reads (or makes, when it is absent) in another case; its own prefix
        base = events.drop(*EXTRA, "RECOMMENDATION_ID")
        for extra, rule in [("event_attribution_source", "differs from EVENT_ATTRIBUTION_SOURCE "
                             "only in case"), ("__ATTRKIT_HIT", "'__attrkit_' in any case")]:
            with pytest.raises(attrkit.InputError, match=rule):
                attrkit.attribute(base.with_columns(pl.lit("x").alias(extra)), MA,
                                  engine="spark", spark=spark)
        spark.conf.unset("spark.sql.caseSensitive")  # not set (Spark's default): left unset
        plain = tmp_path / "plain.csv"
        events.drop(*EXTRA).write_csv(plain)
        counts = {"name": "m", "metrics": [{"eventType": "watch", "metricName": "w",
                                            "expression": "SAMPLECOUNT()"}]}
        assert attrkit.attribute(str(plain), counts, engine="spark", spark=spark).health.rows_read
        assert spark.conf.get("spark.sql.caseSensitive", None) is None
    finally:
        spark.conf.set("spark.sql.caseSensitive", "true")
    twice = tmp_path / "twice.csv"
    twice.write_text(HEADER.replace("EVENT_VALUE", "ITEM_ID") + "u1,i1,1700000000,watch,i2,r1\n")
    _same_error(spark, attrkit.InputError, "ITEM_ID appears twice", str(twice), MA)


def test_inputs_both_engines_refuse_get_the_same_line(spark, tmp_path):
    """Checked before any row, by both engines in the same words: a required column missing
    (or there only in another case), a column a SUM reads missing or not numbers, a column name
    that polars would read as a pattern of names."""
    events = pl.DataFrame({"USER_ID": ["u1"], "ITEM_ID": ["i1"], "TIMESTAMP": [1700000000],
                           "EVENT_TYPE": ["watch"], "EVENT_VALUE": [1.5]})
    by_value = {"name": "m", "metrics": [{"eventType": "watch", "metricName": "v",
                                          "expression": "SUM(Interactions.EVENT_VALUE)"}]}
    cases = {
        "missing required column USER_ID for interactions \\(found 'user_id'": (
            events.rename({"USER_ID": "user_id"}), "csv", MA),
        "is Boolean, not numeric": (
            events.with_columns(pl.lit(True).alias("EVENT_VALUE")), "parquet", by_value),
        "polars reads as a pattern": (events.with_columns(pl.lit(1).alias("^x$")), "csv", MA),
        "reads column LENGTH of items, which .* does not have": (events, "csv", MA),
    }
    for i, (rule, (frame, fmt, ma)) in enumerate(cases.items()):
        path = tmp_path / f"{i}.{fmt}"
        getattr(frame, f"write_{fmt}")(path)
        items = {"items": str(tmp_path / "i.csv")} if "LENGTH" in rule else {}
        if items:
            pl.DataFrame({"ITEM_ID": ["i1"], "length": [3.0]}).write_csv(items["items"])
        _same_error(spark, (attrkit.InputError, attrkit.ConfigError), rule, str(path), ma,
                    **items)


HEADER = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,RECOMMENDATION_ID\n"
EDGES = {  # files with no valid event, and bad rows whose RECORD shows numbers or text
    "header only": HEADER,
    "every row bad": HEADER + ",i1,1700000000,watch,1,r1\nu1,i1,soon,watch,1,r1\n",
    "one column not numbers": HEADER + "u1,i1,1700000000,watch,2.50,r1\n"
                              "u2,i1,soon,watch,3,r1\n,i2,1700000001,watch,1.0,r2\n",
    "the other not numbers": HEADER + "u1,i1,1700000000,watch,lots,r1\n"
                             ",i2,1700000001,watch,1.0,r2\n",
}


@pytest.mark.spark_matrix
@pytest.mark.parametrize("case", list(EDGES))
def test_no_valid_event_and_records_of_text_alike(spark, tmp_path, case):
    """Every row bad, or none (Spark's adaptive execution drops the plan's part that counted
    them); a CSV is numbers only where every number column parses, as the embedded engine
    reads it, which the bad rows' RECORD shows."""
    events = tmp_path / "e.csv"
    events.write_text(EDGES[case])
    data = _damaged(2)  # (its log names users, and repeats two IDs)
    paths = _write({k: v for k, v in data.items() if k != "interactions"}, tmp_path, "csv")
    paths["interactions"] = str(events)
    a, b = _both(paths, spark, on_bad_rows="quarantine")
    _assert_same(a, b, tmp_path, "csv")
    if "not numbers" in case:  # every file read as text: each TIMESTAMP shown as a string
        assert b.quarantine["RECORD"].str.contains('"TIMESTAMP":"', literal=True).all()


def test_csv_files_of_one_input_with_their_columns_in_another_order(spark, tmp_path):
    """Matched by name on both engines (Spark names a file's columns by the first file's
    header: the second file's values went to the wrong columns, a bad row or a wrong source,
    without an error); files whose headers name other columns are refused alike."""
    events = tmp_path / "events"
    events.mkdir()
    (events / "a.csv").write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,"
                                  "EVENT_ATTRIBUTION_SOURCE\nu1,i1,1700000000,watch,1,a\n")
    (events / "b.csv").write_text("EVENT_ATTRIBUTION_SOURCE,TIMESTAMP,EVENT_TYPE,USER_ID,"
                                  "EVENT_VALUE,ITEM_ID\nb,1700000100,watch,u2,2,i2\n"
                                  ",1700000200,watch,u3,,\n")
    (events / "c.csv").write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,"
                                  "EVENT_ATTRIBUTION_SOURCE\nu4,i1,1700000300,watch,4,b\n")
    ma = {"name": "m", "metrics": [{"eventType": "watch", "metricName": "w",
                                    "expression": "SUM(Interactions.EVENT_VALUE)"}]}
    a, b = (attrkit.attribute(str(events), ma, on_bad_rows="quarantine", **kw)
            for kw in ({}, {"engine": "spark", "spark": spark}))
    assert a.windows.equals(b.windows) and a.health == b.health
    assert a.health.events_by_source == {"a": 1, "b": 2}
    assert b.quarantine.select("COLUMN", "RULE").rows() == [("ITEM_ID", "required value is missing")]
    (events / "d.csv").write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n"
                                  "u5,i1,1700000400,watch,5\n")
    _same_error(spark, attrkit.InputError, r"d.csv, line 1: header differs from .*a.csv's "
                r"\(columns EVENT_ATTRIBUTION_SOURCE in one only\)", str(events), ma)


QUOTED = ('"' + HEADER.strip().replace(",", '","') + '"\n' '"u1","i1","1700000000","watch","1","r1"\n'
          '"u2","i1","1700000001","watch","",""\n' '"u3","","1700000002","watch","2",""\n'
          ',"i2",1700000003,"watch","",\n' '"u6","i1","","watch","3","r1"\n'
          '"u7","i1","1700000005","watch"\n' ',,,,,\n\n \n\t,\n')
"""A file whose writer quotes every field, and so writes a missing value as ``""``; a line
whose last fields are left out (missing, on both); a line of commas, a blank one and ones
of whitespace (no record, on both)."""


@pytest.mark.parametrize("text", [False, True])
def test_a_quoted_empty_field_is_an_empty_string_on_both(spark, tmp_path, text):
    """Spark's reader alone made ``""`` missing: now a blank ID (a bad row) on both, and an
    empty number a missing one, whether the embedded engine parses the file's numbers while
    reading or (``text``: a value that is not a number) reads the file as text."""
    events = tmp_path / "e.csv"
    events.write_text(QUOTED + ('"u5","i1","1700000004","watch","lots","r1"\n' if text else ""))
    counts = {"name": "m", "metrics": [{"eventType": "watch", "metricName": "w",
                                        "expression": "SUM(Interactions.EVENT_VALUE)"}]}
    a, b = (attrkit.attribute(str(events), counts, on_bad_rows="quarantine", **kw)
            for kw in ({}, {"engine": "spark", "spark": spark}))
    assert a.windows.equals(b.windows) and a.health == b.health
    assert a.health.events_used == 2  # (u1, and u7 with its value left out)
    cols = [c for c in a.quarantine.columns if c != "LINE"]
    assert a.quarantine.select(cols).sort(cols).equals(b.quarantine.select(cols).sort(cols))
    blank, missing = "must not be empty or blank", "required value is missing"
    want = [("ITEM_ID", blank), ("RECOMMENDATION_ID", blank), ("TIMESTAMP", missing),
            ("USER_ID", missing)] + ([("EVENT_VALUE", "must be a number")] if text else [])
    assert sorted(b.quarantine.select("COLUMN", "RULE").rows()) == sorted(want)


def test_executors_without_attrkit_get_one_line_saying_what_to_install():
    """Writing the quarantine runs attrkit's functions on the executors; a cluster without it
    there fails with Spark's Python traceback, which becomes one line."""
    from attrkit.attribution.spark import _on_the_executors

    trace = ("An exception was thrown from the Python worker.\nTraceback (most recent call "
             "last):\n  File \"worker.py\"\nModuleNotFoundError: No module named 'attrkit'\n")
    with pytest.raises(attrkit.ConfigError, match="cannot import attrkit: install") as caught, \
            _on_the_executors():
        raise RuntimeError(trace)
    assert "\n" not in str(caught.value)
    with pytest.raises(RuntimeError, match="disk full"), _on_the_executors():
        raise RuntimeError("disk full")


def test_a_quarantine_written_out_of_sight_is_an_error_not_an_empty_file(tmp_path, monkeypatch):
    """Executors that write where the driver cannot read (a cluster, a Connect server on
    another machine) leave no parts beside the file: one line saying where to write instead,
    and no file, rather than a header with no rows."""
    from attrkit.attribution.spark import SparkQuarantine

    class Elsewhere:  # a Spark writer whose files land on another machine
        def __getattr__(self, name):
            return lambda *a, **k: self

        @property
        def write(self):
            return self

    q = SparkQuarantine({"interactions": None}, {"interactions": 3}, True)
    monkeypatch.setattr(q, "_lines", lambda header_each_part: Elsewhere())
    result = attrkit.Attribution(pl.DataFrame(), None, q, None)
    with pytest.raises(attrkit.ConfigError, match="cannot see it.*--quarantine-out"):
        result.write_quarantine(tmp_path / "q.csv")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_doubled_quotes_and_file_names_that_need_encoding(spark, tmp_path, fmt):
    """A CSV quote doubled inside a quoted field is one quote (RFC 4180) on both engines, so a
    label holding one is the same source; and a file whose name a URI would encode (a space,
    '%', '#', '+') is named as it is."""
    folder = tmp_path / "in put"
    folder.mkdir()
    path = folder / f"a b%41#+c.{fmt}"
    events = pl.DataFrame({
        "USER_ID": ["u1", None, "u3"], "ITEM_ID": ["i1", "i2", "i3"],
        "TIMESTAMP": [1_700_000_000, 1_700_000_001, 1_700_000_002],
        "EVENT_TYPE": ["click", "click", "click"],
        "EVENT_ATTRIBUTION_SOURCE": ['say "hi"', 'a,"b"', "plain"]})
    getattr(events, f"write_{fmt}")(path)
    ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
                                    "expression": "SAMPLECOUNT()"}]}
    a = attrkit.attribute(str(path), ma, on_bad_rows="quarantine")
    b = attrkit.attribute(str(path), ma, on_bad_rows="quarantine", engine="spark", spark=spark)
    assert a.windows.equals(b.windows) and a.health == b.health
    assert 'say "hi"' in a.health.events_by_source
    assert b.quarantine["FILE"].to_list() == [str(path)]
    assert b.quarantine["RECORD"].str.contains('a,\\"b\\"', literal=True).all()
    qa = a.write_quarantine(tmp_path / "qa.csv").read_text().splitlines()
    qb = b.write_quarantine(tmp_path / "qb.csv").read_text().splitlines()
    if fmt == "parquet":
        assert qa == qb
    else:  # (a CSV line is blank on Spark)
        assert qb == [line.replace(f"{path},3,", f"{path},,") for line in qa]


@pytest.mark.parametrize("name", ["missing.csv", "missing.parquet", "missing/*.parquet"])
def test_a_path_spark_cannot_find_is_one_line_naming_it(spark, tmp_path, name):
    """As the embedded engine's: attrkit's InputError, the path as given first, in its words
    (Spark's own AnalysisException came through for CSV)."""
    path = str(tmp_path / name)
    with pytest.raises(attrkit.InputError, match="file not found|no interactions files") as caught:
        attrkit.attribute(path, MA, engine="spark", spark=spark)
    assert str(caught.value).startswith(path) and "\n" not in str(caught.value)


def test_a_file_name_hadoop_cannot_take_is_one_line_naming_it(spark, tmp_path):
    """Hadoop reads 'a:b.parquet' as a scheme and a path (a URISyntaxException deep in Spark):
    refused before Spark reads, naming the file; and a folder of CSV and Parquet files is
    refused as the embedded engine refuses it."""
    data = _damaged(7)
    (tmp_path / "in").mkdir()
    data["interactions"].write_parquet(tmp_path / "in" / "day:1.parquet")
    with pytest.raises(attrkit.InputError, match="holds ':'") as caught:
        attrkit.attribute(str(tmp_path / "in"), MA, engine="spark", spark=spark)
    assert str(caught.value).startswith(str(tmp_path / "in" / "day:1.parquet"))
    (tmp_path / "in" / "day:1.parquet").rename(tmp_path / "in" / "day1.parquet")
    data["interactions"].write_csv(tmp_path / "in" / "day2.csv")
    for engine in ("embedded", "spark"):
        with pytest.raises(attrkit.AttrkitError, match="more than one format"):
            attrkit.attribute(str(tmp_path / "in"), MA, **({"engine": "spark", "spark": spark}
                                                            if engine == "spark" else {}))


def test_a_parquet_type_spark_cannot_read_is_one_line_naming_the_file(spark, tmp_path):
    """Nanosecond timestamps (pandas' own) in an extra column: the embedded engine reads the
    file; Spark refuses it, in one line that names the file and what to do."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"USER_ID": ["u1"], "ITEM_ID": ["i1"], "TIMESTAMP": [1_700_000_000],
                             "EVENT_TYPE": ["click"],
                             "SEEN": pa.array([1], pa.timestamp("ns"))}), path)
    ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
                                    "expression": "SAMPLECOUNT()"}]}
    assert attrkit.attribute(str(path), ma).windows.height == 1
    with pytest.raises(attrkit.InputError, match="nanosAsLong") as caught:
        attrkit.attribute(str(path), ma, engine="spark", spark=spark)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)
    # a decimal of more digits than Spark's 38
    wide = tmp_path / "i.parquet"
    pq.write_table(pa.table({"ITEM_ID": ["i1"], "LENGTH": pa.array([3], pa.decimal256(40, 0))}),
                   wide)
    pq.write_table(pa.table({"USER_ID": ["u1"], "ITEM_ID": ["i1"], "TIMESTAMP": [1_700_000_000],
                             "EVENT_TYPE": ["click"]}), path)
    with pytest.raises(attrkit.InputError, match="precision 40 exceeds") as caught:
        attrkit.attribute(str(path), ma, items=str(wide), engine="spark", spark=spark)
    assert str(caught.value).startswith(f"{wide}: Spark cannot read it: ")
    assert "\n" not in str(caught.value)


def test_each_job_is_described_in_sparks_ui(spark):
    """A run's concurrent jobs carry ``attrkit: <what>`` as their description (Spark's UI and
    event log show it), in their own threads; the caller's description is left as it was."""
    from attrkit.attribution.spark import _all

    sc = spark.sparkContext
    seen = _all({k: (lambda: sc.getLocalProperty("spark.job.description")) for k in "ab"},
                spark, doing=" counted")
    assert seen == {"a": "attrkit: a counted", "b": "attrkit: b counted"}
    assert _all({"one": lambda: spark.range(3).count()}, spark) == {"one": 3}
    assert sc.getLocalProperty("spark.job.description") is None
    sc.setJobDescription("the user's own")  # (one job runs on the caller's thread)
    try:
        assert _all({"one": lambda: sc.getLocalProperty("spark.job.description")},
                    spark) == {"one": "attrkit: one"}
        assert sc.getLocalProperty("spark.job.description") == "the user's own"
    finally:
        sc.setJobDescription(None)


@pytest.mark.spark_matrix
@pytest.mark.parametrize("limit", ["0", "1g"])
def test_the_log_broadcast_or_shuffled_to_the_events_gives_the_same_bytes(
        spark, tmp_path, monkeypatch, limit):
    """A log small enough is broadcast to the events' join, a larger one is met by shuffling
    the events: the same report either way (``spark.attrkit.broadcastLogBytes=0``: never)."""
    from attrkit.attribution import spark as on_spark

    asked = []
    resolved = on_spark._resolved

    def spy(*args, **kw):
        asked.append(args[3])
        return resolved(*args, **kw)

    monkeypatch.setattr(on_spark, "_resolved", spy)
    paths = _write(_damaged(11), tmp_path, "parquet")
    spark.conf.set("spark.attrkit.broadcastLogBytes", limit)
    try:
        a, b = _both(paths, spark, on_bad_rows="quarantine")
    finally:
        spark.conf.unset("spark.attrkit.broadcastLogBytes")
    assert asked == [limit != "0"]
    _assert_same(a, b, tmp_path, "parquet")


def test_when_the_log_is_broadcast(spark):
    """The limit: the session's own setting, else an eighth of the driver's memory; at most
    half of maxResultSize (a broadcast passes through the driver); none where the session
    turns broadcasts off."""
    from attrkit.attribution.spark import _broadcast_limit, _bytes

    assert [_bytes(s) for s in ("16m", "1g", "512MB", "1048576", " 2 KiB", "1t")] == [
        16 << 20, 1 << 30, 512 << 20, 1 << 20, 2 << 10, 1 << 40]
    with pytest.raises(attrkit.ConfigError, match="'lots'"):
        _bytes("lots")
    assert _bytes("4096", unit="m") == 4 << 30  # (spark.driver.memory: a bare number is MiB)
    memory = _bytes(spark.conf.get("spark.driver.memory", "1g"), unit="m")
    most = _bytes(spark.conf.get("spark.driver.maxResultSize", "1g"))
    assert _broadcast_limit(spark) == min(memory // 8, most // 2)
    for key, value, want in [("spark.attrkit.broadcastLogBytes", "3m", min(3 << 20, most // 2)),
                             ("spark.attrkit.broadcastLogBytes", "0", 0),
                             ("spark.attrkit.broadcastLogBytes", "-1", 0),
                             ("spark.sql.autoBroadcastJoinThreshold", "-1", 0)]:
        spark.conf.set(key, value)
        try:
            assert _broadcast_limit(spark) == want, (key, value)
        finally:
            spark.conf.unset(key)
