"""Power, minimum detectable effect and sample size, fixed-horizon and sequential."""

from __future__ import annotations

import math
from typing import Any, Literal

from scipy import stats as sps
from scipy.optimize import brentq

from attrkit import defaults as D
from attrkit.stats._core import RatioStats, SampleStats, check_alpha
from attrkit.stats.sequential import halfwidth, sequential_rho

MetricKind = Literal["mean", "proportion", "ratio"]


def _baseline(stats: Any, mean: float | None, variance: float | None,
              metric: MetricKind) -> tuple[float, float]:
    """``(mean, per-unit variance)`` from stats or from the numbers given."""
    if isinstance(stats, RatioStats):
        return stats.ratio, stats.unit_var
    if isinstance(stats, SampleStats):
        return stats.mean, stats.var
    if metric == "proportion":
        if mean is None or not 0 < mean < 1:
            raise ValueError(f"mean={mean!r}: a proportion metric needs 0 < mean < 1")
        return mean, mean * (1 - mean) if variance is None else variance
    if variance is None or not variance > 0:
        raise ValueError(f"variance={variance!r}: give a positive per-unit variance (or stats=)")
    return (math.nan if mean is None else mean), variance


def _se(effect: float, mean: float, var: float, n_c: float, n_t: float, relative: bool
        ) -> float:
    if not relative:
        return math.sqrt(var / n_c + var / n_t)
    if not mean:
        raise ValueError("mean: a relative effect needs the baseline mean")
    mt = mean * (1 + effect)
    # delta-method variance of the relative lift, treatment mean moved by the effect
    return math.sqrt(var / (mean**2 * n_t) + var * mt**2 / (mean**4 * n_c))


def _critical(alpha: float, two_sided: bool, sequential: bool, n_total: float, n_star: float,
              ) -> float:
    """The multiplier of the standard error that the estimate must exceed."""
    if not sequential:
        return float(sps.norm.ppf(1 - alpha / 2 if two_sided else 1 - alpha))
    rho = sequential_rho(alpha, n_star, two_sided)
    # the sequence's half-width in units of the standard error
    return halfwidth(1.0, n_total, alpha, rho, two_sided)


def power(
    effect: float,
    *,
    n_per_arm: float | None = None,
    n_control: float | None = None,
    n_treatment: float | None = None,
    stats: SampleStats | RatioStats | None = None,
    mean: float | None = None,
    variance: float | None = None,
    metric: MetricKind = "mean",
    relative: bool = True,
    alpha: float = D.ALPHA,
    two_sided: bool = True,
    sequential: bool = False,
    n_star: float = D.N_STAR,
) -> float:
    """Probability of detecting ``effect`` with the given sample sizes.

    The baseline comes from ``stats`` (a :class:`SampleStats` or :class:`RatioStats`) or from
    ``mean`` and ``variance`` (per unit; for ``metric="proportion"`` the variance is
    ``mean (1 − mean)``). ``sequential=True`` uses the always-valid sequence's width at the
    final sample size in place of the fixed-horizon critical value.

    Example:
        >>> round(power(0.03, variance=45, n_per_arm=859896, relative=False), 4)
        0.8346
    """
    alpha = check_alpha(alpha)
    n_c = n_control if n_control is not None else n_per_arm
    n_t = n_treatment if n_treatment is not None else n_per_arm
    if n_c is None or n_t is None or n_c <= 1 or n_t <= 1:
        raise ValueError("n_per_arm (or n_control and n_treatment): need more than 1 unit each")
    m, var = _baseline(stats, mean, variance, metric)
    se = _se(effect, m, var, n_c, n_t, relative)
    z = _critical(alpha, two_sided, sequential, n_c + n_t, n_star)
    shift = abs(effect) / se
    if two_sided:
        return float(sps.norm.sf(z - shift) + sps.norm.cdf(-z - shift))
    return float(sps.norm.sf(z - shift))


def mde(
    *,
    power_target: float = D.POWER,
    n_per_arm: float | None = None,
    n_control: float | None = None,
    n_treatment: float | None = None,
    stats: SampleStats | RatioStats | None = None,
    mean: float | None = None,
    variance: float | None = None,
    metric: MetricKind = "mean",
    relative: bool = True,
    alpha: float = D.ALPHA,
    two_sided: bool = True,
    sequential: bool = False,
    n_star: float = D.N_STAR,
) -> float:
    """The smallest positive effect detected with probability ``power_target``.

    Example:
        >>> round(mde(variance=45, n_per_arm=859896, relative=False, power_target=0.8), 4)
        0.0287
    """
    kw = dict(n_per_arm=n_per_arm, n_control=n_control, n_treatment=n_treatment, stats=stats,
              mean=mean, variance=variance, metric=metric, relative=relative, alpha=alpha,
              two_sided=two_sided, sequential=sequential, n_star=n_star)
    if not 0 < power_target < 1:
        raise ValueError(f"power_target={power_target!r}: must be between 0 and 1")
    hi = 1e-6
    while power(hi, **kw) < power_target:
        hi *= 2
        if hi > 1e12:
            raise ValueError("no effect reaches that power with these inputs")
    return float(brentq(lambda e: power(e, **kw) - power_target, hi / 2 if hi > 1e-6 else 0.0,
                        hi, xtol=1e-12))


def sample_size(
    effect: float,
    *,
    power_target: float = D.POWER,
    stats: SampleStats | RatioStats | None = None,
    mean: float | None = None,
    variance: float | None = None,
    metric: MetricKind = "mean",
    relative: bool = True,
    alpha: float = D.ALPHA,
    two_sided: bool = True,
    sequential: bool = False,
    n_star: float = D.N_STAR,
) -> int:
    """Units per arm (equal split) needed to detect ``effect`` with ``power_target``.

    Example:
        >>> sample_size(0.03, variance=45, relative=False, power_target=0.8) <= 859896
        True
    """
    if effect == 0:
        raise ValueError("effect=0: no sample size detects a zero effect")
    kw = dict(stats=stats, mean=mean, variance=variance, metric=metric, relative=relative,
              alpha=alpha, two_sided=two_sided, sequential=sequential, n_star=n_star)
    if not 0 < power_target < 1:
        raise ValueError(f"power_target={power_target!r}: must be between 0 and 1")
    hi = 2.0
    while power(effect, n_per_arm=hi, **kw) < power_target:
        hi *= 2
        if hi > 1e13:
            raise ValueError("no sample size up to 1e13 per arm reaches that power")
    n = brentq(lambda x: power(effect, n_per_arm=x, **kw) - power_target, max(hi / 2, 2.0), hi)
    return int(math.ceil(n))
