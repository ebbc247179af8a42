"""One test per bad-input rule: each names the file, the line or row, the column and the rule."""

from __future__ import annotations

import csv
import io
import json
import re

import polars as pl
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from attrkit import AttrkitError, ConfigError, InputError, attribute
from attrkit.cli import main

HEADER = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,RECOMMENDATION_ID,EVENT_ATTRIBUTION_SOURCE\n"
GOOD = "u1,i1,1700000000,click,,\n"
MA = {"name": "t", "metrics": [{"eventType": "click", "metricName": "clicks",
                                "expression": "SAMPLECOUNT()"}]}


def _run(tmp_path, body: bytes | str, **kw):
    path = tmp_path / "interactions.csv"
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path, attribute(path, MA, **kw)


@pytest.mark.parametrize("line, column, rule", [
    (",i1,1700000000,click,,\n", "USER_ID", "required value is missing"),
    ('"",i1,1700000000,click,,\n', "USER_ID", "must not be empty"),
    ('"  ",i1,1700000000,click,,\n', "USER_ID", "must not be empty"),
    ("u" * 257 + ",i1,1700000000,click,,\n", "USER_ID", "longer than 256"),
    ("u1,,1700000000,click,,\n", "ITEM_ID", "required value is missing"),
    ("u1,i1,,click,,\n", "TIMESTAMP", "required value is missing"),
    ("u1,i1,soon,click,,\n", "TIMESTAMP", "must be Unix epoch seconds"),
    ("u1,i1,1700000000000,click,,\n", "TIMESTAMP", "looks like milliseconds"),
    ("u1,i1,2023-11-14T22:13:20Z,click,,\n", "TIMESTAMP", "ISO 8601"),
    ("u1,i1,1e30,click,,\n", "TIMESTAMP", "out of range"),
    ("u1,i1,inf,click,,\n", "TIMESTAMP", "finite"),
    ("u1,i1,1700000000,,,\n", "EVENT_TYPE", "required value is missing"),
    ("u1,i1,1700000000,click,,   \n", "EVENT_ATTRIBUTION_SOURCE", "blank"),
    ("u1,i1,1700000000,click,,caf\u00e9\n", "EVENT_ATTRIBUTION_SOURCE", "printable ASCII"),
    ("u1,i1,1700000000,click,," + "x" * 1025 + "\n", "EVENT_ATTRIBUTION_SOURCE", "longer than"),
    ("u1,i1,1700000000,click," + "r" * 257 + ",\n", "RECOMMENDATION_ID", "longer than 256"),
])
def test_row_rules_name_file_line_column_rule(tmp_path, line, column, rule):
    with pytest.raises(InputError) as info:
        _run(tmp_path, HEADER + GOOD + GOOD + line + GOOD)
    err = info.value
    assert (err.line, err.column) == (4, column)
    assert rule in str(err)
    assert str(err).startswith(str(tmp_path / "interactions.csv") + ", line 4, column " + column)
    assert "\n" not in str(err)


