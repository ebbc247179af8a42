"""Inputs of many files: a folder (to any depth), a glob pattern, or an S3 prefix or pattern
(tests/personalize/test_service.py), read as one dataset with errors naming the file."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from conftest import CLICKS_WATCH_MINUTES as MA
from conftest import random_data
from hypothesis import given, settings
from hypothesis import strategies as st

import attrkit
from attrkit import ConfigError, InputError

HEADER = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n"
CLICKS = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
                                    "expression": "SAMPLECOUNT()"}]}
VALUE = {"name": "m", "metrics": [{"eventType": "watch", "metricName": "value",
                                   "expression": "SUM(Interactions.EVENT_VALUE)"}]}


def _split(frame: pl.DataFrame, cuts: list[int]) -> list[pl.DataFrame]:
    edges = [0, *sorted(cuts), frame.height]
    return [frame.slice(a, b - a) for a, b in zip(edges, edges[1:], strict=False)]


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(0, 420), max_size=4),
       fmt=st.sampled_from(["csv", "parquet"]))
def test_any_split_into_files_gives_the_same_report_bytes(tmp_path_factory, seed, cuts, fmt):
    data = random_data(seed)
    folder = tmp_path_factory.mktemp("split")
    whole = folder / f"whole.{fmt}"
    parts = folder / "parts"
    for i, part in enumerate(_split(data["interactions"], cuts)):
        sub = parts / f"day={i % 2}"
        sub.mkdir(parents=True, exist_ok=True)
        getattr(part, f"write_{fmt}")(sub / f"part-{i:03d}.{fmt}")
    getattr(data["interactions"], f"write_{fmt}")(whole)
    (parts / "_SUCCESS").write_text("")
    kw = {"items": data["items"], "recommendations": data["recommendations"]}
    want = attrkit.attribute(whole, MA, **kw)
    for given_as in (parts, f"{parts}/**/*.{fmt}", str(parts) + "/"):
        got = attrkit.attribute(given_as, MA, **kw)
        assert got.windows.equals(want.windows)
        assert got.health == want.health
        assert (got.write_report(folder / "a.csv", when=0).read_bytes()
                == want.write_report(folder / "b.csv", when=0).read_bytes())


def test_hidden_temporary_and_marker_files_and_folders_are_skipped(tmp_path):
    (tmp_path / "day=1").mkdir()
    (tmp_path / "day=1" / "a.csv").write_text(HEADER + "u1,i1,1700000000,click\n")
    for skipped in ("_temporary/x.csv", ".staging/y.csv", "day=1/.a.csv.crc", "day=1/_SUCCESS",
                    "day=1/.b.x1.tmp.csv"):
        (tmp_path / skipped).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / skipped).write_text(HEADER + "u9,i9,1700000000,click\n")
    assert attrkit.attribute(tmp_path, CLICKS).health.rows_read == {"interactions": 1}


def test_errors_and_quarantine_name_the_file_and_its_own_line(tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + "u1,i1,1700000000,click\nu2,i1,1700000001,click\n")
    (tmp_path / "b.csv").write_text(HEADER + "u3,i1,1700000002,click\nu4,i1,soon,click\n")
    with pytest.raises(InputError) as caught:
        attrkit.attribute(tmp_path, CLICKS)
    assert (caught.value.source, caught.value.line) == (str(tmp_path / "b.csv"), 3)
    q = attrkit.attribute(tmp_path, CLICKS, on_bad_rows="quarantine").quarantine
    assert q.select("FILE", "LINE").rows() == [(str(tmp_path / "b.csv"), 3)]


def test_parquet_parts_give_their_own_row_numbers(tmp_path):
    for i in range(3):
        pl.DataFrame({"USER_ID": ["u1", None if i == 2 else "u2"], "ITEM_ID": ["i1"] * 2,
                      "TIMESTAMP": [1700000000] * 2, "EVENT_TYPE": ["click"] * 2}
                     ).write_parquet(tmp_path / f"p{i}.parquet")
    q = attrkit.attribute(tmp_path / "p*.parquet", CLICKS, on_bad_rows="quarantine").quarantine
    assert q.select("FILE", "ROW", "COLUMN").rows() == [(str(tmp_path / "p2.parquet"), 1,
                                                         "USER_ID")]


def test_csv_headers_must_agree(tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + "u1,i1,1700000000,click\n")
    (tmp_path / "b.csv").write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EXTRA\n"
                                    "u1,i1,1700000000,click,x\n")
    with pytest.raises(InputError, match="header differs") as caught:
        attrkit.attribute(tmp_path, CLICKS)
    assert caught.value.source == str(tmp_path / "b.csv") and caught.value.line == 1


def test_parquet_parts_may_add_a_column_but_not_lack_one_attrkit_needs(tmp_path):
    base = {"USER_ID": ["u1"], "ITEM_ID": ["i1"], "TIMESTAMP": [1700000000],
            "EVENT_TYPE": ["watch"]}
    pl.DataFrame(base).write_parquet(tmp_path / "old.parquet")
    pl.DataFrame(base | {"EVENT_VALUE": [2.5]}).write_parquet(tmp_path / "new.parquet")
    counts = {"name": "m", "metrics": [{"eventType": "watch", "metricName": "watches",
                                        "expression": "SAMPLECOUNT()"}]}
    assert attrkit.attribute(tmp_path, counts).windows["value"].sum() == 2
    with pytest.raises(ConfigError, match="old.parquet does not have"):
        attrkit.attribute(tmp_path, VALUE)
    pl.DataFrame({k: v for k, v in base.items() if k != "USER_ID"}).write_parquet(
        tmp_path / "odd.parquet")
    with pytest.raises(InputError, match="missing required column USER_ID") as caught:
        attrkit.attribute(tmp_path, counts)
    assert caught.value.source == str(tmp_path / "odd.parquet")


def test_empty_folders_patterns_and_mixed_formats_are_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no interactions files here"):
        attrkit.attribute(tmp_path / "empty", CLICKS)
    with pytest.raises(InputError, match="no interactions files here"):
        attrkit.attribute(tmp_path / "nothing-*.csv", CLICKS)
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "a.csv").write_text(HEADER + "u1,i1,1700000000,click\n")
    pl.read_csv(tmp_path / "mixed" / "a.csv").write_parquet(tmp_path / "mixed" / "b.parquet")
    with pytest.raises(InputError, match="more than one format"):
        attrkit.attribute(tmp_path / "mixed", CLICKS)
    assert attrkit.attribute(tmp_path / "mixed" / "*.csv", CLICKS).health.rows_read == {
        "interactions": 1}


def test_items_and_the_log_take_folders_too(tmp_path):
    data = random_data(3)
    for name in ("items", "recommendations"):
        (tmp_path / name).mkdir()
        for i, part in enumerate(_split(data[name], [len(data[name]) // 2])):
            part.write_parquet(tmp_path / name / f"{i}.parquet")
    want = attrkit.attribute(data["interactions"], MA, items=data["items"],
                             recommendations=data["recommendations"])
    got = attrkit.attribute(data["interactions"], MA, items=tmp_path / "items",
                            recommendations=tmp_path / "recommendations")
    assert got.windows.equals(want.windows)


def test_a_duplicate_across_files_is_a_duplicate(tmp_path):
    row = "u1,i1,1700000000,click\n"
    (tmp_path / "a.csv").write_text(HEADER + row)
    (tmp_path / "b.csv").write_text(HEADER + row)
    result = attrkit.attribute(tmp_path, CLICKS, dedupe=True)
    assert result.health.duplicates == 1 and result.health.events_used == 1
    assert np.isclose(result.windows["value"].sum(), 1)


def _parts(folder, rows: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(rows):
        (folder / f"part-{i}.csv").write_text(HEADER + row)


ROWS = [f"u{i},i1,{1700000000 + i},click\n" for i in range(4)]


def test_links_are_followed_once_and_loops_not_round(tmp_path):
    _parts(tmp_path / "elsewhere", ROWS[:2])
    _parts(tmp_path / "d" / "real", ROWS[2:])
    (tmp_path / "d" / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "d" / "self").symlink_to(tmp_path / "d")
    for given_as in (tmp_path / "d", f"{tmp_path}/d/**/*.csv", f"{tmp_path}/d/**/**/*.csv"):
        assert attrkit.attribute(given_as, CLICKS).health.rows_read == {"interactions": 4}


def test_patterns_that_match_folders_and_folders_that_look_like_patterns(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "events-a.csv").write_text(HEADER + ROWS[0])
    _parts(tmp_path / "d" / "events-b", ROWS[1:3])
    assert attrkit.attribute(f"{tmp_path}/d/events-*", CLICKS).health.rows_read == {
        "interactions": 3}
    assert attrkit.attribute(f"{tmp_path}/d/*/", CLICKS).health.rows_read == {"interactions": 2}
    _parts(tmp_path / "ev[2026]", ROWS)
    assert attrkit.attribute(tmp_path / "ev[2026]", CLICKS).health.rows_read == {
        "interactions": 4}
    _parts(tmp_path / "_staged", ROWS[:1])
    assert attrkit.attribute(f"{tmp_path}/_staged/*.csv", CLICKS).health.rows_read == {
        "interactions": 1}


def test_a_link_to_nothing_and_a_missing_folder_are_named(tmp_path):
    _parts(tmp_path / "d", ROWS[:1])
    (tmp_path / "d" / "part-x.csv").symlink_to(tmp_path / "gone.csv")
    with pytest.raises(ConfigError, match="a link to nothing"):
        attrkit.attribute(tmp_path / "d", CLICKS)
    with pytest.raises(InputError, match="folder not found"):
        attrkit.attribute(f"{tmp_path}/nope/", CLICKS)


def test_parts_that_disagree_on_dates_and_numbers_are_named(tmp_path):
    base = {"USER_ID": ["u1"], "ITEM_ID": ["i1"], "EVENT_TYPE": ["click"]}
    pl.DataFrame(base | {"TIMESTAMP": [1700000000]}).write_parquet(tmp_path / "a.parquet")
    pl.DataFrame(base | {"TIMESTAMP": pl.Series([1700000000 * 10**6], dtype=pl.Datetime("us"))}
                 ).write_parquet(tmp_path / "b.parquet")
    with pytest.raises(InputError, match="dates or times here but numbers or text") as caught:
        attrkit.attribute(tmp_path, CLICKS)
    assert caught.value.source == str(tmp_path / "b.parquet")


def test_too_many_csv_files_is_said_not_hung(tmp_path, monkeypatch):
    from attrkit import defaults

    monkeypatch.setattr(defaults, "MAX_CSV_FILES", 3)
    _parts(tmp_path / "d", ROWS)
    with pytest.raises(InputError, match="4 CSV files; at most 3"):
        attrkit.attribute(tmp_path / "d", CLICKS)


def test_a_quote_left_open_costs_its_line_only(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(HEADER + ROWS[0] + 'u9,"i1,1700000009,click\n' + "".join(ROWS[1:]))
    result = attrkit.attribute(path, CLICKS, on_bad_rows="quarantine")
    assert result.quarantine["LINE"].to_list() == [3] and result.health.events_used == 4
    assert result.health.rows_read == {"interactions": 5}


def test_error_mode_names_the_first_bad_row_whatever_its_kind(tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + ROWS[0] + "u2,i1,soon,click\n")
    (tmp_path / "b.csv").write_text(HEADER + "u3,i1\n")  # a bad row, in a later file
    with pytest.raises(InputError) as caught:
        attrkit.attribute(tmp_path, CLICKS)
    assert (caught.value.source, caught.value.line) == (str(tmp_path / "a.csv"), 3)
