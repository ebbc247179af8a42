"""Comparing sources: every metric × pair of sources, with the method the data calls for.

:func:`compare` works on the windowed frame (attrkit's own, or a Personalize report read back);
:func:`compare_users` on per-user values when users were randomised between sources;
:func:`monitor` evaluates the always-valid test after every window. Methods chosen by
``method="auto"`` (spec/statistics.md):

- a count metric (``samplecount``) with an exposure → Poisson rate ratio stratified by window
  (what both sources share in a window cancels), over-dispersion estimated from
  window-to-window variation (quasi-likelihood);
- a sum metric with an exposure → ratio of rates per exposure, paired by window, Newey–West;
- no exposure → paired by window: ratio of totals, Newey–West.
"""

from __future__ import annotations

import html
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from attrkit import _defaults as D
from attrkit.stats import (
    Comparison,
    CupedStats,
    RatioStats,
    adjust_pvalues,
    cuped_test,
    mean_test,
    paired_window_test,
    rate_test,
    ratio_test,
    srm_test,
)
from attrkit.stats._core import check_alpha, check_choice, interval_and_p
from attrkit.stats.multiple import CORRECTIONS
from attrkit.stats.paired import hac_se_of_mean, newey_west_lags
from attrkit.stats.sequential import sequential_rho

Method = Literal["auto", "rate", "paired"]
MIN_WINDOWS = 30
"""Fewer windows than this and a Newey–West standard error is not to be trusted."""
MAX_UNATTRIBUTED_SHARE = 0.5

RESULT_SCHEMA = pl.Schema({
    "metric": pl.String, "control": pl.String, "treatment": pl.String,
    "control_total": pl.Float64, "treatment_total": pl.Float64,
    "control_exposure": pl.Float64, "treatment_exposure": pl.Float64,
    "control_rate": pl.Float64, "treatment_rate": pl.Float64,
    "effect": pl.Float64, "lift": pl.Float64, "lift_ci_low": pl.Float64,
    "lift_ci_high": pl.Float64, "p_value": pl.Float64, "p_adjusted": pl.Float64,
    "significant": pl.Boolean, "method": pl.String, "why": pl.String, "windows": pl.Int64,
    "warnings": pl.String,
})


def _frame(x: Any, what: str) -> pl.DataFrame:
    if hasattr(x, "windows") and isinstance(x.windows, pl.DataFrame):
        return x.windows
    if isinstance(x, pl.LazyFrame):
        return x.collect()
    if isinstance(x, pl.DataFrame):
        return x
    if type(x).__module__.startswith("pandas"):
        return pl.from_pandas(x)
    raise TypeError(f"{what}: expected a polars or pandas frame, got {type(x).__name__}")


def exposure_from_log(
    recommendations: Any,
    *,
    window_seconds: int = D.WINDOW_SECONDS,
    window_origin: int = D.WINDOW_ORIGIN,
) -> pl.DataFrame:
    """Recommendations served per source and window, from the recommendations log.

    Args:
        recommendations: a path or frame of the log (``SOURCE``, ``TIMESTAMP``; see README).

    Returns:
        A frame with ``timestamp`` (window start), ``source`` and ``exposure``.
    """
    from attrkit.engine import attribute_exposure

    return attribute_exposure(recommendations, window_seconds=window_seconds,
                              window_origin=window_origin)