def test_milliseconds_are_converted_when_asked(tmp_path):
    _, result = _run(tmp_path, HEADER + "u1,i1,1700000000999,click,,\n", timestamp_unit="ms")
    assert result.windows["timestamp"].to_list() == [1700000000 // 900 * 900]


@pytest.mark.parametrize("value, rule", [
    ("soon", "must be Unix epoch milliseconds (a number)"),
    ("2023-11-14T22:13:20Z", "ISO 8601 date-time; TIMESTAMP must be Unix epoch milliseconds"),
    ("1e30", "is out of range for Unix epoch milliseconds")])
def test_a_bad_timestamp_in_milliseconds_is_said_in_milliseconds(tmp_path, value, rule):
    """With timestamp_unit='ms' the rule names the unit the user chose, not seconds."""
    with pytest.raises(InputError, match=re.escape(rule)):
        _run(tmp_path, HEADER + f"u1,i1,{value},click,,\n", timestamp_unit="ms")


@pytest.mark.parametrize("value, rounded", [
    ("1.76E+09", True), ("1.76457E+09", True), (" 1.7e+09", True), ("17.6E+08", True),
    ("1.764571234E+09", False), ("1.7E9", False), ("1700000000.5", False)])
def test_a_time_a_spreadsheet_rounded_is_a_bad_row(tmp_path, value, rounded):
    """A spreadsheet saves a long number in scientific notation, rounded (``1.76457E+09``):
    every event of a day would fall into one window, so such a time is a bad row; a time whose
    digits are all there (Java's ``1.7E9`` is its double's exact text) reads."""
    line = f'u1,i1,"{value}",click,,\n'
    if not rounded:
        _, result = _run(tmp_path, HEADER + line)
        assert result.health.events_used == 1
        return
    with pytest.raises(InputError, match=re.escape(
            "line 2, column TIMESTAMP: is rounded in scientific notation, as a spreadsheet saves "
            "a long number, and has lost its last digits; TIMESTAMP must be Unix epoch seconds "
            "written in full")):
        _run(tmp_path, HEADER + line)


def test_seconds_read_as_milliseconds_are_a_bad_row(tmp_path):
    """Seconds with timestamp_unit='ms' by mistake would be times of January 1970: each is a
    bad row saying so, in CSV text and in typed columns; milliseconds read."""
    with pytest.raises(InputError, match=re.escape(
            "line 2, column TIMESTAMP: looks like seconds; with timestamp_unit='ms' TIMESTAMP "
            "must be Unix epoch milliseconds")):
        _run(tmp_path, HEADER + "u1,i1,1700000000,click,,\n", timestamp_unit="ms")
    events = pl.DataFrame({"USER_ID": ["u1", "u2"], "ITEM_ID": ["i1", "i1"],
                           "TIMESTAMP": [1_700_000_000, 1_700_000_000_000],
                           "EVENT_TYPE": ["click"] * 2})
    for frame in (events, events.with_columns(pl.col("TIMESTAMP").cast(pl.Float64))):
        got = attribute(frame, MA, timestamp_unit="ms", on_bad_rows="quarantine")
        assert got.quarantine["RULE"].str.starts_with("looks like seconds").to_list() == [True]
        assert got.health.events_used == 1
    # a date-time keeps its own unit: one of 1971 is not taken for seconds
    early = events.with_columns(pl.col("TIMESTAMP").cast(pl.Datetime("ms")))
    assert attribute(early, MA, timestamp_unit="ms").health.events_used == 2


def test_a_misspelt_optional_column_is_named_in_a_warning(tmp_path):
    """An optional column under a name close to its own (``recommendation_id``,
    ``EVENT_ATTRIBUTION_SRC``) is not read, so its events count as unattributed: the health
    summary says which column was meant. A column of its own beside the right one is not."""
    _, result = _run(tmp_path, "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,recommendation_id,"
                     "EVENT_ATTRIBUTION_SRC\nu1,i1,1700000000,click,r1,email\n")
    assert result.health.events_by_source == {"SOURCE_NAME_UNDEFINED": 1}
    assert [w for w in result.health.warnings if "is not read" in w] == [
        "column recommendation_id of interactions is not read: did you mean RECOMMENDATION_ID? "
        "(names are told apart by case)",
        "column EVENT_ATTRIBUTION_SRC of interactions is not read: did you mean "
        "EVENT_ATTRIBUTION_SOURCE?"]
    _, result = _run(tmp_path, "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,RECOMMENDATION_ID,"
                     "recommendation_id,EVENT_TYPES\nu1,i1,1700000000,click,r1,x,y\n")
    assert not [w for w in result.health.warnings if "is not read" in w]


def test_missing_required_column(tmp_path):
    with pytest.raises(InputError, match="missing required column TIMESTAMP") as info:
        _run(tmp_path, "USER_ID,ITEM_ID,EVENT_TYPE\nu,i,click\n")
    assert info.value.column == "TIMESTAMP"


def test_missing_column_hints_at_case(tmp_path):
    with pytest.raises(InputError, match="case-sensitive"):
        _run(tmp_path, "user_id,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu,i,1,click\n")


def test_non_utf8_bytes_name_the_line(tmp_path):
    body = (HEADER + GOOD).encode() + b"u\xff\xfe,i1,1700000000,click,,\n" + GOOD.encode()
    with pytest.raises(InputError, match="line 3: not valid UTF-8"):
        _run(tmp_path, body)


def test_malformed_csv_line_names_the_line(tmp_path):
    with pytest.raises(InputError, match="line 4: malformed CSV line: 7 fields, the header has 6"):
        _run(tmp_path, HEADER + GOOD + GOOD + "u1,i1,1700000000,click,,,extra\n")


GOOD_AND_EMPTY = (GOOD + 'u2,i1,1700000001,click,"",\n' + 'u3,"",1700000002,click,,\n'
                  + "u4,i1,1700000003,click\n" + "u5,i1\n" + '"u6","i1","1700000004","click","",""\n'
                  + 'u7,"i""1",1700000005,click,,"a,b"\n')
"""Lines the fast reader reads: fields quoted empty (an empty string, a bad row where text is
required), fields left empty or left out (missing)."""


@pytest.mark.parametrize("broken", ["", "u9,i1,1700000009,click,,,extra\n",
                                    'u9,"i1,1700000009,click,,\n', b"u\xff,i1,1,click,,\n"])
def test_a_line_is_read_alike_whether_or_not_another_line_is_broken(tmp_path, broken):
    """A broken line sends the file to the line-by-line reader; every other line must come out
    of it as from the fast reader: a quoted empty field an empty string, a short line's fields
    missing (as polars, pandas and Spark read it)."""
    body = (HEADER + GOOD_AND_EMPTY).encode() + (
        broken if isinstance(broken, bytes) else broken.encode())
    _, result = _run(tmp_path, body, on_bad_rows="quarantine")
    bad = result.quarantine.filter(pl.col("LINE") <= 8).select("LINE", "COLUMN", "RULE", "VALUE")
    assert bad.rows() == [(3, "RECOMMENDATION_ID", "must not be empty or blank", ""),
                          (4, "ITEM_ID", "must not be empty or blank", ""),
                          (6, "TIMESTAMP", "required value is missing", None),
                          (7, "RECOMMENDATION_ID", "must not be empty or blank", "")]
    assert result.health.events_used == 3 and result.quarantine.height == 4 + bool(broken)
    assert result.quarantine.filter(pl.col("LINE") > 8)["LINE"].to_list() == [9] * bool(broken)


@pytest.mark.parametrize("broken", ["", "u9,i1,1700000009,click,,,extra\n"])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_blank_lines_and_lines_of_commas_hold_no_record(tmp_path, broken, ending):
    """As pandas, Spark and the csv module read a blank line (polars makes it a row of
    nulls), on either reader; commas only, as spreadsheets export the rows below their data,
    and whitespace only (as Spark's reader drops it), likewise. A field quoted empty is a
    value: a bad row."""
    body = (HEADER + GOOD + "\n" + ",,,,,\n" + ",,\n" + '"",,,,,\n' + GOOD + " \n\t,\n"
            + broken + ",,,,,,,,\n" * bool(broken)).replace("\n", ending)
    _, result = _run(tmp_path, body, on_bad_rows="quarantine")
    assert result.health.events_used == 2
    assert result.health.rows_read == {"interactions": 3 + bool(broken)}
    assert result.quarantine.select("LINE", "COLUMN", "RULE").rows()[:1] == [
        (6, "USER_ID", "must not be empty or blank")]
    assert result.quarantine.height == 1 + bool(broken)
    # in error mode, a file ending in blank lines runs (no bad row to name)
    _, result = _run(tmp_path, (HEADER + GOOD + ",,,,,\n\n\n").replace("\n", ending))
    assert result.health.events_used == 1 and result.health.rows_read == {"interactions": 1}


@pytest.mark.parametrize("broken", ["", "u9,i1,soon,click,,\n", "u9,i1,1700000009,click,,,x\n"])
def test_a_number_of_spaces_is_missing_on_every_reader(tmp_path, broken):
    """As polars' reader parses a number column, the text and line-by-line readers too."""
    body = HEADER.replace("\n", ",EVENT_VALUE\n") + "u1,i1, \t,click,,,1\nu2,i1,1700000001,click,,, \n"
    _, result = _run(tmp_path, body + broken, on_bad_rows="quarantine")
    bad = result.quarantine.filter(pl.col("LINE") == 2).select("COLUMN", "RULE").rows()
    assert bad == [("TIMESTAMP", "required value is missing")]
    assert result.health.events_used == 1 and result.health.metrics["clicks"].events == 1


@given(st.lists(st.tuples(st.text(alphabet=',"ab\n ', max_size=4), st.booleans()),
                min_size=1, max_size=6))
def test_the_fields_that_were_quoted_are_found(fields):
    """Against how the record was written: each field quoted or not (a field holding a comma,
    a quote or a line break must be)."""
    from attrkit.inputs.readers import _quoted_fields

    must = [q or any(c in v for c in ',"\n') for v, q in fields]
    text = ",".join(f'"{v.replace(chr(34), 2 * chr(34))}"' if q else v
                    for (v, _), q in zip(fields, must, strict=True)) + "\r\n"
    assume(text != "\r\n")  # (a blank line: no record)
    assert _quoted_fields(text) == must
    assert next(csv.reader(io.StringIO(text))) == [v for v, _ in fields]


def test_unclosed_quote_is_malformed(tmp_path):
    with pytest.raises(InputError, match="line 3"):
        _run(tmp_path, HEADER + GOOD + 'u1,"i1,1700000000,click,,\n')


def test_wrong_type_in_parquet_names_the_row(tmp_path):
    path = tmp_path / "ev.parquet"
    pl.DataFrame({"USER_ID": ["u", "u"], "ITEM_ID": ["i", "i"], "TIMESTAMP": [1.0, 2.0],
                  "EVENT_TYPE": ["click", "click"],
                  "EVENT_ATTRIBUTION_SOURCE": [True, False]}).write_parquet(path)
    with pytest.raises(InputError, match=r"ev.parquet, row 0, column EVENT_ATTRIBUTION_SOURCE: "
                                         r"must be text"):
        attribute(path, MA)


def test_categories_are_text(tmp_path):
    """Text held as categories (pandas' ``category``, written to Parquet as a dictionary that
    polars reads back as Categorical; polars' Enum) reads as the text it holds, in every
    dataset: the same report and rules as plain text (each row had been set aside as "must be
    text, not Categorical")."""
    events = pl.DataFrame({"USER_ID": ["u1", "u2", " ", "u1"], "ITEM_ID": ["i1", "i2", "i1", "i9"],
                           "TIMESTAMP": [1700000000, 1700000100, 1700000200, 1700001000],
                           "EVENT_TYPE": ["Watch", "click", "watch", "watch"],
                           "RECOMMENDATION_ID": ["r1", None, "r2", "r1"],
                           "EVENT_ATTRIBUTION_SOURCE": [None, "email", None, "caf\u00e9"]})
    items = pl.DataFrame({"ITEM_ID": ["i1", "i2"], "LENGTH": [3.0, 4.5]})
    log = pl.DataFrame({"RECOMMENDATION_ID": ["r1", "r2"], "SOURCE": ["A", "B"],
                        "TIMESTAMP": [1699999990, 1700000150], "USER_ID": ["u1", "u2"]})
    ma = {"name": "t", "metrics": [{"eventType": "watch", "metricName": "m",
                                    "expression": "SUM(Items.LENGTH)"},
                                   {"eventType": "click", "metricName": "c",
                                    "expression": "SAMPLECOUNT()"}]}
    text = [c for c, t in events.schema.items() if t == pl.String]

    def run(ev, it, lg, name):
        got = attribute(ev, ma, items=it, recommendations=lg, on_bad_rows="quarantine")
        return (got.write_report(tmp_path / f"{name}.csv", when=0).read_bytes(),
                got.quarantine.select("ROW", "COLUMN", "RULE", "VALUE").rows(), got.health)

    want = run(events, items, log, "text")
    assert [r[1:3] for r in want[1]] == [("USER_ID", "must not be empty or blank"),
                                        ("EVENT_ATTRIBUTION_SOURCE", "must be printable ASCII")]
    as_categories = (events.with_columns(pl.col(text).cast(pl.Categorical)),
                     items.with_columns(pl.col("ITEM_ID").cast(pl.Categorical)),
                     log.with_columns(pl.col("RECOMMENDATION_ID", "SOURCE", "USER_ID")
                                      .cast(pl.Categorical)))
    paths = []
    for name, frame in zip(("events", "items", "log"), as_categories, strict=True):
        frame.to_pandas().astype({c: "category" for c in frame.columns
                                  if frame.schema[c] == pl.Categorical}
                                 ).to_parquet(tmp_path / f"{name}.parquet")
        paths.append(tmp_path / f"{name}.parquet")
    assert pl.read_parquet(paths[0]).schema["USER_ID"] == pl.Categorical  # (as read back)
    assert run(*as_categories, "categorical") == want
    assert run(*paths, "parquet") == want
    enum = events.with_columns(pl.col("EVENT_TYPE").cast(pl.Enum(["Watch", "click", "watch"])))
    assert run(enum, items, log, "enum") == want
    assert run(*(f.to_pandas().astype({c: "category" for c in f.columns if f.schema[c] ==
                                       pl.Categorical}) for f in as_categories), "pandas") == want


def test_a_column_never_filled_in_holds_missing_numbers(tmp_path):
    """A pandas column of None (never filled in), as pandas writes it to Parquet (a column of
    no type) and as a frame, is a column of missing numbers to a SUM, as a column of missing
    floats is (it had been refused as "Null, not numeric", or as text)."""
    import pandas as pd
    import pyarrow.parquet as pq

    events = pl.DataFrame({"USER_ID": ["u1", "u2", "u1"], "ITEM_ID": ["i1", "i2", "i1"],
                           "TIMESTAMP": [1700000000, 1700000100, 1700001000],
                           "EVENT_TYPE": ["watch", "watch", "click"],
                           "EVENT_VALUE": pl.Series([None] * 3, dtype=pl.Float64)})
    items = pl.DataFrame({"ITEM_ID": ["i1", "i2"], "LENGTH": pl.Series([None] * 2, dtype=pl.Float64)})
    ma = {"name": "t", "metrics": [
        {"eventType": "watch", "metricName": "v", "expression": "SUM(Interactions.EVENT_VALUE)"},
        {"eventType": "watch", "metricName": "m", "expression": "SUM(Items.LENGTH)"}]}

    def report(ev, it, name):
        got = attribute(ev, ma, items=it)
        return got.write_report(tmp_path / f"{name}.csv", when=0).read_bytes(), got.health

    want = report(events, items, "floats")
    assert want[0].count(b",0") >= 2  # (each sum is there, and 0)
    pe, pi = events.to_pandas(), items.to_pandas()
    pe["EVENT_VALUE"], pi["LENGTH"] = None, None
    assert pe["EVENT_VALUE"].dtype == object
    pe.to_parquet(tmp_path / "e.parquet"), pi.to_parquet(tmp_path / "i.parquet")
    assert str(pq.read_schema(tmp_path / "e.parquet").field("EVENT_VALUE").type) == "null"
    assert report(str(tmp_path / "e.parquet"), str(tmp_path / "i.parquet"), "parquet") == want
    assert report(pe, pi, "pandas") == want
    assert report(events.with_columns(pl.lit(None).alias("EVENT_VALUE")),
                  items.with_columns(pl.lit(None).alias("LENGTH")), "polars") == want
    # a text column of None in a frame is still missing text: a required ID is missing
    pe["USER_ID"] = pd.Series([None, "u2", "u1"], dtype=object)
    with pytest.raises(InputError, match="<pandas.DataFrame>, row 0, column USER_ID: required"):
        attribute(pe, ma, items=pi)


def test_a_pandas_column_of_values_of_several_types_is_one_line(tmp_path):
    """A pandas column of Python objects that Arrow cannot hold as one type (integers and
    text, which pandas makes easily) is one line naming the frame and the column, not
    pyarrow's error; the same column as text reads."""
    import pandas as pd

    frame = pd.DataFrame({"USER_ID": ["u1", "u2"], "ITEM_ID": pd.Series([7, "i2"], dtype=object),
                          "TIMESTAMP": [1700000000, 1700000100], "EVENT_TYPE": ["click"] * 2})
    with pytest.raises(InputError) as caught:
        attribute(frame, MA)
    assert str(caught.value) == (
        "<pandas.DataFrame>, column ITEM_ID: holds Python values that are not of one type it "
        "can read (int, str); convert the column to text or numbers first, e.g. "
        ".astype('string')")
    frame["ITEM_ID"] = frame["ITEM_ID"].astype("string")
    assert attribute(frame, MA).health.events_used == 2


def test_pandas_frame_rows_are_named(tmp_path):
    import pandas as pd
    frame = pd.DataFrame({"USER_ID": ["u", ""], "ITEM_ID": ["i", "i"], "TIMESTAMP": [1, 2],
                          "EVENT_TYPE": ["click", "click"]})
    with pytest.raises(InputError, match=r"<pandas.DataFrame>, row 1, column USER_ID"):
        attribute(frame, MA)


def test_duplicate_item_ids_are_bad_rows(tmp_path):
    (tmp_path / "items.csv").write_text("ITEM_ID,LENGTH\ni1,10\ni2,5\ni1,20\n")
    ma = {"name": "t", "metrics": [{"eventType": "click", "metricName": "m",
                                    "expression": "SUM(Items.LENGTH)"}]}
    with pytest.raises(InputError, match=r"items.csv, line 4, column ITEM_ID: duplicate ITEM_ID"):
        attribute(pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i1"], "TIMESTAMP": [1],
                                "EVENT_TYPE": ["click"]}), ma, items=tmp_path / "items.csv")


