"""Always-valid inference: asymptotic confidence sequences (GrowthBook's construction).

The interval and p-value stay valid however often they are looked at, so a dashboard refreshed
every 15-minute window can be watched without inflating false positives. The construction is
the asymptotic confidence sequence of Waudby-Smith et al. (arXiv 2103.06476), tuned by ``n_star``,
the total sample size at which the sequence is tightest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from attrkit import defaults as D
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


def halfwidth(se: Any, n: Any, alpha: float, rho: float, two_sided: bool = True) -> Any:
    """Half-width of the confidence sequence at total sample size ``n`` for an estimate with
    standard error ``se`` (numbers, or arrays of looks)."""
    s2 = np.square(se) * n
    v = n * rho**2 + 1
    if two_sided:
        return np.sqrt(s2) * np.sqrt(2 * v * np.log(np.sqrt(v) / alpha) / (n * rho) ** 2)
    return np.sqrt(s2 * 2 * v / (n * rho) ** 2 * np.log(1 + np.sqrt(v) / (2 * alpha)))


def always_valid_p(effect: Any, se: Any, n: Any, rho: float) -> Any:
    """Two-sided always-valid p-value: the inverse of the mixture martingale at the null
    (eq. 155 of the paper, reparameterised), capped at 1 (numbers, or arrays of looks)."""
    v = n * rho**2 + 1
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.minimum(1.0, np.sqrt(v) * np.exp(-(rho**2) * np.square(effect / se) * n
                                                   / (2 * v)))


def confidence_sequence(effect: Any, se: Any, n: Any, alpha: float, n_star: float,
                        scale: Any = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The always-valid interval and p-value at each look of a sequence.

    Args:
        effect: each look's effect estimate.
        se: its standard error.
        n: the units so far.
        n_star: the sample size the sequence is tuned for (narrowest there).
        scale: each look's divisor of effect and interval (the control's mean, to show a lift
            tested on the difference); 1 for none.

    Returns:
        ``(effect, ci_low, ci_high, p_value)`` per look, divided by ``scale``; the p-value is
        the running minimum, which is what keeps it valid however often it is looked at.
    """
    effect, se, n, scale = (np.broadcast_to(np.asarray(x, dtype=float), np.shape(effect))
                            for x in (effect, se, n, scale))
    rho = sequential_rho(alpha, n_star)
    width = halfwidth(se, n, alpha, rho)
    p = np.minimum.accumulate(always_valid_p(effect, se, n, rho)) if effect.size else effect
    return effect / scale, (effect - width) / scale, (effect + width) / scale, p


def cumulative_mean_effect(control: np.ndarray, treatment: np.ndarray, relative: bool
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Effect, standard error and total units after each look, each look adding one unit per
    arm (Welch; delta method when ``relative``): the inputs of a sequence over windows."""
    k = np.arange(1, control.size + 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mc, mt = np.cumsum(control) / k, np.cumsum(treatment) / k
        var_c = (np.cumsum(control**2) - k * mc**2) / (k - 1)
        var_t = (np.cumsum(treatment**2) - k * mt**2) / (k - 1)
        if relative:
            effect = (mt - mc) / mc
            se = np.sqrt(var_t / (mc**2 * k) + var_c * mt**2 / (mc**4 * k))
        else:
            effect, se = mt - mc, np.sqrt(var_c / k + var_t / k)
    return effect, se, 2 * k


def cumulative_ratio_effect(value_c: np.ndarray, exposure_c: np.ndarray, value_t: np.ndarray,
                            exposure_t: np.ndarray, relative: bool
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`cumulative_mean_effect` for value per exposure (delta method per unit)."""
    k = np.arange(1, value_c.size + 1, dtype=float)

    def arm(v: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            mv, me = np.cumsum(v) / k, np.cumsum(e) / k
            var_v = (np.cumsum(v**2) - k * mv**2) / (k - 1)
            var_e = (np.cumsum(e**2) - k * me**2) / (k - 1)
            cov = (np.cumsum(v * e) - k * mv * me) / (k - 1)
            unit = var_v / me**2 - 2 * cov * mv / me**3 + var_e * mv**2 / me**4
            return mv / me, unit / k

    rc, vrc = arm(value_c, exposure_c)
    rt, vrt = arm(value_t, exposure_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        if relative:
            return (rt - rc) / rc, np.sqrt(vrt / rc**2 + vrc * rt**2 / rc**4), 2 * k
        return rt - rc, np.sqrt(vrc + vrt), 2 * k


def sequential_test(
    control: Any,
    treatment: Any,
    *,
    n_star: float = D.N_STAR,
    relative: bool = False,
    alpha: float = D.ALPHA,
    alternative: Alternative = "two-sided",
) -> Comparison:
    """Always-valid interval and p-value for a mean or ratio metric.

    Args:
        control: :class:`SampleStats` / an array (means) or :class:`RatioStats`.
        treatment: the same for the treatment arm.
        n_star: the tuning parameter: the total sample size where the sequence is tightest.
        relative: as in :func:`mean_test`.
        alpha: as in :func:`mean_test`.
        alternative: as in :func:`mean_test`.

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
        p = float(always_valid_p(effect, se, n, rho))
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
