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
from attrkit.stats.means import (
    mean_test,
    ratio_test,
    skewness_corrected,
    skewness_corrected_inverse,
)


def fieller_interval(
    control: float, treatment: float, var_control: float, var_treatment: float, *,
    alpha: float, dof: float = math.inf, skewness: float = 0.0, cov: float = 0.0,
) -> tuple[float, float]:
    """Two-sided interval for ``treatment / control − 1`` from two estimates, independent
    (two arms) unless ``cov`` is given.

    Fieller's set is ``{ρ : (treatment − ρ·control)² ≤ q² (var_treatment − 2ρ·cov
    + ρ² var_control)}``.
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
        cov: the covariance of the two estimates (CUPED's lift over the control's own mean,
            :func:`cuped_lift_test`, divides by an estimate its numerator shares).
        skewness: the difference's skewness κ: the set is then that of the skewness-corrected
            test (:func:`~attrkit.stats.means.skewness_corrected`), ``−q ≤ g(T(ρ)) ≤ q``, whose
            ends are ``T(ρ) = g⁻¹(q)`` and ``T(ρ) = g⁻¹(−q)``: no longer symmetric.

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
    if skewness:
        # T(ρ) = (treatment − ρ·control)/√(…) falls as ρ grows: the low end is where it meets
        # the upper bound g⁻¹(q), the high end where it meets the lower bound g⁻¹(−q)
        up, down = (skewness_corrected_inverse(q, skewness),
                    -skewness_corrected_inverse(-q, skewness))
        args = (control, treatment, var_control, var_treatment)
        return _fieller(*args, up, cov)[0], _fieller(*args, down, cov)[1]
    return _fieller(control, treatment, var_control, var_treatment, q, cov)


def _fieller(control: float, treatment: float, var_control: float, var_treatment: float,
             q: float, cov: float = 0.0) -> tuple[float, float]:
    """Fieller's set ``|T(ρ)| ≤ q`` as an interval for ``ρ − 1`` (see :func:`fieller_interval`):
    the ρ where ``a ρ² − 2 b ρ + c ≤ 0``."""
    q2 = q * q
    a = control**2 - q2 * var_control
    b = treatment * control - q2 * cov
    if cov:
        disc = b * b - a * (treatment**2 - q2 * var_treatment)
    else:  # (the same, in the terms that keep independent arms' digits)
        disc = q2 * (var_treatment * control**2 + var_control * treatment**2
                     - q2 * var_control * var_treatment)
    if disc < 0 or a == 0:
        return -math.inf, math.inf
    root = math.sqrt(disc)
    lo, hi = sorted(((b - root) / a, (b + root) / a))
    if a > 0:
        return float(lo - 1), float(hi - 1)
    # two rays, (-inf, lo] and [hi, inf): the one holding the estimate when 1 lies between
    if not lo < 1 < hi or control == 0:
        return -math.inf, math.inf
    estimate = treatment / control
    return (-math.inf, float(lo - 1)) if estimate <= lo else (float(hi - 1), math.inf)


__all__ = ["cuped_lift_test", "fieller_interval", "lift_test"]


def lift_test(control: SampleStats | RatioStats, treatment: SampleStats | RatioStats, *,
              alpha: float = D.ALPHA, skewness: float = 0.0) -> Comparison:
    """Test the difference of two arms (Welch on per-unit values, or the delta method for a
    ratio of per-unit sums), and give the relative lift Fieller's interval, which agrees with
    that test. (The delta-method test of the relative lift is not used: on heavy-tailed units it
    rejects about twice as often as α.)

    With ``skewness`` (κ, the difference's skewness, :func:`~attrkit.stats.difference_skewness`)
    the test is corrected for it (:func:`~attrkit.stats.means.skewness_corrected`, against
    the same t reference) and the interval is that test's inverse, so they still agree.

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
    dof = r.details["dof"]
    lo, hi = fieller_interval(r.control, r.treatment, vc, vt, alpha=alpha, dof=dof,
                              skewness=skewness)
    p, details, name = _corrected(r, skewness, name)
    return Comparison(r.control, r.treatment, r.effect, lo, hi, p, r.statistic,
                      f"{name}; relative CI by Fieller", alpha, "two-sided", True, r.se,
                      details)


def _corrected(r: Comparison, skewness: float, name: str) -> tuple[float, dict, str]:
    """The difference test's p-value, details and name, corrected for ``skewness``."""
    p, details, dof = r.p_value, dict(r.details), r.details["dof"]
    if skewness and math.isfinite(r.statistic):
        corrected = skewness_corrected(r.statistic, skewness)
        dist = sps.norm if not math.isfinite(dof) else sps.t(dof)
        p = float(2 * dist.sf(abs(corrected)))
        details |= {"skewness": skewness, "corrected_statistic": corrected}
        name += f", corrected for skewness {skewness:+.2f} (Hall)"
    return p, details, name


def cuped_lift_test(control: SampleStats, control_adjusted: SampleStats,
                    treatment_adjusted: SampleStats, cross: float, *, alpha: float = D.ALPHA,
                    skewness: float = 0.0) -> Comparison:
    """CUPED on per-user values: Welch's test of the difference of the adjusted means, and the
    relative lift over the control's *unadjusted* mean (as gbstats reports it), with Fieller's
    interval, which agrees with that test.

    The lift is ``Δ / c`` with ``Δ`` the difference of adjusted means and ``c`` the control's
    own mean: the ratio of ``c + Δ`` to ``c``, two estimates that share the control's users.
    Their covariance comes from ``cross``, the per-user covariance of the control's values
    and its adjusted values (``var(y) − θ cov(y, pre)``); θ and the pooled pre-period mean are
    held fixed, as in :func:`~attrkit.stats.means.cuped_test`.

    Returns:
        A :class:`~attrkit.stats.Comparison`: ``control`` the control's own mean, ``treatment``
        that mean plus ``Δ`` (the treatment's mean adjusted to the control's pre-period),
        ``effect`` = ``Δ``, the p-value of the difference test, the relative lift's interval,
        and in ``details`` the lift's delta-method standard error (``lift_se``).

    Raises:
        ValueError: the control's mean is 0, so a relative lift is undefined.
    """
    r = mean_test(control_adjusted, treatment_adjusted, alpha=alpha)
    mc, nc = control.mean, control.n
    if not mc:
        raise ValueError("the control's mean is 0 (no events): a relative lift is undefined")
    var_c = control.var / nc
    cov_delta = -cross / nc  # (Δ holds minus the control's adjusted mean)
    treated = mc + r.effect
    var_t = var_c + r.se**2 + 2 * cov_delta
    cov = var_c + cov_delta
    dof = r.details["dof"]
    lo, hi = fieller_interval(mc, treated, var_c, var_t, alpha=alpha, dof=dof,
                              skewness=skewness, cov=cov)
    p, details, name = _corrected(r, skewness, "CUPED (θ pooled), Welch t on adjusted values")
    ratio = treated / mc
    lift_var = (var_t - 2 * ratio * cov + ratio**2 * var_c) / mc**2
    details |= {"lift_se": math.sqrt(lift_var) if lift_var > 0 else math.nan}
    return Comparison(mc, treated, r.effect, lo, hi, p, r.statistic,
                      f"{name}; lift over the unadjusted control mean, relative CI by Fieller",
                      alpha, "two-sided", True, r.se, details)