def test_item_value_that_is_not_a_number(tmp_path):
    (tmp_path / "items.csv").write_text("ITEM_ID,LENGTH\ni1,10\ni2,long\n")
    ma = {"name": "t", "metrics": [{"eventType": "click", "metricName": "m",
                                    "expression": "SUM(Items.LENGTH)"}]}
    with pytest.raises(InputError, match=r"line 3, column LENGTH: must be a number"):
        attribute(pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i1"], "TIMESTAMP": [1],
                                "EVENT_TYPE": ["click"]}), ma, items=tmp_path / "items.csv")


@pytest.mark.parametrize("expr, items, match", [
    ("SUM(Items.PRICE)", {"ITEM_ID": ["i"], "LENGTH": [1]}, "reads column PRICE of items"),
    ("SUM(Items.GENRE)", {"ITEM_ID": ["i"], "GENRE": ["drama"]}, "GENRE of items .* not numbers"),
    ("SUM(Interactions.MINUTES)", None, "reads column MINUTES of interactions"),
    ("SUM(Items.LENGTH)", None, "needs the items dataset"),
])
def test_sum_over_missing_or_non_numeric_column(expr, items, match):
    from attrkit import ConfigError

    ma = {"name": "t", "metrics": [{"eventType": "click", "metricName": "m", "expression": expr}]}
    ev = pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i"], "TIMESTAMP": [1],
                       "EVENT_TYPE": ["click"]})
    with pytest.raises(ConfigError, match=f"metric 'm': .*{match}"):
        attribute(ev, ma, items=pl.DataFrame(items) if items else None)


