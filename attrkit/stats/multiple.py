"""Adjusting p-values for many comparisons (every metric × source pair of one report)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np

from attrkit import defaults as D

Correction = Literal["holm", "hochberg", "bonferroni", "sidak", "holm-sidak", "hochberg-sidak",
                     "bh", "by", "none"]
CORRECTIONS = D.CORRECTIONS


class AdjustedPValues(NamedTuple):
    """Adjusted p-values (compare with α), adjusted α (compare with the raw p-value) and
    which nulls are rejected, in the input order."""

    p_adjusted: np.ndarray
    alpha_adjusted: np.ndarray
    rejected: np.ndarray
    method: str


def _bonferroni(p: np.ndarray, k: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    return p * k, np.full(p.shape, alpha) / k


def _sidak(p: np.ndarray, k: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    return 1 - (1 - p) ** k, 1 - (1 - alpha) ** (1 / k)


def adjust_pvalues(pvalues: Any, method: Correction = D.CORRECTION, *, alpha: float = D.ALPHA
                   ) -> AdjustedPValues:
    """Adjust p-values for multiple comparisons.

    ``holm`` / ``holm-sidak`` (step-down, any dependence), ``hochberg`` / ``hochberg-sidak``
    (step-up, non-negative dependence), single-step ``bonferroni`` / ``sidak``, and the
    false-discovery-rate procedures ``bh`` (Benjamini–Hochberg) and ``by``
    (Benjamini–Yekutieli). ``none`` returns the p-values as they are.

    Example:
        >>> adjust_pvalues([0.01, 0.04, 0.03], "holm").p_adjusted.round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    if method not in CORRECTIONS:
        raise ValueError(f"method={method!r}: must be one of {', '.join(CORRECTIONS)}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha!r}: must be between 0 and 1")
    p = np.asarray(pvalues, float)
    if p.ndim != 1 or np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("pvalues: need a 1-D sequence of numbers in [0, 1]")
    m = p.size
    if m == 0:
        empty = np.array([], float)
        return AdjustedPValues(empty, empty, np.array([], bool), method)
    if method == "none":
        return AdjustedPValues(p.copy(), np.full(m, alpha), p < alpha, method)
    if method in ("bonferroni", "sidak"):
        fn = _bonferroni if method == "bonferroni" else _sidak
        padj, aadj = fn(p, np.full(m, float(m)), alpha)
        padj = np.minimum(padj, 1.0)
        return AdjustedPValues(padj, aadj, p <= aadj, method)

    order = np.argsort(p, kind="stable")
    ps = p[order]
    rank = np.arange(1, m + 1, dtype=float)
    if method in ("bh", "by"):
        c = 1.0 if method == "bh" else float(np.sum(1 / rank))
        raw_p, raw_a = ps * m * c / rank, alpha * rank / (m * c)
    else:
        fn = _bonferroni if method.endswith(("holm", "hochberg")) or "sidak" not in method \
            else _sidak
        raw_p, raw_a = fn(ps, m - rank + 1, alpha)
    if method.startswith("holm"):
        # Step-down: running maximum of p; once a null stands, later alphas cannot grow.
        padj = np.maximum.accumulate(raw_p)
        rejected_sorted = np.logical_and.accumulate(ps <= raw_a)
        aadj = raw_a.copy()
        first_kept = np.argmin(rejected_sorted) if not rejected_sorted.all() else m
        if first_kept < m:
            aadj[first_kept:] = np.minimum.accumulate(raw_a[first_kept:])
    else:
        # Step-up: running minimum of p from the top; once a null falls, all below fall too.
        padj = np.minimum.accumulate(raw_p[::-1])[::-1]
        hit = ps <= raw_a
        last = int(np.max(np.nonzero(hit)[0])) if hit.any() else -1
        rejected_sorted = np.arange(m) <= last
        aadj = raw_a.copy()
        if last >= 0:
            aadj[: last + 1] = np.maximum(raw_a[: last + 1], raw_a[last])
    padj = np.minimum(padj, 1.0)
    out_p, out_a, out_r = np.empty(m), np.empty(m), np.empty(m, bool)
    out_p[order], out_a[order], out_r[order] = padj, aadj, rejected_sorted
    return AdjustedPValues(out_p, out_a, out_r, method)


class HeterogeneityResult(NamedTuple):
    """Cochran's Q test of whether estimates differ more than their standard errors allow."""

    q: float
    df: int
    p_value: float
    i2: float
    """the share of the variation between estimates that is not chance (0 when Q ≤ df)."""


def heterogeneity_test(effects: Any, standard_errors: Any) -> HeterogeneityResult:
    """Cochran's Q on ``effects`` with their ``standard_errors`` (inverse-variance weights;
    ``statsmodels.stats.meta_analysis.combine_effects``): do the estimates of several
    subgroups differ?

    Example:
        >>> r = heterogeneity_test([0.10, 0.05, -0.02], [0.01, 0.02, 0.015])
        >>> round(r.q, 2), r.df, r.p_value < 1e-6
        (44.67, 2, True)
    """
    from statsmodels.stats.meta_analysis import combine_effects

    e = np.asarray(effects, dtype=float)
    se = np.asarray(standard_errors, dtype=float)
    if e.size < 2 or e.size != se.size or not (np.isfinite(se).all() and (se > 0).all()):
        raise ValueError("heterogeneity_test: at least two effects, each with a positive, "
                         "finite standard error")
    r = combine_effects(e, np.square(se))
    test = r.test_homogeneity()
    return HeterogeneityResult(float(test.statistic), int(test.df), float(test.pvalue),
                               max(0.0, float(r.i2)))
