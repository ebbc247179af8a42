"""Behaviour of the individual methods beyond the golden vectors."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps
from statsmodels.stats.power import NormalIndPower

from attrkit.stats import (
    Comparison,
    CupedStats,
    RatioStats,
    SampleStats,
    bayes_test,
    cuped_test,
    mde,
    mean_test,
    paired_window_test,
    power,
    ratio_test,
    sample_size,
)


def test_cuped_ratio_with_theta_zero_is_the_ratio_test():
    rng = np.random.default_rng(0)
    m, d = rng.poisson(3, 800).astype(float), rng.poisson(5, 800).astype(float) + 1
    mp, dp = m + rng.normal(0, 1, 800), d + rng.normal(0, 1, 800)
    c = CupedStats.from_arrays(m[:400], mp[:400], d[:400], dp[:400])
    t = CupedStats.from_arrays(m[400:], mp[400:], d[400:], dp[400:])
    zero = cuped_test(c, t, theta=0.0)
    plain = ratio_test(RatioStats.from_arrays(m[:400], d[:400]),
                       RatioStats.from_arrays(m[400:], d[400:]))
    assert zero.effect == pytest.approx(plain.effect, rel=1e-12)
    assert zero.se == pytest.approx(plain.se, rel=1e-9)


def test_cuped_ratio_reduces_variance_when_pre_predicts_post():
    rng = np.random.default_rng(1)
    base = rng.gamma(3, 1, 4000)
    d = rng.poisson(4, 4000).astype(float) + 1
    m = base * d * 0.2 + rng.normal(0, 0.3, 4000)
    dp = rng.poisson(4, 4000).astype(float) + 1
    mp = base * dp * 0.2 + rng.normal(0, 0.3, 4000)
    c = CupedStats.from_arrays(m[:2000], mp[:2000], d[:2000], dp[:2000])
    t = CupedStats.from_arrays(m[2000:], mp[2000:], d[2000:], dp[2000:])
    adj = cuped_test(c, t, relative=True)
    plain = ratio_test(RatioStats.from_arrays(m[:2000], d[:2000]),
                       RatioStats.from_arrays(m[2000:], d[2000:]), relative=True)
    assert adj.se < 0.7 * plain.se
    assert adj.details["theta"] > 0


def test_cuped_mean_theta_is_the_pooled_regression_slope():
    rng = np.random.default_rng(2)
    pre = rng.normal(5, 2, 1000)
    post = 0.6 * pre + rng.normal(0, 1, 1000)
    r = cuped_test(CupedStats.from_arrays(post[:500], pre[:500]),
                   CupedStats.from_arrays(post[500:], pre[500:]))
    slope = np.polyfit(pre, post, 1)[0]
    assert r.details["theta"] == pytest.approx(slope, rel=1e-9)


def test_bayes_with_a_prior_is_the_conjugate_normal_posterior():
    rng = np.random.default_rng(3)
    c, t = rng.normal(10, 3, 300), rng.normal(10.5, 3, 300)
    like = mean_test(c, t, relative=True)
    post = bayes_test(c, t, prior_mean=0.0, prior_sd=0.02)
    w = (1 / like.se**2) / (1 / like.se**2 + 1 / 0.02**2)
    assert post.effect == pytest.approx(w * like.effect, rel=1e-9)
    flat = bayes_test(c, t)
    assert flat.details["chance_to_win"] == pytest.approx(sps.norm.cdf(like.effect / like.se))
    # expected losses: E[max(0, -X)] - E[max(0, X)] = -E[X]
    assert (flat.details["expected_loss_treatment"] - flat.details["expected_loss_control"]
            == pytest.approx(-flat.effect, abs=1e-12))
    assert math.isnan(flat.p_value)


def test_power_matches_statsmodels_for_an_absolute_difference():
    ref = NormalIndPower().power(effect_size=0.05 / 1.0, nobs1=3000, alpha=0.05, ratio=1.0)
    assert power(0.05, variance=1.0, n_per_arm=3000, relative=False) == pytest.approx(ref,
                                                                                     rel=1e-9)


def test_power_for_proportions_and_ratios():
    p = power(0.1, metric="proportion", mean=0.2, n_per_arm=5000)
    # relative 10% on 0.2: by hand with the delta-method variance
    var = 0.2 * 0.8
    se = math.sqrt(var / (0.04 * 5000) + var * 0.22**2 / (0.2**4 * 5000))
    z = sps.norm.ppf(0.975)
    assert p == pytest.approx(sps.norm.sf(z - 0.1 / se) + sps.norm.cdf(-z - 0.1 / se))
    r = RatioStats.from_arrays(np.arange(1, 101, dtype=float), np.full(100, 2.0))
    assert 0 < power(0.05, stats=r, n_per_arm=1000) < 1
    assert mde(stats=r, n_per_arm=1000) > 0
    with pytest.raises(ValueError, match="mean"):
        power(0.1, metric="proportion", n_per_arm=10)


def test_mde_and_sample_size_are_consistent():
    e = mde(mean=10, variance=400, n_per_arm=20_000)
    assert power(e, mean=10, variance=400, n_per_arm=20_000) == pytest.approx(0.8, abs=1e-6)
    n = sample_size(e, mean=10, variance=400)
    assert abs(n - 20_000) <= 1


def test_paired_window_test_accepts_frames_and_fills_gaps():
    c = pl.DataFrame({"timestamp": [0, 900, 1800, 2700] * 5, "value": [10.0, 12, 11, 9] * 5})
    c = c.with_columns(pl.col("timestamp") + pl.int_range(pl.len()) // 4 * 3600)
    t = c.with_columns(pl.col("value") * 1.1).filter(pl.col("timestamp") != 900)
    r = paired_window_test(c, t, relative=True)
    assert r.details["windows"] == 20
    assert r.treatment < r.control * 1.1  # the missing window counts as 0 for treatment


def test_paired_window_test_needs_enough_windows():
    with pytest.raises(ValueError, match="at least 10"):
        paired_window_test([1, 2, 3], [1, 2, 3])


def test_comparison_record():
    r = mean_test(SampleStats(100, 50, 40), SampleStats(100, 60, 50), alternative="greater")
    assert isinstance(r, Comparison)
    assert r.ci_high == math.inf
    d = r.to_dict()
    assert d["method"].startswith("Welch") and d["alternative"] == "greater"
    assert "∞" in r._repr_html_()
    with pytest.raises(AttributeError):
        r.effect = 0  # frozen


def test_stats_from_frames():
    f = pl.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 1.0, 2.0]})
    assert SampleStats.from_frame(f, "x") == SampleStats.from_array([1, 2, 3])
    assert RatioStats.from_frame(f.to_pandas(), "x", "y").ratio == pytest.approx(1.5)
    with pytest.raises(ValueError, match="column 'z'"):
        SampleStats.from_frame(f, "z")
