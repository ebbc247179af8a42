"""Bootstrap for any statistic, vectorised over resamples."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from attrkit import defaults as D
from attrkit.stats._core import Alternative, Comparison, check_alpha, check_alternative


def bootstrap_test(
    control_values: Any,
    treatment_values: Any,
    statistic: Callable[..., Any] = np.mean,
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    relative: bool = False,
    alpha: float = D.ALPHA,
    alternative: Alternative = "two-sided",
    batch: int = 20_000_000,
) -> Comparison:
    """Percentile bootstrap of ``statistic(treatment) − statistic(control)`` (or the ratio − 1).

    ``statistic`` must accept ``axis=-1`` (numpy reductions such as ``np.mean``, ``np.median``
    or ``lambda x, axis: np.quantile(x, 0.9, axis=axis)`` do). Resamples are drawn in batches
    of about ``batch`` values so memory stays bounded. The p-value is twice the share of
    bootstrap effects on the far side of 0 (one-sided: the share on the wrong side).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> r = bootstrap_test(rng.exponential(1, 500), rng.exponential(1.3, 500), np.median,
        ...                    n_resamples=500, seed=1)
        >>> r.effect > 0
        True
    """
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 100:
        raise ValueError(f"n_resamples={n_resamples!r}: must be a whole number >= 100")
    c = np.asarray(control_values, float)
    t = np.asarray(treatment_values, float)
    for name, x in (("control_values", c), ("treatment_values", t)):
        if np.isnan(x).any():
            # a NaN turns every resample's statistic into NaN, and NaN <= 0 is False: p = 0
            raise ValueError(f"{name}: contain NaN; drop or fill them first")
    if c.size < 2 or t.size < 2:
        raise ValueError("control_values, treatment_values: need at least 2 values each")
    rng = np.random.default_rng(seed)

    def stat(x: np.ndarray) -> float:
        return float(statistic(x, axis=-1))

    def boot(x: np.ndarray) -> np.ndarray:
        out = np.empty(n_resamples)
        step = max(1, batch // x.size)
        for start in range(0, n_resamples, step):
            k = min(step, n_resamples - start)
            idx = rng.integers(0, x.size, size=(k, x.size))
            out[start:start + k] = statistic(x[idx], axis=-1)
        return out

    sc, st = stat(c), stat(t)
    bc, bt = boot(c), boot(t)
    if relative:
        effect, dist = st / sc - 1, bt / bc - 1
    else:
        effect, dist = st - sc, bt - bc
    if alternative == "two-sided":
        lo, hi = np.quantile(dist, [alpha / 2, 1 - alpha / 2])
        p = min(1.0, 2 * min((dist <= 0).mean(), (dist >= 0).mean()))
    elif alternative == "greater":
        lo, hi = float(np.quantile(dist, alpha)), math.inf
        p = float((dist <= 0).mean())
    else:
        lo, hi = -math.inf, float(np.quantile(dist, 1 - alpha))
        p = float((dist >= 0).mean())
    name = f"percentile bootstrap ({n_resamples} resamples, seed {seed})"
    return Comparison(sc, st, effect, lo, hi, p, math.nan, name, alpha, alternative, relative,
                      float(dist.std(ddof=1)), {"n_resamples": n_resamples, "seed": seed})
