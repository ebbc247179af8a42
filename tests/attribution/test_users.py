"""Users as the unit: the per-user data attribute() builds, the design check, and compare and
monitor under each design, checked against independent computations."""

from __future__ import annotations

import math
import re

import numpy as np
import polars as pl
import pytest
from scipy import optimize
from scipy import stats as sps

import attrkit
from attrkit.comparison import MIN_USERS
from attrkit.simulate.calibration import (
    CAROUSEL,
    A,
    B,
    Scenario,
    attribute_simulation,
    simulate_experiment,
)
from attrkit.stats.fieller import fieller_interval


@pytest.fixture(scope="module")
def sim():
    return simulate_experiment(Scenario("test", users=1500, days=7, shape=1.0), lift=0.1, seed=11)


@pytest.fixture(scope="module")
def result(sim):
    return attribute_simulation(sim)


def _per_user_by_hand(sim: dict, metric_type: str) -> pl.DataFrame:
    """Per-user metric of the arm's source, independently of attrkit: a plain polars join."""
    log = sim["recommendations"]
    arm = log.sort("TIMESTAMP", "SOURCE").group_by("USER_ID", maintain_order=True).first()
    ev = sim["interactions"].filter(EVENT_TYPE=metric_type).join(
        log.select("RECOMMENDATION_ID", pl.col("SOURCE").alias("served")), on="RECOMMENDATION_ID",
        how="left")
    own = (ev.join(arm.select("USER_ID", "SOURCE"), on="USER_ID")
           .filter(pl.col("served") == pl.col("SOURCE"), pl.col("EVENT_ATTRIBUTION_SOURCE").is_null())
           .group_by("USER_ID").agg(
               (pl.len() if metric_type == "click" else pl.col("EVENT_VALUE").sum()).alias("v")))
    return (arm.select("USER_ID", "SOURCE").join(own, on="USER_ID", how="left")
            .with_columns(pl.col("v").cast(pl.Float64).fill_null(0.0)))


def test_per_user_data_matches_a_plain_join(sim, result):
    ud = result.users
    assert ud.assignment.height == sim["recommendations"]["USER_ID"].n_unique()
    for metric, etype in (("CLICKS", "click"), ("REVENUE", "purchase")):
        mine = ud.per_user(metric, ud.arms).select("USER_ID", "value")
        ref = _per_user_by_hand(sim, etype).select("USER_ID", "v")
        both = mine.join(ref, on="USER_ID")
        assert both.height == mine.height == ref.height
        assert both["value"].to_numpy() == pytest.approx(both["v"].to_numpy(), abs=1e-6)
    # users without events are in the population, with zero
    assert (ud.per_user("REVENUE", ud.arms)["value"] == 0).sum() > 0


def test_compare_per_user_rows_against_scipy(sim, result):
    table = attrkit.compare(result, baseline=A)
    assert table.design == "users"
    ref = _per_user_by_hand(sim, "click")
    c = ref.filter(SOURCE=A)["v"].to_numpy()
    t = ref.filter(SOURCE=B)["v"].to_numpy()
    row = table.row("CLICKS", A, B, kind="per_user")
    welch = sps.ttest_ind(t, c, equal_var=False)
    assert row["p_value"] == pytest.approx(welch.pvalue, rel=1e-9)
    assert row["lift"] == pytest.approx(t.mean() / c.mean() - 1, rel=1e-12)
    assert (row["control_n"], row["treatment_n"]) == (c.size, t.size)
    # Fieller's interval: the lifts r at its ends make Welch's t of (t - (1+r) c) equal to q
    vc, vt = c.var(ddof=1) / c.size, t.var(ddof=1) / t.size
    q = sps.t.ppf(0.975, welch.df)
    for end in (row["lift_ci_low"], row["lift_ci_high"]):
        rho = 1 + end
        assert (t.mean() - rho * c.mean()) ** 2 / (vt + rho**2 * vc) == pytest.approx(q**2,
                                                                                       rel=1e-9)
    # consistent: the interval excludes 0 exactly when p < alpha
    assert (row["lift_ci_low"] > 0 or row["lift_ci_high"] < 0) == (row["p_value"] < 0.05)


