"""Relative lift with an interval that agrees with the test of the difference (Fieller).

A relative lift ``ρ − 1 = treatment / control − 1`` is a ratio of two noisy means. The
delta-method interval linearises it around the observed control mean, and its test inherits
that mean's noise: on heavy-tailed per-user data (a few users make much of the traffic) its
A/A false-positive rate is about twice α at a few thousand users per arm, while Welch's test
of the difference keeps α (``make calibrate``). Fieller's interval inverts the test of
``treatment − ρ·control = 0``, so it contains a lift of 0 exactly when the test of the
difference does not reject: the p-value, the interval and the verdict agree.
"""

from __future__ import annotations

import math

from scipy import stats as sps

from attrkit import defaults as D
from attrkit.stats._core import Comparison, RatioStats, SampleStats
from attrkit.stats.means import mean_test, ratio_test


def fieller_interval(
    control: float, treatment: float, var_control: float, var_treatment: float, *,
    alpha: float, dof: float = math.inf,
) -> tuple[float, float]:
    """Two-sided interval for ``treatment / control − 1`` from independent arm estimates.

    Fieller's set is ``{ρ : (treatment − ρ·control)² ≤ q² (var_treatment + ρ² var_control)}``.
    When the control estimate is clearly away from zero it is a bounded interval. Otherwise it
    is two rays or the whole line; then, if the test of the difference rejects (a lift of 0 is
    outside the set), the ray holding the estimate is returned, and if it does not, the whole
    line. Either way the interval excludes 0 exactly when the test rejects.

    Args:
        control: the control arm's estimate (a mean, or a ratio of sums).
        treatment: the treatment arm's estimate.
        var_control: the variance of the control's estimate (per-unit variance / n).
        var_treatment: the variance of the treatment's estimate.
        alpha: 1 − confidence level.
        dof: degrees of freedom of the t reference (Welch's); ``inf`` for the normal.

    Returns:
        ``(low, high)``, an end infinite when the set is unbounded on that side.

    Example:
        >>> lo, hi = fieller_interval(10.0, 12.0, 0.25, 0.25, alpha=0.05)
        >>> round(lo, 4), round(hi, 4)
        (0.0574, 0.3659)
        >>> lo, hi = fieller_interval(0.06, 0.4, 0.04**2, 0.045**2, alpha=0.05)  # control near 0
        >>> round(lo, 4), hi
        (1.7655, inf)
    """
    q = float(sps.norm.ppf(1 - alpha / 2) if not math.isfinite(dof)
              else sps.t.ppf(1 - alpha / 2, dof))
    q2 = q * q
    a = control**2 - q2 * var_control
    disc = q2 * (var_treatment * control**2 + var_control * treatment**2
                 - q2 * var_control * var_treatment)
    if disc < 0 or a == 0:
        return -math.inf, math.inf
    root = math.sqrt(disc)
    lo, hi = sorted(((treatment * control - root) / a, (treatment * control + root) / a))
    if a > 0:
        return float(lo - 1), float(hi - 1)
    # two rays, (-inf, lo] and [hi, inf): the one holding the estimate when 1 lies between
    if not lo < 1 < hi or control == 0:
        return -math.inf, math.inf
    estimate = treatment / control
    return (-math.inf, float(lo - 1)) if estimate <= lo else (float(hi - 1), math.inf)


__all__ = ["fieller_interval"]


def lift_test(control: SampleStats | RatioStats, treatment: SampleStats | RatioStats, *,
              alpha: float = D.ALPHA) -> Comparison:
    """Test the difference of two arms (Welch on per-unit values, or the delta method for a
    ratio of per-unit sums), and give the relative lift Fieller's interval, which agrees with
    that test. (The delta-method test of the relative lift is not used: on heavy-tailed units it
    rejects about twice as often as α.)

    Returns:
        A :class:`~attrkit.stats.Comparison` whose ``effect`` is the absolute difference, whose
        p-value is the difference test's and whose interval is the relative lift's.

    Raises:
        ValueError: the control's mean is 0, so a relative lift is undefined.
    """
    if isinstance(control, RatioStats):
        r = ratio_test(control, treatment, alpha=alpha)
        vc, vt = control.unit_var / control.n, treatment.unit_var / treatment.n
        name = "ratio of per-user sums, delta method, Welch t"
    else:
        r = mean_test(control, treatment, alpha=alpha)
        vc, vt = control.var / control.n, treatment.var / treatment.n
        name = "Welch t on per-user values"
    if not r.control:
        raise ValueError("the control's mean is 0 (no events): a relative lift is undefined")
    lo, hi = fieller_interval(r.control, r.treatment, vc, vt, alpha=alpha, dof=r.details["dof"])
    return Comparison(r.control, r.treatment, r.effect, lo, hi, r.p_value, r.statistic,
                      f"{name}; relative CI by Fieller", alpha, "two-sided", True, r.se,
                      r.details)