@dataclass(frozen=True)
class ComparisonTable:
    """The result of :func:`compare`: one row per metric and pair of sources.

    Attributes:
        frame: the rows (see :data:`RESULT_SCHEMA`); ``lift`` is relative, with its interval.
        warnings: checks that failed for the whole report (SRM, unattributed share, ...).
        srm: the traffic-share check, when there was one.
        alpha, correction: the options used.
    """

    frame: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    srm: Any = None
    alpha: float = 0.05
    correction: str = "holm"

    def to_polars(self) -> pl.DataFrame:
        return self.frame

    def to_pandas(self) -> Any:
        return self.frame.to_pandas()

    def row(self, metric: str, control: str, treatment: str) -> dict[str, Any]:
        """One comparison as a dict."""
        hit = self.frame.filter(metric=metric.upper(), control=control, treatment=treatment)
        if hit.height != 1:
            raise KeyError(f"no comparison of {treatment!r} against {control!r} on {metric!r}")
        return hit.row(0, named=True)

    def _repr_html_(self) -> str:
        def pct(x: float | None) -> str:
            return "–" if x is None or not math.isfinite(x) else f"{x:+.1%}"

        head = ("<tr><th>metric</th><th>control</th><th>treatment</th><th>lift</th>"
                f"<th>{1 - self.alpha:.0%} CI</th><th>p</th><th>p ({html.escape(self.correction)})"
                "</th><th>method</th></tr>")
        rows = []
        for r in self.frame.iter_rows(named=True):
            mark = " <b>*</b>" if r["significant"] else ""
            rows.append(
                "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
                    r["metric"], r["control"], r["treatment"])) +
                f"<td>{pct(r['lift'])}{mark}</td>"
                f"<td>[{pct(r['lift_ci_low'])}, {pct(r['lift_ci_high'])}]</td>"
                f"<td>{r['p_value']:.3g}</td><td>{r['p_adjusted']:.3g}</td>"
                f"<td>{html.escape(r['method'])}</td></tr>")
        warn = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        return (f"<table class='attrkit-compare'>{head}{''.join(rows)}</table>"
                + (f"<ul class='attrkit-warnings'>{warn}</ul>" if warn else ""))


def _series(windows: pl.DataFrame, metric: str, source: str) -> pl.DataFrame:
    return windows.filter(metric_name=metric, source=source).select("timestamp", "value")


def _side_by_side(c: pl.DataFrame, t: pl.DataFrame) -> pl.DataFrame:
    """Two per-window frames on one row per window (treatment's columns suffixed ``_t``); a
    window missing on one side counts as 0 there."""
    return c.join(t, on="timestamp", how="full", coalesce=True, suffix="_t").with_columns(
        pl.exclude("timestamp").fill_null(0.0))


def _exposure(windows: Any, exposure: Any) -> pl.DataFrame | None:
    """The exposure frame: given, or the Attribution's own; a recommendations log is counted."""
    if exposure is None:
        exposure = getattr(windows, "exposure", None)
    if exposure is None:
        return None
    exp = _frame(exposure, "exposure")
    if "exposure" not in exp.columns and "SOURCE" in exp.columns:
        exp = exposure_from_log(exp)
    need = {"timestamp", "source", "exposure"} - set(exp.columns)
    if need:
        raise ValueError(f"exposure: missing columns {sorted(need)}")
    return exp


def _log_ratio_of_rates(both: pl.DataFrame, alpha: float, alternative: str
                        ) -> tuple[float, float, float, float, int, int]:
    """Relative difference of two sources' rates per exposure, paired by window, HAC."""
    j = both.filter((pl.col("exposure") > 0) | (pl.col("exposure_t") > 0))
    vc, ec = j["value"].to_numpy(), j["exposure"].to_numpy()
    vt, et = j["value_t"].to_numpy(), j["exposure_t"].to_numpy()
    a, b, cc, d = vt.mean(), et.mean(), vc.mean(), ec.mean()
    z = vt / a - et / b - vc / cc + ec / d
    lags = newey_west_lags(z.size)
    se = hac_se_of_mean(z, lags)
    log_r = math.log(a / b) - math.log(cc / d)
    lo, hi, p, _ = interval_and_p(log_r, se, alpha, alternative, z.size - 1)
    return math.exp(log_r) - 1, math.exp(lo) - 1, math.exp(hi) - 1, p, z.size, lags