def test_per_recommendation_row_is_the_delta_method_ratio(result):
    table = attrkit.compare(result, baseline=A, metrics=["CLICKS"])
    row = table.row("CLICKS", A, B, kind="per_recommendation")
    pu = result.users.per_user("CLICKS", [A, B])

    def arm(name):
        x = pu.filter(arm=name)
        y, d = x["value"].to_numpy(), x["served"].to_numpy()
        r = y.sum() / d.sum()
        # linearised per-user values, the delta method by hand
        z = (y - r * d) / d.mean()
        return r, z.var(ddof=1) / z.size

    (rc, vc), (rt, vt) = arm(A), arm(B)
    assert row["control_rate"] == pytest.approx(rc, rel=1e-12)
    z = (rt - rc) / math.sqrt(vc + vt)
    assert row["p_value"] == pytest.approx(2 * sps.t.sf(abs(z), _welch_df(vc, vt, pu)), rel=1e-6)


def _welch_df(vc, vt, pu):
    nc, nt = (pu.filter(arm=a).height for a in (A, B))
    return (vc + vt) ** 2 / (vc**2 / (nc - 1) + vt**2 / (nt - 1))


def test_sources_nobody_randomised_are_described_not_tested(sim, result):
    table = attrkit.compare(result, baseline=A)
    assert set(table.frame["control"]) | set(table.frame["treatment"]) == {A, B}
    described = table.described.filter(metric="CLICKS")
    assert set(described["source"]) == {CAROUSEL, attrkit.defaults.UNDEFINED_SOURCE}
    pop = result.users.assignment
    carousel = described.filter(source=CAROUSEL).row(0, named=True)
    clicks = (sim["interactions"].filter(EVENT_ATTRIBUTION_SOURCE=CAROUSEL, EVENT_TYPE="click")
              .join(pop, on="USER_ID", how="semi"))
    assert carousel["per_assigned_user"] == pytest.approx(clicks.height / pop.height)
    assert carousel["users_with_events"] == clicks["USER_ID"].n_unique()
    with pytest.raises(ValueError, match="not randomised"):
        attrkit.compare(result, baseline=CAROUSEL)
    # asked for by name, totals are compared as volume: labelled, never a verdict
    vol = attrkit.compare(result, baseline=A, volume=[(A, CAROUSEL)])
    row = vol.frame.filter(kind="volume").row(0, named=True)
    assert row["significant"] is None and not row["tested"]


def test_design_check_counts_multi_source_and_unlogged_users(sim):
    log = sim["recommendations"]
    first = log.sort("TIMESTAMP").row(0, named=True)
    other = B if first["SOURCE"] == A else A
    # the first-served user is later served by the other source too; a stranger has events
    extra_log = pl.DataFrame({"RECOMMENDATION_ID": ["extra"], "SOURCE": [other],
                              "TIMESTAMP": [first["TIMESTAMP"] + 3600],
                              "USER_ID": [first["USER_ID"]]})
    stranger = sim["interactions"].filter(pl.col("RECOMMENDATION_ID").is_not_null()).head(5) \
        .with_columns(USER_ID=pl.lit("stranger"))
    r = attrkit.attribute(pl.concat([sim["interactions"], stranger]), sim["metric_attribution"],
                          recommendations=pl.concat([log, extra_log]))
    check, before = r.users.check(), attribute_simulation(sim).users.check()
    assert (before.multi_source_users, check.multi_source_users) == (0, 1)
    # users with only organic or carousel events are not in the log either; the stranger adds one
    assert check.event_users_not_in_log == before.event_users_not_in_log + 1
    assert (before.unlogged_events, check.unlogged_events) == (0, 5)
    assigned = r.users.assignment.filter(USER_ID=first["USER_ID"]).row(0, named=True)
    assert assigned["arm"] == first["SOURCE"] and assigned["sources_served"] == 2
    table = attrkit.compare(r, baseline=A)
    assert table.design_check.multi_source_users == 1
    assert "more than one source" in table.design_check.summary()


def test_declared_designs(result):
    with pytest.raises(ValueError, match="design='users' needs per-user data"):
        attrkit.compare(result.windows, design="users")
    with pytest.raises(ValueError, match="design="):
        attrkit.compare(result, design="randomised")
    undeclared = attrkit.compare(result.windows, exposure=result.exposure, baseline=A)
    assert undeclared.design is None
    assert undeclared.frame["significant"].is_null().all()
    assert not undeclared.frame["tested"].any()
    assert undeclared.frame["p_adjusted"].is_null().all()
    assert any("request-level" in w or "each request" in w for w in undeclared.warnings)
    requests = attrkit.compare(result, design="requests", baseline=A)
    assert requests.frame["unit"].unique().to_list() == ["windows"]
    computed = pl.col("p_value").is_not_nan()
    assert requests.frame.filter(computed)["tested"].all()
    # the carousel has no revenue: that row has no p-value, says why, and is not in the family
    empty = requests.frame.filter(~computed).row(0, named=True)
    assert not empty["tested"] and empty["p_adjusted"] is None and "no p-value" in empty["warnings"]
    observational = attrkit.compare(result, design="observational", baseline=A)
    assert observational.frame["p_value"].is_null().all()
    assert observational.frame["significant"].is_null().all()


