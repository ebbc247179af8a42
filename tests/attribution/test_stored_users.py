"""Per-user data stored by buckets of users (what the embedded engine builds when it attributes
in chunks): every comparison, monitor, daily lift, segment table, design check and export is
the same, byte for byte, as from the one :class:`UserData` that holds every user."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import polars as pl
import pytest

import attrkit
from attrkit.attribution.stored_users import USER_BUCKET, StoredUserData, user_bucket
from attrkit.attribution.users import UserData
from attrkit.simulate.calibration import A, B, Scenario, simulate_experiment

sys.path.insert(0, str(Path(__file__).parents[1] / "comparison"))
from golden_cases import _frames, _later_assignment  # noqa: E402

DAY = 86_400


@pytest.fixture(scope="module")
def pair():
    """One simulated experiment assigned from day 3 (a pre-period for CUPED), attributed in one
    pass and in chunks of 2,000 events (several buckets of events and of users)."""
    sim = simulate_experiment(Scenario("stored", users=1500, days=7, shape=0.7), lift=0.1,
                              seed=11)
    later, start = _later_assignment(sim, 3)
    kw = {"recommendations": later["recommendations"]}
    whole = attrkit.attribute(later["interactions"], later["metric_attribution"], **kw)
    chunked = attrkit.attribute(later["interactions"], later["metric_attribution"],
                                chunk_rows=2_000, **kw)
    return whole, chunked, start


def test_the_chunked_run_stores_users_in_disjoint_buckets(pair):
    whole, chunked, _ = pair
    assert isinstance(whole.users, UserData)
    stored = chunked.users
    assert isinstance(stored, StoredUserData) and stored.n > 1
    seen: set[str] = set()
    for b in range(stored.n):
        part = stored.load(b)
        ids = set(part.assignment["USER_ID"])
        assert ids.isdisjoint(seen)
        seen |= ids
        for frame in (part.assignment, part.values, part.served):  # each user in its bucket
            assert frame.select(user_bucket(stored.n))[USER_BUCKET].eq(b).all()
    assert seen == set(whole.users.assignment["USER_ID"])
    for name in ("assignment", "values", "served"):
        assert getattr(stored, name).equals(getattr(whole.users, name))


def test_every_comparison_is_the_same(pair):
    whole, chunked, start = pair
    more = (("cuped", {"start": start, "cuped": True}),
            ("cuped+cap", {"start": start, "cap": 0.99, "cuped": True}))
    a, b = _frames("w", whole, more=more), _frames("w", chunked, more=more)
    assert sorted(a) == sorted(b) and len(a) == 8
    for key in a:
        assert a[key].equals(b[key]), key
    capped = a["w|compare|cuped+cap"]
    assert capped["method"].str.contains("capped").all()
    assert capped["method"].str.contains("CUPED").any()


def test_segments_check_and_sums_are_the_same(pair):
    whole, chunked, start = pair
    ids = whole.users.assignment["USER_ID"].sort()
    meta = pl.DataFrame({"USER_ID": ids, "G": [("x", "y", "z")[i % 3] for i in range(len(ids))]})
    kw = {"baseline": A, "start": start, "cuped": True, "segments": "G", "user_metadata": meta}
    sa, sb = (attrkit.compare(r, **kw) for r in (whole, chunked))
    assert sa.segments.frame.height == 6  # three segments, two metrics
    assert sa.segments.frame.equals(sb.segments.frame)
    assert sa.segments.heterogeneity.equals(sb.segments.heterogeneity)
    u, s = whole.users, chunked.users
    # a segment's data alone: what each frame and question reads of it
    ux, sx = (users.in_segment(meta.rename({"G": "segment"}).with_columns(changed=False), "x",
                               "none") for users in (u, s))
    for name in ("assignment", "values", "served"):
        assert getattr(ux, name).equals(getattr(sx, name))
    assert ux.days() == sx.days() and ux.metrics() == sx.metrics() and ux.check() == sx.check()
    assert ux.day_moments("CLICKS", [A, B]) == sx.day_moments("CLICKS", [A, B])
    assert 0 < ux.assignment.height < u.assignment.height
    assert u.check() == s.check() and u.check("REVENUE") == s.check("REVENUE")
    assert u.own_by_day("REVENUE").equals(s.own_by_day("REVENUE"))
    assert u.assigned_by_day().equals(s.assigned_by_day())
    assert u.days() == s.days() and u.arms == s.arms == [A, B]
    sources = sorted(whole.windows["source"].unique())
    assert u.source_means("CLICKS", sources, [A, B]) == s.source_means("CLICKS", sources, [A, B])
    looks = [d + DAY for d in u.days()]
    assert u.moments_by_look("CLICKS", [A, B], looks) == s.moments_by_look("CLICKS", [A, B], looks)
    assert u.export().equals(s.export())
    assert u.between(start).export().equals(s.between(start).export())
    assert u.per_user("CLICKS", [A, B], until=start + DAY).equals(
        s.per_user("CLICKS", [A, B], until=start + DAY))
    assert whole.health == chunked.health and whole.traffic.equals(chunked.traffic)


def test_the_cap_is_the_same_element_at_every_quantile(pair):
    whole, chunked, _ = pair
    for cap in (0.0, 0.5, 0.9, 0.999, 1.0):  # (each an element of a different rank)
        ma, mb = (r.users.arm_moments("REVENUE", [A, B], cap=cap) for r in (whole, chunked))
        assert ma == mb, cap


def test_the_folder_goes_when_nothing_reads_it(tmp_path):
    sim = simulate_experiment(Scenario("gone", users=200, days=3, shape=1.0), lift=0.0, seed=3)
    r = attrkit.attribute(sim["interactions"], sim["metric_attribution"],
                          recommendations=sim["recommendations"], chunk_rows=100)
    folder = r.users.folder.path
    assert folder.is_dir() and any(folder.iterdir())
    later = r.users.between(None, int(sim["recommendations"]["TIMESTAMP"].max()))
    del r
    gc.collect()
    assert folder.is_dir()  # (still read by `later`)
    later.write_parquet(tmp_path / "u.parquet")
    assert pl.read_parquet(tmp_path / "u.parquet").height > 0
    del later
    gc.collect()
    assert not folder.exists()


def _one_arm(values: list[tuple[str, int, float]]) -> UserData:
    """Users of arm A with these (user, day, value) rows of metric M."""
    ids = sorted({u for u, _, _ in values})
    return UserData(
        pl.DataFrame({"USER_ID": ids, "arm": "A", "first_served": 0, "sources_served": 1}),
        pl.DataFrame({"USER_ID": [u for u, _, _ in values], "day": [d for _, d, _ in values],
                      "metric_name": "M", "source": "A", "value": [v for _, _, v in values]}),
        pl.DataFrame(schema={"USER_ID": pl.String, "day": pl.Int64, "source": pl.String,
                             "recommendations": pl.Int64}))


def test_a_cap_above_two_to_the_53_billionths_is_the_element_itself():
    """Per-user values of 2e7 units and a few billionths: their cap is one of them, exactly
    (a quantile in floats gave 2e16 + 4 billionths, which is none of them, and capped nobody).
    The stored buckets find the same element from their counts."""
    users = _one_arm([(u, d, v) for u, k in (("a", 1), ("b", 3), ("c", 5))
                      for d, v in ((0, 2e7), (DAY, k * 1e-9))])
    m = users.arm_moments("M", ["A"], cap=0.5)  # the middle one: 2e16 + 3
    assert m.raw["A"].sums["value"] == 6 * 10**16 + 9
    assert m.tested["A"].sums["value"] == 6 * 10**16 + 7


def test_per_user_sums_are_exact_whatever_the_order():
    """A user's days added as whole billionths: 0.1 + 0.2 is 0.3, in any order of the rows."""
    rows = [("u", 0, 0.1), ("u", DAY, 0.2), ("v", 0, 0.7), ("v", DAY, 1.1), ("v", 2 * DAY, 0.3)]
    for order in (rows, rows[::-1]):
        users = _one_arm(order)
        assert users.per_user("M", ["A"])["value"].to_list() == [0.3, 2.1]
        assert users.pre_period("M", 2 * DAY).sort("USER_ID")["pre"].to_list() == [0.3, 1.8]


