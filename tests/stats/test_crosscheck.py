"""attrkit.stats against scipy and statsmodels where they compute the same thing."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.stats import rates as sm_rates
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from attrkit.stats import (
    SampleStats,
    adjust_pvalues,
    bootstrap_test,
    estimate_dispersion,
    mean_test,
    paired_window_test,
    power,
    proportion_test,
    rate_test,
    sample_size,
)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_welch_matches_scipy(seed, alternative):
    rng = np.random.default_rng(seed)
    c, t = rng.normal(1, 2, 50 + seed), rng.lognormal(0, 1, 80)
    ours = mean_test(c, t, alternative=alternative)
    ref = sps.ttest_ind(t, c, equal_var=False, alternative=alternative)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-9)
    lo, hi = ref.confidence_interval(0.95)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((lo, hi), rel=1e-9)
    assert SampleStats.from_array(c).var == pytest.approx(np.var(c, ddof=1), rel=1e-12)


def test_log_ratio_interval_contains_the_delta_interval_centre():
    rng = np.random.default_rng(3)
    c, t = rng.gamma(2, 1, 400), rng.gamma(2, 1.1, 400)
    log = mean_test(c, t, relative=True, relative_ci="log")
    assert log.ci_low < log.effect < log.ci_high
    assert log.p_value == mean_test(c, t).p_value


@pytest.mark.parametrize("pooled", [True, False])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_proportion_z_matches_statsmodels(pooled, alternative):
    k, n = np.array([130, 100]), np.array([1000, 1000])
    alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
    stat, p = proportions_ztest(k, n, alternative=alt, prop_var=False if pooled else None)
    ours = proportion_test((100, 1000), (130, 1000), pooled=pooled, alternative=alternative)
    if pooled:
        assert ours.p_value == pytest.approx(p, rel=1e-9)
    else:
        se = np.sqrt(0.1 * 0.9 / 1000 + 0.13 * 0.87 / 1000)
        assert ours.statistic == pytest.approx(0.03 / se, rel=1e-9)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_poisson_exact_matches_statsmodels(alternative):
    alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
    ref = sm_rates.test_poisson_2indep(130, 1000.0, 100, 900.0, method="exact-cond", alternative=alt)
    ours = rate_test((100, 900.0), (130, 1000.0), method="exact", alternative=alternative)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_poisson_exact_interval_covers_at_nominal_rate():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(400):
        kc, kt = rng.poisson(40), rng.poisson(40 * 1.25)
        r = rate_test((kc, 1.0), (kt, 1.0), method="exact")
        hits += r.ci_low <= 0.25 <= r.ci_high
    assert hits / 400 >= 0.93  # exact intervals are conservative


def test_dispersion_matches_a_quasi_poisson_glm():
    rng = np.random.default_rng(5)
    e = rng.integers(50, 150, 200).astype(float)
    k = rng.negative_binomial(5, 5 / (5 + 0.2 * e))
    glm = sm.GLM(k, np.ones((k.size, 1)), family=sm.families.Poisson(), offset=np.log(e)).fit(
        scale="X2")
    assert estimate_dispersion((k, e)) == pytest.approx(glm.scale, rel=1e-9)


@pytest.mark.parametrize("method, sm_name", [("holm", "holm"), ("holm-sidak", "holm-sidak"),
                                             ("hochberg", "simes-hochberg"), ("bh", "fdr_bh"),
                                             ("by", "fdr_by"), ("bonferroni", "bonferroni"),
                                             ("sidak", "sidak")])
def test_adjustments_match_statsmodels(method, sm_name):
    rng = np.random.default_rng(11)
    p = np.concatenate([rng.uniform(0, 0.02, 5), rng.uniform(0, 1, 15)])
    rejected, padj, _, _ = multipletests(p, alpha=0.05, method=sm_name)
    ours = adjust_pvalues(p, method)
    assert ours.p_adjusted == pytest.approx(padj, rel=1e-9)
    assert ours.rejected.tolist() == rejected.tolist()


def test_newey_west_with_zero_lags_is_the_plain_standard_error():
    rng = np.random.default_rng(2)
    c, t = rng.normal(10, 1, 300), rng.normal(10.2, 1, 300)
    r = paired_window_test(c, t, hac_lags=0)
    d = t - c
    # statsmodels' HAC with 0 lags is the White (n, not n-1) variance of the mean
    assert r.se == pytest.approx(np.std(d, ddof=0) / np.sqrt(d.size), rel=1e-9)
    assert r.p_value == pytest.approx(
        2 * sps.t.sf(abs(d.mean() / r.se), d.size - 1), rel=1e-9)


def test_bootstrap_interval_near_scipy():
    rng = np.random.default_rng(4)
    c, t = rng.exponential(1, 300), rng.exponential(1.2, 300)
    ours = bootstrap_test(c, t, np.mean, n_resamples=4000, seed=1)

    def diff(x, y, axis=-1):
        return np.mean(y, axis=axis) - np.mean(x, axis=axis)

    ref = sps.bootstrap((c, t), diff, n_resamples=4000, method="percentile", random_state=1)
    assert ours.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.03)
    assert ours.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.03)
    again = bootstrap_test(c, t, np.mean, n_resamples=4000, seed=1)
    assert again == ours  # same seed, same numbers


def test_sample_size_inverts_power():
    n = sample_size(0.05, mean=10, variance=400, power_target=0.8)
    assert power(0.05, mean=10, variance=400, n_per_arm=n) >= 0.8
    assert power(0.05, mean=10, variance=400, n_per_arm=n - 1) < 0.8
    seq = sample_size(0.05, mean=10, variance=400, power_target=0.8, sequential=True)
    assert seq > n  # always-valid inference costs sample size


@pytest.mark.parametrize("bad", [dict(alpha=0), dict(alpha=1.5), dict(alternative="bigger")])
def test_bad_options_name_the_parameter(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        mean_test([1, 2, 3], [2, 3, 4], **bad)


def test_paired_rate_ratio_test_by_hand():
    """The log ratio of rates and its Newey–West standard error, computed here from the
    linearised per-window values with statsmodels, and the interval exponentiated."""
    import math

    import numpy as np
    import statsmodels.api as sm
    from scipy import stats as sps

    from attrkit.stats import paired_rate_ratio_test

    rng = np.random.default_rng(8)
    ec, et = rng.poisson(200, 300) + 1, rng.poisson(190, 300) + 1
    vc, vt = rng.poisson(ec * 0.3), rng.poisson(et * 0.33)
    r = paired_rate_ratio_test(vc, ec, vt, et, alpha=0.1)
    a, b, c, d = vt.mean(), et.mean(), vc.mean(), ec.mean()
    z = vt / a - et / b - vc / c + ec / d
    # 5 lags: floor(4 (300 / 100) ** (2 / 9))
    se = sm.OLS(z, np.ones_like(z)).fit(cov_type="HAC", cov_kwds={"maxlags": 5}).bse[0]
    log_r = math.log((a / b) / (c / d))
    q = sps.t.ppf(0.95, z.size - 1)
    assert r.effect == pytest.approx(math.exp(log_r) - 1, rel=1e-12)
    assert r.ci_low == pytest.approx(math.exp(log_r - q * se) - 1, rel=1e-9)
    assert r.p_value == pytest.approx(2 * sps.t.sf(abs(log_r / se), z.size - 1), rel=1e-9)
    assert r.details["lags"] == 5
