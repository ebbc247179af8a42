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


def fieller_interval(
    control: float, treatment: float, var_control: float, var_treatment: float, *,
    alpha: float, dof: float = math.inf,
) -> tuple[float, float]:
    """Two-sided interval for ``treatment / control − 1`` from independent arm estimates.

    Args:
        control, treatment: the arms' estimates (means, or ratios of sums).
        var_control, var_treatment: the variances of those estimates (per-unit variance / n).
        alpha: 1 − confidence level.
        dof: degrees of freedom of the t reference (Welch's); ``inf`` for the normal.

    Returns:
        ``(low, high)``; ``(-inf, inf)`` when the control estimate is not distinguishable from
        zero at ``alpha`` (the ratio is then unbounded).

    Example:
        >>> lo, hi = fieller_interval(10.0, 12.0, 0.25, 0.25, alpha=0.05)
        >>> round(lo, 4), round(hi, 4)
        (0.0574, 0.3659)
    """
    q = float(sps.norm.ppf(1 - alpha / 2) if not math.isfinite(dof)
              else sps.t.ppf(1 - alpha / 2, dof))
    q2 = q * q
    a = control**2 - q2 * var_control
    disc = q2 * (var_treatment * control**2 + var_control * treatment**2
                 - q2 * var_control * var_treatment)
    if a <= 0 or disc < 0:
        return -math.inf, math.inf
    root = math.sqrt(disc)
    lo, hi = (treatment * control - root) / a, (treatment * control + root) / a
    return float(lo - 1), float(hi - 1)


__all__ = ["fieller_interval"]
