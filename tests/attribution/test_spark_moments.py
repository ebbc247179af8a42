"""The comparisons' moments computed on Spark's executors (a cap's quantile, CUPED's
cross-moments, third moments, segments) against the embedded engine's, every float to the bit.
A module of its own, so that it runs beside the other Spark tests under pytest-xdist."""

from __future__ import annotations

import polars as pl
import pytest

import attrkit


@pytest.mark.spark_matrix
def test_capped_and_cuped_comparisons_from_sparks_moments(spark):
    """The quantile of a cap and CUPED's cross-moments, computed on the executors: the same
    table as the embedded engine's, every float to the bit."""
    from attrkit.simulate.calibration import A, B, Scenario, simulate_experiment

    sim = simulate_experiment(Scenario("small", users=300, days=7, shape=1.0), lift=0.1, seed=5)
    log = sim["recommendations"]
    start = (int(log["TIMESTAMP"].min()) // 86_400 + 3) * 86_400
    log = log.filter(pl.col("TIMESTAMP") >= start)  # assigned from day 3: a pre-period before
    a, b = (attrkit.attribute(sim["interactions"], sim["metric_attribution"], recommendations=log,
                              **kw) for kw in ({}, {"engine": "spark", "spark": spark}))
    kw = {"baseline": A, "start": start, "cap": 0.95, "metrics": ["CLICKS"], "cuped": True}
    before = set(_descriptions(spark))
    ca, cb = attrkit.compare(a, **kw), attrkit.compare(b, **kw)
    # each of the comparison's Spark jobs says what it is in Spark's UI and event log
    said = {d for i, d in _descriptions(spark).items() if i not in before}
    assert None not in said, said
    assert {"attrkit: each arm's moments (the cap's quantile, CUPED's pre-period)",
            "attrkit: every metric's and arm's moments", "attrkit: the design check"} <= said
    assert ca.frame.equals(cb.frame)
    assert ca.frame["method"].str.contains("capped").all()
    assert ca.frame["method"].str.contains("CUPED").sum() == 2  # (not the ratio)
    # the third moments (Σabc in limbs) of both engines: the same integers
    for metric in ("CLICKS", "REVENUE"):
        ea, sb = (r.users.arm_moments(metric, [A, B]).raw for r in (a, b))
        assert {k: m.triples for k, m in ea.items()} == {k: m.triples for k, m in sb.items()}
        assert len(ea[A].triples) == 5 and ea[A].triples[("value", "value", "served")] > 0
    # by segment: each segment's users sent to the executors, the same rows
    ids = log["USER_ID"].unique().sort()
    meta = pl.DataFrame({"USER_ID": ids, "G": [("x", "y")[i % 2] for i in range(ids.len())]})
    kw.pop("cap")  # (the cap is checked above; each segment would run its three jobs again)
    sa, sb = (attrkit.compare(r, **kw, segments="G", user_metadata=meta) for r in (a, b))
    assert sa.segments.frame.height == 2
    assert sa.segments.frame.equals(sb.segments.frame)
    assert sa.segments.heterogeneity.equals(sb.segments.heterogeneity)


def _descriptions(spark) -> dict[int, str | None]:
    """Every job of the session so far and its description, from Spark's status store."""
    jobs = spark._jsc.sc().statusStore().jobsList(None).iterator()
    out = {}
    while jobs.hasNext():
        job = jobs.next()
        out[job.jobId()] = job.description().get() if job.description().isDefined() else None
    return out


@pytest.mark.slow  # a study: make studies
def test_the_heavy_tail_grid_through_sparks_moments(spark):
    """Cells of the small-arm/heavy-tail grid (``make calibrate``) give the same numbers from
    the Spark engine's moments as from the embedded engine's: corrected, withheld and Welch
    rows alike."""
    from attrkit.simulate.tails import TAILS, run_cell

    embedded = run_cell(0.1, TAILS[1], "sum", 3, users=2000, seed=7)
    assert embedded[0].withheld not in (0, 1)  # some rows corrected, some withheld
    assert run_cell(0.1, TAILS[1], "sum", 3, users=2000, seed=7, spark=spark) == embedded


def test_sparks_third_moments_hold_negative_and_extreme_values(spark):
    """Spark sums the triple products in its own limbs (two of 32 bits): the same integers as
    Python's at the largest per-user values, negative ones included."""
    from attrkit.attribution.spark_users import SparkUserData
    from attrkit.attribution.users import UserData

    x = [-9.2e9, 9.2e9, -1e-9, 0.0, 123456789.123456789, -7.5, 9.2e9]
    served = [1, 2**40, 3, 0, 7, 1, 5]
    data = UserData.from_arrays([f"u{i}" for i in range(7)], ["A"] * 7, x, served=served)
    on_spark = SparkUserData(*(spark.createDataFrame(f.to_pandas()) for f in (
        data.assignment, data.values, data.served)), metrics=("M",))
    got = on_spark.arm_moments("M", ["A"]).raw["A"]
    assert got == data.arm_moments("M", ["A"]).raw["A"]
    v = [round(a * 1e9) for a in x]
    assert got.triples[("value", "value", "value")] == sum(a**3 for a in v)
    assert got.triples[("value", "served", "served")] == sum(
        a * s * s for a, s in zip(v, served, strict=True))
