"""Always-valid inference: asymptotic confidence sequences (GrowthBook's construction).

The interval and p-value stay valid however often they are looked at, so a dashboard refreshed
every 15-minute window can be watched without inflating false positives. The construction is
the asymptotic confidence sequence of Waudby-Smith et al. (arXiv 2103.06476), tuned by ``n_star``,
the total sample size at which the sequence is tightest.
"""

from __future__ import annotations

import math
from typing import Any

from attrkit import _defaults as D
from attrkit.stats._core import (
    Alternative,
    Comparison,
    RatioStats,
    check_alpha,
    check_alternative,
)
from attrkit.stats.means import mean_test, ratio_test

# GrowthBook searches one-sided always-valid p-values in this range; values at its ends mean
# "at most 1e-5" and "not significant".
_P_RANGE = (1e-5, 0.4999)


def sequential_rho(alpha: float, n_star: float, two_sided: bool = True) -> float:
    """The mixture's tuning ρ for a sequence tightest at total sample size ``n_star``."""
    a = alpha if two_sided else 2 * alpha
    return math.sqrt((-2 * math.log(a) + math.log(-2 * math.log(a) + 1)) / n_star)


def halfwidth(se: float, n: float, alpha: float, rho: float, two_sided: bool = True) -> float:
    """Half-width of the confidence sequence at total sample size ``n`` for an estimate with
    standard error ``se``."""
    s2 = se**2 * n
    v = n * rho**2 + 1
    if two_sided:
        return math.sqrt(s2) * math.sqrt(2 * v * math.log(math.sqrt(v) / alpha) / (n * rho) ** 2)
    return math.sqrt(s2 * 2 * v / (n * rho) ** 2 * math.log(1 + math.sqrt(v) / (2 * alpha)))


def sequential_test(
    control: Any,
    treatment: Any,
    *,
    n_star: float = 5000,
    relative: bool = False,
    alpha: float = D.ALPHA,
    alternative: Alternative = "two-sided",
) -> Comparison:
    """Always-valid interval and p-value for a mean or ratio metric.

    Args:
        control, treatment: :class:`SampleStats` / arrays (means) or :class:`RatioStats`.
        n_star: the tuning parameter: the total sample size where the sequence is tightest.
        relative, alpha, alternative: as in :func:`mean_test`.

    Example:
        >>> from attrkit.stats import SampleStats
        >>> c = SampleStats(3000, 1396.87, 52377.9767); t = SampleStats(3461, 2422.7, 134698.29)
        >>> r = sequential_test(c, t, n_star=1000, relative=True)
        >>> round(r.ci_low, 5), round(r.ci_high, 5)
        (-0.55844, 1.56516)
    """
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    if not n_star > 0:
        raise ValueError(f"n_star={n_star!r}: must be a positive sample size")
    if alternative != "two-sided" and alpha >= 0.5:
        raise ValueError(f"alpha={alpha}: a one-sided sequential test needs alpha < 0.5")
    test = ratio_test if isinstance(control, RatioStats) else mean_test
    base = test(control, treatment, relative=relative, alpha=alpha)
    n = _total_n(control, treatment)
    effect, se = base.effect, base.se
    two = alternative == "two-sided"
    rho = sequential_rho(alpha, n_star, two)
    width = halfwidth(se, n, alpha, rho, two)
    if two:
        lo, hi = effect - width, effect + width
        # e-value of the mixture martingale at the null (eq. 155 of the paper, reparameterised)
        v = n * rho**2 + 1
        st2 = effect**2 * n / se**2
        p = min(1.0, 1.0 / (math.exp(rho**2 * st2 / (2 * v)) / math.sqrt(v)))
    else:
        lo, hi = (effect - width, math.inf) if alternative == "greater" else (-math.inf,
                                                                              effect + width)
        p = _one_sided_p(effect, se, n, rho, alternative)
    name = f"always-valid confidence sequence (n* = {n_star:g})" + (
        "; relative lift" if relative else "")
    return Comparison(base.control, base.treatment, effect, lo, hi, p, effect / se, name,
                      alpha, alternative, relative, se, {"n_star": n_star, "rho": rho, "n": n})


def _total_n(control: Any, treatment: Any) -> float:
    def n(x: Any) -> float:
        return float(x.n) if hasattr(x, "n") else float(len(x))
    return n(control) + n(treatment)


def _one_sided_p(effect: float, se: float, n: float, rho: float, alternative: str) -> float:
    """The smallest alpha whose one-sided sequence excludes 0, by GrowthBook's bisection.

    The search runs over [1e-5, 0.4999] and stops once the interval's bound is within 1e-6
    of 0, so the p-value is as precise as that stopping rule (to about 1e-4); its ends mean
    "at most 1e-5" and "not significant". Kept as GrowthBook does it so results agree.
    """
    sign = 1.0 if alternative == "greater" else -1.0

    def bound(a: float) -> float:  # > 0 means the sequence at level a excludes 0
        return sign * effect - halfwidth(se, n, a, rho, two_sided=False)

    lo, hi = _P_RANGE
    if bound(lo) > 0:
        return lo
    if bound(hi) < 0:
        return hi
    a = 0.5 * (lo + hi)
    for _ in range(100):
        b = bound(a)
        lo, hi = (a, hi) if b < 0 else (lo, a)
        a = 0.5 * (lo + hi)
        if abs(b) < 1e-6:
            return a
    return math.nan
