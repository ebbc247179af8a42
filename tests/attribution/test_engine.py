import polars as pl
import pytest
from conftest import CLICKS_WATCH_MINUTES

from attrkit import InputError, attribute
from attrkit.attribution import plan


def _ev(**cols):
    n = len(next(iter(cols.values())))
    base = {"USER_ID": ["u"] * n, "ITEM_ID": ["i"] * n, "TIMESTAMP": [0] * n,
            "EVENT_TYPE": ["click"] * n}
    base.update(cols)
    return pl.DataFrame(base)


CLICKS = {"name": "t", "metrics": [{"eventType": "CLICK", "metricName": "clicks",
                                    "expression": "SAMPLECOUNT()"}]}


def test_event_types_match_case_insensitively():
    r = attribute(_ev(EVENT_TYPE=["click", "Click", "CLICK", "clicks"]), CLICKS)
    assert r.windows["value"].to_list() == [3.0]
    assert r.health.unmatched_events == 1


def test_interactions_sum_and_null_values():
    ma = {"name": "t", "metrics": [{"eventType": "click", "metricName": "v",
                                    "expression": "SUM(Interactions.EVENT_VALUE)"}]}
    r = attribute(_ev(EVENT_VALUE=[1.5, None, 2.0]), ma)
    assert r.windows.select("value", "events").rows() == [(3.5, 3)]
    assert r.health.metrics["v"].not_summed == 1


def test_dedupe_removes_exact_duplicates_only():
    ev = _ev(USER_ID=["a", "a", "a", "b"], TIMESTAMP=[5, 5, 6, 5])
    kept = attribute(ev, CLICKS)
    removed = attribute(ev, CLICKS, dedupe=True)
    assert kept.health.duplicates == removed.health.duplicates == 1
    assert kept.windows["value"].to_list() == [4.0]
    assert removed.windows["value"].to_list() == [3.0]
    assert removed.health.duplicates_removed


def test_duplicates_stay_exact_when_row_hashes_collide(monkeypatch):
    # A row hash of the timestamp alone: rows 0, 1, 3 and 4 share it, but only 0 and 1 are equal.
    monkeypatch.setattr(plan, "row_hash", lambda cols: pl.col("TIMESTAMP").hash())
    ev = _ev(USER_ID=["a", "a", "b", "c", "a"], TIMESTAMP=[5, 5, 6, 5, 5],
             ITEM_ID=["i", "i", "i", "i", "j"])
    assert attribute(ev, CLICKS).health.duplicates == 1
    assert attribute(ev.vstack(ev), CLICKS).health.duplicates == 6


def test_too_many_sources():
    ev = _ev(EVENT_ATTRIBUTION_SOURCE=[f"s{i}" for i in range(101)])
    with pytest.raises(InputError, match="101 distinct attribution sources"):
        attribute(ev, CLICKS)
    assert attribute(ev, CLICKS, max_sources=101).windows.height == 101


def test_window_options():
    ev = _ev(TIMESTAMP=[0, 59, 60, 3599, 3600])
    r = attribute(ev, CLICKS, window_seconds=3600, window_origin=60)
    assert r.windows.select("timestamp", "value").rows() == [(-3540, 2.0), (60, 3.0)]


def test_unresolved_ids_are_counted():
    ev = _ev(RECOMMENDATION_ID=["r1", "r2", "r2", "r3", None])
    log = pl.DataFrame({"RECOMMENDATION_ID": ["r1"], "SOURCE": ["A"], "TIMESTAMP": [0]})
    h = attribute(ev, CLICKS, recommendations=log).health
    assert (h.unresolved_ids, h.unresolved_events) == (2, 3)
    assert h.events_by_source == {"SOURCE_NAME_UNDEFINED": 4, "A": 1}
    assert h.unattributed_share == pytest.approx(0.8)


def test_integer_ids_in_parquet_are_accepted(tmp_path):
    path = tmp_path / "e.parquet"
    pl.DataFrame({"USER_ID": [1, 2], "ITEM_ID": [10, 11], "TIMESTAMP": [1, 2],
                  "EVENT_TYPE": ["click", "click"]}).write_parquet(path)
    items = pl.DataFrame({"ITEM_ID": [10], "LENGTH": [3]})
    ma = {"name": "t", "metrics": [{"eventType": "click", "metricName": "m",
                                    "expression": "SUM(Items.LENGTH)"}]}
    r = attribute(path, ma, items=items)
    assert r.windows["value"].to_list() == [3.0]
    assert r.health.metrics["m"].items_not_found == 1


def test_empty_input_gives_an_empty_report(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n")
    r = attribute(path, CLICKS_WATCH_MINUTES, items=pl.DataFrame({"ITEM_ID": ["a"], "LENGTH": [1]}))
    assert r.windows.height == 0
    assert r.health.events_used == 0
    assert "metric clicks: no events of its type" in r.health.warnings


def test_a_type_with_white_space_around_it_is_named_when_a_metric_gets_no_events():
    """A spreadsheet's "click " matches no metric of type click: the warning says so."""
    ev = pl.DataFrame({"USER_ID": ["u1", "u2", "u3"], "ITEM_ID": ["i"] * 3,
                       "TIMESTAMP": [1700000000] * 3, "EVENT_TYPE": ["click ", "Click ", "watch"]})
    ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
                                    "expression": "SAMPLECOUNT()"}]}
    assert attribute(ev, ma).health.warnings == [
        "metric clicks: no events of its type (2 events have the type 'CLICK ': white space "
        "around a type is part of it)"]


def test_put_events_properties_become_columns(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"sessionId":"s1","eventList":[{"eventType":"watch","sentAt":1700000000.7,'
        '"itemId":"i","properties":"{\\"watchSeconds\\": 30, \\"numberOfRatings\\": 2}",'
        '"metricAttribution":{"eventAttributionSource":"email"}},'
        '{"eventType":"watch","sentAt":1700000001,"itemId":"i",'
        '"properties":"{\\"watchSeconds\\": 12.5}"}]}\n')
    ma = {"name": "t", "metrics": [{"eventType": "watch", "metricName": "secs",
                                    "expression": "SUM(Interactions.WATCH_SECONDS)"}]}
    r = attribute(path, ma)
    assert sorted(r.windows.select("source", "value").rows()) == [
        ("SOURCE_NAME_UNDEFINED", 12.5), ("email", 30.0)]
    assert r.windows["timestamp"].unique().to_list() == [1700000000 // 900 * 900]


@pytest.mark.parametrize("unit", ["s", "ms"])
def test_integer_and_float_timestamps_fall_into_the_same_windows(unit):
    scale = 1000 if unit == "ms" else 1
    ts = [-1500 * scale // 1000, 0, 899 * scale, 1_700_000_000 * scale + scale - 1]
    as_int = attribute(_ev(TIMESTAMP=ts), CLICKS, timestamp_unit=unit).windows
    as_float = attribute(_ev(TIMESTAMP=[float(t) for t in ts]), CLICKS,
                         timestamp_unit=unit).windows
    assert as_int["timestamp"].to_list() == as_float["timestamp"].to_list()
    assert as_int["timestamp"].to_list() == [-900, 0, 1_699_999_200]