def test_too_few_users_gives_no_verdict():
    small = simulate_experiment(Scenario("small", users=120, days=3), lift=2.0, seed=3)
    table = attrkit.compare(attribute_simulation(small), baseline=A, metrics=["CLICKS"])
    row = table.row("CLICKS", A, B)
    assert min(row["control_n"], row["treatment_n"]) < MIN_USERS
    assert row["p_value"] < 0.05 and row["significant"] is None  # no verdict, not "no"
    assert f"no verdict below {MIN_USERS}" in row["warnings"]


def test_zero_events_in_one_arm_leaves_that_row_not_computed(result):
    """One metric without any control events: its rows say why; the others are computed."""
    users = result.users
    values = users.values.filter(~((pl.col("metric_name") == "REVENUE")
                                   & (pl.col("source") == A)))
    from attrkit.attribution.users import UserData

    ud = UserData(users.assignment, values, users.served)
    table = attrkit.compare(result.windows, users=ud, baseline=A)
    rev = table.frame.filter(metric="REVENUE", kind="per_user").row(0, named=True)
    assert math.isnan(rev["p_value"]) and rev["method"] == "not computed"
    assert "undefined" in rev["why"] and not rev["tested"]
    assert table.row("CLICKS", A, B)["tested"]


def test_window_rows_with_zero_events_in_one_arm_are_not_computed():
    w = pl.DataFrame({"timestamp": [0, 900] * 2, "metric_name": ["M"] * 2 + ["N"] * 2,
                      "source": ["A", "A", "A", "A"], "value": [1.0, 2.0, 3.0, 4.0]})
    w = pl.concat([w, pl.DataFrame({"timestamp": [0], "metric_name": ["N"], "source": ["B"],
                                    "value": [2.0]})])
    table = attrkit.compare(w, baseline="A", design="requests")
    assert table.frame.height == 2


def test_nan_values_are_refused_not_dropped():
    w = pl.DataFrame({"timestamp": [0, 900], "metric_name": "M", "source": ["A", "B"],
                      "value": [1.0, float("nan")]})
    with pytest.raises(ValueError, match="not a finite number, the first at timestamp 900"):
        attrkit.compare(w)


def test_monitor_per_user_recomputes_each_day(result):
    m = attrkit.monitor(result, metric="CLICKS", control=A, treatment=B)
    assert m["looks"].to_list() == list(range(1, m.height + 1))
    assert m["n"].is_sorted()
    assert m["p_value"].is_sorted(descending=True)  # running minimum
    last = m.row(-1, named=True)
    pu = result.users.per_user("CLICKS", [A, B])
    c, t = (pu.filter(arm=a)["value"].to_numpy() for a in (A, B))
    assert last["effect"] == pytest.approx(t.mean() / c.mean() - 1, rel=1e-12)
    assert last["n"] == c.size + t.size
    assert m["significant"].dtype == pl.Boolean and not m["significant"].is_null().any()


def test_lift_by_day_uses_each_day_alone(result):
    daily = attrkit.lift_by_day(result, metric="CLICKS", control=A, treatment=B)
    day = result.users.served["day"].min()
    pu = result.users.between(day, day + 86_400).per_user("CLICKS", [A, B])
    c, t = (pu.filter(arm=a)["value"].to_numpy() for a in (A, B))
    assert daily.row(0, named=True)["lift"] == pytest.approx(t.mean() / c.mean() - 1)


def test_fieller_interval_inverts_the_test():
    rng = np.random.default_rng(4)
    c, t = rng.gamma(0.5, 4, 300), rng.gamma(0.5, 4.6, 300)
    vc, vt = c.var(ddof=1) / c.size, t.var(ddof=1) / t.size
    lo, hi = fieller_interval(c.mean(), t.mean(), vc, vt, alpha=0.1)
    q = sps.norm.ppf(0.95)

    def stat(r):
        return (t.mean() - (1 + r) * c.mean()) / math.sqrt(vt + (1 + r) ** 2 * vc) - q

    # the upper end solves t(r) = -q, the lower t(r) = q; found by a root-finder
    assert lo == pytest.approx(optimize.brentq(stat, -0.9, t.mean() / c.mean() - 1), rel=1e-8)
    assert hi == pytest.approx(optimize.brentq(lambda r: stat(r) + 2 * q,
                                               t.mean() / c.mean() - 1, 5), rel=1e-8)
    assert fieller_interval(0.1, 1.0, 1.0, 1.0, alpha=0.05) == (-math.inf, math.inf)