def test_no_valid_log_row_in_chunks_is_the_one_passs_empty_assignment():
    """Every log row broken (no timestamp) and quarantined: no user is assigned, chunked or
    not (the chunked run read a folder of log buckets that was never written)."""
    sim = simulate_experiment(Scenario("empty", users=50, days=2, shape=1.0), lift=0.0, seed=2)
    log = sim["recommendations"].with_columns(pl.lit(None, pl.Int64).alias("TIMESTAMP"))
    kw = {"recommendations": log, "on_bad_rows": "quarantine"}
    whole, chunked = (attrkit.attribute(sim["interactions"], sim["metric_attribution"],
                                        chunk_rows=c, **kw) for c in (10_000_000, 50))
    assert isinstance(chunked.users, StoredUserData)
    assert whole.users.check() == chunked.users.check() and whole.users.check().users == 0
    assert whole.health == chunked.health


def test_a_deep_copy_keeps_the_users_when_the_original_goes():
    import copy

    sim = simulate_experiment(Scenario("copy", users=100, days=2, shape=1.0), lift=0.0, seed=4)
    r = attrkit.attribute(sim["interactions"], sim["metric_attribution"],
                          recommendations=sim["recommendations"], chunk_rows=100)
    want = r.users.export()
    kept = copy.deepcopy(r)
    del r
    gc.collect()
    assert kept.users.export().equals(want)
