"""Calibration by simulation (a subset of `make calibrate`): user-randomised events, users who
differ, run through attribute, compare and monitor with their defaults. Judged with binomial
tolerances: nominal ± 3 standard errors for the number of replicates."""

from __future__ import annotations

import pytest

from attrkit.simulate.calibration import SCENARIOS, run_scenario, tolerance

RUNS = 150
ALPHA = 0.05


@pytest.mark.slow  # a study: make studies
@pytest.mark.parametrize("name", ["heavily different users", "90/10 split, different users"])
def test_false_positives_and_coverage_hold_with_users_as_units(name):
    scenario = next(s for s in SCENARIOS if s.name == name)
    r = run_scenario(scenario, RUNS, alpha=ALPHA, seed=50_000)
    fp_tol, cov_tol = tolerance(ALPHA, RUNS), tolerance(1 - ALPHA, RUNS)
    for rate in (r.fpr_per_user, r.fpr_per_recommendation, r.fpr_revenue_per_user):
        assert rate <= ALPHA + fp_tol
    assert r.fpr_monitor <= ALPHA + fp_tol  # ever significant, looked at daily
    for coverage in (r.coverage_per_user, r.coverage_per_recommendation):
        assert abs(coverage - (1 - ALPHA)) <= cov_tol
    # the same A/A data with windows as units: the failure this design exists to avoid
    assert r.fpr_windows > ALPHA + fp_tol


@pytest.mark.slow  # a study: make studies
def test_cuped_by_default_keeps_the_error_rate_on_heavy_tailed_users():
    """A week with no list served, then a week of experiment: compare(start=) uses CUPED (by
    default, where valid) on users who differ heavily; the A/A rate stays within α ± 3 SE and
    the planted lift inside the interval at the nominal rate."""
    runs = 100
    scenario = next(s for s in SCENARIOS if "CUPED" in s.name)
    r = run_scenario(scenario, runs, alpha=ALPHA, seed=70_000)
    fp_tol, cov_tol = tolerance(ALPHA, runs), tolerance(1 - ALPHA, runs)
    for rate in (r.fpr_per_user, r.fpr_revenue_per_user):
        assert abs(rate - ALPHA) <= fp_tol
    assert abs(r.coverage_per_user - (1 - ALPHA)) <= cov_tol


def test_simulation_is_seeded_and_users_differ():
    from attrkit.simulate.calibration import simulate_experiment

    s = next(s for s in SCENARIOS if s.name == "heavily different users")
    a, b = simulate_experiment(s, seed=3), simulate_experiment(s, seed=3)
    assert a["interactions"].equals(b["interactions"])
    clicks = a["interactions"].filter(EVENT_TYPE="click").group_by("USER_ID").len()
    top = clicks.sort("len", descending=True).head(s.users // 100)["len"].sum()
    assert top / clicks["len"].sum() > 0.2  # the top 1% of users make over a fifth of clicks