def test_a_summed_column_only_unreadable_lines_hold_says_so(tmp_path):
    """Every PutEvents line with ``properties`` as an object (it must be a JSON string): the
    SUM's column is in no line read, and the message names the first unreadable line too."""
    path = tmp_path / "events.jsonl"
    event = {"eventType": "purchase", "itemId": "i1", "sentAt": 1700000000, "eventValue": 3.5,
             "properties": {"device": "ios"}}
    path.write_text("\n".join(json.dumps({"userId": f"u{i}", "sessionId": "s",
                                          "eventList": [event]}) for i in range(3)) + "\n")
    ma = {"name": "m", "metrics": [{"eventType": "purchase", "metricName": "revenue",
                                    "expression": "SUM(Interactions.EVENT_VALUE)"}]}
    with pytest.raises(ConfigError) as caught:
        attribute(path, ma, on_bad_rows="quarantine")
    assert str(caught.value).endswith(
        "does not have; columns: USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE (nor any of its 3 lines "
        "that could not be read; the first, line 1: properties must be a JSON object encoded as "
        "a string, in Unicode)")


def test_put_events_bad_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    good = {"sessionId": "s", "eventList": [{"eventType": "click", "sentAt": 1700000000}]}
    path.write_text(json.dumps(good) + "\n{broken\n")
    with pytest.raises(InputError, match=r"events.jsonl, line 2: not valid JSON"):
        attribute(path, MA)
    path.write_text(json.dumps({"sessionId": "s", "eventList": []}) + "\n")
    with pytest.raises(InputError, match=r"line 1, column eventList: eventList must be"):
        attribute(path, MA)
    path.write_text(json.dumps({"sessionId": "s", "eventList": [
        {"eventType": "click", "sentAt": 1, "recommendationId": "r" * 41}]}) + "\n")
    with pytest.raises(InputError, match=r"line 1, column recommendationId: longer than 40"):
        attribute(path, MA)