def test_a_significant_lift_over_a_control_near_zero_has_a_one_sided_interval():
    """3 of 150 control users buy, 20 of 150 treatment users: Welch rejects; Fieller's set is two
    rays and the one holding the estimate is shown, excluding 0 as the test does."""
    t0 = 1_704_067_200
    log = pl.DataFrame({"RECOMMENDATION_ID": [f"r{i}" for i in range(300)],
                        "SOURCE": ["A"] * 150 + ["B"] * 150,
                        "TIMESTAMP": [t0 + i for i in range(300)],
                        "USER_ID": [f"u{i}" for i in range(300)]})
    buyers = [*range(3), *range(150, 170)]
    ev = pl.DataFrame({"USER_ID": [f"u{i}" for i in buyers], "ITEM_ID": "i1",
                       "TIMESTAMP": [t0 + 1000 + i for i in buyers], "EVENT_TYPE": "purchase",
                       "EVENT_VALUE": 100.0, "RECOMMENDATION_ID": [f"r{i}" for i in buyers]})
    ma = {"name": "m", "metrics": [{"eventType": "purchase", "metricName": "REVENUE",
                                    "expression": "SUM(Interactions.EVENT_VALUE)"}]}
    row = attrkit.compare(attrkit.attribute(ev, ma, recommendations=log),
                          baseline="A").row("REVENUE", "A", "B")
    c = np.r_[np.full(3, 100.0), np.zeros(147)]
    t = np.r_[np.full(20, 100.0), np.zeros(130)]
    assert row["p_value"] == pytest.approx(sps.ttest_ind(t, c, equal_var=False).pvalue)
    assert row["significant"] and row["lift_ci_low"] > 0 and row["lift_ci_high"] == math.inf
    assert "unbounded" in row["warnings"]


