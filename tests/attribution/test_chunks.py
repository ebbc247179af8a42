"""Events aggregated a chunk at a time give the same result, byte for byte, as all at once:
the windows, the report, the health summary, the quarantine, the per-user data."""

from __future__ import annotations

import polars as pl
from conftest import CLICKS_WATCH_MINUTES as MA
from conftest import random_data
from hypothesis import given, settings
from hypothesis import strategies as st

import attrkit


def _same(a: attrkit.Attribution, b: attrkit.Attribution, tmp_path) -> None:
    assert a.windows.equals(b.windows)
    assert a.health == b.health
    assert a.quarantine.equals(b.quarantine)
    for name in ("exposure", "traffic"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None and y is None) or x.equals(y)
    if a.users is not None:
        for part in ("assignment", "values", "served"):
            assert getattr(a.users, part).equals(getattr(b.users, part))
    assert (a.write_report(tmp_path / "a.csv", when=0).read_bytes()
            == b.write_report(tmp_path / "b.csv", when=0).read_bytes())


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), chunk_rows=st.integers(1, 200), dedupe=st.booleans(),
       fmt=st.sampled_from(["frame", "csv", "parquet"]), with_users=st.booleans())
def test_chunks_give_the_same_bytes(tmp_path_factory, seed, chunk_rows, dedupe, fmt,
                                    with_users):
    data = random_data(seed)
    log = data["recommendations"]
    if with_users:
        log = log.with_columns(pl.format("u{}", pl.int_range(pl.len()) % 20).alias("USER_ID"))
    events = data["interactions"].with_columns(  # a few bad rows for the quarantine
        pl.when(pl.int_range(pl.len()) % 97 == 5).then(None).otherwise(pl.col("USER_ID"))
        .alias("USER_ID"))
    folder = tmp_path_factory.mktemp("chunks")
    given_as = events
    if fmt != "frame":
        given_as = folder / f"events.{fmt}"
        getattr(events, f"write_{fmt}")(given_as)
    kw = {"items": data["items"], "recommendations": log, "dedupe": dedupe,
          "on_bad_rows": "quarantine"}
    whole = attrkit.attribute(given_as, MA, **kw)
    chunked = attrkit.attribute(given_as, MA, chunk_rows=chunk_rows, **kw)
    assert whole.quarantine.height > 0
    _same(whole, chunked, folder)


def test_duplicates_in_different_chunks_are_found_and_dropped():
    row = {"USER_ID": "u1", "ITEM_ID": "i1", "TIMESTAMP": 1700000000, "EVENT_TYPE": "click"}
    other = dict(row, USER_ID="u2")
    events = pl.DataFrame([row, other, other, row])  # each copy three rows from its original
    clicks = {"name": "m", "metrics": [MA["metrics"][0]]}
    for dedupe, value in ((False, 4.0), (True, 2.0)):
        result = attrkit.attribute(events, clicks, dedupe=dedupe, chunk_rows=1)
        assert result.health.duplicates == 2 and result.windows["value"].sum() == value


def test_bad_log_rows_and_a_repeated_id_are_reported_as_in_one_pass():
    data = random_data(5)
    log = data["recommendations"].with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("SOURCE"))
        .alias("SOURCE"))
    kw = {"items": data["items"], "recommendations": log, "on_bad_rows": "quarantine"}
    whole = attrkit.attribute(data["interactions"], MA, **kw)
    chunked = attrkit.attribute(data["interactions"], MA, chunk_rows=50, **kw)
    assert whole.quarantine.filter(pl.col("DATASET") == "recommendations").height == 1
    assert chunked.quarantine.equals(whole.quarantine) and chunked.windows.equals(whole.windows)
    repeated = pl.concat([data["recommendations"], data["recommendations"].head(1)])
    errors = []
    for chunk_rows in (10_000, 50):
        try:
            attrkit.attribute(data["interactions"], MA, items=data["items"],
                              recommendations=repeated, chunk_rows=chunk_rows)
        except attrkit.InputError as exc:
            errors.append(str(exc))
    assert len(errors) == 2 and errors[0] == errors[1] and "duplicate RECOMMENDATION_ID" in errors[0]


def test_a_progress_bar_over_the_buckets(capsys):
    data = random_data(2)
    attrkit.attribute(data["interactions"], MA, items=data["items"], chunk_rows=100,
                      progress=True)
    assert "attributing" in capsys.readouterr().err


def test_no_valid_event_in_chunks_gives_the_empty_result_of_one_pass():
    """Every event broken (here: no user), more of them than a chunk: the result of the one
    pass (no windows, every row quarantined), not an error."""
    events = pl.DataFrame({"USER_ID": [None] * 5, "ITEM_ID": "i", "TIMESTAMP": 1_700_000_000,
                           "EVENT_TYPE": "click", "RECOMMENDATION_ID": "r1"},
                          schema_overrides={"USER_ID": pl.String})
    log = pl.DataFrame({"RECOMMENDATION_ID": ["r1", "r2"], "USER_ID": ["u1", "u2"],
                        "SOURCE": ["a", "b"], "TIMESTAMP": 1_700_000_000})
    kw = {"recommendations": log, "on_bad_rows": "quarantine"}
    clicks = {"name": "m", "metrics": [MA["metrics"][0]]}
    whole = attrkit.attribute(events, clicks, **kw)
    chunked = attrkit.attribute(events, clicks, chunk_rows=2, **kw)
    assert whole.windows.height == 0 and whole.health.quarantined["interactions"] == 5
    assert chunked.users.check() == whole.users.check()
    assert whole.windows.equals(chunked.windows) and whole.health == chunked.health