def test_quarantine_sets_aside_every_bad_row_and_goes_on(tmp_path):
    body = (HEADER + GOOD).encode() + b"u\xff,i1,1700000000,click,,\n" + (
        "u1,i1,1700000000999,click,,\n" + "u1,i1,1700000000,click,,,x\n" + GOOD + ",i,1,click,,\n"
    ).encode()
    path, result = _run(tmp_path, body, on_bad_rows="quarantine")
    q = result.quarantine.sort("LINE")
    assert q["LINE"].to_list() == [3, 4, 5, 7]
    assert q["COLUMN"].to_list() == [None, "TIMESTAMP", None, "USER_ID"]
    assert "milliseconds" in q["RULE"][1]
    assert q["FILE"].unique().to_list() == [str(path)]
    assert json.loads(q["RECORD"][1])["TIMESTAMP"] == "1700000000999"
    assert result.health.quarantined == {"interactions": 4}
    assert result.health.rows_read == {"interactions": 6}
    assert result.windows["value"].sum() == 2


@pytest.fixture
def clicks_json(tmp_path):
    path = tmp_path / "clicks.json"
    path.write_text(json.dumps(MA))
    return path


def test_cli_bad_input_exits_2_with_one_line_and_no_report(tmp_path, capsys, clicks_json):
    ma_json = clicks_json
    path = tmp_path / "interactions.csv"
    path.write_text(HEADER + GOOD + "u1,i1,1700000000000,click,,\n")
    out = tmp_path / "out" / "report.csv"
    code = main(["attribute", "--interactions", str(path), "--metric-attribution", str(ma_json),
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "line 3, column TIMESTAMP" in err
    assert not out.exists()
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_cli_quarantine_file_beside_the_report(tmp_path, capsys, clicks_json):
    ma_json = clicks_json
    path = tmp_path / "interactions.csv"
    path.write_text(HEADER + GOOD + "u1,i1,1700000000000,click,,\n")
    out = tmp_path / "report.csv"
    code = main(["attribute", "--interactions", str(path), "--metric-attribution", str(ma_json),
                 "--out", str(out), "--on-bad-rows", "quarantine"])
    assert code == 0
    q = pl.read_csv(tmp_path / "report.quarantine.csv")
    assert q["LINE"].to_list() == [3] and q["COLUMN"].to_list() == ["TIMESTAMP"]
    assert "quarantined rows: interactions 1" in capsys.readouterr().out


def test_object_columns_in_frames_are_refused():
    import numpy as np

    frame = pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i"], "TIMESTAMP": [1],
                          "EVENT_TYPE": ["click"],
                          "RECOMMENDATION_ID": np.array([None], dtype=object)})
    if frame.schema["RECOMMENDATION_ID"] != pl.Object:
        frame = frame.with_columns(pl.Series("RECOMMENDATION_ID", [object()], dtype=pl.Object))
    with pytest.raises(InputError, match="column RECOMMENDATION_ID: holds Python objects"):
        attribute(frame, MA)