def test_cuped_on_a_pre_period_matches_cuped_test():
    from attrkit.simulate.calibration import START
    from attrkit.stats import CupedStats, cuped_test

    sim = simulate_experiment(Scenario("pre", users=2000, days=10, shape=1.0, pre_days=3),
                              lift=0.1, seed=5)
    result = attribute_simulation(sim)
    start = START + 3 * 86_400
    # three days before the start: fewer than a week, so CUPED only when asked for
    auto = attrkit.compare(result, baseline=A, metrics=["CLICKS"], start=start)
    assert "CUPED" not in "".join(auto.frame["method"])
    assert any("3 days before the start; 7 are needed" in n for n in auto.notes)
    plain = attrkit.compare(result, baseline=A, metrics=["CLICKS"], start=start, cuped=False)
    assert plain.frame.equals(auto.frame)
    cuped = attrkit.compare(result, baseline=A, metrics=["CLICKS"], start=start, cuped=True)
    adjusted = cuped.row("CLICKS", A, B, kind="user_total")
    assert "CUPED" in adjusted["method"]
    # the variance it removed, said in the method: the adjusted interval's width over the
    # plain one's is the square root of what is left
    reduction = float(re.search(r"variance of the difference ([-+]\d+)%",
                                adjusted["method"]).group(1)) / 100
    unadj = plain.row("CLICKS", A, B, kind="user_total")
    ratio = (adjusted["lift_ci_high"] - adjusted["lift_ci_low"]) / (
        unadj["lift_ci_high"] - unadj["lift_ci_low"])
    assert reduction < -0.05 and ratio == pytest.approx((1 + reduction) ** 0.5, abs=0.02)
    # the same comparison by attrkit.stats.cuped_test (checked against GrowthBook's vectors)
    pu = result.users.between(start, None).per_user("CLICKS", [A, B]).join(
        result.users.pre_period("CLICKS", start), on="USER_ID", how="left").fill_null(0.0)
    arms = [CupedStats.from_arrays(pu.filter(arm=a)["total"].to_numpy(),
                                   pu.filter(arm=a)["pre"].to_numpy()) for a in (A, B)]
    ref = cuped_test(*arms)
    assert adjusted["p_value"] == pytest.approx(ref.p_value, rel=1e-6)
    assert adjusted["effect"] == pytest.approx(ref.effect, rel=1e-9)
    # the lift over the unadjusted control mean (the spec's, and gbstats'), whose own mean is
    # the control's rate
    assert adjusted["lift"] == pytest.approx(cuped_test(*arms, relative=True).effect, rel=1e-9)
    y = {a: pu.filter(arm=a)["total"].to_numpy() for a in (A, B)}
    assert adjusted["control_rate"] == pytest.approx(y[A].mean(), rel=1e-12)
    # Fieller's ends by their definition, from the users' values with scipy: at ρ = 1 + lift,
    # the Welch statistic of the treatment's adjusted values against the control's less
    # (1 − ρ) times its own values is ±q (q of the test's degrees of freedom)
    pre = {a: pu.filter(arm=a)["pre"].to_numpy() for a in (A, B)}
    allp, ally = np.r_[pre[A], pre[B]], np.r_[y[A], y[B]]
    theta = np.cov(ally, allp)[0, 1] / allp.var(ddof=1)
    adj = {a: y[a] - theta * (pre[a] - allp.mean()) for a in (A, B)}
    welch = sps.ttest_ind(adj[B], adj[A], equal_var=False)
    assert adjusted["p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
    assert "skewness" not in adjusted["method"]
    q = sps.t.ppf(0.975, welch.df)
    for end, sign in (("lift_ci_low", 1), ("lift_ci_high", -1)):
        rho = 1 + adjusted[end]
        t = sps.ttest_ind(adj[B], adj[A] - (1 - rho) * y[A], equal_var=False).statistic
        assert t == pytest.approx(sign * q, rel=1e-6), end
    # compare_users on the same users' frame: the same row
    mine = attrkit.compare_users(pu.select("arm", "total", "pre"), arm="arm", metrics=["total"],
                                 pre={"total": "pre"}, baseline=A).row(0, named=True)
    for a, b in (("lift", "lift"), ("lift_ci_low", "lift_ci_low"), ("p_value", "p_value"),
                 ("lift_ci_high", "lift_ci_high"), ("control_mean", "control_rate"),
                 ("treatment_mean", "treatment_rate"), ("chance_to_win", "chance_to_win")):
        assert mine[a] == pytest.approx(adjusted[b], rel=1e-9), a
    assert "lift over the unadjusted control mean" in mine["method"]
    unadjusted = attrkit.compare(result.windows, users=result.users.between(start, None),
                                 baseline=A, metrics=["CLICKS"]).row("CLICKS", A, B,
                                                                     kind="user_total")
    assert adjusted["lift_ci_high"] - adjusted["lift_ci_low"] < (
        unadjusted["lift_ci_high"] - unadjusted["lift_ci_low"])
    assert plain.row("CLICKS", A, B, kind="per_recommendation")["method"].count("CUPED") == 0
    with pytest.raises(ValueError, match="pre-period must precede assignment"):
        attrkit.compare(result, baseline=A, start=start + 86_400, cuped=True)
    later = attrkit.compare(result, baseline=A, start=start + 86_400)  # where valid: not here
    assert any("users were served before the start" in n for n in later.notes)
    with pytest.raises(ValueError, match="cuped="):
        attrkit.compare(result, baseline=A, start=start, cuped="on")
    with pytest.raises(ValueError, match="midnight UTC"):
        attrkit.compare(result, baseline=A, start=start + 5)


def test_capping_clips_per_user_values_at_the_pooled_quantile(result):
    capped = attrkit.compare(result, baseline=A, metrics=["REVENUE"], cap=0.99)
    row = capped.row("REVENUE", A, B)
    pu = result.users.per_user("REVENUE", [A, B])
    limit = np.quantile(pu["value"].to_numpy(), 0.99, method="higher")
    c, t = (np.minimum(pu.filter(arm=a)["value"].to_numpy(), limit) for a in (A, B))
    assert row["p_value"] == pytest.approx(sps.ttest_ind(t, c, equal_var=False).pvalue, rel=1e-9)
    assert row["lift"] == pytest.approx(t.mean() / c.mean() - 1, rel=1e-12)
    assert "capped at their 0.99 quantile" in row["method"]
    # the ratio's numerator and denominator are both capped: recompute by the delta method
    ratio = capped.row("REVENUE", A, B, kind="per_recommendation")
    served_cap = np.quantile(pu["served"].to_numpy(), 0.99, method="higher")

    def arm(name):
        x = pu.filter(arm=name)
        y = np.minimum(x["value"].to_numpy(), limit)
        d = np.minimum(x["served"].to_numpy(), served_cap)
        r = y.sum() / d.sum()
        z = (y - r * d) / d.mean()
        return r, z.var(ddof=1) / z.size

    (rc, vc), (rt, vt) = arm(A), arm(B)
    assert ratio["control_rate"] == pytest.approx(rc, rel=1e-12)
    assert ratio["lift"] == pytest.approx(rt / rc - 1, rel=1e-12)
    z = (rt - rc) / math.sqrt(vc + vt)
    assert ratio["p_value"] == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-3)
    assert ratio["control_exposure"] == pu.filter(arm=A)["served"].sum()  # reported uncapped
    with pytest.raises(ValueError, match="cap=2"):
        attrkit.compare(result, cap=2)


