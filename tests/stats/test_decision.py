"""The decision numbers: GrowthBook's published gbstats values, and a simulation of their own
definition (the chance to win is the share of worlds, drawn from the prior, in which the
treatment is better)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from attrkit.comparison import compare_users
from attrkit.stats import SampleStats, bayes_test, decision

# gbstats' GaussianEffectABTest (packages/stats/tests/bayesian/test_tests.py): relative lift,
# delta method, improper flat prior; the upstream test compares values rounded to 5 decimals.
GB_TOL = 5e-6


def test_gbstats_gaussian_effect_test():
    control = SampleStats(n=10, sum=100.0, sum_sq=1002.25)
    treatment = SampleStats(n=10, sum=105.0, sum_sq=1111.5)
    r = bayes_test(control, treatment)
    assert r.effect == pytest.approx(0.05, abs=GB_TOL)
    assert r.se == pytest.approx(0.03572, abs=GB_TOL)
    assert [r.ci_low, r.ci_high] == pytest.approx([-0.02, 0.12], abs=GB_TOL)
    assert r.details["chance_to_win"] == pytest.approx(0.91923, abs=GB_TOL)
    # gbstats' risk = [loss of keeping the control, loss of choosing the treatment]
    assert r.details["expected_loss_control"] == pytest.approx(0.05131, abs=GB_TOL)
    assert r.details["expected_loss_treatment"] == pytest.approx(0.00131, abs=GB_TOL)


def test_gbstats_binomial_effect_test():
    # 49/100 vs 51/100; gbstats' uplift: normal, mean 0.04082, stddev 0.14725 (5 decimals, so
    # the tolerance allows the rounding of the input)
    d = decision(51 / 49 - 1, 0.14725, prior_sd=None)
    assert d.mean == pytest.approx(0.04082, abs=GB_TOL)
    assert d.chance_to_win == pytest.approx(0.60918, abs=5e-5)
    assert d.expected_loss_control == pytest.approx(0.0814, abs=5e-5)
    assert d.expected_loss == pytest.approx(0.04058, abs=5e-5)


def test_no_uncertainty_or_no_estimate_is_no_decision():
    for lift, se in ((0.1, 0.0), (math.nan, 0.1), (0.1, math.inf)):
        d = decision(lift, se)
        assert math.isnan(d.chance_to_win) and math.isnan(d.expected_loss)
    with pytest.raises(ValueError, match="prior_sd"):
        decision(0.1, 0.1, prior_sd=0.0)


def test_the_weak_prior_barely_moves_a_real_experiment():
    flat, weak = decision(0.03, 0.012, prior_sd=None), decision(0.03, 0.012)
    assert abs(weak.mean - flat.mean) < 0.05 * 0.012  # under a twentieth of a standard error
    assert weak.mean < flat.mean  # shrunk towards zero


def test_chance_to_win_and_loss_mean_what_they_say():
    """Worlds drawn from the prior; in each, users' data; the chance to win must be the share
    of worlds with a better treatment among those given that chance, and the expected loss
    the mean loss of choosing the treatment."""
    from attrkit.simulate.calibration import decision_calibration

    r = decision_calibration(4000, seed=20261204)
    for b in r["bins"]:
        p = b["chance"]
        tol = 3 * math.sqrt(p * (1 - p) / b["runs"]) + 0.01
        assert abs(b["won"] - p) < tol, b
    assert abs(r["realised_loss"] - r["expected_loss"]) < 3 * r["realised_loss_se"] + 1e-4


def test_compare_users_rows_carry_the_posterior_of_their_lift():
    rng = np.random.default_rng(7)
    c, t = rng.gamma(2.0, 3.0, 1500), rng.gamma(2.0, 3.0, 1500) * 1.04
    u = pl.DataFrame({"source": ["A"] * 1500 + ["B"] * 1500, "x": np.concatenate([c, t])})
    row = compare_users(u, metrics=["x"], baseline="A").row(0, named=True)
    # the delta method's relative standard error, by hand
    mc, mt = c.mean(), t.mean()
    se = math.sqrt(t.var(ddof=1) / (1500 * mc**2) + mt**2 * c.var(ddof=1) / (1500 * mc**4))
    prec = 1 / se**2 + 1 / 0.3**2
    post_mean, post_sd = (mt / mc - 1) / se**2 / prec, math.sqrt(1 / prec)
    from scipy import stats as sps

    assert row["chance_to_win"] == pytest.approx(sps.norm.sf(0, post_mean, post_sd), rel=1e-9)
    from scipy.integrate import quad

    loss, _ = quad(lambda x: -x * sps.norm.pdf(x, post_mean, post_sd), -np.inf, 0.0,
                   epsabs=1e-15, epsrel=1e-10)
    assert row["expected_loss"] == pytest.approx(loss, rel=1e-5, abs=1e-12)
