"""attrkit.compare, monitor and compare_users: choices, numbers against the low-level tests,
the sample's planted truth, and calibration by simulation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

import attrkit
from attrkit.simulate.sample import HOLDOUT, simulate_windows
from attrkit.simulate.sample import RECOMMENDER_A as A
from attrkit.simulate.sample import RECOMMENDER_B as B
from attrkit.stats import (
    CupedStats,
    SampleStats,
    cuped_test,
    mean_test,
    paired_window_test,
    sequential_test,
)


@pytest.fixture(scope="module")
def sample_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    paths = attrkit.generate_sample(out, seed=3, days=14, users=20_000)
    return attrkit.attribute(paths.interactions, paths.metric_attribution, items=paths.items,
                             recommendations=paths.recommendations, dedupe=True)


def test_sources_named_as_the_report_shows_them(sample_result):
    """``top-picks`` (an ARN's last segment, as the report and the command line name it) is
    the ARN itself, in every parameter that names a source; a name that is no source is still
    refused, naming the sources as the report shows them."""
    full = attrkit.compare(sample_result, baseline=A, sources=[A, B], volume=[(A, B)],
                           holdout=HOLDOUT, metrics=["CLICKS"])
    short = attrkit.compare(sample_result, baseline="top-picks",
                            sources=["top-picks", "because-you-watched"],
                            volume=[("top-picks", "because-you-watched")], holdout=HOLDOUT,
                            metrics=["CLICKS"])
    assert A.endswith("/top-picks") and short.frame.equals(full.frame)
    assert short.incrementality.frame.equals(full.incrementality.frame)
    with pytest.raises(attrkit.ConfigError, match=r"source 'picks': not in the windows; "
                       r"sources are .*top-picks"):
        attrkit.compare(sample_result, baseline="picks")


def test_sample_effects_are_recovered(sample_result):
    """The sample randomises users, so the default design is 'users': per assigned user and per
    recommendation served both recover the planted +8% clicks per list."""
    table = attrkit.compare(sample_result, baseline=A, holdout=HOLDOUT)
    assert table.design == "users"
    for kind in ("per_user", "per_recommendation"):
        clicks = table.row("CLICKS", A, B, kind=kind)
        assert clicks["lift_ci_low"] <= 0.08 <= clicks["lift_ci_high"]  # planted: +8% per list
        assert clicks["significant"] and clicks["unit"] == "users"
        assert "users as units" in clicks["method"]
        # watches follow clicks with the same probability in both arms: the same 8%
        watches = table.row("WATCHES", A, B, kind=kind)
        assert watches["lift_ci_low"] <= 0.08 <= watches["lift_ci_high"]
    assert table.row("CLICKS", A, B)["kind"] == "per_user"  # the primary row
    assert table.srm is not None and not table.srm.mismatch
    assert any("unattributed" in w for w in table.warnings)
    # declared request-level randomisation: the window-level rate test, as before
    requests = attrkit.compare(sample_result, baseline=A, design="requests")
    assert "stratified by window" in requests.row("CLICKS", A, B)["method"]


def test_no_effect_where_none_was_planted(tmp_path):
    """The event-level sample with no lift planted: A and B are not told apart on any metric.
    (One draw; the false-positive *rate* is the calibration test's job.)"""
    paths = attrkit.generate_sample(tmp_path, seed=0, days=14, users=20_000, lift=0.0)
    result = attrkit.attribute(paths.interactions, paths.metric_attribution, items=paths.items,
                               recommendations=paths.recommendations, dedupe=True)
    table = attrkit.compare(result, baseline=A, sources=[A, B])
    assert table.frame.height == 9  # 3 metrics × per user, per recommendation, user total
    assert table.frame["tested"].all()
    assert not table.frame["significant"].any()


def test_paired_rows_match_the_low_level_test():
    sim = simulate_windows(seed=7, days=7, lift=0.1)
    table = attrkit.compare(sim["windows"], baseline=A)
    row = table.row("CLICKS", A, B)
    w = sim["windows"]
    j = (w.filter(source=A).select("timestamp", "value")
         .join(w.filter(source=B).select("timestamp", "value"), on="timestamp", how="full",
               coalesce=True, suffix="_t").fill_null(0.0).sort("timestamp"))
    ref = paired_window_test(j["value"].to_numpy(), j["value_t"].to_numpy(), relative=True)
    assert row["lift"] == pytest.approx(ref.effect, rel=1e-12)
    assert row["p_value"] == pytest.approx(ref.p_value, rel=1e-9)


def test_multiple_comparisons_are_adjusted_across_rows():
    sim = simulate_windows(seed=1, days=7)
    w = pl.concat([sim["windows"], sim["windows"].with_columns(metric_name=pl.lit("OTHER"))])
    table = attrkit.compare(w, correction="bonferroni", design="requests")
    p, padj = table.frame["p_value"].to_numpy(), table.frame["p_adjusted"].to_numpy()
    assert padj == pytest.approx(np.minimum(p * len(p), 1.0))


def test_bad_arguments_are_named():
    sim = simulate_windows(seed=1, days=1)
    with pytest.raises(ValueError, match="baseline|source 'nope'"):
        attrkit.compare(sim["windows"], baseline="nope")
    with pytest.raises(ValueError, match="metrics: 'NOPE'"):
        attrkit.compare(sim["windows"], metrics=["nope"])
    with pytest.raises(ValueError, match="correction"):
        attrkit.compare(sim["windows"], correction="fdr")
    with pytest.raises(ValueError, match="missing columns"):
        attrkit.compare(pl.DataFrame({"x": [1]}))


def test_too_few_windows_is_warned():
    sim = simulate_windows(seed=2, days=1)
    w = sim["windows"].filter(pl.col("timestamp") < sim["windows"]["timestamp"].min() + 900 * 20)
    row = attrkit.compare(w).frame.row(0, named=True)
    assert "only 20 windows" in row["warnings"]


def test_comparison_table_renders_and_converts():
    sim = simulate_windows(seed=3, days=2)
    table = attrkit.compare(sim["windows"], exposure=sim["exposure"])
    html = table._repr_html_()
    assert "<table" in html and "CLICKS" in html
    assert table.to_pandas().shape[0] == table.frame.height


def test_monitor_matches_the_scalar_sequential_test():
    sim = simulate_windows(seed=5, days=3, lift=0.1)
    m = attrkit.monitor(sim["windows"], metric="CLICKS", control=A, treatment=B)
    w = sim["windows"]
    j = (w.filter(source=A).select("timestamp", "value")
         .join(w.filter(source=B).select("timestamp", "value"), on="timestamp", how="full",
               coalesce=True, suffix="_t").fill_null(0.0).sort("timestamp"))
    for k in (10, 100, j.height):
        ref = sequential_test(SampleStats.from_array(j["value"][:k]),
                              SampleStats.from_array(j["value_t"][:k]), relative=True)
        row = m.filter(looks=k).row(0, named=True)
        assert row["effect"] == pytest.approx(ref.effect, rel=1e-9)
        assert row["ci_low"] == pytest.approx(ref.ci_low, rel=1e-9)
        # the always-valid p-value is the running minimum of the looks so far
        assert row["p_value"] <= ref.p_value * (1 + 1e-9)
    assert m["significant"].is_null().all()  # no design declared: no verdict


def test_compare_users_against_welch_and_cuped():
    rng = np.random.default_rng(0)
    n = 4000
    arm = np.where(rng.random(n) < 0.5, "A", "B")
    pre = rng.gamma(2, 2, n)
    clicks = pre * 0.8 + rng.normal(0, 1, n) + np.where(arm == "B", 0.3, 0.0)
    lists = rng.poisson(5, n) + 1
    users = pl.DataFrame({"source": arm, "clicks": clicks, "pre": pre, "lists": lists})
    out = attrkit.compare_users(users, metrics=["clicks"], ratios={"per_list": ("clicks", "lists")},
                                pre={"clicks": "pre"})
    row = out.filter(metric="clicks").row(0, named=True)
    plain = mean_test(clicks[arm == "A"], clicks[arm == "B"], relative=True)
    assert "CUPED" in row["method"]
    assert row["lift_ci_high"] - row["lift_ci_low"] < plain.ci_high - plain.ci_low
    assert out.filter(metric="per_list")["method"][0].startswith("ratio of per-user sums")
    # the CUPED row is cuped_test's test of the difference; the same test as compare's
    ref = cuped_test(CupedStats.from_arrays(clicks[arm == "A"], pre[arm == "A"]),
                     CupedStats.from_arrays(clicks[arm == "B"], pre[arm == "B"]))
    assert row["p_value"] == pytest.approx(ref.p_value, rel=1e-6)
    assert row["lift_ci_low"] > 0  # the interval excludes 0 as the test rejects
    no_pre = attrkit.compare_users(users, metrics=["clicks"]).row(0, named=True)
    welch = sps.ttest_ind(clicks[arm == "B"], clicks[arm == "A"], equal_var=False)
    assert no_pre["p_value"] == pytest.approx(welch.pvalue, rel=1e-9)
    with pytest.raises(ValueError, match="a column with each user.s source .named by arm=."):
        attrkit.compare_users(users.rename({"source": "arm"}), metrics=["clicks"])
    assert out["p_adjusted"].to_list() == pytest.approx(
        np.minimum(1, np.maximum.accumulate(np.sort(out["p_value"].to_numpy()) * [2, 1]))
        [np.argsort(np.argsort(out["p_value"].to_numpy()))])


def test_exposure_without_its_columns_is_refused_by_compare_and_monitor():
    sim = simulate_windows(seed=4, days=1)
    bad = sim["exposure"].rename({"exposure": "served"})
    with pytest.raises(ValueError, match=r"exposure: missing columns \['exposure'\]"):
        attrkit.compare(sim["windows"], exposure=bad)
    with pytest.raises(ValueError, match=r"exposure: missing columns \['exposure'\]"):
        attrkit.monitor(sim["windows"], metric="CLICKS", control=A, treatment=B, exposure=bad)


def test_rate_method_without_an_exposure_is_the_callers_error():
    sim = simulate_windows(seed=4, days=1)
    with pytest.raises(ValueError, match="method='rate': sources .* both need an exposure"):
        attrkit.compare(sim["windows"], method="rate", design="requests")


def test_windows_are_paired_in_time_order():
    """A rate per exposure compared window by window: the Newey–West error reads neighbouring
    windows, so the windows go in time order (a join's order is arbitrary, and the same input
    gave a different standard error from one call to the next). The row equals the test on
    arrays built here in time order, and repeated calls give the same frame."""
    from attrkit.stats.paired import paired_rate_ratio_test

    rng = np.random.default_rng(8)
    t0, n = 1_699_999_200, 6000
    log = pl.DataFrame({"RECOMMENDATION_ID": [f"r{i}" for i in range(n)],
                        "SOURCE": rng.choice(["A", "B"], n),
                        "TIMESTAMP": t0 + np.sort(rng.integers(0, 4 * 86_400, n))})
    # each arm absent one hour in three: many windows of one arm alone, unmatched in the join
    hour = (pl.col("TIMESTAMP") - t0) // 3600 % 3
    log = log.with_columns(pl.when(hour == 0).then(pl.lit("B")).when(hour == 1)
                           .then(pl.lit("A")).otherwise(pl.col("SOURCE")).alias("SOURCE"))
    # a trend, so that the order of the windows matters to their autocorrelation
    value = rng.exponential(1.0, n) * (1 + (log["TIMESTAMP"].to_numpy() - t0) / 86_400)
    events = pl.DataFrame({"USER_ID": "u", "ITEM_ID": "i", "EVENT_TYPE": "purchase",
                           "RECOMMENDATION_ID": log["RECOMMENDATION_ID"],
                           "TIMESTAMP": log["TIMESTAMP"] + 5, "EVENT_VALUE": value})
    ma = {"name": "m", "metrics": [{"eventType": "purchase", "metricName": "REVENUE",
                                    "expression": "SUM(Interactions.EVENT_VALUE)"}]}
    result = attrkit.attribute(events, ma, recommendations=log)
    frames = [attrkit.compare(result, design="requests").frame for _ in range(5)]
    assert all(f.equals(frames[0]) for f in frames)
    row = frames[0].row(0, named=True)
    w = result.windows.pivot(on="source", index="timestamp", values="value")
    e = result.exposure.pivot(on="source", index="timestamp", values="exposure")
    both = e.join(w, on="timestamp", how="left", suffix="_v").fill_null(0.0).sort("timestamp")
    # an arm's events in a window where it served nothing are left out (and noted)
    both = both.with_columns(pl.when(pl.col(s) > 0).then(pl.col(f"{s}_v")).otherwise(0.0)
                             .alias(f"{s}_v") for s in ("A", "B"))
    want = paired_rate_ratio_test(both["A_v"], both["A"], both["B_v"], both["B"])
    assert row["control"] == "A" and row["method"] == want.method
    # (the windows' values here are floats read back from the result)
    assert row["p_value"] == pytest.approx(want.p_value, rel=1e-9)
    assert row["lift_ci_low"] == pytest.approx(want.ci_low, rel=1e-9)
    assert row["lift_ci_high"] == pytest.approx(want.ci_high, rel=1e-9)
    assert both.height > 350  # (four days of 15-minute windows)


def test_monitor_and_the_daily_lift_take_the_reports_names_and_refuse_others(sample_result):
    """``control``/``treatment`` as the report names the arms give the full names' frames; a
    name that is no arm is an error (it gave empty days before), naming the arms."""
    for fn in (attrkit.monitor, attrkit.lift_by_day):
        full = fn(sample_result, metric="CLICKS", control=A, treatment=B)
        short = fn(sample_result, metric="CLICKS", control="top-picks",
                   treatment="because-you-watched")
        assert full.height > 0 and short.equals(full), fn.__name__
        with pytest.raises(attrkit.ConfigError, match=r"treatment='picks': no such source; "
                           r"sources are .*because-you-watched"):
            fn(sample_result, metric="CLICKS", control=A, treatment="picks")


def test_users_assigned_to_one_source_are_described_and_the_warning_names_it():
    t0 = 1_704_067_200
    log = pl.DataFrame({"RECOMMENDATION_ID": ["r1", "r2"], "SOURCE": ["arn:x:recommender/A"] * 2,
                        "TIMESTAMP": [t0, t0 + 1], "USER_ID": ["u1", "u2"]})
    ev = pl.DataFrame({"USER_ID": ["u1", "u2"], "ITEM_ID": "i1", "TIMESTAMP": [t0 + 10, t0 + 20],
                       "EVENT_TYPE": "click", "RECOMMENDATION_ID": ["r1", "r2"]})
    ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "CLICKS",
                                    "expression": "SAMPLECOUNT()"}]}
    table = attrkit.compare(attrkit.attribute(ev, ma, recommendations=log))
    assert ("users were assigned to only one source (A): there is no randomised comparison; "
            "sources are described") in table.warnings
    assert table.frame.height == 0


def test_a_table_prints_a_line_per_comparison():
    rng = np.random.default_rng(0)
    w = pl.DataFrame({"timestamp": np.tile(np.arange(96) * 900, 2), "metric_name": "CLICKS",
                      "source": ["A"] * 96 + ["B"] * 96,
                      "value": np.concatenate([rng.poisson(100, 96), rng.poisson(120, 96)]) * 1.0})
    table = attrkit.compare(w, baseline="A", design="requests")
    lift = table.row("CLICKS", "A", "B")
    assert repr(table).splitlines()[:2] == [
        "ComparisonTable: 1 comparisons; design requests; α 0.05, p-values adjusted (holm)",
        f"  CLICKS window: B vs A: lift {lift['lift']:+.1%} [{lift['lift_ci_low']:+.1%}, "
        f"{lift['lift_ci_high']:+.1%}], adjusted p {lift['p_adjusted']:.3g}, significant"]