def test_csv_values_the_typed_read_cannot_parse_still_load(tmp_path):
    """Fractional and padded timestamps fail the fast typed CSV read; the text read takes them."""
    _, result = _run(tmp_path, HEADER + "u1,i1, 1700000000 ,click,,\nu2,i1,1700000899.5,click,,\n")
    assert result.windows.select("timestamp", "value").rows() == [(1699999200, 1.0),
                                                                  (1700000100, 1.0)]
    from attrkit import attribute_exposure

    log = tmp_path / "log.csv"
    log.write_text("RECOMMENDATION_ID,SOURCE,TIMESTAMP\nr1,A,900.5\nr2,A,901\n")
    assert attribute_exposure(log).rows() == [(900, "A", 2.0)]
    log.write_text("RECOMMENDATION_ID,SOURCE,TIMESTAMP\nr1,A,900\nr2,A,soon\n")
    with pytest.raises(InputError, match=r"log.csv, line 3, column TIMESTAMP"):
        attribute_exposure(log)


def test_unique_ids_are_checked_by_hash_then_exactly(monkeypatch):
    from attrkit.attribution import plan
    from attrkit.inputs.schema import may_repeat

    assert not may_repeat(pl.Series(["a", "b", None, None]))  # nulls are not repeats
    assert may_repeat(pl.Series(["a", "b", "a"]))
    # When the hashes say "may repeat" but no ID does (a collision), the exact check finds no
    # duplicate and the result is the same.
    log = pl.DataFrame({"RECOMMENDATION_ID": ["r1", "r2"], "SOURCE": ["A", "B"],
                        "TIMESTAMP": [0, 0]})
    ev = pl.DataFrame({"USER_ID": ["u", "u"], "ITEM_ID": ["i", "i"], "TIMESTAMP": [1, 2],
                       "EVENT_TYPE": ["click"] * 2, "RECOMMENDATION_ID": ["r1", "r2"]})
    ma = {"name": "t", "metrics": [{"eventType": "click", "metricName": "m",
                                    "expression": "SAMPLECOUNT()"}]}
    fast = attribute(ev, ma, recommendations=log)
    monkeypatch.setattr(plan, "may_repeat", lambda values: True)
    exact = attribute(ev, ma, recommendations=log)
    assert exact.windows.equals(fast.windows)
    assert exact.health.events_by_source == {"A": 1, "B": 1}
    # and a real repeat is still caught on the exact path
    with pytest.raises(InputError, match="row 1, column RECOMMENDATION_ID: duplicate"):
        attribute(ev, ma, recommendations=log.with_columns(RECOMMENDATION_ID=pl.lit("r1")))


