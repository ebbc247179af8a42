"""Bayesian summary: a Gaussian posterior on the lift, chance to win, expected loss.

:func:`decision` is the construction GrowthBook's gbstats uses for its Bayesian engine (a normal
approximation on the relative lift, delta-method standard error, Gaussian prior); :func:`bayes_test`
applies it to two arms' statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy import stats as sps

from attrkit import defaults as D
from attrkit.stats._core import Comparison, RatioStats, check_alpha
from attrkit.stats.means import mean_test, ratio_test


@dataclass(frozen=True)
class Decision:
    """The posterior of a lift and what it says about shipping the treatment.

    Attributes:
        mean: the mean of the lift's Gaussian posterior.
        sd: its standard deviation.
        chance_to_win: P(lift > 0): the chance that the treatment beats the control.
        expected_loss: E[max(0, −lift)]: what choosing the treatment is expected to cost, in the
            lift's units (relative: 0.002 is 0.2 % of the control), counting only the worlds in
            which it is worse.
        expected_loss_control: E[max(0, lift)]: the same for keeping the control.
    """

    mean: float
    sd: float
    chance_to_win: float
    expected_loss: float
    expected_loss_control: float


def decision(lift: float, se: float, *, prior_mean: float = 0.0,
             prior_sd: float | None = D.DECISION_PRIOR_SD) -> Decision:
    """The chance to win and expected loss of a lift estimated as ``lift`` ± ``se``.

    The likelihood is Normal(lift, se²); the prior Normal(prior_mean, prior_sd²), or flat with
    ``prior_sd=None`` (GrowthBook's default, improper prior). An estimate with no uncertainty
    (``se`` 0) or none at all (NaN) gives NaN.

    Example:
        >>> d = decision(0.05, 0.035716, prior_sd=None)  # gbstats' Gaussian test case
        >>> round(d.chance_to_win, 5), round(d.expected_loss_control, 5), round(d.expected_loss, 5)
        (0.91923, 0.05131, 0.00131)
    """
    if not (math.isfinite(lift) and math.isfinite(se) and se > 0):
        return Decision(math.nan, math.nan, math.nan, math.nan, math.nan)
    mu, sd = lift, se
    if prior_sd is not None:
        if not prior_sd > 0:
            raise ValueError(f"prior_sd={prior_sd!r}: must be positive, or None for flat")
        prec = 1 / se**2 + 1 / prior_sd**2
        mu = (lift / se**2 + prior_mean / prior_sd**2) / prec
        sd = math.sqrt(1 / prec)
    # E[max(0, -X)] and E[max(0, X)] for X ~ N(mu, sd²)
    z = mu / sd
    loss_treatment = sd * sps.norm.pdf(z) - mu * sps.norm.cdf(-z)
    loss_control = sd * sps.norm.pdf(z) + mu * sps.norm.cdf(z)
    return Decision(mu, sd, float(sps.norm.sf(-z)), float(max(loss_treatment, 0.0)),
                    float(max(loss_control, 0.0)))


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
    beats control and the expected loss of choosing each arm (:func:`decision`). ``p_value`` is
    NaN.

    Example:
        >>> r = bayes_test([1.0, 2.0, 3.0, 4.0] * 50, [1.5, 2.5, 3.0, 4.0] * 50)
        >>> 0.5 < r.details["chance_to_win"] <= 1
        True
    """
    alpha = check_alpha(alpha)
    test = ratio_test if isinstance(control, RatioStats) else mean_test
    base = test(control, treatment, relative=relative, alpha=alpha)
    d = decision(base.effect, base.se, prior_mean=prior_mean, prior_sd=prior_sd)
    mu, sd = d.mean, d.sd
    z = sps.norm.ppf(1 - alpha / 2)
    prior = "flat prior" if prior_sd is None else f"Normal({prior_mean:g}, {prior_sd:g}²) prior"
    return Comparison(base.control, base.treatment, mu, mu - z * sd, mu + z * sd, math.nan,
                      math.nan, f"Bayesian Gaussian posterior on the lift, {prior}", alpha,
                      "two-sided", relative, sd,
                      {"chance_to_win": d.chance_to_win,
                       "expected_loss_treatment": d.expected_loss,
                       "expected_loss_control": d.expected_loss_control})