def compare(
    windows: Any,
    *,
    metrics: list[str] | None = None,
    exposure: Any = None,
    baseline: str | None = None,
    sources: list[str] | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
    method: Method = "auto",
    traffic_weights: dict[str, float] | None = None,
    traffic: Any = None,
    srm_threshold: float = 0.001,
) -> ComparisonTable:
    """Compare sources on every metric, with multiple-comparison correction across all rows.

    Args:
        windows: the tidy windowed frame (or an :class:`~attrkit.Attribution`).
        metrics: metric names to compare (default all).
        exposure: recommendations served per source and window: a frame with ``timestamp``,
            ``source``, ``exposure`` (see :func:`exposure_from_log`). Sources without exposure
            are compared on their per-window totals.
        baseline: compare every source with this one; default every pair.
        sources: the sources to compare (default all but ``SOURCE_NAME_UNDEFINED``).
        alpha, correction: significance level; p-value adjustment across all rows.
        method: ``auto`` (see the module docs), ``rate`` or ``paired``.
        traffic_weights: planned traffic shares per source, for the SRM check; without it and
            with an exposure, the sources with exposure are checked against an equal split.
        traffic: users per source (``source``, ``users``), the unit of randomisation, for the
            SRM check; an :class:`~attrkit.Attribution` with a log that has ``USER_ID`` brings
            it. Without it, recommendations served are counted instead (a warning says so).

    Example:
        >>> import polars as pl, numpy as np
        >>> rng = np.random.default_rng(0)
        >>> ts = np.arange(96) * 900
        >>> w = pl.DataFrame({"timestamp": np.tile(ts, 2), "metric_name": "CLICKS",
        ...     "source": ["A"] * 96 + ["B"] * 96,
        ...     "value": np.concatenate([rng.poisson(100, 96), rng.poisson(120, 96)]) * 1.0})
        >>> t = compare(w, baseline="A")
        >>> row = t.row("CLICKS", "A", "B")
        >>> row["lift_ci_low"] < 0.2 < row["lift_ci_high"], row["significant"]
        (True, True)
    """
    alpha = check_alpha(alpha)
    check_choice("correction", correction, CORRECTIONS)
    check_choice("method", method, ("auto", "rate", "paired"))
    exp = _exposure(windows, exposure)
    w = _frame(windows, "windows")
    missing = {"timestamp", "metric_name", "source", "value"} - set(w.columns)
    if missing:
        raise ValueError(f"windows: missing columns {sorted(missing)}; pass attrkit's windowed "
                         "frame or read_report(...)")
    math_fn = dict(w.select("metric_name", "math_function").unique().iter_rows()) \
        if "math_function" in w.columns else {}
    all_metrics = sorted(w["metric_name"].unique().to_list())
    chosen = [m.upper() for m in metrics] if metrics else all_metrics
    unknown = sorted(set(chosen) - set(all_metrics))
    if unknown:
        raise ValueError(f"metrics: {unknown[0]!r} is not in the windows; metrics are "
                         f"{all_metrics}")
    present = w["source"].unique().sort().to_list()
    src = sources or [s for s in present if s != D.UNDEFINED_SOURCE]
    for s in [*src, *([baseline] if baseline else [])]:
        if s not in present:
            raise ValueError(f"source {s!r}: not in the windows; sources are {present}")
    if baseline:
        pairs = [(baseline, s) for s in src if s != baseline]
    else:
        pairs = list(itertools.combinations(src, 2))
    if not pairs:
        raise ValueError("need at least two sources to compare")

    exposed = set(exp["source"].unique().to_list()) if exp is not None else set()

    warnings: list[str] = []
    total = w.filter(pl.col("metric_name") == chosen[0])
    undefined = total.filter(source=D.UNDEFINED_SOURCE)["value"].sum()
    share = undefined / total["value"].sum() if total["value"].sum() else 0.0
    if share > MAX_UNATTRIBUTED_SHARE:
        warnings.append(f"{share:.1%} of {chosen[0]} is unattributed (SOURCE_NAME_UNDEFINED); "
                        "check labels and the recommendations log")
    srm = None
    if traffic is None:
        traffic = getattr(windows, "traffic", None)
    weights_src = list(traffic_weights) if traffic_weights else [s for s in src if s in exposed]
    if len(weights_src) >= 2 and (traffic is not None or exp is not None):
        # Randomisation is by user: count users where known; recommendations served cluster
        # within users and would raise false alarms.
        if traffic is not None:
            tr = _frame(traffic, "traffic")
            counts = [float(tr.filter(source=s)["users"].sum()) for s in weights_src]
            unit = "users"
        else:
            counts = [float(exp.filter(source=s)["exposure"].sum()) for s in weights_src]
            unit = "recommendations served"
        weights = [traffic_weights[s] for s in weights_src] if traffic_weights else None
        srm = srm_test(counts, weights, threshold=srm_threshold)
        if srm.mismatch:
            warnings.append(f"sample ratio mismatch in {unit} (p = {srm.p_value:.2g}) across "
                            f"{', '.join(weights_src)}")

    rows = []
    for metric in chosen:
        fn = math_fn.get(metric, "samplecount")
        for control, treatment in pairs:
            rows.append(_one(w, exp, metric, fn, control, treatment, exposed, alpha, method))
    frame = pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row")
    adj = adjust_pvalues(frame["p_value"].fill_nan(1.0).to_numpy(), correction, alpha=alpha)
    frame = frame.with_columns(pl.Series("p_adjusted", adj.p_adjusted),
                               pl.Series("significant", adj.rejected))
    return ComparisonTable(frame, warnings, srm, alpha, correction)