def test_length_limits_count_characters_not_bytes(tmp_path):
    # 256 two-byte characters (512 bytes) is within the limit; 257 of them is not. Characters
    # are counted only where the byte length is over the limit, so both sides of that matter.
    ok = "\u00e9" * 256
    _, result = _run(tmp_path, HEADER + GOOD + f"{ok},{ok},1700000000,click,,\n")
    assert result.health.rows_read["interactions"] == 2 and result.health.events_used == 2
    with pytest.raises(InputError, match=r"line 3, column USER_ID: longer than 256 characters"):
        _run(tmp_path, HEADER + GOOD + "\u00e9" * 257 + ",i1,1700000000,click,,\n")


def _put_events(tmp_path, sent_at: list):
    path = tmp_path / "events.jsonl"
    lines = [json.dumps({"sessionId": "s", "userId": f"u{i}", "eventList": [
        {"eventType": "click", "itemId": "i", "sentAt": t}]}) for i, t in enumerate(sent_at)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_put_events_sent_at_may_be_an_iso_8601_string(tmp_path):
    ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "c",
                                    "expression": "SAMPLECOUNT()"}]}
    numbers = attribute(_put_events(tmp_path, [1767571200, 1767572100.5]), ma).windows
    (tmp_path / "n").mkdir()
    iso = attribute(_put_events(tmp_path / "n", ["2026-01-05T00:00:00Z",
                                                 "2026-01-05T00:15:00.5+00:00"]), ma).windows
    assert iso.write_csv() == numbers.write_csv()
    assert numbers["timestamp"].to_list() == [1767571200, 1767572100]


def test_put_events_errors_name_the_json_field(tmp_path):
    ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "c",
                                    "expression": "SAMPLECOUNT()"}]}
    with pytest.raises(InputError, match=r"events.jsonl, line 2.*sentAt") as err:
        attribute(_put_events(tmp_path, ["2026-01-05T00:00:00Z", "next tuesday"]), ma)
    assert "TIMESTAMP" not in str(err.value) and err.value.column == "sentAt"


