"""Invariants, with hypothesis: totals are preserved, and nothing depends on row order or format."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from conftest import CLICKS_WATCH_MINUTES, to_put_events
from hypothesis import given, settings
from hypothesis import strategies as st

from attrkit import attribute

ITEMS = pl.DataFrame({"ITEM_ID": ["a", "b", "c"], "LENGTH": [1.5, 20.0, None]})
LOG = pl.DataFrame({"RECOMMENDATION_ID": ["r1", "r2"], "SOURCE": ["recA", "recB"],
                    "TIMESTAMP": [0, 0]})

event = st.fixed_dictionaries({
    "USER_ID": st.sampled_from(["u1", "u2", "u3"]),
    "ITEM_ID": st.sampled_from(["a", "b", "c", "missing"]),
    "TIMESTAMP": st.integers(-5_000, 20_000) | st.sampled_from([0, 899, 900, 1800]),
    "EVENT_TYPE": st.sampled_from(["click", "CLICK", "watch", "Watch", "other"]),
    "EVENT_VALUE": st.none() | st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3)),
    "RECOMMENDATION_ID": st.none() | st.sampled_from(["r1", "r2", "r9"]),
    "EVENT_ATTRIBUTION_SOURCE": st.none() | st.sampled_from(["p1", 'q,"x"', "SOURCE_NAME_UNDEFINED"]),
})
SCHEMA = {"USER_ID": pl.String, "ITEM_ID": pl.String, "TIMESTAMP": pl.Int64,
          "EVENT_TYPE": pl.String, "EVENT_VALUE": pl.Float64, "RECOMMENDATION_ID": pl.String,
          "EVENT_ATTRIBUTION_SOURCE": pl.String}
events = st.lists(event, min_size=1, max_size=60).map(lambda rows: pl.DataFrame(rows, schema=SCHEMA))


def _report(ev, **kw) -> bytes:
    result = attribute(ev, CLICKS_WATCH_MINUTES, items=ITEMS, recommendations=LOG, **kw)
    with tempfile.TemporaryDirectory() as d:
        return result.write_report(Path(d) / "r.csv").read_bytes()


@settings(max_examples=60, deadline=None)
@given(events, st.sampled_from([60, 900, 3600]), st.integers(-1000, 1000))
def test_totals_are_preserved(ev, length, origin):
    w = attribute(ev, CLICKS_WATCH_MINUTES, items=ITEMS, recommendations=LOG,
                  window_seconds=length, window_origin=origin).windows
    totals = dict(w.group_by("metric_name").agg(pl.col("value").sum()).iter_rows())
    rows = ev.to_dicts()
    lengths = dict(ITEMS.iter_rows())
    clicks = sum(r["EVENT_TYPE"].upper() == "CLICK" for r in rows)
    watches = [r for r in rows if r["EVENT_TYPE"].upper() == "WATCH"]
    minutes = sum(lengths.get(r["ITEM_ID"]) or 0 for r in watches)
    value = sum(r["EVENT_VALUE"] or 0 for r in watches)
    assert totals.get("CLICKS", 0) == clicks
    assert totals.get("WATCHES", 0) == len(watches)
    assert abs(totals.get("WATCH_MINUTES", 0) - minutes) < 1e-9
    assert abs(totals.get("WATCH_VALUE", 0) - value) < 1e-6 * max(1, abs(value))
    # every window start is on the grid, and holds only its own events
    assert all((t - origin) % length == 0 for t in w["timestamp"])


@settings(max_examples=40, deadline=None)
@given(events, st.randoms(use_true_random=False))
def test_row_order_does_not_matter(ev, rnd):
    order = list(range(ev.height))
    rnd.shuffle(order)
    assert _report(ev) == _report(ev[order])
    assert _report(ev, dedupe=True) == _report(ev[order], dedupe=True)


@settings(max_examples=30, deadline=None)
@given(events)
def test_file_format_does_not_matter(ev):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        ev.write_csv(d / "e.csv")
        ev.write_parquet(d / "e.parquet")
        (d / "e.jsonl").write_text(to_put_events(ev))
        reports = {_report(d / name) for name in ("e.csv", "e.parquet", "e.jsonl")}
    assert reports == {_report(ev)}


def test_float_sums_do_not_depend_on_the_order_groups_come_out():
    # Three partial groups (raw event type x label) that name the same source and window: added
    # in whatever order the group-by emitted them, their float sum differed in the last bit
    # from run to run (found by test_file_format_does_not_matter).
    ev = pl.DataFrame({
        "USER_ID": ["u1", "u3", "u1"], "ITEM_ID": ["a", "missing", "a"], "TIMESTAMP": [0, 899, 1],
        "EVENT_TYPE": ["watch", "Watch", "watch"], "EVENT_VALUE": [289174.0, 458736.039, 3.094],
        "RECOMMENDATION_ID": [None, None, "r2"],
        "EVENT_ATTRIBUTION_SOURCE": [None, "SOURCE_NAME_UNDEFINED", "SOURCE_NAME_UNDEFINED"],
    }, schema=SCHEMA)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        ev.write_csv(d / "e.csv")
        ev.write_parquet(d / "e.parquet")
        (d / "e.jsonl").write_text(to_put_events(ev))
        sources = [ev, d / "e.csv", d / "e.parquet", d / "e.jsonl"]
        assert len({_report(s) for _ in range(5) for s in sources}) == 1


def test_float_sums_inside_one_group_do_not_depend_on_row_order():
    """Within one (window, source) group too: 0.1 + 0.2 + 0.3 and 0.3 + 0.2 + 0.1 differ as
    floats (0.6000000000000001 and 0.6); sums are exact decimals, so both give 0.6, under one
    thread or many."""
    import os
    import subprocess
    import sys

    values = [0.1, 0.2, 0.3, 124.2, 0.1]
    ev = pl.DataFrame({"USER_ID": "u1", "ITEM_ID": "a", "TIMESTAMP": list(range(5)),
                       "EVENT_TYPE": "watch", "EVENT_VALUE": values, "RECOMMENDATION_ID": None,
                       "EVENT_ATTRIBUTION_SOURCE": "p1"}, schema=SCHEMA)
    reports = {_report(ev[list(order)]) for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0],
                                                       [3, 0, 4, 2, 1])}
    assert len(reports) == 1
    value = attribute(ev, CLICKS_WATCH_MINUTES, items=ITEMS).windows.filter(
        metric_name="WATCH_VALUE")["value"].item()
    assert value == 124.9  # the correctly rounded float of the exact sum
    code = ("import polars as pl, sys; from attrkit import attribute; from conftest import *; "
            "from test_properties import ITEMS; "
            "ev = pl.read_parquet(sys.argv[1]); "
            "print(attribute(ev, CLICKS_WATCH_MINUTES, items=ITEMS).windows['value'].to_list())")
    here = (Path(__file__).parent, Path(__file__).parents[1])  # this module and conftest
    with tempfile.TemporaryDirectory() as d:
        ev.write_parquet(Path(d) / "e.parquet")
        outs = {subprocess.run([sys.executable, "-c", code, str(Path(d) / "e.parquet")],
                               capture_output=True, text=True, check=True,
                               env={**os.environ, "POLARS_MAX_THREADS": str(n),
                                    "PYTHONPATH": os.pathsep.join(map(str, here))}).stdout
                for n in (1, 2)}
    assert len(outs) == 1
