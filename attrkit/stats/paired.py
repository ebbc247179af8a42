"""Paired-by-window comparison: two sources' values in the same 15-minute windows.

Sources that run side by side see the same time-of-day swings, so differencing window by window
removes them; what remains is autocorrelated, so the standard error is Newey–West (HAC).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import statsmodels.api as sm
from scipy import stats as sps

from attrkit import defaults as D
from attrkit.stats._core import (
    Alternative,
    Comparison,
    check_alpha,
    check_alternative,
    interval_and_p,
)


def newey_west_lags(n: int) -> int:
    """The usual automatic lag: ``floor(4 * (n / 100) ** (2 / 9))``.

    Example:
        >>> newey_west_lags(1344)
        7
    """
    return int(math.floor(4 * (n / 100) ** (2 / 9)))


def hac_se_of_mean(x: np.ndarray, lags: int) -> float:
    """Newey–West standard error of the mean of ``x`` (statsmodels' HAC, Bartlett kernel)."""
    model = sm.OLS(x, np.ones_like(x)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    return float(model.bse[0])


def _align(control: Any, treatment: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Two aligned series, from arrays of equal length or from frames with ``timestamp`` and
    ``value`` columns (inner join on the timestamp; the unmatched count is returned)."""
    if hasattr(control, "columns") and hasattr(treatment, "columns"):
        import polars as pl

        c = pl.DataFrame(control) if not isinstance(control, pl.DataFrame) else control
        t = pl.DataFrame(treatment) if not isinstance(treatment, pl.DataFrame) else treatment
        for name, f in (("control", c), ("treatment", t)):
            missing = {"timestamp", "value"} - set(f.columns)
            if missing:
                raise ValueError(f"{name}: needs columns timestamp and value; missing "
                                 f"{sorted(missing)}")
        j = c.select("timestamp", "value").join(t.select("timestamp", "value"),
                                                 on="timestamp", how="full", coalesce=True,
                                                 suffix="_t").sort("timestamp")
        # A window where one source had nothing observed it at zero.
        j = j.fill_null(0)
        return (j["value"].to_numpy().astype(float), j["value_t"].to_numpy().astype(float),
                0)
    c, t = np.asarray(control, float), np.asarray(treatment, float)
    if c.shape != t.shape or c.ndim != 1:
        raise ValueError(f"control and treatment: need 1-D series of equal length, got "
                         f"{c.shape} and {t.shape}")
    return c, t, 0


def paired_window_test(
    control: Any,
    treatment: Any,
    *,
    relative: bool = False,
    hac_lags: int | str = "auto",
    alpha: float = D.ALPHA,
    alternative: Alternative = "two-sided",
    min_windows: int = 10,
) -> Comparison:
    """Compare two sources window by window.

    Args:
        control: per-window values aligned on the window start: an array, or a frame with
            ``timestamp`` and ``value`` (windows missing from one side count as 0 there).
        treatment: the same for the treatment, of equal length.
        relative: effect is the ratio of totals − 1 (delta method) instead of the mean
            per-window difference.
        hac_lags: Newey–West lags, or ``"auto"`` for ``floor(4 (T/100)^(2/9))``.
        min_windows: fewer windows than this is an error (a HAC error needs many).

    Returns:
        :class:`Comparison` with ``control`` and ``treatment`` the mean per-window values,
        t reference with T − 1 degrees of freedom.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> day = 100 + 50 * np.sin(np.arange(192) * 2 * np.pi / 96)
        >>> c = rng.poisson(day); t = rng.poisson(day * 1.1)
        >>> r = paired_window_test(c, t, relative=True)
        >>> r.ci_low < 0.1 < r.ci_high
        True
    """
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    c, t, _ = _align(control, treatment)
    n = c.size
    if n < min_windows:
        raise ValueError(f"{n} windows: a paired-by-window test needs at least {min_windows}")
    lags = newey_west_lags(n) if hac_lags == "auto" else hac_lags
    if isinstance(lags, bool) or not isinstance(lags, int) or lags < 0:
        raise ValueError(f"hac_lags={hac_lags!r}: must be 'auto' or a whole number >= 0")
    mc, mt = float(c.mean()), float(t.mean())
    if relative:
        if mc == 0:
            raise ValueError("control: all windows are 0; a relative effect is undefined")
        ratio = mt / mc
        # delta method: (mean(t) - ratio mean(c)) / mc; |mc| because a standard error is not
        # negative, and signed sums (refunds, net revenue) can have a negative control mean
        se = hac_se_of_mean(t - ratio * c, lags) / abs(mc)
        effect = ratio - 1
    else:
        d = t - c
        effect = float(d.mean())
        se = hac_se_of_mean(d, lags)
    dof = n - 1
    lo, hi, p, stat = interval_and_p(effect, se, alpha, alternative, dof)
    name = (f"paired by window, Newey–West SE ({lags} lags)"
            + ("; ratio of totals" if relative else "; mean difference per window"))
    return Comparison(mc, mt, effect, lo, hi, p, stat, name, alpha, alternative, relative, se,
                      {"windows": n, "hac_lags": lags, "dof": dof,
                       "t_quantile": float(sps.t.ppf(1 - alpha / 2, dof))})


def paired_rate_ratio_test(
    value_c: Any, exposure_c: Any, value_t: Any, exposure_t: Any, *,
    alpha: float = D.ALPHA, alternative: Alternative = "two-sided",
) -> Comparison:
    """Relative difference of two rates per exposure (value / exposure), paired by window:
    the log ratio of rates with a Newey–West standard error of its linearisation, t reference
    with windows − 1 degrees of freedom. Windows where neither side had exposure are skipped.

    Example:
        >>> r = paired_rate_ratio_test([10, 12, 9, 11], [100, 110, 95, 105],
        ...                            [12, 13, 11, 12], [100, 108, 96, 104])
        >>> round(r.effect, 4)
        0.1485
    """
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    vc, ec, vt, et = (np.asarray(x, float) for x in (value_c, exposure_c, value_t, exposure_t))
    keep = (ec > 0) | (et > 0)
    vc, ec, vt, et = vc[keep], ec[keep], vt[keep], et[keep]
    a, b, c, d = vt.mean(), et.mean(), vc.mean(), ec.mean()
    if not (a > 0 and b > 0 and c > 0 and d > 0):
        raise ValueError("value and exposure must be positive on both sides for a ratio of rates")
    z = vt / a - et / b - vc / c + ec / d
    lags = newey_west_lags(z.size)
    se = hac_se_of_mean(z, lags)
    log_r = math.log(a / b) - math.log(c / d)
    lo, hi, p, stat = interval_and_p(log_r, se, alpha, alternative, z.size - 1)
    return Comparison(c / d, a / b, math.exp(log_r) - 1, math.exp(lo) - 1, math.exp(hi) - 1, p,
                      stat, f"ratio of rates per exposure, paired by window, Newey–West ({lags} "
                      "lags)", alpha, alternative, True, se,
                      {"windows": int(z.size), "lags": lags, "log_se": se})
