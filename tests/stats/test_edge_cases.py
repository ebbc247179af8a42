"""Edge cases: NaN, zero counts, negative means and values far from 0, each checked against an
independent computation (scipy, statsmodels or a hand-worked case)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats import rates as sm_rates
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from attrkit.stats import (
    CupedStats,
    RatioStats,
    SampleStats,
    bootstrap_test,
    cuped_test,
    mean_test,
    paired_window_test,
    proportion_test,
    rate_test,
    ratio_test,
    srm_test,
)

ALTS = ["two-sided", "greater", "less"]
SM_ALT = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


# -- NaN and bad counts -----------------------------------------------------------------------

@pytest.mark.parametrize("arm", ["control", "treatment"])
def test_bootstrap_rejects_nan_naming_the_arm(arm):
    good, bad = [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, math.nan, 4.0]
    args = (bad, good) if arm == "control" else (good, bad)
    with pytest.raises(ValueError, match=f"{arm}_values: contain NaN; drop or fill them first"):
        bootstrap_test(*args, n_resamples=100)


@pytest.mark.parametrize("counts, where", [([math.nan, 1000], r"counts\[0\]=nan"),
                                           ([1000, -5], r"counts\[1\]=-5.0"),
                                           ([1000, math.inf, 3], r"counts\[1\]=inf")])
def test_srm_rejects_nan_negative_and_infinite_counts(counts, where):
    with pytest.raises(ValueError, match=where):
        srm_test(counts)


def test_srm_rejects_a_nan_weight():
    with pytest.raises(ValueError, match=r"weights\[1\]=nan"):
        srm_test([1000, 1000], [0.5, math.nan])


# -- Poisson rates with zero counts -----------------------------------------------------------

def _wilson_upper_ratio(k_total: float, a: float, alpha: float) -> float:
    """Upper Wilson bound of the treatment share with 0 treatment events, as a rate ratio."""
    _, up = proportion_confint(0, k_total, alpha=alpha, method="wilson")
    return up / (1 - up) / a


@pytest.mark.parametrize("alternative", ALTS)
def test_rate_score_with_no_treatment_events_covers_minus_100_percent(alternative):
    r = rate_test((10, 1000.0), (0, 800.0), alternative=alternative)
    assert r.effect == -1.0 and r.ci_low == -1.0
    with np.errstate(invalid="ignore"):  # statsmodels evaluates sqrt of a negative, unused
        ref = sm_rates.test_poisson_2indep(0, 800.0, 10, 1000.0, method="score",
                                           alternative=SM_ALT[alternative])
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    if alternative == "greater":
        assert r.ci_high == math.inf
        return
    alpha = 0.05 if alternative == "two-sided" else 0.1
    assert r.ci_high == pytest.approx(_wilson_upper_ratio(10, 0.8, alpha) - 1, rel=1e-9)
    # statsmodels' score interval has the right upper end (only its lower end is lost)
    with np.errstate(invalid="ignore"):
        _, up = sm_rates.confint_poisson_2indep(0, 800.0, 10, 1000.0, method="score",
                                                alpha=alpha)
    assert r.ci_high == pytest.approx(up - 1, rel=1e-6)


def test_rate_exact_with_no_treatment_events_is_clopper_pearson():
    r = rate_test((10, 1000.0), (0, 1000.0), method="exact")
    # 0 of 10 events: the Clopper–Pearson upper share is 1 − (α/2)^(1/10)
    share = 1 - 0.025 ** (1 / 10)
    assert (r.effect, r.ci_low) == (-1.0, -1.0)
    assert r.ci_high == pytest.approx(share / (1 - share) - 1, rel=1e-9)
    ref = sm_rates.test_poisson_2indep(0, 1000.0, 10, 1000.0, method="exact-cond")
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-12)


def test_rate_quasi_poisson_with_no_treatment_events():
    # one window, dispersion φ: the score statistic is sqrt(k a / φ) at ratio 1 and the upper
    # bound is Wilson's with k / φ events
    r = rate_test((10, 1000.0), (0, 1000.0), dispersion=2.0)
    assert (r.effect, r.ci_low) == (-1.0, -1.0)
    assert r.p_value == pytest.approx(2 * sps.norm.sf(math.sqrt(10 / 2)), rel=1e-12)
    z2 = sps.norm.isf(0.025) ** 2
    share = z2 / (10 / 2 + z2)
    assert r.ci_high == pytest.approx(share / (1 - share) - 1, rel=1e-9)


def test_rate_paired_with_no_treatment_events():
    kc = np.array([3.0, 0, 5, 2, 4, 1])
    e = np.full(6, 100.0)
    r = rate_test((kc, e), (np.zeros(6), e), paired=True)
    # equal exposures in every window: the stratified score test is the one of the totals
    ref = sm_rates.test_poisson_2indep(0, 600.0, 15, 600.0, method="score")
    assert (r.effect, r.ci_low) == (-1.0, -1.0)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert r.ci_high == pytest.approx(_wilson_upper_ratio(15, 1.0, 0.05) - 1, rel=1e-9)


ZERO_CONTROL = [dict(method="score"), dict(method="exact"), dict(method="wald"),
                dict(dispersion=2.0)]


@pytest.mark.parametrize("kw", ZERO_CONTROL)
def test_rate_with_no_control_events_has_no_relative_effect(kw):
    with pytest.raises(ValueError, match="control has 0 events: a relative effect is undefined"):
        rate_test((0, 1000.0), (10, 1000.0), **kw)
    with pytest.raises(ValueError, match="0 events"):
        rate_test((0, 1000.0), (0, 1000.0), **kw)


def test_rate_paired_with_no_control_events_has_no_relative_effect():
    e = np.full(4, 100.0)
    with pytest.raises(ValueError, match="control has 0 events: a relative effect is undefined"):
        rate_test((np.zeros(4), e), (np.array([1.0, 2, 0, 3]), e), paired=True)
    with pytest.raises(ValueError, match="0 events"):
        rate_test((np.zeros(4), e), (np.zeros(4), e), paired=True)


@pytest.mark.parametrize("method", ["score", "wald"])
@pytest.mark.parametrize("counts", [(10, 0), (0, 10)])
def test_rate_difference_with_a_zero_count_matches_statsmodels(method, counts):
    kc, kt = counts
    r = rate_test((kc, 1000.0), (kt, 900.0), method=method, relative=False)
    with np.errstate(divide="ignore"):  # statsmodels also forms the rate ratio
        ref = sm_rates.test_poisson_2indep(kt, 900.0, kc, 1000.0, method=method,
                                           compare="diff")
        lo, hi = sm_rates.confint_poisson_2indep(kt, 900.0, kc, 1000.0, method=method,
                                                 compare="diff")
    assert r.effect == pytest.approx(kt / 900 - kc / 1000, rel=1e-12)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), rel=1e-9)


def test_rate_wald_needs_treatment_events_for_a_ratio():
    with pytest.raises(ValueError, match="method='wald'.*0 treatment events"):
        rate_test((10, 1000.0), (0, 1000.0), method="wald")


@pytest.mark.parametrize("relative", [True, False])
@pytest.mark.parametrize("alternative", ALTS)
def test_rate_wald_matches_statsmodels(relative, alternative):
    r = rate_test((100, 900.0), (130, 1000.0), method="wald", relative=relative,
                  alternative=alternative)
    # a ratio's Wald interval exists in statsmodels on the log scale; the test is the same one
    m, compare = ("wald-log", "ratio") if relative else ("wald", "diff")
    ref = sm_rates.test_poisson_2indep(130, 1000.0, 100, 900.0, method=m, compare=compare,
                                       alternative=SM_ALT[alternative])
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-12)
    two = alternative == "two-sided"
    lo, hi = sm_rates.confint_poisson_2indep(130, 1000.0, 100, 900.0, method=m, compare=compare,
                                             alpha=0.05 if two else 0.1)
    shift = 1.0 if relative else 0.0
    if alternative != "less":
        assert r.ci_low == pytest.approx(lo - shift, rel=1e-12)
    if alternative != "greater":
        assert r.ci_high == pytest.approx(hi - shift, rel=1e-12)
    if relative:  # by hand: log(rate ratio) ± z sqrt(1/k_c + 1/k_t)
        assert r.p_value == pytest.approx(ref.pvalue)
        z = math.log(0.13 / (100 / 900)) / math.sqrt(1 / 100 + 1 / 130)
        assert r.statistic == pytest.approx(z, rel=1e-12)


# -- proportions at 0 % and 100 % -------------------------------------------------------------

PROPORTION_METHODS = [dict(method="z"), dict(method="z", pooled=False),
                      dict(method="z", correction=True), dict(method="chi2"), dict(method="g"),
                      dict(method="fisher"), dict(method="barnard"),
                      dict(method="barnard", pooled=False), dict(method="boschloo")]


@pytest.mark.parametrize("kw", PROPORTION_METHODS)
def test_proportion_with_no_control_successes(kw):
    r = proportion_test((0, 100), (5, 100), **kw)
    assert r.effect == pytest.approx(0.05)
    table = np.array([[5, 0], [95, 100]])
    ref = {
        "z": lambda: proportions_ztest([5, 0], [100, 100], prop_var=False if kw.get(
            "pooled", True) else None)[1] if not kw.get("correction") else sps.chi2_contingency(
            table, correction=True).pvalue,
        "chi2": lambda: sps.chi2_contingency(table, correction=False).pvalue,
        "g": lambda: sps.chi2_contingency(table, correction=False,
                                          lambda_="log-likelihood").pvalue,
        "fisher": lambda: sps.fisher_exact(table).pvalue,
        "barnard": lambda: sps.barnard_exact(table, pooled=kw.get("pooled", True)).pvalue,
        "boschloo": lambda: sps.boschloo_exact(table).pvalue,
    }[kw["method"]]()
    if kw["method"] == "z" and kw.get("pooled") is False:
        # unpooled: 0.05 / sqrt(0.05 · 0.95 / 100), by hand
        ref = 2 * sps.norm.sf(0.05 / math.sqrt(0.05 * 0.95 / 100))
    assert r.p_value == pytest.approx(ref, rel=1e-9)
    if kw["method"] == "z":
        assert r.ci_low < 0.05 < r.ci_high
    with pytest.raises(ValueError, match="control has 0 successes: a relative effect is "
                                         "undefined"):
        proportion_test((0, 100), (5, 100), relative=True, **kw)


@pytest.mark.parametrize("relative", [False, True])
@pytest.mark.parametrize("kw", PROPORTION_METHODS)
def test_proportion_with_the_same_outcome_everywhere(kw, relative):
    r = proportion_test((100, 100), (100, 100), relative=relative, **kw)
    assert r.effect == 0.0
    if kw["method"] in ("z", "chi2", "g"):
        # statsmodels gives NaN here (its z statistic is 0/0); scipy refuses the chi2 table
        with np.errstate(invalid="ignore"):
            assert math.isnan(proportions_ztest([100, 100], [100, 100])[1])
        assert math.isnan(r.p_value) and "same outcome" in r.details["reason"]
        assert math.isnan(r.ci_low) and math.isnan(r.ci_high)
    else:  # scipy's exact tests: nothing is more extreme than a table with no difference
        assert r.p_value == 1.0


@pytest.mark.parametrize("kw", [dict(), dict(pooled=False), dict(correction=True)])
def test_proportion_z_relative_with_no_treatment_successes(kw):
    r = proportion_test((5, 100), (0, 100), relative=True, **kw)
    absolute = proportion_test((5, 100), (0, 100), **kw)
    assert r.effect == -1.0
    assert r.p_value == absolute.p_value
    assert math.isnan(r.ci_low) and "0 successes" in r.details["reason"]
    assert absolute.ci_low < -0.05 < absolute.ci_high


# -- negative means ---------------------------------------------------------------------------

def test_mean_test_relative_with_a_negative_control_mean():
    c, t = [-3.0, -1.0, -2.0, -4.0, 0.5], [1.0, -2.0, 0.0, -1.0, 2.0, 1.5]
    r = mean_test(c, t, relative=True)
    mc, mt = np.mean(c), np.mean(t)
    vc, vt = np.var(c, ddof=1) / 5, np.var(t, ddof=1) / 6
    se = math.sqrt(vt / mc**2 + vc * mt**2 / mc**4)  # by hand: the delta method
    assert r.effect == pytest.approx((mt - mc) / mc, rel=1e-12)
    assert r.se == pytest.approx(se, rel=1e-12)
    assert 0 < r.p_value < 1 and r.ci_low < r.effect < r.ci_high
    with pytest.raises(ValueError, match="relative_ci='log'.*both means are > 0"):
        mean_test(c, t, relative=True, relative_ci="log")


def test_ratio_test_relative_with_a_negative_control_ratio():
    rng = np.random.default_rng(7)
    num, den = rng.normal(-2, 1, 400), rng.poisson(3, 400) + 1.0
    c, t = RatioStats.from_arrays(num[:200], den[:200]), RatioStats.from_arrays(num[200:],
                                                                                den[200:])
    r = ratio_test(c, t, relative=True)
    rc, rt = c.ratio, t.ratio
    vc, vt = c.unit_var / 200, t.unit_var / 200
    assert r.se == pytest.approx(math.sqrt(vt / rc**2 + vc * rt**2 / rc**4), rel=1e-12)
    assert rc < 0 and 0 < r.p_value < 1


def test_paired_window_test_relative_with_a_negative_control_mean():
    rng = np.random.default_rng(8)
    c = -50 + rng.normal(0, 5, 96)  # net revenue per window: refunds exceed sales
    t = -45 + rng.normal(0, 5, 96)
    r = paired_window_test(c, t, relative=True, hac_lags=0)
    ratio = t.mean() / c.mean()
    # by hand: with 0 lags statsmodels' HAC is the (n, not n − 1) standard error of the mean
    se = np.std(t - ratio * c) / math.sqrt(96) / abs(c.mean())
    assert r.effect == pytest.approx(ratio - 1, rel=1e-12)
    assert r.se == pytest.approx(se, rel=1e-9)
    assert r.p_value == pytest.approx(2 * sps.t.sf(abs((ratio - 1) / se), 95), rel=1e-9)
    assert r.ci_low < r.effect < r.ci_high


def test_cuped_ratio_relative_with_a_negative_control_ratio_is_the_ratio_test_at_theta_zero():
    rng = np.random.default_rng(0)
    m, d = -rng.poisson(3, 800).astype(float), rng.poisson(5, 800).astype(float) + 1
    mp, dp = m + rng.normal(0, 1, 800), d + rng.normal(0, 1, 800)
    m[400:] *= 1.2
    c = CupedStats.from_arrays(m[:400], mp[:400], d[:400], dp[:400])
    t = CupedStats.from_arrays(m[400:], mp[400:], d[400:], dp[400:])
    zero = cuped_test(c, t, theta=0.0, relative=True)
    plain = ratio_test(RatioStats.from_arrays(m[:400], d[:400]),
                       RatioStats.from_arrays(m[400:], d[400:]), relative=True)
    assert zero.effect == pytest.approx(plain.effect, rel=1e-12)
    assert zero.se == pytest.approx(plain.se, rel=1e-9)


# -- values far from 0 ------------------------------------------------------------------------

OFFSET = 1e8


@pytest.mark.parametrize("seed", range(3))
def test_welch_on_values_near_1e8_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    c = OFFSET + rng.normal(0, 1, 1000)
    t = OFFSET + 0.2 + rng.normal(0, 1, 1000)
    ours = mean_test(c, t)
    ref = sps.ttest_ind(t, c, equal_var=False)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    assert SampleStats.from_array(c).var == pytest.approx(np.var(c, ddof=1), rel=1e-9)


def test_ratio_stats_near_1e8_match_numpy():
    rng = np.random.default_rng(1)
    a, b = OFFSET + rng.normal(0, 1, 500), OFFSET + rng.normal(0, 2, 500)
    r = RatioStats.from_arrays(a, b)
    assert r.num.var == pytest.approx(np.var(a, ddof=1), rel=1e-9)
    assert r.den.var == pytest.approx(np.var(b, ddof=1), rel=1e-9)
    assert r.cov == pytest.approx(np.cov(a, b)[0, 1], rel=1e-9, abs=1e-9)


def test_combine_keeps_the_variance_near_1e8():
    rng = np.random.default_rng(2)
    a, b = OFFSET + rng.normal(0, 1, 700), OFFSET + 0.5 + rng.normal(0, 1, 300)
    both = SampleStats.from_array(a).combine(SampleStats.from_array(b))
    assert both.n == 1000 and both.mean == pytest.approx(np.concatenate([a, b]).mean())
    # each arm's mean carries ~1e-8 of rounding at 1e8, and enters through (mean_b - mean_a)²
    assert both.var == pytest.approx(np.var(np.concatenate([a, b]), ddof=1), rel=1e-7)
    # sums only (as in the golden vectors): still the sum-of-squares formula
    sums = SampleStats(3, 6.0, 14.0).combine(SampleStats(2, 9.0, 41.0))
    assert sums.m2 is None and sums.var == pytest.approx(np.var([1, 2, 3, 4, 5], ddof=1))


def test_cuped_theta_near_1e8_is_the_pooled_regression_slope():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 2000)
    pre, post = OFFSET + x, OFFSET + 0.6 * x + rng.normal(0, 1, 2000)
    post[1000:] += 0.2
    r = cuped_test(CupedStats.from_arrays(post[:1000], pre[:1000]),
                   CupedStats.from_arrays(post[1000:], pre[1000:]))
    slope = np.cov(post, pre)[0, 1] / np.var(pre, ddof=1)
    assert r.details["theta"] == pytest.approx(slope, rel=1e-9)
    centred = cuped_test(CupedStats.from_arrays(post[:1000] - OFFSET, pre[:1000] - OFFSET),
                         CupedStats.from_arrays(post[1000:] - OFFSET, pre[1000:] - OFFSET))
    assert r.p_value == pytest.approx(centred.p_value, rel=1e-6)
