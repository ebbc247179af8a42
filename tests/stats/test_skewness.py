"""The skewness-corrected test (Hall's transformation of Welch's t) and its interval: checked
against the Edgeworth term it removes, against simulation of a skewed population (the A/A
rate and the coverage a small arm gets from it, where Welch's t misses both), and for agreement
between its p-value and its interval."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from attrkit.stats import (
    SampleStats,
    difference_skewness,
    fieller_interval,
    lift_test,
    mean_test,
    skewness_corrected,
)
from attrkit.stats.means import skewness_corrected_inverse


def test_no_skewness_is_welch():
    c, t = SampleStats.from_array([1.0, 2, 3, 9]), SampleStats.from_array([2.0, 2, 5, 8, 1])
    plain, zero = lift_test(c, t), lift_test(c, t, skewness=0.0)
    assert plain == zero
    assert plain.p_value == pytest.approx(sps.ttest_ind([2.0, 2, 5, 8, 1], [1.0, 2, 3, 9],
                                                        equal_var=False).pvalue, rel=1e-12)


@pytest.mark.parametrize("kappa", [-0.7, -0.2, 0.05, 0.3, 0.75])
def test_the_transformation_is_monotone_and_inverts(kappa):
    t = np.linspace(-8, 8, 4001)
    g = np.array([skewness_corrected(x, kappa) for x in t])
    assert (np.diff(g) >= 0).all()
    for x in (-3.1, -1.96, 0.0, 0.4, 2.5):
        assert skewness_corrected_inverse(skewness_corrected(x, kappa), kappa) == pytest.approx(x)


def test_it_removes_the_edgeworth_term():
    """To first order in κ the studentised difference has P(T ≤ x) = Φ(x) + κ(2x² + 1)φ(x)/6;
    the transformation shifts x by exactly that term (and by O(κ²) more)."""
    for x in (-2.5, -1.0, 0.0, 1.5):
        kappa = 1e-4
        shift = (skewness_corrected(x, kappa) - x) / kappa
        assert shift == pytest.approx((2 * x * x + 1) / 6, rel=1e-3)


def _simulated(n_small: int, n_big: int, reps: int, lift: float, seed: int):
    """Exponential users (skewness 2): a small treatment arm against a large control, A/A or
    with the treatment's mean × (1 + lift). Per replicate: Welch's p, the corrected p and the
    corrected interval's cover of the lift."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(reps):
        c = rng.exponential(1.0, n_big)
        t = rng.exponential(1.0 + lift, n_small)
        cs, ts = SampleStats.from_array(c), SampleStats.from_array(t)
        # the skewness of the difference under the null, from numpy's central moments
        both = np.concatenate([c - c.mean(), t - t.mean()])
        kappa = ((both**3).mean() * (1 / n_small**2 - 1 / n_big**2)
                 / ((both**2).sum() / (len(both) - 2) * (1 / n_small + 1 / n_big)) ** 1.5)
        assert difference_skewness((n_big, float((both[:n_big] ** 2).sum()),
                                    float((both[:n_big] ** 3).sum())),
                                   (n_small, float((both[n_big:] ** 2).sum()),
                                    float((both[n_big:] ** 3).sum()))) == pytest.approx(kappa)
        r = lift_test(cs, ts, skewness=kappa)
        out.append((mean_test(cs, ts).p_value, r.p_value, r.ci_low <= lift <= r.ci_high, kappa))
    return np.array(out)


def test_a_small_skewed_arm_keeps_alpha_and_coverage_by_simulation():
    alpha, reps = 0.05, 2000
    aa = _simulated(25, 2000, reps, 0.0, seed=11)
    se = math.sqrt(alpha * (1 - alpha) / reps)
    welch, corrected = (aa[:, 0] < alpha).mean(), (aa[:, 1] < alpha).mean()
    assert 0.3 < np.median(aa[:, 3]) < 0.5  # about 2 / √25
    assert welch > alpha + 3 * se  # Welch's t: too many false positives
    assert abs(corrected - alpha) <= 3 * se, corrected
    ab = _simulated(25, 2000, reps, 0.2, seed=12)
    cover = ab[:, 2].mean()
    assert cover >= 1 - alpha - 3 * se, cover


def test_the_interval_agrees_with_the_test():
    rng = np.random.default_rng(5)
    for _ in range(300):
        c = SampleStats.from_array(rng.exponential(1.0, 400))
        t = SampleStats.from_array(rng.exponential(rng.uniform(0.8, 1.3), 30))
        kappa = rng.uniform(-0.75, 0.75)
        r = lift_test(c, t, skewness=kappa)
        assert (r.ci_low <= 0 <= r.ci_high) == (r.p_value >= 0.05)


def test_the_interval_is_that_of_the_corrected_test():
    """Each end of the interval is a lift whose corrected test has p = α exactly."""
    c, t = SampleStats.from_array(np.arange(1.0, 301)), SampleStats.from_array(
        np.arange(1.0, 41) * 1.3)
    kappa = 0.4
    lo, hi = fieller_interval(c.mean, t.mean, c.var / c.n, t.var / t.n, alpha=0.05,
                              dof=math.inf, skewness=kappa)
    for rho in (1 + lo, 1 + hi):
        stat = (t.mean - rho * c.mean) / math.sqrt(t.var / t.n + rho**2 * c.var / c.n)
        assert 2 * sps.norm.sf(abs(skewness_corrected(stat, kappa))) == pytest.approx(0.05)
    plain = fieller_interval(c.mean, t.mean, c.var / c.n, t.var / t.n, alpha=0.05)
    assert lo > plain[0] and hi > plain[1]  # positive skew: the interval leans up


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
def test_beyond_max_skewness_the_short_side_rejects_only_past_the_turning_point(alpha):
    """At max_skewness the transformation's turning point (t = −3/κ) reaches −q exactly; a
    little below it the short side's critical value lies before the turning point, a little
    above it past it (−6 and further at α = 0.05: the interval is all but open there)."""
    from attrkit.stats import max_skewness

    q = sps.norm.ppf(1 - alpha / 2)
    k = max_skewness(alpha)
    assert skewness_corrected(-3 / k, k) == pytest.approx(-q)
    for share, past in ((0.95, False), (1.05, True)):
        kappa = share * k
        assert (skewness_corrected_inverse(-q, kappa) < -3 / kappa) is past