def _one(w, exp, metric, fn, control, treatment, exposed, alpha, method) -> dict[str, Any]:
    c, t = _series(w, metric, control), _series(w, metric, treatment)
    row: dict[str, Any] = {
        "metric": metric, "control": control, "treatment": treatment,
        "control_total": float(c["value"].sum()), "treatment_total": float(t["value"].sum()),
        "control_exposure": None, "treatment_exposure": None,
        "control_rate": None, "treatment_rate": None,
    }
    notes = []
    use_rate = (exp is not None and control in exposed and treatment in exposed
                and method in ("auto", "rate"))
    if method == "rate" and not use_rate:
        raise ValueError(f"method='rate': sources {control!r} and {treatment!r} both need an "
                         "exposure")
    if use_rate:
        ce = exp.filter(source=control).select("timestamp", "exposure")
        te = exp.filter(source=treatment).select("timestamp", "exposure")
        cj = ce.join(c, on="timestamp", how="left").with_columns(pl.col("value").fill_null(0.0))
        tj = te.join(t, on="timestamp", how="left").with_columns(pl.col("value").fill_null(0.0))
        ec, et = float(ce["exposure"].sum()), float(te["exposure"].sum())
        row.update(control_exposure=ec, treatment_exposure=et,
                   control_rate=row["control_total"] / ec, treatment_rate=row["treatment_total"] / et)
        orphan = (c.height - c.join(ce, on="timestamp", how="semi").height
                  + t.height - t.join(te, on="timestamp", how="semi").height)
        if orphan:
            notes.append(f"{orphan} windows have events but no recommendations served")
        n_windows = max(cj.height, tj.height)
        both = _side_by_side(cj, tj)
        if fn == "samplecount":
            rel = rate_test((both["value"].to_numpy(), both["exposure"].to_numpy()),
                            (both["value_t"].to_numpy(), both["exposure_t"].to_numpy()),
                            paired=True, alpha=alpha)
            row.update(effect=row["treatment_rate"] - row["control_rate"], lift=rel.effect,
                       lift_ci_low=rel.ci_low, lift_ci_high=rel.ci_high, p_value=rel.p_value,
                       method=rel.method,
                       why="a count with an exposure: Poisson rate ratio, windows as strata, "
                           "dispersion from windows")
        else:
            lift, lo, hi, p, n_windows, lags = _log_ratio_of_rates(both, alpha, "two-sided")
            row.update(effect=row["treatment_rate"] - row["control_rate"], lift=lift,
                       lift_ci_low=lo, lift_ci_high=hi, p_value=p,
                       method=f"ratio of rates per exposure, paired by window, Newey–West "
                              f"({lags} lags)",
                       why="a sum with an exposure: rate per exposure, windows paired")
    else:
        try:
            rel = paired_window_test(c, t, relative=True, alpha=alpha, min_windows=2)
            # the absolute effect is the mean per-window difference; no second HAC fit needed
            row.update(effect=rel.treatment - rel.control, lift=rel.effect, lift_ci_low=rel.ci_low,
                       lift_ci_high=rel.ci_high, p_value=rel.p_value, method=rel.method,
                       why="no exposure for both sources: per-window totals, windows paired")
            n_windows = rel.details["windows"]
        except ValueError as exc:
            n_windows = c.join(t, on="timestamp", how="full").height
            row.update(effect=math.nan, lift=math.nan, lift_ci_low=math.nan,
                       lift_ci_high=math.nan, p_value=math.nan, method="not computed",
                       why=str(exc))
    if n_windows < MIN_WINDOWS:
        notes.append(f"only {n_windows} windows: the standard error is unreliable below "
                     f"{MIN_WINDOWS}")
    row.update(p_adjusted=None, significant=None, windows=n_windows,
               warnings="; ".join(notes) or None)
    return row