def test_health_counts_events_of_users_the_log_does_not_know(sim):
    stranger = sim["interactions"].filter(pl.col("RECOMMENDATION_ID").is_not_null()).head(3) \
        .with_columns(USER_ID=pl.lit("stranger"))
    r = attrkit.attribute(pl.concat([sim["interactions"], stranger]), sim["metric_attribution"],
                          recommendations=sim["recommendations"])
    before = attribute_simulation(sim).health
    assert before.events_of_users_not_in_log == 0
    assert r.health.events_of_users_not_in_log == 3
    assert r.health.users_not_in_log == before.users_not_in_log + 1
    assert any("the recommendations log does not know" in w for w in r.health.warnings)
    assert "users with events, not in the log: " in r.health.summary()
    no_users = attrkit.attribute(sim["interactions"], sim["metric_attribution"],
                                 recommendations=sim["recommendations"].drop("USER_ID"))
    assert no_users.users is None and no_users.health.users_not_in_log is None


def test_one_assigned_source_is_described_not_an_error(sim):
    """A log from one recommender (beside a carousel and organic traffic): nothing randomised to
    compare, so nothing is tested; every source is described."""
    log = sim["recommendations"].filter(SOURCE=A)
    ev = sim["interactions"].join(log.select("USER_ID").unique(), on="USER_ID", how="semi")
    table = attrkit.compare(attrkit.attribute(ev, sim["metric_attribution"], recommendations=log))
    assert table.design == "users" and table.frame.height == 0
    assert any("no randomised comparison" in w for w in table.warnings)
    assert {A, CAROUSEL} <= set(table.described["source"].to_list())
    from attrkit import reporting

    assert any("No comparison" in s for s in reporting.conclusion(table, 0.05))


def test_lift_by_day_intervals_are_compares(result):
    """Each day's interval is the one compare gives those users: Fieller's, from Welch."""
    daily = attrkit.lift_by_day(result, metric="CLICKS", control=A, treatment=B)
    day = result.users.served["day"].min()
    one_day = result.users.between(day, day + 86_400)
    row = attrkit.compare(result.windows, users=one_day, baseline=A,
                          metrics=["CLICKS"]).row("CLICKS", A, B)
    first = daily.row(0, named=True)
    assert (first["lift_ci_low"], first["lift_ci_high"]) == pytest.approx(
        (row["lift_ci_low"], row["lift_ci_high"]), rel=1e-12)


def test_moments_by_look_agree_with_per_user_at_each_look():
    # the monitor's sufficient statistics, one pass over users × looks, against per_user
    # computed look by look (users without events count as zero; late assignments join later)
    from attrkit.attribution.users import DAY
    from attrkit.simulate.calibration import (
        SCENARIOS,
        A,
        B,
        attribute_simulation,
        simulate_experiment,
    )

    scenario = next(s for s in SCENARIOS if s.name == "90/10 split, different users")
    users = attribute_simulation(simulate_experiment(scenario, seed=4)).users
    looks = [d + DAY for d in users.served["day"].unique().sort().to_list()]
    got = users.moments_by_look("CLICKS", [A, B], looks)
    assert len(got) == 2 * len(looks)
    for (until, arm), m in got.items():
        v = users.per_user("CLICKS", [A, B], until=until).filter(arm=arm)["value"].to_numpy()
        s = m.sample("value")
        assert s.n == v.size and s.sum == pytest.approx(v.sum(), rel=1e-12)
        assert s.sum_sq == pytest.approx((v ** 2).sum(), rel=1e-12)
        assert s.m2 == pytest.approx(((v - v.mean()) ** 2).sum(), rel=1e-9)
