"""Means and ratios of per-unit values: Welch t, the delta method, CUPED."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from attrkit import defaults as D
from attrkit.stats._core import (
    Alternative,
    Comparison,
    RatioStats,
    SampleStats,
    check_alpha,
    check_alternative,
    check_choice,
    interval_and_p,
    welch_dof,
)


def _as_sample(x: Any, name: str) -> SampleStats:
    if isinstance(x, SampleStats):
        return x
    if isinstance(x, RatioStats):
        raise TypeError(f"{name}: a RatioStats; use ratio_test for ratio metrics")
    return SampleStats.from_array(x)


def _diff(mc: float, mt: float, vc: float, vt: float, relative: bool) -> tuple[float, float]:
    """Effect and its variance from arm means and the variances of those means."""
    if not relative:
        return mt - mc, vc + vt
    # Delta method for (mt - mc) / mc = mt / mc - 1.
    return (mt - mc) / mc, vt / mc**2 + vc * mt**2 / mc**4


def _finish(mc, mt, effect, var, dof, *, alpha, alternative, relative, method, **details):
    se = math.sqrt(var) if var >= 0 else math.nan
    lo, hi, p, stat = interval_and_p(effect, se, alpha, alternative, dof)
    return Comparison(mc, mt, effect, lo, hi, p, stat, method, alpha, alternative, relative,
                      se, {"dof": dof, **details})


def difference_skewness(control: tuple[float, float, float],
                        treatment: tuple[float, float, float]) -> float:
    """The skewness of the difference of two arms' means under the null hypothesis (both arms
    drawn from one distribution), from each arm's ``(n, m2, m3)``: its number of units and the
    sums of squared and cubed deviations from its own mean.

    With the pooled third central moment μ₃ and variance σ², the difference's third cumulant is
    ``μ₃ (1/nₜ² − 1/n꜀²)`` and its variance ``σ² (1/nₜ + 1/n꜀)``. Equal arms cancel it
    exactly; a small arm does not: for a 5 % arm it is about ``g / √n_small`` (g the
    skewness of a user's value), so keeping it below 0.2 is Cochran's n > 25·g² for the
    small arm's mean. Welch's t leans on it being small.

    Example:
        >>> difference_skewness((1000, 1000.0, 5000.0), (1000, 1000.0, 5000.0))
        0.0
        >>> round(difference_skewness((9500, 9500.0, 9500.0 * 8), (500, 500.0, 500.0 * 8)), 2)
        0.33
    """
    (nc, m2c, m3c), (nt, m2t, m3t) = control, treatment
    n = nc + nt
    if min(nc, nt) < 3:
        return math.nan
    var = (m2c + m2t) / (n - 2)
    mu3 = (m3c + m3t) / n
    if not var > 0:
        return math.nan
    return mu3 * (1 / nt**2 - 1 / nc**2) / (var * (1 / nt + 1 / nc)) ** 1.5


def skewness_corrected(statistic: float, skewness: float) -> float:
    """Hall's (1992) transformation of a studentised difference ``t`` whose estimate has
    skewness ``κ`` (:func:`difference_skewness`): ``t + κt²/3 + κ²t³/27 + κ/6``.

    A positively skewed difference of means makes Welch's t skewed the other way (the
    variance estimate grows with the mean), so one tail rejects too often. The transformed
    statistic is normal to the next order of the Edgeworth expansion (the term
    ``κ(2x² + 1)φ(x)/6``) and, unlike Johnson's (1978) correction, which it extends by the
    cubic term, it is monotone in ``t``, so tests invert into intervals
    (:func:`skewness_corrected_inverse`). ``κ = 0`` leaves ``t`` as it is.

    Example:
        >>> skewness_corrected(-2.0, 0.0)
        -2.0
        >>> round(skewness_corrected(-2.0, 0.3), 4)  # the long tail is pulled in
        -1.5767
    """
    if not skewness:
        return statistic
    a = skewness / 3
    return statistic + a * statistic**2 + a * a * statistic**3 / 3 + skewness / 6


def max_skewness(alpha: float) -> float:
    """The largest skewness at which the two-sided :func:`skewness_corrected` test at level
    ``alpha`` rejects on its short side before the transformation's turning point (at
    ``t = −3/κ``): ``3(√(q² + 2/3) − q)`` with ``q`` the normal quantile. Beyond it the
    transformation is flat around ``−q``, so the short side's critical value jumps past the
    turning point (about −7 at κ = 0.5) and the interval is all but open on that side.

    Example:
        >>> round(max_skewness(0.05), 3), round(max_skewness(0.01), 3)
        (0.49, 0.379)
    """
    q = NormalDist().inv_cdf(1 - alpha / 2)
    return 3 * (math.sqrt(q * q + 2 / 3) - q)


def skewness_corrected_inverse(value: float, skewness: float) -> float:
    """The ``t`` whose :func:`skewness_corrected` statistic is ``value`` (a real cube root:
    the transformation is ``((1 + at)³ − 1)/(3a) + κ/6`` with ``a = κ/3``).

    Example:
        >>> round(skewness_corrected_inverse(skewness_corrected(1.7, 0.4), 0.4), 12)
        1.7
    """
    if not skewness:
        return value
    a = skewness / 3
    return (float(np.cbrt(1 + 3 * a * (value - skewness / 6))) - 1) / a


def mean_test(
    control: SampleStats | Any,
    treatment: SampleStats | Any,
    *,
    relative: bool = False,
    alpha: float = D.ALPHA,
    alternative: Alternative = "two-sided",
    relative_ci: Literal["delta", "log"] = "delta",
) -> Comparison:
    """Welch's t-test on two arms' means.

    Args:
        control: :class:`SampleStats` or an array of per-unit values.
        treatment: the same for the treatment arm.
        relative: report ``(treatment − control) / control`` instead of the difference.
        alpha: 1 − confidence level.
        alternative: ``two-sided``, ``greater`` (treatment > control) or ``less``.
        relative_ci: ``delta`` (delta-method variance, as gbstats) or ``log`` (interval for
            the log of the ratio of means with Welch degrees of freedom of the log-scale
            terms, as tea-tasting; the p-value is then the difference test's). ``log`` needs
            positive means in both arms.

    Example:
        >>> c = SampleStats(n=3407, sum=1396.87, sum_sq=52377.9767)
        >>> t = SampleStats(n=3461, sum=2422.7, sum_sq=134698.29)
        >>> r = mean_test(c, t)
        >>> round(r.effect, 2), round(r.p_value, 5)
        (0.29, 0.02016)
    """
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    check_choice("relative_ci", relative_ci, ("delta", "log"))
    c, t = _as_sample(control, "control"), _as_sample(treatment, "treatment")
    dof = welch_dof(c.var, c.n, t.var, t.n)
    mc, mt = c.mean, t.mean
    if relative and relative_ci == "log":
        if not (mc > 0 and mt > 0):
            raise ValueError(f"relative_ci='log': the log ratio of means is undefined unless both "
                             f"means are > 0 (control {mc:.6g}, treatment {mt:.6g}); use "
                             "relative_ci='delta'")
        base = mean_test(c, t, alpha=alpha, alternative=alternative)
        # log(mean) has variance var / (n mean²); its Welch dof differ from the means' own
        vc_log, vt_log = c.var / mc**2, t.var / mt**2
        log_se = math.sqrt(vt_log / t.n + vc_log / c.n)
        log_dof = welch_dof(vc_log, c.n, vt_log, t.n)
        lo, hi, _, _ = interval_and_p(math.log(mt / mc), log_se, alpha, alternative, log_dof)
        return Comparison(mc, mt, mt / mc - 1, math.exp(lo) - 1, math.exp(hi) - 1, base.p_value,
                          base.statistic, "Welch t; relative CI from the log ratio of means",
                          alpha, alternative, True, math.nan,
                          {"dof": dof, "log_se": log_se, "log_dof": log_dof})
    effect, var = _diff(mc, mt, c.var / c.n, t.var / t.n, relative)
    name = "Welch t" + ("; relative lift, delta-method CI" if relative else "")
    return _finish(mc, mt, effect, var, dof, alpha=alpha, alternative=alternative,
                   relative=relative, method=name)


def ratio_test(
    control: RatioStats,
    treatment: RatioStats,
    *,
    relative: bool = False,
    alpha: float = D.ALPHA,
    alternative: Alternative = "two-sided",
) -> Comparison:
    """Compare ratio metrics (``sum(numerator) / sum(denominator)``) with delta-method variance.

    The unit of randomisation is the row behind ``n`` (for example the user); the t reference
    distribution uses Welch degrees of freedom from the per-unit delta-method variances.

    Example:
        >>> c = RatioStats.from_arrays([1, 0, 2, 1], [2, 1, 3, 2])
        >>> t = RatioStats.from_arrays([2, 1, 2, 2], [2, 2, 3, 2])
        >>> round(ratio_test(c, t).effect, 4)
        0.2778
    """
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    for name, arm in (("control", control), ("treatment", treatment)):
        if not isinstance(arm, RatioStats):
            raise TypeError(f"{name}: expected RatioStats, got {type(arm).__name__}")
    vc, vt = control.unit_var, treatment.unit_var
    dof = welch_dof(vc, control.n, vt, treatment.n)
    rc, rt = control.ratio, treatment.ratio
    effect, var = _diff(rc, rt, vc / control.n, vt / treatment.n, relative)
    name = "ratio of sums, delta method, Welch t" + ("; relative lift" if relative else "")
    return _finish(rc, rt, effect, var, dof, alpha=alpha, alternative=alternative,
                   relative=relative, method=name)


@dataclass(frozen=True)
class CupedStats:
    """One arm for CUPED: the in-experiment values, the pre-period covariate, their products.

    ``post`` and ``pre`` are :class:`SampleStats` (mean metrics) or :class:`RatioStats` (ratio
    metrics, with ``post_pre`` holding the four cross-product sums, see :meth:`from_arrays`).
    For mean metrics ``post_pre_m2 = Σ(post − mean)(pre − mean)``, filled by
    :meth:`from_arrays`, keeps the covariance exact where the sums would cancel.
    """

    post: SampleStats | RatioStats
    pre: SampleStats | RatioStats
    post_pre_sum: float | tuple[float, float, float, float]
    post_pre_m2: float | None = None

    @classmethod
    def from_arrays(cls, post: Any, pre: Any, post_den: Any = None, pre_den: Any = None
                    ) -> CupedStats:
        """Per-unit values; give the denominators too for a ratio metric.

        Example:
            >>> CupedStats.from_arrays([1.0, 2.0], [0.5, 1.5]).post_pre_sum
            3.5
        """
        if post_den is None and pre_den is None:
            a, b = np.asarray(post, float), np.asarray(pre, float)
            if a.shape != b.shape:
                raise ValueError(f"post and pre: lengths {a.size} and {b.size} differ")
            co = float(((a - a.mean()) * (b - b.mean())).sum()) if a.size else 0.0
            return cls(SampleStats.from_array(a), SampleStats.from_array(b), float((a * b).sum()),
                       co)
        m, d = np.asarray(post, float), np.asarray(post_den, float)
        mp, dp = np.asarray(pre, float), np.asarray(pre_den, float)
        sums = (float((m * mp).sum()), float((m * dp).sum()), float((d * mp).sum()),
                float((d * dp).sum()))
        return cls(RatioStats.from_arrays(m, d), RatioStats.from_arrays(mp, dp), sums)


def _cov(n: float, sa: float, sb: float, sab: float) -> float:
    return (sab - sa * sb / n) / (n - 1)


def _co_moment(a: CupedStats) -> float:
    """``Σ(post − mean)(pre − mean)`` of one arm: exact when known, else from the sums."""
    if a.post_pre_m2 is not None:
        return a.post_pre_m2
    return a.post_pre_sum - a.post.sum * a.pre.sum / a.post.n  # type: ignore[operator]


def cuped_test(
    control: CupedStats,
    treatment: CupedStats,
    *,
    relative: bool = False,
    alpha: float = D.ALPHA,
    alternative: Alternative = "two-sided",
    theta: float | None = None,
) -> Comparison:
    """Regression adjustment on a pre-period covariate (CUPED), for mean and ratio metrics.

    θ is pooled across both arms (``cov(post, pre) / var(pre)`` over all units) unless given.
    The relative lift is over the *unadjusted* control mean, as gbstats reports it.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> pre = rng.normal(10, 2, 2000); post = pre + rng.normal(0, 1, 2000)
        >>> c = CupedStats.from_arrays(post[:1000], pre[:1000])
        >>> t = CupedStats.from_arrays(post[1000:] + 0.1, pre[1000:])
        >>> r = cuped_test(c, t)
        >>> r.se < mean_test(post[:1000], post[1000:] + 0.1).se
        True
    """
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    if isinstance(control.post, RatioStats):
        return _cuped_ratio(control, treatment, relative, alpha, alternative, theta)
    c, t = control, treatment
    if theta is None:
        # pooled over both arms by Chan's update, so centred moments stay exact
        nc, nt = c.post.n, t.post.n
        pre_m2 = c.pre.combine(t.pre).centred_sq
        co_m2 = (_co_moment(c) + _co_moment(t) + (t.post.mean - c.post.mean)
                 * (t.pre.mean - c.pre.mean) * nc * nt / (nc + nt))
        theta = co_m2 / pre_m2 if pre_m2 > 0 else 0.0

    def adjusted(a: CupedStats) -> tuple[float, float, float]:
        cov = _co_moment(a) / (a.post.n - 1)
        var = a.post.var + theta**2 * a.pre.var - 2 * theta * cov
        return a.post.mean - theta * a.pre.mean, var, cov

    mc_adj, vc, cov_c = adjusted(c)
    mt_adj, vt, _ = adjusted(t)
    mc, mt = c.post.mean, t.post.mean
    dof = welch_dof(vc, c.post.n, vt, t.post.n)
    if relative:
        effect = (mt_adj - mc_adj) / mc
        const = -mt
        v_ctrl = (c.post.var * const**2 / mc**2 + 2 * theta * cov_c * const / mc
                  + theta**2 * c.pre.var) / (c.post.n * mc**2)
        var = vt / (t.post.n * mc**2) + v_ctrl
    else:
        effect, var = mt_adj - mc_adj, vc / c.post.n + vt / t.post.n
    name = "CUPED (theta pooled), Welch t" + ("; relative lift over unadjusted control"
                                              if relative else "")
    return _finish(mc, mt, effect, var, dof, alpha=alpha, alternative=alternative,
                   relative=relative, method=name, theta=theta)


def _cuped_ratio(c: CupedStats, t: CupedStats, relative: bool, alpha: float,
                 alternative: Alternative, theta: float | None) -> Comparison:
    """CUPED for ratio metrics: the delta method over (num, den, num_pre, den_pre)."""

    def moments(a: CupedStats) -> tuple[np.ndarray, np.ndarray]:
        post, pre = a.post, a.pre
        n = post.n
        m_pre, m_d_pre, d_m_pre, d_d_pre = a.post_pre_sum  # type: ignore[misc]
        mean = np.array([post.num.mean, post.den.mean, pre.num.mean, pre.den.mean])
        cov = np.empty((4, 4))
        sums = [post.num_sum, post.den_sum, pre.num_sum, pre.den_sum]
        sq = [post.num_sum_sq, post.den_sum_sq, pre.num_sum_sq, pre.den_sum_sq]
        cross = {(0, 1): post.num_den_sum, (2, 3): pre.num_den_sum, (0, 2): m_pre,
                 (0, 3): m_d_pre, (1, 2): d_m_pre, (1, 3): d_d_pre}
        for i in range(4):
            cov[i, i] = _cov(n, sums[i], sums[i], sq[i])
        for (i, j), s in cross.items():
            cov[i, j] = cov[j, i] = _cov(n, sums[i], sums[j], s)
        return mean, cov

    mean_c, cov_c = moments(c)
    mean_t, cov_t = moments(t)
    nc, nt = c.post.n, t.post.n

    def grad(mean: np.ndarray, th: float) -> np.ndarray:
        return np.array([1 / mean[1], -mean[0] / mean[1] ** 2, -th / mean[3],
                         th * mean[2] / mean[3] ** 2])

    if theta is None:
        g_c, g_t = grad(mean_c, 1.0), grad(mean_t, 1.0)
        var_pre = (g_c[2:] @ cov_c[2:, 2:] @ g_c[2:] + g_t[2:] @ cov_t[2:, 2:] @ g_t[2:])
        cov_pp = (g_c[2:] @ cov_c[2:, :2] @ g_c[:2] + g_t[2:] @ cov_t[2:, :2] @ g_t[:2])
        theta = -cov_pp / var_pre if var_pre > 0 else 0.0
    g_c, g_t = grad(mean_c, theta), grad(mean_t, theta)
    rc, rt = mean_c[0] / mean_c[1], mean_t[0] / mean_t[1]
    adj_c = rc - theta * mean_c[2] / mean_c[3]
    adj_t = rt - theta * mean_t[2] / mean_t[3]
    vc, vt = g_c @ cov_c @ g_c, g_t @ cov_t @ g_t
    if relative:
        # gradient of (adj_t - adj_c) / rc; rc keeps its sign, as the effect divides by it
        g_abs = adj_t - adj_c
        d_rc = np.array([1 / mean_c[1], -mean_c[0] / mean_c[1] ** 2, 0.0, 0.0])
        ga = -g_c / rc - g_abs / rc**2 * d_rc
        gb = g_t / rc
        effect = g_abs / rc
        var = ga @ cov_c @ ga / nc + gb @ cov_t @ gb / nt
    else:
        effect, var = adj_t - adj_c, vc / nc + vt / nt
    dof = welch_dof(vc, nc, vt, nt)
    name = "CUPED ratio (theta pooled), delta method, Welch t" + (
        "; relative lift over unadjusted control" if relative else "")
    return _finish(rc, rt, effect, var, dof, alpha=alpha, alternative=alternative,
                   relative=relative, method=name, theta=theta)


def cuped_adjusted(post: Any, pre: Any) -> np.ndarray:
    """Per-unit CUPED-adjusted values ``post − θ (pre − mean(pre))``, θ = cov / var(pre) pooled
    over every unit given (both arms). Welch's test on them is :func:`cuped_test`'s test of the
    difference, and each arm's mean of them is its adjusted mean.

    Example:
        >>> cuped_adjusted([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]).tolist()
        [2.0, 2.0, 2.0]
    """
    y, x = np.asarray(post, float), np.asarray(pre, float)
    if y.shape != x.shape:
        raise ValueError(f"post and pre: lengths {y.size} and {x.size} differ")
    dx = x - x.mean() if x.size else x
    var = float((dx * dx).sum())
    theta = float(((y - y.mean()) * dx).sum()) / var if var > 0 else 0.0
    return y - theta * dx