def _cumulative_mean_lift(vc: np.ndarray, vt: np.ndarray, relative: bool
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Effect and standard error after each window, windows as units (Welch, delta method)."""
    k = np.arange(1, vc.size + 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mc, mt = np.cumsum(vc) / k, np.cumsum(vt) / k
        var_c = (np.cumsum(vc**2) - k * mc**2) / (k - 1)
        var_t = (np.cumsum(vt**2) - k * mt**2) / (k - 1)
        if relative:
            effect = (mt - mc) / mc
            se = np.sqrt(var_t / (mc**2 * k) + var_c * mt**2 / (mc**4 * k))
        else:
            effect, se = mt - mc, np.sqrt(var_c / k + var_t / k)
    return effect, se, 2 * k


def _cumulative_ratio_lift(vc: np.ndarray, ec: np.ndarray, vt: np.ndarray, et: np.ndarray,
                           relative: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`_cumulative_mean_lift` for value per exposure (delta method per window)."""
    k = np.arange(1, vc.size + 1, dtype=float)

    def arm(v: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            mv, me = np.cumsum(v) / k, np.cumsum(e) / k
            var_v = (np.cumsum(v**2) - k * mv**2) / (k - 1)
            var_e = (np.cumsum(e**2) - k * me**2) / (k - 1)
            cov = (np.cumsum(v * e) - k * mv * me) / (k - 1)
            unit = var_v / me**2 - 2 * cov * mv / me**3 + var_e * mv**2 / me**4
            return mv / me, unit / k

    rc, vrc = arm(vc, ec)
    rt, vrt = arm(vt, et)
    with np.errstate(divide="ignore", invalid="ignore"):
        if relative:
            return (rt - rc) / rc, np.sqrt(vrt / rc**2 + vrc * rt**2 / rc**4), 2 * k
        return rt - rc, np.sqrt(vrc + vrt), 2 * k


def monitor(
    windows: Any,
    *,
    metric: str,
    control: str,
    treatment: str,
    exposure: Any = None,
    n_star: float = 5000,
    alpha: float = 0.05,
    relative: bool = True,
) -> pl.DataFrame:
    """The always-valid test evaluated cumulatively after each window.

    Each window is a unit: per-window values (or, with an exposure, the ratio of value to
    exposure, by the delta method) accumulate, and the two-sided
    :func:`~attrkit.stats.sequential_test` runs on everything seen so far (vectorised over
    windows). Peeking at every row keeps the error rate at ``alpha``.

    Returns:
        A frame: ``timestamp``, ``window_start``, ``windows``, ``effect``, ``ci_low``,
        ``ci_high``, ``p_value``, ``significant``.
    """
    alpha = check_alpha(alpha)
    exp = _exposure(windows, exposure)
    w = _frame(windows, "windows")
    metric = metric.upper()
    c = _series(w, metric, control)
    t = _series(w, metric, treatment)
    if exp is not None:
        c, t = (_side_by_side(arm, exp.filter(source=s).select("timestamp", "exposure"))
                for arm, s in ((c, control), (t, treatment)))
    j = _side_by_side(c, t).sort("timestamp")
    vc, vt = j["value"].to_numpy(), j["value_t"].to_numpy()
    if exp is not None:
        ec, et = j["exposure"].to_numpy(), j["exposure_t"].to_numpy()
        effect, se, n = _cumulative_ratio_lift(vc, ec, vt, et, relative)
    else:
        effect, se, n = _cumulative_mean_lift(vc, vt, relative)
    rho = sequential_rho(alpha, n_star)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = n * rho**2 + 1
        width = np.sqrt(se**2 * n) * np.sqrt(2 * v * np.log(np.sqrt(v) / alpha) / (n * rho) ** 2)
        st2 = effect**2 * n / se**2
        p = np.minimum(1.0, np.sqrt(v) / np.exp(rho**2 * st2 / (2 * v)))
    ok = np.isfinite(effect) & np.isfinite(se) & (se > 0)
    frame = pl.DataFrame({
        "timestamp": j["timestamp"].cast(pl.Int64), "windows": np.arange(1, j.height + 1),
        "effect": effect, "ci_low": effect - width, "ci_high": effect + width, "p_value": p,
    }).filter(pl.Series(ok))
    from attrkit.windows import to_datetime

    return frame.with_columns(
        to_datetime(pl.col("timestamp")).alias("window_start"),
        (pl.col("p_value") < alpha).alias("significant"),
    )


def compare_users(
    users: Any,
    *,
    arm: str = "source",
    metrics: list[str] | None = None,
    ratios: dict[str, tuple[str, str]] | None = None,
    pre: dict[str, str] | None = None,
    baseline: str | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
) -> pl.DataFrame:
    """Compare sources when users were randomised between them: one row per user.

    Args:
        users: a frame with one row per user, the ``arm`` column naming the user's source and
            one column per metric (per-user values, e.g. clicks).
        metrics: mean metrics (columns) to compare with Welch's t.
        ratios: ratio metrics, ``name → (numerator column, denominator column)``, compared by
            the delta method (e.g. minutes per click).
        pre: ``metric → pre-period column``: those mean metrics are CUPED-adjusted.
        baseline: the control arm; default the first arm in sort order.

    Returns:
        One row per metric and treatment arm: means, relative lift with interval, p-value,
        adjusted p-value, method.
    """
    alpha = check_alpha(alpha)
    check_choice("correction", correction, CORRECTIONS)
    u = _frame(users, "users")
    if arm not in u.columns:
        raise ValueError(f"arm={arm!r}: not a column of users (columns: {u.columns})")
    arms = u[arm].unique().sort().to_list()
    control = baseline if baseline is not None else arms[0]
    if control not in arms:
        raise ValueError(f"baseline={baseline!r}: not an arm; arms are {arms}")
    metrics = metrics or []
    ratios = ratios or {}
    pre = pre or {}
    for col in [*metrics, *pre.values(), *(c for pair in ratios.values() for c in pair)]:
        if col not in u.columns:
            raise ValueError(f"column {col!r}: not in users (columns: {u.columns})")
    if not metrics and not ratios:
        raise ValueError("metrics or ratios: name at least one metric")
    rows = []
    cu = u.filter(pl.col(arm) == control)
    for treatment in [a for a in arms if a != control]:
        tu = u.filter(pl.col(arm) == treatment)
        for m in metrics:
            if m in pre:
                r: Comparison = cuped_test(
                    CupedStats.from_arrays(cu[m].to_numpy(), cu[pre[m]].to_numpy()),
                    CupedStats.from_arrays(tu[m].to_numpy(), tu[pre[m]].to_numpy()),
                    relative=True, alpha=alpha)
            else:
                r = mean_test(cu[m].to_numpy(), tu[m].to_numpy(), relative=True, alpha=alpha)
            rows.append((m, control, treatment, cu.height, tu.height, r))
        for name, (num, den) in ratios.items():
            r = ratio_test(RatioStats.from_frame(cu, num, den), RatioStats.from_frame(tu, num, den),
                           relative=True, alpha=alpha)
            rows.append((name, control, treatment, cu.height, tu.height, r))
    adj = adjust_pvalues([r.p_value for *_, r in rows], correction, alpha=alpha)
    return pl.DataFrame([
        {"metric": m, "control": c, "treatment": t, "control_users": nc, "treatment_users": nt,
         "control_mean": r.control, "treatment_mean": r.treatment, "lift": r.effect,
         "lift_ci_low": r.ci_low, "lift_ci_high": r.ci_high, "p_value": r.p_value,
         "p_adjusted": float(pa), "significant": bool(rej), "method": r.method}
        for (m, c, t, nc, nt, r), pa, rej in zip(rows, adj.p_adjusted, adj.rejected, strict=True)
    ])


__all__ = ["ComparisonTable", "compare", "compare_users", "exposure_from_log", "monitor"]