def test_a_bad_rows_value_is_the_value_of_the_rule_it_broke():
    """A missing USER_ID beside an ITEM_ID of the wrong type: the row is set aside for the
    first rule it breaks, and its VALUE is that column's (missing), not the next rule's."""
    import attrkit

    events = pl.DataFrame({"USER_ID": pl.Series([None, b"u2"], dtype=pl.Binary),
                           "ITEM_ID": [-0.5, 1.0], "TIMESTAMP": [1_700_000_000] * 2,
                           "EVENT_TYPE": ["click"] * 2})
    ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
                                    "expression": "SAMPLECOUNT()"}]}
    q = attrkit.attribute(events, ma, on_bad_rows="quarantine").quarantine
    assert q.select("COLUMN", "RULE", "VALUE").rows() == [
        ("USER_ID", "required value is missing", None),
        ("USER_ID", "must be text, not Binary", "0x7532")]


def test_a_file_uri_is_the_local_file_it_names(tmp_path):
    """``file:///…`` (as Spark and Hadoop write local paths; the Spark engine takes it) names
    the local file, percent-escapes decoded, on the embedded engine too; another host's is
    refused in one line."""
    from attrkit.inputs.readers import load

    folder = tmp_path / "my data"
    folder.mkdir()
    pl.DataFrame({"ITEM_ID": ["a", "b"], "LENGTH": [1, 2]}).write_parquet(folder / "i.parquet")
    want = load("items", folder / "i.parquet").raw.collect()
    uri = (folder / "i.parquet").as_uri()
    assert "%20" in uri and uri.startswith("file:///")
    for shown in (uri, uri.replace("file:///", "file://localhost/"), "file:" + str(folder)):
        assert load("items", shown).raw.collect().equals(want), shown
    with pytest.raises(AttrkitError, match="another host") as caught:
        load("items", "file://elsewhere/data/i.parquet")
    assert "\n" not in str(caught.value)


def test_a_parquet_file_whose_name_has_brackets_is_that_file(tmp_path):
    """'e[1].parquet' is a file's name, not a pattern (polars globbed it and found nothing)."""
    path = tmp_path / "e[1].parquet"
    pl.DataFrame({"USER_ID": ["u1"], "ITEM_ID": ["i1"], "TIMESTAMP": [1_700_000_000],
                  "EVENT_TYPE": ["click"]}).write_parquet(path)
    assert attribute(path, MA).windows["value"].to_list() == [1.0]


def test_a_parquet_file_polars_cannot_read_is_named_alone(tmp_path):
    """A Parquet decimal of more than 38 digits, which polars cannot read: the one line names
    that file, not every input of the run."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wide = tmp_path / "items.parquet"
    pq.write_table(pa.table({"ITEM_ID": ["i1"], "LENGTH": pa.array([3], pa.decimal256(40, 0))}),
                   wide)
    events = pl.DataFrame({"USER_ID": ["u1"], "ITEM_ID": ["i1"], "TIMESTAMP": [1700000000],
                           "EVENT_TYPE": ["click"]})
    log = pl.DataFrame({"RECOMMENDATION_ID": ["r1"], "SOURCE": ["A"], "TIMESTAMP": [1700000000]})
    ma = {"name": "t", "metrics": [{"eventType": "click", "metricName": "m",
                                    "expression": "SUM(Items.LENGTH)"}]}
    with pytest.raises(InputError) as caught:
        attribute(events, ma, items=wide, recommendations=log)
    assert str(caught.value).startswith(f"{wide}: could not be read (")
    assert "\n" not in str(caught.value)


def test_a_header_separated_by_semicolons_says_so(tmp_path):
    """A spreadsheet in a locale with decimal commas exports CSV separated by ';'."""
    with pytest.raises(InputError, match=re.escape(
            "missing required column USER_ID for interactions (the header is one column "
            "holding ';': a CSV file is separated by commas; export it as comma-separated)")):
        _run(tmp_path, "USER_ID;ITEM_ID;TIMESTAMP;EVENT_TYPE\nu1;i1;1700000000;click\n")


def test_a_pandas_frame_polars_cannot_take_is_one_line():
    """A pandas frame with a column name twice, which polars refuses: one line naming the frame,
    not polars' error."""
    import pandas as pd

    frame = pd.DataFrame([["u1", "i1", 1700000000, "click", "x"]],
                         columns=["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "USER_ID"])
    with pytest.raises(InputError) as caught:
        attribute(frame, MA)
    assert str(caught.value).startswith("<pandas.DataFrame>: cannot be read: ")
    assert "\n" not in str(caught.value)
