"""Counts: proportions (successes out of trials) and Poisson rates (events per exposure)."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from scipy import stats as sps
from scipy.optimize import brentq
from statsmodels.stats.rates import confint_poisson_2indep, test_poisson_2indep

from attrkit import defaults as D
from attrkit.stats._core import (
    Alternative,
    Comparison,
    check_alpha,
    check_alternative,
    check_choice,
    interval_and_p,
)

ProportionMethod = Literal["z", "chi2", "g", "fisher", "barnard", "boschloo"]
RateMethod = Literal["exact", "score", "wald"]


def _arm(x: Any, name: str) -> tuple[int, int]:
    try:
        k, n = x
    except (TypeError, ValueError):
        raise ValueError(f"{name}={x!r}: expected (successes, trials)") from None
    if not (0 <= k <= n) or n <= 0 or k != int(k) or n != int(n):
        raise ValueError(f"{name}={x!r}: need whole numbers with 0 <= successes <= trials, "
                         "trials > 0")
    return int(k), int(n)


def proportion_test(
    control: tuple[int, int],
    treatment: tuple[int, int],
    *,
    method: ProportionMethod = "z",
    pooled: bool = True,
    correction: bool = False,
    relative: bool = False,
    alpha: float = D.ALPHA,
    alternative: Alternative = "two-sided",
) -> Comparison:
    """Compare two proportions, each arm given as ``(successes, trials)``.

    Methods: ``z`` (two-proportion z-test, pooled or not, optional continuity correction; the
    only one with an interval: for the difference, or for the relative lift from the log ratio),
    ``chi2`` (Pearson) and ``g`` (log-likelihood) — two-sided only — and the exact ``fisher``,
    ``barnard`` (Wald statistic; ``pooled`` applies) and ``boschloo``.

    Edge cases: ``relative=True`` with 0 control successes raises ``ValueError`` (the lift is
    undefined). When every unit in both arms has the same outcome (say 100/100 and 100/100) the
    effect is 0 and ``z``, ``chi2`` and ``g`` give p and statistic NaN with
    ``details["reason"]``, as statsmodels' ``proportions_ztest`` and ``proportions_chisquare``
    do; the exact tests give scipy's p = 1. With 0 treatment successes the relative lift is
    −100 % and the log-ratio interval is NaN, with the reason.

    Example:
        >>> r = proportion_test((19, 53), (13, 47), correction=True)
        >>> round(r.p_value, 4)
        0.5083
    """
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    check_choice("method", method, ("z", "chi2", "g", "fisher", "barnard", "boschloo"))
    kc, nc = _arm(control, "control")
    kt, nt = _arm(treatment, "treatment")
    if relative and kc == 0:
        raise ValueError("control has 0 successes: a relative effect is undefined")
    pc, pt = kc / nc, kt / nt
    effect = pt / pc - 1 if relative else pt - pc
    if method == "z":
        return _z_test(kc, nc, kt, nt, pooled, correction, relative, alpha, alternative)
    # Columns are (treatment, control); rows (successes, failures).
    table = np.array([[kt, kc], [nt - kt, nc - kc]])
    stat, details = math.nan, {}
    if method in ("chi2", "g"):
        if alternative != "two-sided":
            raise ValueError(f"method={method!r}: supports only alternative='two-sided'")
        lam = "pearson" if method == "chi2" else "log-likelihood"
        name = ("Pearson chi-square" if method == "chi2" else "G-test (log-likelihood)") + (
            ", continuity-corrected" if correction else "")
        if kc + kt in (0, nc + nt):  # an expected count of 0: scipy refuses the table
            p, details = math.nan, {"reason": _SAME_OUTCOME}
        else:
            res = sps.chi2_contingency(table, correction=correction, lambda_=lam)
            p, stat = float(res.pvalue), float(res.statistic)
    elif method == "fisher":
        res = sps.fisher_exact(table, alternative=alternative)
        p, stat, name = float(res.pvalue), float(res.statistic), "Fisher exact"
    elif method == "barnard":
        res = sps.barnard_exact(table, alternative=alternative, pooled=pooled)
        p, stat = float(res.pvalue), float(res.statistic)
        name = f"Barnard exact ({'pooled' if pooled else 'unpooled'} Wald statistic)"
    else:
        res = sps.boschloo_exact(table, alternative=alternative)
        p, stat, name = float(res.pvalue), float(res.statistic), "Boschloo exact"
    return Comparison(pc, pt, effect, math.nan, math.nan, p, stat, name + "; no interval",
                      alpha, alternative, relative, details=details)


_SAME_OUTCOME = ("every unit in both arms has the same outcome: the test statistic is 0/0, so "
                 "there is no p-value (as in statsmodels)")


def _z_test(kc, nc, kt, nt, pooled, correction, relative, alpha, alternative) -> Comparison:
    pc, pt = kc / nc, kt / nt
    diff = pt - pc
    pp = (kc + kt) / (nc + nt)
    se = math.sqrt(pp * (1 - pp) * (1 / nc + 1 / nt) if pooled
                   else pc * (1 - pc) / nc + pt * (1 - pt) / nt)
    cc = 0.5 * (1 / nc + 1 / nt) if correction else 0.0
    norm = sps.norm
    # The continuity correction moves the statistic toward 0 and widens the interval.
    if alternative == "two-sided":
        shown = max(abs(diff) - cc, 0.0) if correction else abs(diff)
    elif alternative == "greater":
        shown = max(diff - cc, 0.0) if correction and diff > 0 else diff
    else:
        shown = min(diff + cc, 0.0) if correction and diff < 0 else diff
    # se is 0 only when each arm is all successes or all failures: a difference then is
    # infinitely many standard errors away (as statsmodels), no difference is 0/0
    stat = shown / se if se > 0 else math.copysign(math.inf, shown) if shown else math.nan
    details: dict[str, Any] = {"reason": _SAME_OUTCOME} if math.isnan(stat) else {}
    two = alternative == "two-sided"
    p = 2 * norm.sf(stat) if two else norm.sf(stat) if alternative == "greater" else norm.cdf(stat)
    q = norm.ppf(1 - alpha / 2) if two else norm.ppf(1 - alpha)
    name = (f"two-proportion z ({'pooled' if pooled else 'unpooled'}"
            + (", continuity-corrected" if correction else "") + ")"
            + ("; relative CI from the log ratio" if relative else ""))
    if not relative:
        lo = -1.0 if alternative == "less" else diff - q * se - cc
        hi = 1.0 if alternative == "greater" else diff + q * se + cc
        if details:
            lo = hi = math.nan
        return Comparison(pc, pt, diff, max(lo, -1.0), min(hi, 1.0), float(p), stat, name,
                          alpha, alternative, False, se, details)
    if kt == 0 and not details:
        details["reason"] = "treatment has 0 successes: the log-ratio interval is undefined"
    if details:
        return Comparison(pc, pt, pt / pc - 1, math.nan, math.nan, float(p), stat, name, alpha,
                          alternative, True, math.nan, details)
    log_se = se / pp if pooled else math.sqrt((1 - pc) / (nc * pc) + (1 - pt) / (nt * pt))
    half = math.exp(q * log_se + cc / pc)
    rlo = -1.0 if alternative == "less" else pt / pc / half - 1
    rhi = math.inf if alternative == "greater" else pt / pc * half - 1
    return Comparison(pc, pt, pt / pc - 1, rlo, rhi, float(p), stat, name, alpha, alternative,
                      True, math.nan, {"log_se": log_se})


def _rate_arm(x: Any, name: str) -> tuple[float, float, np.ndarray | None, np.ndarray | None]:
    """``(count, exposure)`` totals, or per-window arrays of counts and exposures."""
    try:
        k, e = x
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected (count, exposure) or (counts, exposures) per "
                         "window") from None
    if np.ndim(k) == 0:
        k, e = float(k), float(e)
        if not (k >= 0 and e > 0):  # written so that NaN fails too
            raise ValueError(f"{name}=({k}, {e}): need count >= 0 and exposure > 0")
        return k, e, None, None
    ka, ea = np.asarray(k, float), np.asarray(e, float)
    if ka.shape != ea.shape or ka.ndim != 1:
        raise ValueError(f"{name}: counts and exposures per window must be 1-D, equal length")
    if not ((ka >= 0).all() and (ea >= 0).all() and ea.sum() > 0):
        raise ValueError(f"{name}: counts and exposures must be >= 0 with some exposure")
    return float(ka.sum()), float(ea.sum()), ka, ea


def estimate_dispersion(*arms: tuple[Any, Any]) -> float:
    """Quasi-Poisson dispersion from per-window counts: Pearson χ² over its degrees of freedom.

    Each arm is ``(counts, exposures)`` per window; under the null of a constant rate per arm,
    a window's expected count is its exposure times the arm's rate. Returns at least 1 (no
    credit is taken for under-dispersion).

    Example:
        >>> estimate_dispersion(([10, 10, 10], [1, 1, 1]))
        1.0
    """
    chi2, df = 0.0, 0
    for k, e in arms:
        k, e = np.asarray(k, float), np.asarray(e, float)
        keep = e > 0
        k, e = k[keep], e[keep]
        mu = e * k.sum() / e.sum()
        ok = mu > 0
        chi2 += float(((k[ok] - mu[ok]) ** 2 / mu[ok]).sum())
        df += int(ok.sum()) - 1
    return max(chi2 / df, 1.0) if df > 0 else 1.0


def _check_events(kc: float, kt: float, relative: bool) -> None:
    """The zero-count cases no rate comparison can answer."""
    if kc == 0 and kt == 0:
        raise ValueError("control and treatment have 0 events: there is no effect to estimate")
    if relative and kc == 0:
        raise ValueError("control has 0 events: a relative effect is undefined")


def rate_test(
    control: tuple[Any, Any],
    treatment: tuple[Any, Any],
    *,
    method: RateMethod = "score",
    dispersion: float | None = None,
    paired: bool = False,
    relative: bool = True,
    alpha: float = D.ALPHA,
    alternative: Alternative = "two-sided",
) -> Comparison:
    """Compare Poisson rates (events per exposure, e.g. clicks per recommendation served).

    An arm is ``(count, exposure)``, or ``(counts, exposures)`` per window. With windows and
    ``dispersion=None`` the over-dispersion is estimated from window-to-window variation
    (quasi-Poisson) and, when above 1, the test becomes a Wald test on the log rate ratio with
    the variance scaled by it. ``method``: ``exact`` (conditional binomial test, Clopper–Pearson
    interval), ``score`` or ``wald`` (statsmodels' ``test_poisson_2indep`` and
    ``confint_poisson_2indep``; ``wald`` is on the log rate ratio when ``relative``).

    With per-window arrays for both arms aligned on the same windows, ``paired=True`` fits the
    window-stratified rate ratio instead: conditional on a window's total, the treatment's count
    is binomial, so anything common to both sources in that window (time of day, a traffic
    spike) cancels; over-dispersion is the Pearson χ² of that fit over its degrees of freedom
    (statsmodels GLM, quasi-likelihood). This is what :func:`attrkit.compare` uses.

    The effect is the rate ratio − 1 (``relative=True``) or the rate difference.

    Zero counts: with 0 control events a relative effect is undefined and with 0 events in both
    arms there is nothing to estimate: both raise ``ValueError``. With 0 treatment events the
    effect is −100 %; ``exact`` gives its Clopper–Pearson interval, ``score``, quasi-Poisson and
    ``paired`` the (quasi-)score interval ``[−100 %, upper]`` (the Wald and log-scale intervals
    collapse there), and ``wald`` raises ``ValueError``.

    Example:
        >>> r = rate_test((100, 1000.0), (130, 1000.0), method="exact")
        >>> round(r.effect, 2), round(r.p_value, 3)
        (0.3, 0.056)
        >>> r = rate_test((10, 1000.0), (0, 1000.0))
        >>> r.effect, r.ci_low, round(r.ci_high, 3)
        (-1.0, -1.0, -0.616)
    """
    alpha, alternative = check_alpha(alpha), check_alternative(alternative)
    check_choice("method", method, ("exact", "score", "wald"))
    kc, ec, kc_w, ec_w = _rate_arm(control, "control")
    kt, et, kt_w, et_w = _rate_arm(treatment, "treatment")
    _check_events(kc, kt, relative)
    rc, rt = kc / ec, kt / et
    if paired:
        if kc_w is None or kt_w is None or kc_w.shape != kt_w.shape:
            raise ValueError("paired=True: give (counts, exposures) per window for both arms, "
                             "aligned on the same windows")
        if not relative:
            raise ValueError("paired=True: gives a rate ratio; use relative=True")
        return _stratified_rate_ratio(kc_w, ec_w, kt_w, et_w, dispersion, alpha, alternative)
    phi = dispersion
    if phi is None and kc_w is not None and kt_w is not None:
        phi = estimate_dispersion((kc_w, ec_w), (kt_w, et_w))
    if phi is not None and (not math.isfinite(phi) or phi <= 0):
        raise ValueError(f"dispersion={dispersion!r}: must be a positive number")
    details: dict[str, Any] = {"dispersion": phi if phi is not None else 1.0,
                               "control_count": kc, "treatment_count": kt}
    quasi = phi is not None and phi > 1.0
    if relative and kt == 0 and (quasi or method == "score"):
        lo, hi, p, stat = _ratio_without_treatment_events(np.array([kc]), np.array([et / ec]),
                                                          phi if quasi else 1.0, alpha,
                                                          alternative)
        name = (f"quasi-Poisson score (dispersion {phi:.2f} from windows)" if quasi
                else "Poisson score test (ratio)")
        return Comparison(rc, rt, -1.0, lo, hi, p, stat, name + "; 0 treatment events", alpha,
                          alternative, True, math.nan, details)
    if quasi:
        if relative:
            log_se = math.sqrt(phi * (1 / kc + 1 / kt))
            lo, hi, p, stat = interval_and_p(math.log(rt / rc), log_se, alpha, alternative)
            effect, lo, hi = rt / rc - 1, math.exp(lo) - 1, math.exp(hi) - 1
        else:
            se = math.sqrt(phi * (kc / ec**2 + kt / et**2))
            effect = rt - rc
            lo, hi, p, stat = interval_and_p(effect, se, alpha, alternative)
        name = f"quasi-Poisson Wald (dispersion {phi:.2f} from windows)"
        return Comparison(rc, rt, effect, lo, hi, p, stat, name, alpha, alternative, relative,
                          math.nan, details)
    compare = "ratio" if relative else "diff"
    if method == "exact":
        if not relative:
            raise ValueError("method='exact': gives a rate ratio; use relative=True")
        k = int(round(kc + kt))
        p0 = et / (et + ec)
        res = sps.binomtest(int(round(kt)), k, p0, alternative=alternative)
        ci = res.proportion_ci(confidence_level=1 - alpha, method="exact") if alternative == \
            "two-sided" else _one_sided_cp(int(round(kt)), k, alpha, alternative)

        def to_ratio(q: float) -> float:  # binomial share of treatment events → rate ratio − 1
            return q / (1 - q) * ec / et - 1 if q < 1 else math.inf

        lo, hi = to_ratio(ci[0]) if ci[0] > 0 else -1.0, to_ratio(ci[1])
        if alternative == "greater":
            hi = math.inf
        elif alternative == "less":
            lo = -1.0 if ci[0] == 0 else lo
        return Comparison(rc, rt, rt / rc - 1, lo, hi, float(res.pvalue),
                          math.nan, "Poisson exact conditional (binomial) test",
                          alpha, alternative, True, math.nan, details)
    if method == "wald" and relative and kt == 0:
        raise ValueError("method='wald': the log rate ratio is undefined with 0 treatment "
                         "events; use method='score' or 'exact'")
    # statsmodels has the Wald interval of a ratio on the log scale only; test on the same
    sm_method = "wald-log" if method == "wald" and relative else method
    alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
    # statsmodels also forms the rate ratio, which warns when the control has 0 events
    with np.errstate(divide="ignore", invalid="ignore"):
        res = test_poisson_2indep(kt, et, kc, ec, method=sm_method, compare=compare,
                                  alternative=alt)
        lo, hi = confint_poisson_2indep(kt, et, kc, ec, method=sm_method, compare=compare,
                                        alpha=alpha if alternative == "two-sided" else 2 * alpha)
    if alternative == "greater":
        hi = math.inf
    elif alternative == "less":
        lo = -math.inf
    if relative:
        effect, lo, hi = rt / rc - 1, max(lo - 1, -1.0), hi - 1
    else:
        effect = rt - rc
    label = "log ratio" if sm_method == "wald-log" else compare
    return Comparison(rc, rt, effect, float(lo), float(hi), float(res.pvalue),
                      float(res.statistic), f"Poisson {method} test ({label})", alpha,
                      alternative, relative, math.nan, details)


def _one_sided_cp(k: int, n: int, alpha: float, alternative: str) -> tuple[float, float]:
    """One-sided Clopper–Pearson bounds for a binomial proportion."""
    if alternative == "greater":
        low = 0.0 if k == 0 else float(sps.beta.ppf(alpha, k, n - k + 1))
        return low, 1.0
    high = 1.0 if k == n else float(sps.beta.ppf(1 - alpha, k + 1, n - k))
    return 0.0, high


def _ratio_without_treatment_events(
    n: np.ndarray, a: np.ndarray, phi: float, alpha: float, alternative: Alternative,
) -> tuple[float, float, float, float]:
    """``(ci_low, ci_high, p_value, statistic)`` of the rate ratio − 1 with 0 treatment events.

    Conditional on a window's total ``n_i`` the treatment's count is binomial with share
    ``p_i = r a_i / (1 + r a_i)`` (``a_i``: treatment over control exposure). With no treatment
    events the (quasi-)score statistic for ratio ``r`` is ``−s(r)``, ``s(r) = Σ n p /
    sqrt(φ Σ n p (1 − p))``, which rises from 0 at ``r = 0``: the interval is ``[0, r_up]``
    with ``s(r_up)`` at the normal quantile, the p-value that of ``r = 1``. For one window and
    φ = 1 this is the Wilson bound, the upper end of statsmodels' score interval (whose root
    search misses the lower end, 0, here).
    """

    def s(r: float) -> float:
        if r == 0:
            return 0.0
        p = r * a / (1 + r * a)
        return float((n * p).sum() / math.sqrt(phi * (n * p * (1 - p)).sum()))

    stat = -s(1.0)
    if alternative == "two-sided":
        q, p_value = sps.norm.isf(alpha / 2), 2 * sps.norm.sf(-stat)
    else:
        q = sps.norm.isf(alpha)
        p_value = sps.norm.sf(stat) if alternative == "greater" else sps.norm.cdf(stat)
    hi = math.inf
    if alternative != "greater":
        top = 1.0
        while s(top) < q:
            top *= 2
        hi = brentq(lambda r: s(r) - q, 0.0, top, xtol=1e-14, rtol=1e-12) - 1
    return -1.0, hi, float(p_value), stat


def _stratified_rate_ratio(kc, ec, kt, et, dispersion, alpha, alternative) -> Comparison:
    """Rate ratio with a nuisance rate per window: conditional binomial GLM, quasi-likelihood."""
    import statsmodels.api as sm

    keep = (kc + kt > 0) & (ec > 0) & (et > 0)
    n = kc[keep] + kt[keep]
    if kc[keep].sum() == 0:
        raise ValueError("control has 0 events in the windows where both sources were served: "
                         "a relative effect is undefined")
    if keep.sum() < 2:
        raise ValueError("paired rate test: need events in at least 2 windows where both "
                         "sources were served")
    rc, rt = kc.sum() / ec.sum(), kt.sum() / et.sum()
    windows = int(keep.sum())
    if kt[keep].sum() == 0:
        # the fit's estimate is a ratio of 0, on the boundary, where its Wald interval
        # collapses; every residual there is 0, so the dispersion is 1 unless given
        phi = dispersion if dispersion is not None else 1.0
        lo, hi, p, stat = _ratio_without_treatment_events(n, et[keep] / ec[keep], phi, alpha,
                                                          alternative)
        return Comparison(rc, rt, -1.0, lo, hi, p, stat,
                          f"Poisson rate ratio stratified by window, score interval "
                          f"(dispersion {phi:.2f}); 0 treatment events", alpha, alternative,
                          True, math.nan, {"dispersion": phi, "windows": windows,
                                           "log_rate_ratio": -math.inf})
    model = sm.GLM(kt[keep] / n, np.ones((n.size, 1)), family=sm.families.Binomial(),
                   offset=np.log(et[keep] / ec[keep]), var_weights=n)
    fit = model.fit()
    phi = dispersion if dispersion is not None else max(
        float(fit.pearson_chi2 / fit.df_resid) if fit.df_resid > 0 else 1.0, 1.0)
    log_rr = float(fit.params[0])
    se = float(fit.bse[0]) * math.sqrt(phi)
    lo, hi, p, stat = interval_and_p(log_rr, se, alpha, alternative)
    return Comparison(rc, rt, math.exp(log_rr) - 1, math.exp(lo) - 1, math.exp(hi) - 1, p, stat,
                      f"Poisson rate ratio stratified by window (dispersion {phi:.2f})", alpha,
                      alternative, True, se,
                      {"dispersion": phi, "windows": windows, "log_rate_ratio": log_rr})
