"""Bayesian summary: a Gaussian posterior on the lift, chance to win, expected loss."""

from __future__ import annotations

import math
from typing import Any

from scipy import stats as sps

from attrkit import defaults as D
from attrkit.stats._core import Comparison, RatioStats, check_alpha
from attrkit.stats.means import mean_test, ratio_test


def bayes_test(
    control: Any,
    treatment: Any,
    *,
    relative: bool = True,
    alpha: float = D.ALPHA,
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
) -> Comparison:
    """Gaussian posterior on the (relative) lift, gbstats-style.

    The likelihood is Normal(effect, se²) from the delta method; the prior on the lift is
    flat (``prior_sd=None``) or Normal(prior_mean, prior_sd²). Returns the posterior mean as
    ``effect``, the central credible interval, and in ``details`` the chance that treatment
    beats control and the expected loss of choosing each arm. ``p_value`` is NaN.

    Example:
        >>> r = bayes_test([1.0, 2.0, 3.0, 4.0] * 50, [1.5, 2.5, 3.0, 4.0] * 50)
        >>> 0.5 < r.details["chance_to_win"] <= 1
        True
    """
    alpha = check_alpha(alpha)
    test = ratio_test if isinstance(control, RatioStats) else mean_test
    base = test(control, treatment, relative=relative, alpha=alpha)
    mu, sd = base.effect, base.se
    if prior_sd is not None:
        if not prior_sd > 0:
            raise ValueError(f"prior_sd={prior_sd!r}: must be positive, or None for flat")
        prec = 1 / sd**2 + 1 / prior_sd**2
        mu = (base.effect / sd**2 + prior_mean / prior_sd**2) / prec
        sd = math.sqrt(1 / prec)
    z = sps.norm.ppf(1 - alpha / 2)
    ctw = float(sps.norm.sf(0, loc=mu, scale=sd))
    # E[max(0, -X)] and E[max(0, X)] for X ~ N(mu, sd²)
    loss_treatment = sd * sps.norm.pdf(mu / sd) - mu * sps.norm.cdf(-mu / sd)
    loss_control = sd * sps.norm.pdf(mu / sd) + mu * sps.norm.cdf(mu / sd)
    prior = "flat prior" if prior_sd is None else f"Normal({prior_mean:g}, {prior_sd:g}²) prior"
    return Comparison(base.control, base.treatment, mu, mu - z * sd, mu + z * sd, math.nan,
                      math.nan, f"Bayesian Gaussian posterior on the lift, {prior}", alpha,
                      "two-sided", relative, sd,
                      {"chance_to_win": ctw, "expected_loss_treatment": float(loss_treatment),
                       "expected_loss_control": float(loss_control)})
