"""The sample: deterministic, and the attribution recovers what it planted and counted."""

import json

import polars as pl
import pytest

from attrkit import attribute
from attrkit.simulate.sample import (
    HOLDOUT,
    RECOMMENDER_A,
    RECOMMENDER_B,
    generate_frames,
    generate_sample,
)


def test_same_seed_same_bytes(tmp_path):
    a = generate_sample(tmp_path / "a", seed=5, days=1, users=200)
    b = generate_sample(tmp_path / "b", seed=5, days=1, users=200)
    c = generate_sample(tmp_path / "c", seed=6, days=1, users=200)
    for name in ("interactions", "items", "recommendations", "truth"):
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes()
    assert a.interactions.read_bytes() != c.interactions.read_bytes()


def test_health_recovers_the_counted_faults(small_sample):
    truth = json.loads(small_sample.truth.read_text())["counts"]
    r = attribute(small_sample.interactions, small_sample.metric_attribution,
                  items=small_sample.items, recommendations=small_sample.recommendations)
    h = r.health
    assert h.rows_read["interactions"] == truth["events"]
    assert h.rows_read["recommendations"] == truth["lists_logged"]
    assert h.duplicates == truth["duplicate_rows"]
    assert h.unresolved_ids == truth["unresolved_recommendation_ids"]
    assert h.unresolved_events == truth["unresolved_events"]
    assert h.metrics["WATCH_MINUTES"].items_not_found == truth["watch_events_on_uncatalogued_items"]
    assert set(h.events_by_source) == {RECOMMENDER_A, RECOMMENDER_B, HOLDOUT, "partner-carousel",
                                       "SOURCE_NAME_UNDEFINED"}


@pytest.fixture(scope="module")
def default_frames():
    return generate_frames()


def test_default_size_and_planted_lift(default_frames):
    """About a million events; clicks per list served recover the planted 8% lift."""
    f = default_frames
    assert 800_000 <= f["interactions"].height <= 1_200_000
    r = attribute(f["interactions"],
                  {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
                                             "expression": "SAMPLECOUNT()"}]},
                  recommendations=f["recommendations"], dedupe=True)
    clicks = dict(r.windows.group_by("source").agg(pl.col("value").sum()).iter_rows())
    served = dict(f["recommendations"].group_by("SOURCE").len().iter_rows())
    ctr = {s: clicks[s] / served[s] for s in (RECOMMENDER_A, RECOMMENDER_B)}
    lift = ctr[RECOMMENDER_B] / ctr[RECOMMENDER_A] - 1
    planted = f["truth"]["planted"]["relative_lift_clicks_per_list_B_vs_A"]
    # ~420k lists: the standard error of the lift is about 0.6 points; allow 4 of them
    assert lift == pytest.approx(planted, abs=0.025)
    assert ctr[RECOMMENDER_A] == pytest.approx(
        f["truth"]["planted"]["clicks_per_list"]["A"], rel=0.03)


def test_daily_cycle_is_visible(default_frames):
    hours = default_frames["interactions"].select(
        (pl.col("TIMESTAMP") % 86400 // 3600).alias("h")).group_by("h").len()
    by_hour = dict(hours.iter_rows())
    assert by_hour[20] > 2 * by_hour[8]  # evening peak, morning trough (UTC)


@pytest.mark.parametrize("dedupe", [False, True])
def test_low_memory_gives_the_same_result(small_sample, dedupe):
    kw = dict(items=small_sample.items, recommendations=small_sample.recommendations,
              dedupe=dedupe)
    shared = attribute(small_sample.interactions, small_sample.metric_attribution, **kw)
    apart = attribute(small_sample.interactions, small_sample.metric_attribution,
                      low_memory=True, **kw)
    assert apart.windows.equals(shared.windows)
    assert apart.health == shared.health and apart.health.duplicates > 0
    assert apart.exposure.equals(shared.exposure) and apart.traffic.equals(shared.traffic)
