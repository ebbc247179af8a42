"""The attribution plan and the executor seam: metrics declare their aggregates; any executor
that runs the plan's lazy frames gives the same result, and its faults reach the caller."""

import polars as pl
import pytest
from conftest import CLICKS_WATCH_MINUTES, random_data

from attrkit import Metric, MetricAttribution, attribute
from attrkit.attribution import engine, plan


def test_each_metric_declares_the_aggregates_it_needs():
    count = Metric("clicks", "click", "SAMPLECOUNT()")
    item_sum = Metric("minutes", "watch", "SUM(Items.LENGTH)")
    own_sum = Metric("revenue", "buy", "SUM(Interactions.EVENT_VALUE)")
    assert set(plan.metric_aggregates(count)) == {"events"}
    assert set(plan.metric_aggregates(item_sum)) == {"sum:__attrkit_item_LENGTH",
                                                      "null:__attrkit_item_LENGTH"}
    assert set(plan.metric_aggregates(own_sum)) == {"sum:EVENT_VALUE", "null:EVENT_VALUE"}


def test_the_grouped_events_hold_only_what_the_metrics_declare(tmp_path):
    ev = pl.DataFrame({"USER_ID": ["u"] * 3, "ITEM_ID": ["i"] * 3, "TIMESTAMP": [1, 2, 3],
                       "EVENT_TYPE": ["click"] * 3, "EVENT_VALUE": [1.0, 2.0, 3.0]})
    seen = []

    class Recording(engine.PolarsExecutor):
        def collect(self, plans):
            out = super().collect(plans)
            seen.extend(df.columns for df in out)
            return out

    ma = MetricAttribution("m", [Metric("clicks", "click", "SAMPLECOUNT()")])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "EXECUTOR", Recording())
        attribute(ev, ma)
    grouped = next(cols for cols in seen if "unresolved" in cols)
    assert not any(c.startswith(("sum:", "null:")) for c in grouped)


class OneAtATime:
    """A second executor: each frame collected on its own, by polars' in-memory engine."""

    name = "one-at-a-time"

    def __init__(self):
        self.calls = 0

    def collect(self, plans):
        self.calls += 1
        return [lf.collect(engine="in-memory") for lf in plans]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_second_executor_gives_the_same_bytes(seed, monkeypatch):
    data = random_data(seed)
    interactions = data["interactions"]
    kw = dict(items=data["items"], recommendations=data["recommendations"], dedupe=True)
    monkeypatch.setattr(engine, "SMALL_INPUT_ROWS", 0)  # the streaming engine, as on large inputs
    first = attribute(interactions, CLICKS_WATCH_MINUTES, **kw)
    other = OneAtATime()
    monkeypatch.setattr(engine, "EXECUTOR", other)
    second = attribute(interactions, CLICKS_WATCH_MINUTES, **kw)
    assert other.calls >= 2
    assert first.windows.write_csv() == second.windows.write_csv()
    assert first.health == second.health
    assert first.exposure.equals(second.exposure)


def test_small_inputs_run_in_memory_large_ones_streaming(monkeypatch):
    engines = []

    class Recording(engine.PolarsExecutor):
        def collect(self, plans):
            engines.append(self.engine)
            return super().collect(plans)

    monkeypatch.setattr(engine, "EXECUTOR", Recording())
    ev = pl.DataFrame({"USER_ID": ["u"] * 5, "ITEM_ID": ["i"] * 5, "TIMESTAMP": list(range(5)),
                       "EVENT_TYPE": ["click"] * 5})
    ma = MetricAttribution("m", [Metric("clicks", "click", "SAMPLECOUNT()")])
    small = attribute(ev, ma)
    assert engines[0] == "streaming" and set(engines[1:]) == {"in-memory"}  # (the count first)
    engines.clear()
    monkeypatch.setattr(engine, "SMALL_INPUT_ROWS", 5)
    large = attribute(ev, ma)
    assert set(engines) == {"streaming"}
    assert small.windows.equals(large.windows) and small.health == large.health


def test_an_executor_fault_reaches_the_caller(monkeypatch):
    class Failing:
        def collect(self, plans):
            raise MemoryError("executor ran out of memory")

    monkeypatch.setattr(engine, "EXECUTOR", Failing())
    ev = pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i"], "TIMESTAMP": [1],
                       "EVENT_TYPE": ["click"]})
    with pytest.raises(MemoryError, match="executor ran out of memory"):
        attribute(ev, {"name": "m", "metrics": [{"eventType": "click", "metricName": "c",
                                                  "expression": "SAMPLECOUNT()"}]})


def test_a_summed_value_is_its_decimal_to_nine_places():
    """Each value is rounded to 1e-9 before it is added: against Python's exact decimal of the
    double, rounded half to even, on values away from a tie (within a double's error of one,
    double arithmetic may land on either side); the whole part is kept exactly up to 1e18.
    The values with ten decimals put a tenth of them on a tie: those are left out."""
    from decimal import ROUND_HALF_EVEN, Decimal

    import numpy as np

    rng = np.random.default_rng(7)
    values = np.concatenate([rng.uniform(-1e3, 1e3, 4000).round(10),
                             rng.integers(-10**12, 10**12, 2000) / 10**10,
                             np.ldexp(rng.uniform(-1, 1, 4000), rng.integers(-40, 59, 4000)),
                             [1.0000000005, -1.0000000005, 12345678.123456789, 9.99e17, -0.0,
                              0.1 + 0.2, 999999999999.9999999996]])
    got = pl.DataFrame({"x": values}).select(plan.as_decimal(pl.col("x")))["x"].to_list()
    nano = Decimal("1e-9")
    checked = 0
    for v, d in zip(values.tolist(), got, strict=True):
        exact = Decimal(v)
        distance = abs(abs(exact / nano) % 1 - Decimal("0.5"))
        if distance > Decimal("1e-6"):  # (the fraction times 1e9 is within 2**-24 of exact)
            assert d == exact.quantize(nano, rounding=ROUND_HALF_EVEN), v
            checked += 1
    assert checked > 9_000, checked
    # a plain cast rounds the double times 1e9, which is 1000000000.5 here: 1.000000000
    assert got[-7:-4] == [Decimal("1.000000001"), Decimal("-1.000000001"),
                          Decimal("12345678.123456789")]
    assert got[-4] == Decimal(999_000_000_000_000_000)
