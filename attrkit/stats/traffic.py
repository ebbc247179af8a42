"""Sample ratio mismatch: did each source get the share of traffic it was planned to get?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from attrkit import defaults as D


@dataclass(frozen=True)
class SRMResult:
    """A chi-square goodness-of-fit check of unit counts against planned weights.

    Attributes:
        statistic: Pearson chi-square; p_value: its p-value (df = arms − 1).
        expected: the counts the weights imply. mismatch: ``p_value < threshold``.
    """

    counts: tuple[float, ...]
    expected: tuple[float, ...]
    statistic: float
    p_value: float
    threshold: float
    mismatch: bool

    def _repr_html_(self) -> str:
        verdict = "sample ratio mismatch" if self.mismatch else "no mismatch"
        from attrkit.reports import render

        return render.paragraphs([f"SRM check: χ² = {self.statistic:.3g}, p = {self.p_value:.3g} "
                                  f"({verdict} at {self.threshold:g})"])


def srm_test(counts: Any, weights: Any = None, *,
             threshold: float = D.SRM_THRESHOLD) -> SRMResult:
    """Chi-square goodness of fit of ``counts`` to ``weights`` (equal split by default).

    Example:
        >>> r = srm_test([1000, 1200], [0.5, 0.5])
        >>> round(r.p_value, 9), r.mismatch
        (2.0079e-05, True)
    """
    k = np.asarray(counts, float)
    if k.ndim != 1 or k.size < 2:
        raise ValueError(f"counts={counts!r}: need at least 2 counts")
    _check_each("counts", k, "a finite count >= 0", lambda x: np.isfinite(x) & (x >= 0))
    if k.sum() <= 0:
        raise ValueError(f"counts={counts!r}: are all 0")
    w = np.full(k.size, 1.0) if weights is None else np.asarray(weights, float)
    if w.shape != k.shape:
        raise ValueError(f"weights={weights!r}: need one weight per count")
    _check_each("weights", w, "a finite weight > 0", lambda x: np.isfinite(x) & (x > 0))
    if not 0 < threshold < 1:
        raise ValueError(f"threshold={threshold!r}: must be between 0 and 1")
    expected = w / w.sum() * k.sum()
    res = sps.chisquare(k, expected)
    p = float(res.pvalue)
    return SRMResult(tuple(map(float, k)), tuple(map(float, expected)), float(res.statistic), p,
                     threshold, p < threshold)


def _check_each(name: str, x: np.ndarray, rule: str, ok: Any) -> None:
    """Raise ``ValueError`` naming the first position of ``x`` that breaks ``rule``.

    NaN fails every comparison, so a check written as ``x < 0`` would let it through.
    """
    bad = np.flatnonzero(~ok(x))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}[{i}]={float(x[i])!r}: must be {rule}"
                         + (f" ({bad.size} values break this)" if bad.size > 1 else ""))
