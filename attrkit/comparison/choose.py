"""Comparing sources: every metric × pair of sources, analysed as the design was randomised.

:func:`compare` takes an :class:`~attrkit.Attribution` (or a windowed frame, e.g. a Personalize
report read back) and a declared ``design`` (spec/statistics.md):

- ``"users"`` (the default when the recommendations log has ``USER_ID``): users were assigned
  to one source each. The units are the users in the log, each in the arm that served them
  first, a user without events counting as zero. Per metric and pair of arms: the metric per
  assigned user (Welch; the primary result), per recommendation served (ratio of per-user sums,
  delta method) and the user's total across all sources (Welch). Sources nobody randomised (a
  labelled carousel, organic traffic) are *described* (:attr:`ComparisonTable.described`), not
  tested.
- ``"requests"``: each request was randomised on its own, so windows are valid units. With
  ``method="auto"``: a count with an exposure → Poisson rate ratio stratified by window,
  over-dispersion from window-to-window variation; a sum with an exposure → ratio of rates per
  exposure, paired by window, Newey–West; no exposure → per-window totals paired by window,
  Newey–West.
- ``"observational"``: nothing was randomised: every comparison is described, none tested.

Every tested row also carries the decision numbers (:func:`~attrkit.stats.decision`): the chance
that the treatment beats the control and the expected loss of choosing it, from a normal
approximation on the relative lift (delta-method standard error) with a weak Normal(0, 0.3²)
prior, as GrowthBook's Bayesian engine.

Without per-user data and without a declared design (report CSVs, CloudWatch, a log without
``USER_ID``), the window-level results are shown with a statement that they assume
request-level randomisation, and no verdict.

:func:`monitor` evaluates the always-valid test at each look (each day for users, each window
for requests); :func:`compare_users` compares a frame of per-user values directly.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from fractions import Fraction
from statistics import NormalDist
from typing import Any, Literal

import polars as pl

from attrkit import defaults as D
from attrkit.attribution.engine import attribute_exposure
from attrkit.attribution.moments import cuped_theta, in_units, scaled
from attrkit.attribution.users import DAY, UserData
from attrkit.comparison.results import KINDS, NO_DESIGN, ComparisonTable
from attrkit.comparison.results import verdicts as _verdicts
from attrkit.errors import ConfigError, InputError
from attrkit.frames import RESULT_SCHEMA, to_polars, when
from attrkit.names import resolve_source, short_name
from attrkit.stats import (
    Comparison,
    RatioStats,
    adjust_pvalues,
    difference_skewness,
    max_skewness,
    mean_test,
    paired_window_test,
    rate_test,
    ratio_test,
    srm_test,
)
from attrkit.stats._core import SampleStats, check_alpha, check_choice
from attrkit.stats.bayes import decision
from attrkit.stats.fieller import cuped_lift_test, lift_test
from attrkit.stats.means import cuped_adjusted
from attrkit.stats.multiple import CORRECTIONS
from attrkit.stats.paired import paired_rate_ratio_test

Method = Literal["auto", "rate", "paired"]
Design = Literal["users", "requests", "observational"]
DESIGNS = D.DESIGNS
MIN_WINDOWS = D.MIN_WINDOWS
MIN_USERS = D.MIN_USERS
MAX_UNATTRIBUTED_SHARE = D.MAX_UNATTRIBUTED_SHARE
def exposure_from_log(
    recommendations: Any,
    *,
    window_seconds: int = D.WINDOW_SECONDS,
    window_origin: int = D.WINDOW_ORIGIN,
) -> pl.DataFrame:
    """Recommendations served per source and window, from the recommendations log.

    Args:
        recommendations: a path or frame of the log (``SOURCE``, ``TIMESTAMP``; see the
            documentation's Input formats).

    Returns:
        A frame with ``timestamp`` (window start), ``source`` and ``exposure``.

    Example:
        >>> import polars as pl
        >>> log = pl.DataFrame({"RECOMMENDATION_ID": ["r1", "r2", "r3"],
        ...                     "SOURCE": ["A", "A", "B"], "TIMESTAMP": [0, 100, 1000]})
        >>> exposure_from_log(log).rows()
        [(0, 'A', 2.0), (900, 'B', 1.0)]
    """
    return attribute_exposure(recommendations, window_seconds=window_seconds,
                              window_origin=window_origin)


def _series(windows: pl.DataFrame, metric: str, source: str) -> pl.DataFrame:
    return windows.filter(metric_name=metric, source=source).select("timestamp", "value")


def _side_by_side(c: pl.DataFrame, t: pl.DataFrame) -> pl.DataFrame:
    """Two per-window frames on one row per window (treatment's columns suffixed ``_t``), in
    time order (a Newey–West error reads neighbours: a join's order is not one); a window
    missing on one side counts as 0 there."""
    return (c.join(t, on="timestamp", how="full", coalesce=True, suffix="_t")
            .with_columns(pl.exclude("timestamp").fill_null(0.0)).sort("timestamp"))


def _exposure(windows: Any, exposure: Any) -> pl.DataFrame | None:
    """The exposure frame: given, or the Attribution's own; a recommendations log is counted."""
    if exposure is None:
        exposure = getattr(windows, "exposure", None)
    if exposure is None:
        return None
    exp = to_polars(exposure, "exposure")
    if "exposure" not in exp.columns and "SOURCE" in exp.columns:
        exp = exposure_from_log(exp)
    need = {"timestamp", "source", "exposure"} - set(exp.columns)
    if need:
        raise ValueError(f"exposure: missing columns {sorted(need)}")
    return exp


def compare(
    windows: Any,
    *,
    metrics: list[str] | None = None,
    exposure: Any = None,
    baseline: str | None = None,
    sources: list[str] | None = None,
    design: Design | None = None,
    users: UserData | None = None,
    alpha: float = D.ALPHA,
    correction: str = D.CORRECTION,
    method: Method = "auto",
    traffic_weights: dict[str, float] | None = None,
    traffic: Any = None,
    srm_threshold: float = D.SRM_THRESHOLD,
    volume: list[tuple[str, str]] | None = None,
    start: int | str | None = None,
    cap: float | None = None,
    max_unattributed: float = D.MAX_UNATTRIBUTED_SHARE,
    segments: Any = None,
    user_metadata: Any = None,
    cuped: bool | None = None,
    holdout: str | None = None,
) -> ComparisonTable:
    """Compare sources on every metric, as the declared design randomised them.

    Args:
        windows: an :class:`~attrkit.Attribution`, or the tidy windowed frame (e.g.
            :func:`~attrkit.read_report`).
        metrics: metric names to compare (default all).
        exposure: recommendations served per source and window (``timestamp``, ``source``,
            ``exposure``; see :func:`exposure_from_log`), for window-level rates.
        baseline: the control; every other source is compared with it. Default: every pair.
            Here and in ``sources``, ``volume`` and ``holdout``, a source is its full name or
            the name the report shows (an ARN's last segment, ``top-picks``).
        sources: the sources to compare (default all but ``SOURCE_NAME_UNDEFINED``).
        design: ``"users"``, ``"requests"`` or ``"observational"`` (see the module docs).
            Default ``"users"`` when per-user data is known, else undeclared (no verdicts).
        users: per-user data (:class:`~attrkit.attribution.users.UserData`); an Attribution
            brings its own.
        alpha: significance level.
        correction: p-value adjustment across the tested rows (``holm``, ``bh``, ...).
        method: window-level method: ``auto`` (see the module docs), ``rate`` or ``paired``.
        traffic_weights: planned traffic shares per source, for the SRM check (default equal).
        traffic: users per source (``source``, ``users``) for the SRM check when no per-user
            data is given; without either, recommendations served are counted (a warning says
            so).
        volume: pairs ``(control, treatment)`` whose per-window totals are to be compared
            anyway: labelled a comparison of volume, never a verdict, outside the family.
        start: the experiment's start, Unix seconds at midnight UTC (or a date, ``"2026-11-02"``,
            ``"-28d"``; see :func:`attrkit.frames.when`): only windows and days from
            it are compared. Under ``users``, each user's metric (all sources) on the days
            before it can be a pre-period covariate: the per-user rows are then CUPED-adjusted
            (θ pooled across arms), see ``cuped``.
        holdout: under ``users``, an arm whose users were served a non-personalised list
            (a popularity recommender, a label): every other arm's total engagement per
            assigned user, across all sources and organic events, is compared with it (the
            incremental effect), beside what attribution credits the arm with
            (:attr:`ComparisonTable.incrementality`; :mod:`~attrkit.comparison.incrementality`).
        cuped: with ``start``, under ``users``. ``None`` (default): CUPED where it is valid,
            when the data holds at least :data:`~attrkit.defaults.CUPED_MIN_DAYS` (7) days
            before ``start`` and no user was served before it; otherwise the rows are not
            adjusted and :attr:`ComparisonTable.notes` says why. ``True``: CUPED whenever
            ``start`` is given (an error if a user was served before it). ``False``: never.
            Each adjusted row's method says how much of the variance it removed.
        cap: under ``users``, cap per-user values at this quantile of both arms' values
            (e.g. 0.99), for heavy-tailed sums: the comparison is then of the capped metric.
        max_unattributed: a warning when more than this share of the first metric is
            ``SOURCE_NAME_UNDEFINED`` (the share is :attr:`ComparisonTable.unattributed_share`).
        segments: under ``users``, also compare within each value of this column
            (:attr:`ComparisonTable.segments`; :mod:`~attrkit.comparison.segments`): a column of
            ``user_metadata``, or else of the interactions of the Attribution compared (each
            user's value on their first event); or a
            :class:`~attrkit.comparison.segments.Segmentation` made by
            :func:`~attrkit.comparison.segments.segmentation`.
        user_metadata: Personalize's Users dataset (``USER_ID`` and metadata columns; a path,
            folder, ``s3://`` key or frame), where ``segments`` are looked up first.

    Example:
        >>> import polars as pl, numpy as np
        >>> rng = np.random.default_rng(0)
        >>> ts = np.arange(96) * 900
        >>> w = pl.DataFrame({"timestamp": np.tile(ts, 2), "metric_name": "CLICKS",
        ...     "source": ["A"] * 96 + ["B"] * 96,
        ...     "value": np.concatenate([rng.poisson(100, 96), rng.poisson(120, 96)]) * 1.0})
        >>> t = compare(w, baseline="A", design="requests")
        >>> row = t.row("CLICKS", "A", "B")
        >>> row["lift_ci_low"] < 0.2 < row["lift_ci_high"], row["significant"]
        (True, True)
        >>> compare(w, baseline="A").row("CLICKS", "A", "B")["significant"] is None
        True
    """
    alpha = check_alpha(alpha)
    check_choice("correction", correction, CORRECTIONS)
    check_choice("method", method, ("auto", "rate", "paired"))
    _check_options(cap, max_unattributed)
    design, users = _choose_design(design, users if users is not None
                                   else getattr(windows, "users", None))
    w, exp = _windows_and_exposure(windows, exposure)
    if cuped is not None and not isinstance(cuped, bool):
        raise ConfigError(f"cuped={cuped!r}: must be True, False or None (where valid)")
    start = _start_seconds(start)
    pre = None
    notes: list[str] = []
    if start is not None:
        w, exp, users, pre = _from_start(w, exp, users, design, start, cuped, notes)
    chosen = _choose_metrics(w, metrics, start)
    present = _present(w, users, design)
    baseline, holdout, sources, volume = _resolved_names(present, baseline, holdout, sources, volume)
    src = _choose_sources(present, sources, baseline, volume)
    if holdout is not None:  # compared for what it adds (incrementality), not in the table
        if holdout == baseline:
            raise ConfigError(f"holdout={short_name(holdout)!r} is also the baseline: the "
                              "holdout is compared for what every arm adds over it; name "
                              "another baseline, or none")
        src = [s for s in src if s != holdout]
    warnings: list[str] = []
    share = unattributed_share(w, chosen[0])
    if share > max_unattributed:
        warnings.append(f"{share:.1%} of {chosen[0]} is unattributed (SOURCE_NAME_UNDEFINED); "
                        "check labels and the recommendations log")
    if design == "users":
        rows, described, srm, check = _user_design(
            w, users, pre, start, chosen, src, baseline, alpha, cap, traffic_weights,
            srm_threshold, warnings, holdout)
    else:
        rows, described, srm = _window_design(
            windows, w, exp, traffic, chosen, src, baseline, alpha, method, traffic_weights,
            srm_threshold, warnings)
        check = None
        if design is None:
            warnings.append(NO_DESIGN)
    rows += _volume_rows(w, chosen, volume, alpha)
    frame = _verdicts(pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row"), design,
                      correction, alpha)
    added = None
    if holdout is not None:
        from attrkit.comparison.incrementality import incrementality

        if design != "users":
            raise ConfigError(f"holdout={short_name(holdout)!r}: a holdout is compared per "
                              "assigned user, which needs the 'users' design (a "
                              "recommendations log with USER_ID)")
        added = incrementality(users, holdout, chosen, alpha, correction)
    by_segment = None
    if segments is not None:
        by_segment = _by_segment(windows, users, design, segments, user_metadata, chosen, src,
                                 baseline, alpha, correction, cap, pre, start)
        warnings += by_segment.warnings
    return ComparisonTable(frame, warnings, srm, alpha, correction, design, check, described,
                           share, by_segment, notes, added)


def _by_segment(windows, users, design, column, user_metadata, chosen, src, baseline, alpha,
                correction, cap, pre, start) -> Any:
    from attrkit.comparison.segments import compare_segments, segmentation

    if design != "users":
        raise ConfigError(f"segments={getattr(column, 'column', column)!r}: segments are "
                          "compared per user, which needs "
                          "the 'users' design (a recommendations log with USER_ID)")
    from attrkit.comparison.segments import Segmentation

    if isinstance(column, Segmentation):
        seg = column
    else:
        seg = segmentation(column, user_metadata=user_metadata,
                           interactions=getattr(windows, "interactions", None),
                           timestamp_unit=getattr(windows, "timestamp_unit", "s"))
    _, pairs = _user_pairs(users, src, baseline)
    return compare_segments(users, seg, chosen, pairs, alpha, correction, _user_rows, cap=cap,
                            pre_of=(lambda m: pre.scaled_pre_period(m, start)) if pre else None)


def _check_options(cap: float | None, max_unattributed: float) -> None:
    """The per-user cap and the unattributed share's threshold, each within its range."""
    if cap is not None and not (isinstance(cap, float) and 0.5 <= cap < 1):
        raise ConfigError(f"cap={cap!r}: must be a quantile between 0.5 and 1, such as 0.99")
    if isinstance(max_unattributed, bool) or not (
            isinstance(max_unattributed, int | float) and 0 <= max_unattributed <= 1):
        raise ConfigError(f"max_unattributed={max_unattributed!r}: must be a share between 0 "
                          "and 1")


def _choose_design(design: Design | None, users: UserData | None
                   ) -> tuple[Design | None, UserData | None]:
    """The design to analyse: as declared, else ``users`` when per-user data is known, else
    undeclared; ``users`` without per-user data is an error."""
    if design is not None:
        check_choice("design", design, DESIGNS)
    if design is None and users is not None:
        design = "users"
    if design == "users" and users is None:
        raise ConfigError("design='users' needs per-user data: a recommendations log with USER_ID "
                          "(attribute(..., recommendations=...)) or users=")
    return design, users


def _windows_and_exposure(windows: Any, exposure: Any
                          ) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The windowed frame and the exposure, with the columns the tests need and finite values."""
    exp = _exposure(windows, exposure)
    w = to_polars(windows, "windows")
    missing = {"timestamp", "metric_name", "source", "value"} - set(w.columns)
    if missing:
        raise ValueError(f"windows: missing columns {sorted(missing)}; pass attrkit's windowed "
                         "frame or read_report(...)")
    _check_finite(w, "windows", "value")
    if exp is not None:
        _check_finite(exp, "exposure", "exposure")
    return w, exp


def _start_seconds(start: int | str | None) -> int | None:
    """The experiment's start as Unix seconds at midnight UTC (a date or ``-28d`` read first)."""
    if isinstance(start, str):
        try:
            start = when(start)
        except ValueError as exc:
            raise ConfigError(f"start={exc}") from None
    if start is not None and (isinstance(start, bool) or not isinstance(start, int)
                              or start % DAY):
        raise ConfigError(f"start={start!r}: must be Unix seconds at midnight UTC (a whole day)")
    return start


def _from_start(w: pl.DataFrame, exp: pl.DataFrame | None, users: UserData | None,
                design: Design | None, start: int, cuped: bool | None, notes: list[str]
                ) -> tuple[Any, Any, Any, Any]:
    """Windows, exposure and users from ``start`` on, and the users before it as the
    pre-period where CUPED is used (``cuped``; the reason in ``notes`` where it is not)."""
    first = w["timestamp"].min() if w.height else None
    days_before = (start - int(first)) / DAY if first is not None and first < start else 0.0
    w = w.filter(pl.col("timestamp") >= start)
    exp = exp.filter(pl.col("timestamp") >= start) if exp is not None else None
    pre = None
    if users is not None:
        if design == "users" and cuped is not False:
            early = users.assigned_before(start)
            if cuped and early:
                raise ConfigError(f"start={start}: {early:,} users were served before it; the "
                                  "pre-period must precede assignment (cuped=False to compare "
                                  "from start without it)")
            if early:
                notes.append(f"CUPED not used: {early:,} users were served before the start, "
                             "so their days before it are not a pre-period")
            elif cuped is None and days_before < D.CUPED_MIN_DAYS:
                notes.append(f"CUPED not used: the data holds {days_before:.3g} days before "
                             f"the start; {D.CUPED_MIN_DAYS} are needed (cuped=True to use "
                             "them anyway)")
            else:
                pre = users
                notes.append(f"CUPED: each user's metric on the {days_before:.3g} days before "
                             "the start is a covariate of the per-user rows (θ pooled across "
                             "arms)")
        users = users.between(start, None)
    return w, exp, users, pre


def _choose_metrics(w: pl.DataFrame, metrics: list[str] | None, start: int | None) -> list[str]:
    """The metrics to compare, upper-cased, each once: those asked for, else all."""
    all_metrics = sorted(w["metric_name"].unique().to_list())
    if not all_metrics:
        raise InputError("the windows", "no events to compare: no event matched a metric's "
                         "event type" + (" from start on" if start else ""))
    chosen = list(dict.fromkeys(m.upper() for m in metrics)) if metrics else all_metrics
    unknown = sorted(set(chosen) - set(all_metrics))
    if unknown:
        raise ConfigError(f"metrics: {unknown[0]!r} is not in the windows; metrics are "
                          f"{', '.join(all_metrics)}")
    return chosen


def _present(w: pl.DataFrame, users: UserData | None, design: Design | None) -> list[str]:
    """The sources of the windows, and under ``users`` the arms."""
    present = w["source"].unique().sort().to_list()
    if design == "users":
        present = sorted(set(present) | set(users.arms))
    return present


def _resolved_names(present: list[str], baseline, holdout, sources, volume) -> tuple[Any, Any, Any, Any]:
    """``baseline``, ``holdout``, ``sources`` and ``volume`` with each source as the data names
    it: the names the report shows (an ARN's last segment, ``top-picks``) are accepted as the
    command line and the report accept them (:func:`attrkit.names.resolve_source`); a name
    that is not a source is left for :func:`_choose_sources` to refuse."""
    def one(name: Any, parameter: str) -> Any:
        return (resolve_source(name, present, parameter, strict=False)
                if isinstance(name, str) else name)

    return (one(baseline, "baseline"), one(holdout, "holdout"),
            [one(s, "sources") for s in sources] if sources else sources,
            [tuple(one(x, "volume") for x in pair) for pair in volume] if volume else volume)


def _choose_sources(present: list[str], sources: list[str] | None, baseline: str | None,
                    volume: list[tuple[str, str]] | None) -> list[str]:
    """The sources to compare (default all but ``SOURCE_NAME_UNDEFINED``) of those ``present``
    (:func:`_present`); every source named (in ``sources``, ``baseline`` or ``volume``) must
    be one of them."""
    src = (list(dict.fromkeys(sources)) if sources
           else [s for s in present if s != D.UNDEFINED_SOURCE])
    for s in [*src, *([baseline] if baseline else []), *(x for pair in volume or [] for x in pair)]:
        if s not in present:
            raise ConfigError(f"source {s!r}: not in the windows; sources are "
                              f"{', '.join(map(short_name, present))}")
    return src


def _user_design(w, users, pre, start, chosen, src, baseline, alpha, cap, traffic_weights,
                 srm_threshold, warnings, holdout=None
                 ) -> tuple[list[dict[str, Any]], Any, Any, Any]:
    """Under ``users``: the arms, the design check and SRM on users, and per metric and pair of
    arms the per-user rows; the sources not randomised are described."""
    arms, pairs = _user_pairs(users, src, baseline)
    if baseline is not None and baseline not in arms:
        raise ConfigError(f"baseline={short_name(baseline)!r}: no user was assigned to it, so it "
                          "was not randomised; the arms are "
                          f"{', '.join(map(short_name, users.arms))} (or declare design='requests')")
    check = users.check(chosen[0])
    if len(arms) < 2:
        # nothing randomised to compare: everything is described, nothing tested
        to = (f"only one source ({short_name(arms[0])})" if arms else
              "no source the comparison covers")
        warnings.append(f"users were assigned to {to}: there is no randomised comparison; "
                        "sources are described")
    warnings += check.warnings
    srm = _srm([float(check.users_by_arm[a]) for a in arms], arms, "users",
               traffic_weights, srm_threshold, warnings)
    rows = [row for metric in chosen for c, t in pairs
            for row in _user_rows(users, metric, c, t, alpha, cap=cap,
                                  pre=pre.scaled_pre_period(metric, start) if pre else None)]
    warnings += _skew_summary(rows)
    # with fewer than two arms nothing is tested, and the lone arm is described too
    described = _describe(w, chosen, users, arms,
                          tested=[*arms, *([holdout] if holdout else [])] if pairs else [])
    return rows, described, srm, check


def _window_design(windows, w, exp, traffic, chosen, src, baseline, alpha, method,
                   traffic_weights, srm_threshold, warnings
                   ) -> tuple[list[dict[str, Any]], pl.DataFrame, Any]:
    """Windows as units (``requests``, or undeclared): SRM on users or recommendations served,
    and per metric and pair of sources the window-level row."""
    pairs = _pairs(src, baseline)
    math_fn = dict(w.select("metric_name", "math_function").unique().iter_rows()) \
        if "math_function" in w.columns else {}
    exposed = set(exp["source"].unique().to_list()) if exp is not None else set()
    srm = _window_srm(windows, traffic, exp, src, exposed, traffic_weights, srm_threshold,
                      warnings)
    rows = [_one(w, exp, metric, math_fn.get(metric, "samplecount"), c, t, exposed, alpha,
                 method) for metric in chosen for c, t in pairs]
    return rows, _describe(w, chosen, None, []), srm


def _volume_rows(w: pl.DataFrame, chosen: list[str], volume: list[tuple[str, str]] | None,
                 alpha: float) -> list[dict[str, Any]]:
    """Per-window totals of the ``volume`` pairs, paired by window: labelled volume, never a
    verdict, outside the family."""
    return [_one(w, None, metric, "sum", c, t, set(), alpha, "paired") | {"kind": "volume"}
            for c, t in volume or [] for metric in chosen]


def unattributed_share(windows: pl.DataFrame, metric: str) -> float:
    """The share of ``metric``'s value attributed to ``SOURCE_NAME_UNDEFINED`` (0 when there
    is none of the metric)."""
    w = windows.filter(metric_name=metric)
    total = w["value"].sum()
    return w.filter(source=D.UNDEFINED_SOURCE)["value"].sum() / total if total else 0.0


def _user_pairs(users: Any, src: list[str], baseline: str | None
                ) -> tuple[list[str], list[tuple[str, str]]]:
    """The arms users were assigned to among ``src``, and the pairs of them compared."""
    arms = [s for s in users.arms if s in src]
    return arms, _pairs(arms, baseline) if len(arms) >= 2 else []


def _pairs(src: list[str], baseline: str | None) -> list[tuple[str, str]]:
    pairs = ([(baseline, s) for s in src if s != baseline] if baseline
             else list(itertools.combinations(src, 2)))
    if not pairs:
        raise ConfigError(f"need at least two sources to compare; have {src}")
    return pairs


def _check_finite(frame: pl.DataFrame, what: str, column: str) -> None:
    """NaN or infinite values are refused, naming the first (never dropped silently)."""
    bad = frame.filter(~pl.col(column).cast(pl.Float64).is_finite())
    if bad.height:
        r = bad.row(0, named=True)
        where = ", ".join(f"{k} {r[k]!r}" for k in ("timestamp", "metric_name", "source") if k in r)
        raise ValueError(f"{what}: {bad.height} rows have a {column} that is not a finite number, "
                         f"the first at {where} ({r[column]!r})")


def _srm(counts: list[float], names: list[str], unit: str, traffic_weights: Any,
         threshold: float, warnings: list[str]) -> Any:
    if traffic_weights:
        missing = [n for n in names if n not in traffic_weights]
        if missing:
            raise ValueError(f"traffic_weights: no planned share for {missing}")
    if len(names) < 2:
        return None
    weights = [traffic_weights[n] for n in names] if traffic_weights else None
    srm = srm_test(counts, weights, threshold=threshold)
    if srm.mismatch:
        warnings.append(f"sample ratio mismatch in {unit} (p = {srm.p_value:.2g}) across "
                        f"{', '.join(names)}")
    return srm


def _window_srm(windows, traffic, exp, src, exposed, traffic_weights, threshold, warnings):
    if traffic is None:
        traffic = getattr(windows, "traffic", None)
    names = list(traffic_weights) if traffic_weights else [s for s in src if s in exposed]
    if len(names) < 2 or (traffic is None and exp is None):
        return None
    # Randomisation is by user: count users where known; recommendations served cluster
    # within users and would raise false alarms.
    if traffic is not None:
        tr = to_polars(traffic, "traffic")
        counts = [float(tr.filter(source=s)["users"].sum()) for s in names]
        return _srm(counts, names, "users", traffic_weights, threshold, warnings)
    counts = [float(exp.filter(source=s)["exposure"].sum()) for s in names]
    return _srm(counts, names, "recommendations served", traffic_weights, threshold, warnings)


UNBOUNDED = ("the control's mean is too uncertain to divide by (its own interval reaches zero, "
             "as one very large value can make it): the relative lift's interval is unbounded "
             "(Fieller)")


def _user_rows(users: Any, metric: str, control: str, treatment: str, alpha: float, *,
               cap: float | None = None, pre: Any = None) -> list[dict[str, Any]]:
    """The per-user comparisons of one metric and pair of arms (see the module docs), from the
    arms' moments (:meth:`~attrkit.attribution.users.UserData.arm_moments`, computed by the
    engine), capped at a quantile and CUPED-adjusted on a pre-period when asked (the ratio per
    recommendation is capped, not CUPED-adjusted)."""
    am = users.arm_moments(metric, [control, treatment], cap=cap, pre=pre)
    how: dict[str, list[str]] = {k: [] for k in ("per_user", "per_recommendation", "user_total")}
    if cap is not None:
        # the denominator too: a ratio's heavy tail is as often in recommendations served
        lim = am.limits
        for k, col in (("per_user", "value"), ("per_recommendation", "value"),
                       ("user_total", "total")):
            how[k].append(f"per-user values capped at their {cap:.3g} quantile "
                          f"({lim[col]:.4g}" + (f", served {lim['served']:.4g})"
                                                if k == "per_recommendation" else ")"))
    m = am.tested
    stats = {"per_user": {a: m[a].sample("value") for a in m},
             "per_recommendation": {a: m[a].ratio("value", "served") for a in m},
             "user_total": {a: m[a].sample("total") for a in m}}
    thetas: dict[str, Fraction] = {}
    if pre is not None:
        both = m[control] + m[treatment]
        for k, q in (("per_user", "value"), ("user_total", "total")):
            theta, mean = cuped_theta(both, q)
            thetas[k] = theta
            plain = stats[k]
            stats[k] = {a: Cuped(plain[a], m[a].cuped(q, theta, mean),
                                 _cross(m[a], q, theta)) for a in m}
            how[k].append("covariate: the metric before start" + _variance_reduction(
                plain, {a: c.adjusted for a, c in stats[k].items()}, (control, treatment)))
    raw = am.raw
    nc, nt = raw[control].n, raw[treatment].n
    base = {"metric": metric, "control": control, "treatment": treatment, "unit": "users",
            "control_n": nc, "treatment_n": nt, "windows": None,
            "control_exposure": raw[control].total("served"),
            "treatment_exposure": raw[treatment].total("served")}
    notes = [f"only {min(nc, nt)} users in an arm: no verdict below {MIN_USERS}"
             ] if min(nc, nt) < MIN_USERS else []
    out = []
    for kind, by_arm in stats.items():
        q = "total" if kind == "user_total" else "value"
        row = base | {"kind": kind, "control_total": raw[control].total(q),
                      "treatment_total": raw[treatment].total(q)}
        skew = _skewness(m[control], m[treatment], kind, thetas.get(kind))
        out.append(_user_row(row, by_arm, skew, min(nc, nt), alpha, notes,
                             "; ".join(how[kind]), f"users randomised: {metric} {KINDS[kind]}"))
    return out


def _skewness(c: Any, t: Any, kind: str, theta: Fraction | None) -> tuple[float, float]:
    """``(κ, judged)`` of a per-user row from the arms' exact moments as tested: κ, the
    skewness of the difference the row tests (:func:`~attrkit.stats.difference_skewness`),
    corrects its test; ``judged`` decides whether it can be tested at all
    (:func:`_skewed`). A ratio per recommendation is tested
    through its linearisation ``(value − r·served) / mean served`` and judged by that and by
    the skewness of its numerator's and denominator's means (NaN: nothing to judge)."""
    if kind != "per_recommendation":
        q = "total" if kind == "user_total" else "value"
        combo = {q: 1} | ({"pre": -theta} if theta is not None else {})
        k = difference_skewness(c.central(combo), t.central(combo))
        return k, abs(k)
    k = difference_skewness(c.linearised("value", "served"), t.linearised("value", "served"))
    parts = [k, *(difference_skewness(c.central({q: 1}), t.central({q: 1}))
                  for q in ("value", "served"))]
    finite = [abs(x) for x in parts if math.isfinite(x)]
    return k, max(finite) if finite else math.nan


def _user_row(row: dict[str, Any], by_arm: dict[str, Any], skew: tuple[float, float],
              small: int, alpha: float, notes: list[str], how: str, why: str
              ) -> dict[str, Any]:
    """One per-user row: the test (corrected for the difference's skewness), the decision
    numbers, and no verdict where the difference is too skewed to test (:func:`_skewed`) or
    there is nothing to test."""
    control, treatment = row["control"], row["treatment"]
    kappa, judged = skew
    withheld, note = _skewed(kappa, judged, small, alpha)
    few = min(row["control_n"], row["treatment_n"])
    if few < 2:  # (a variance needs two users)
        return row | _not_computed(_too_few(few)) | {"warnings": None}
    try:
        r = _user_test(by_arm[control], by_arm[treatment], alpha,
                       skewness=0.0 if withheld else _correction(kappa))
        rel = _relative(by_arm[control], by_arm[treatment], alpha, r)
        d = decision(rel.effect, rel.se)
        row |= {"lift_se": rel.se, "chance_to_win": d.chance_to_win,
                "expected_loss": d.expected_loss,
                "control_rate": r.control, "treatment_rate": r.treatment,
                "effect": r.effect, "lift": r.treatment / r.control - 1,
                "lift_ci_low": r.ci_low, "lift_ci_high": r.ci_high, "p_value": r.p_value,
                "method": "; ".join(x for x in (r.method, how) if x), "why": why}
        row_notes = list(notes)
        if not withheld and (math.isinf(r.ci_low) or math.isinf(r.ci_high)):
            row_notes.append(UNBOUNDED)
        if not withheld and math.isinf(r.ci_low) and math.isinf(r.ci_high):
            # every lift is in the interval: the decision numbers, from the lift's delta-method
            # standard error, would say what the test cannot (a chance to win of 0 at p = 0.3)
            row |= {"chance_to_win": math.nan, "expected_loss": math.nan}
        if withheld:
            row |= {"p_value": math.nan, "lift_ci_low": math.nan, "lift_ci_high": math.nan,
                    "lift_se": math.nan, "chance_to_win": math.nan,
                    "expected_loss": math.nan, "why": "no verdict: " + note}
        if note:
            row_notes.append(note)
    except (ValueError, ZeroDivisionError) as exc:
        row |= _not_computed(str(exc))
        row_notes = []
    if (not math.isfinite(row["p_value"]) and not row_notes
            and row["method"] != "not computed"):
        row_notes = ["no variation to test"]
        row["why"] = "no variation between users: nothing to test"
    return row | {"warnings": "; ".join(row_notes) or None}


def _skewed(kappa: float, judged: float, small: int, alpha: float) -> tuple[bool, str | None]:
    """Whether a per-user row is withheld for a skewed difference, and what to tell the user:
    beyond :data:`~attrkit.defaults.SKEWNESS_BOUND_SHARE` of :func:`~attrkit.stats.max_skewness`
    no test here holds (no verdict); from :data:`~attrkit.defaults.SKEWNESS_CORRECTED_FROM` the
    test is corrected (:func:`_correction`), and the note says by how much and what would make
    the correction small."""
    bound = D.SKEWNESS_BOUND_SHARE * max_skewness(alpha)
    if math.isfinite(judged) and judged > bound:
        needed = math.ceil(small * (judged / bound) ** 2)
        return True, (f"the difference of the arms' means is too skewed for a p-value "
                      f"(skewness {judged:.2f}, beyond {bound:.2f}): the smaller arm's "
                      f"{small:,} users are heavy-tailed; about {needed:,} users in it (a longer "
                      "run or a larger split), or cap=0.99, would allow a verdict")
    if _correction(kappa):
        needed = math.ceil(small * (kappa / D.SKEWNESS_CORRECTED_FROM) ** 2)
        return False, (f"the smaller arm's {small:,} users make the difference of means skewed "
                       f"({kappa:+.2f}): the test and interval are corrected for it (Hall); with "
                       f"about {needed:,} users in that arm (a longer run or a larger split) the "
                       "correction would be small")
    return False, None


def _skew_summary(rows: list[dict[str, Any]]) -> list[str]:
    """The table's warning about rows of a small heavy-tailed arm (each row's own says more)."""
    corrected = sum("corrected for skewness" in (r.get("method") or "")
                    and not (r.get("why") or "").startswith("no verdict: ") for r in rows)
    withheld = sum((r.get("why") or "").startswith("no verdict: the difference") for r in rows)
    if not corrected and not withheld:
        return []
    said = [f"{corrected} corrected for the skewness of the difference"] if corrected else []
    said += [f"{withheld} too skewed to test (no verdict)"] if withheld else []
    return [f"a small arm of heavy-tailed users: of the per-user rows, {' and '.join(said)}; "
            "a longer run or a larger split would shrink the skewness (see each row's "
            "warnings)"]


def _correction(kappa: float) -> float:
    """The skewness a per-user test is corrected for: ``kappa`` from
    :data:`~attrkit.defaults.SKEWNESS_CORRECTED_FROM` on, else none (Welch as it is)."""
    return kappa if math.isfinite(kappa) and abs(kappa) >= D.SKEWNESS_CORRECTED_FROM else 0.0


@dataclasses.dataclass(frozen=True)
class Cuped:
    """An arm's per-user values as they are and CUPED-adjusted, with the per-user covariance
    of the two (what :func:`~attrkit.stats.fieller.cuped_lift_test` needs of an arm)."""

    raw: SampleStats
    adjusted: SampleStats
    cross: float


def _cross(m: Any, q: str, theta: Fraction) -> float:
    """The per-user covariance of ``q`` and its CUPED-adjusted value, from an arm's moments."""
    if m.n < 2:
        return math.nan
    return float((m.comoment(q, q) - theta * m.comoment(q, "pre")) / (m.n - 1))


def _user_test(c: SampleStats | RatioStats | Cuped, t: SampleStats | RatioStats | Cuped,
               alpha: float, *, skewness: float = 0.0) -> Comparison:
    """Two arms' per-user statistics (means, or ratios of per-user sums) tested by
    :func:`~attrkit.stats.fieller.lift_test` (CUPED-adjusted means by
    :func:`~attrkit.stats.fieller.cuped_lift_test`), users as units, corrected for the
    difference's ``skewness``."""
    if isinstance(c, Cuped):
        r = cuped_lift_test(c.raw, c.adjusted, t.adjusted, c.cross, alpha=alpha,
                            skewness=skewness)
    else:
        r = lift_test(c, t, alpha=alpha, skewness=skewness)
    return dataclasses.replace(r, method=f"{r.method}; users as units")


def _variance_reduction(plain: dict[str, SampleStats], adjusted: dict[str, SampleStats],
                        arms: tuple[str, str]) -> str:
    """How much of the difference's variance CUPED removed, in words (nothing when it cannot
    be said: no variation, or an arm without users)."""
    try:
        before = sum(plain[a].var / plain[a].n for a in arms)
        after = sum(adjusted[a].var / adjusted[a].n for a in arms)
    except (ZeroDivisionError, ValueError):
        return ""
    if not (before > 0 and math.isfinite(before) and math.isfinite(after)):
        return ""
    return f"; variance of the difference {after / before - 1:+.0%}"


def _too_few(few: int) -> str:
    """Why a per-user row is not computed when an arm has fewer than two users."""
    return f"only {few} user{'' if few == 1 else 's'} in an arm: a test needs at least 2 in each"


def _relative(c: SampleStats | RatioStats | Cuped, t: SampleStats | RatioStats | Cuped,
              alpha: float, tested: Comparison) -> Any:
    """The relative lift (``effect``) with its delta-method standard error (``se``): the
    decision numbers' and the segments' heterogeneity test's input. CUPED's is in its test
    (``tested``, :func:`~attrkit.stats.fieller.cuped_lift_test`)."""
    if isinstance(c, Cuped):
        return dataclasses.replace(tested, effect=tested.treatment / tested.control - 1,
                                   se=tested.details["lift_se"])
    return (ratio_test if isinstance(c, RatioStats) else mean_test)(c, t, relative=True,
                                                                      alpha=alpha)


def _not_computed(reason: str) -> dict[str, Any]:
    return {"control_rate": None, "treatment_rate": None, "effect": math.nan, "lift": math.nan,
            "lift_ci_low": math.nan, "lift_ci_high": math.nan, "p_value": math.nan,
            "method": "not computed", "why": reason}


def _describe(w: pl.DataFrame, metrics: list[str], users: UserData | None, arms: list[str],
              tested: list[str] | None = None) -> pl.DataFrame:
    """What each source was attributed, without a test: totals, shares and, with users, the
    mean per assigned user (the users of ``arms``, zeros included) of every source not in
    ``tested``."""
    # exact sums (whole billionths), so that the shares do not depend on the order polars adds
    # the windows in
    exact = (w.filter(pl.col("metric_name").is_in(metrics))
             .group_by("metric_name", "source")
             .agg(scaled(pl.col("value"), "value").sum().alias("total")).sort("metric_name", "source"))
    by_metric: dict[str, int] = {}
    for m, _, t in exact.iter_rows():
        by_metric[m] = by_metric.get(m, 0) + t
    totals = pl.DataFrame(
        [(m, s, in_units(t, "value"),
          float(Fraction(t, by_metric[m])) if by_metric[m] else math.nan)
         for m, s, t in exact.iter_rows()],
        schema={"metric_name": pl.String, "source": w.schema["source"], "total": pl.Float64,
                "share": pl.Float64}, orient="row")
    if users is None:
        return totals.rename({"metric_name": "metric"}).sort("metric", "source")
    others = [s for s in totals["source"].unique().sort().to_list() if s not in (tested or [])]
    rows = []
    for metric in metrics:
        for s, (mean, with_events) in users.source_means(metric, others, arms).items():
            rows.append({"metric": metric, "source": s, "per_assigned_user": mean,
                         "users_with_events": with_events})
    per_user = pl.DataFrame(rows, schema={"metric": pl.String, "source": pl.String,
                                          "per_assigned_user": pl.Float64,
                                          "users_with_events": pl.Int64})
    return (totals.rename({"metric_name": "metric"})
            .filter(pl.col("source").is_in(others))
            .join(per_user, on=["metric", "source"], how="left").sort("metric", "source"))


def _one(w, exp, metric, fn, control, treatment, exposed, alpha, method) -> dict[str, Any]:
    """One window-level comparison; a row that cannot be computed keeps NaN and the reason (a
    bad option is the caller's error, raised before)."""
    if method == "rate" and not (exp is not None and control in exposed and treatment in exposed):
        raise ValueError(f"method='rate': sources {control!r} and {treatment!r} both need an "
                         "exposure")
    try:
        return _window_row(w, exp, metric, fn, control, treatment, exposed, alpha, method)
    except (ValueError, ZeroDivisionError) as exc:
        c, t = _series(w, metric, control), _series(w, metric, treatment)
        n = c.join(t, on="timestamp", how="full").height
        return {"metric": metric, "control": control, "treatment": treatment,
                "control_total": float(c["value"].sum()),
                "treatment_total": float(t["value"].sum()), "control_exposure": None,
                "treatment_exposure": None, **_not_computed(str(exc)), "p_adjusted": None,
                "significant": None, "windows": n, "warnings": None, "kind": "window",
                "unit": "windows", "control_n": n, "treatment_n": n}


def _window_row(w, exp, metric, fn, control, treatment, exposed, alpha, method
                ) -> dict[str, Any]:
    c, t = _series(w, metric, control), _series(w, metric, treatment)
    row: dict[str, Any] = {
        "metric": metric, "control": control, "treatment": treatment, "kind": "window",
        "unit": "windows",
        "control_total": float(c["value"].sum()), "treatment_total": float(t["value"].sum()),
        "control_exposure": None, "treatment_exposure": None,
        "control_rate": None, "treatment_rate": None,
    }
    notes = []
    use_rate = (exp is not None and control in exposed and treatment in exposed
                and method in ("auto", "rate"))
    if use_rate:
        n_windows = _rate_columns(row, c, t, exp, fn, control, treatment, alpha, notes)
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
    if not math.isfinite(row["p_value"]):
        notes.append("no p-value: no events or no variation on one side")
    if n_windows < MIN_WINDOWS:
        notes.append(f"only {n_windows} windows: no verdict below {MIN_WINDOWS}")
    row.update(p_adjusted=None, significant=None, windows=n_windows, control_n=n_windows,
               treatment_n=n_windows, warnings="; ".join(notes) or None)
    # The decision numbers from the interval's width (exact for a symmetric interval; the
    # log-scale intervals of rates are nearly symmetric at the lifts tests see)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    se = (row["lift_ci_high"] - row["lift_ci_low"]) / (2 * z)
    se = se if math.isfinite(se) else math.nan
    d = decision(row["lift"], se)
    row.update(lift_se=se, chance_to_win=d.chance_to_win, expected_loss=d.expected_loss)
    return row


def _rate_columns(row: dict[str, Any], c: pl.DataFrame, t: pl.DataFrame, exp: pl.DataFrame,
                  fn: str, control: str, treatment: str, alpha: float, notes: list[str]) -> int:
    """Fill ``row`` with the comparison of rates per recommendation served (a count: Poisson
    rate ratio with windows as strata; a sum: rate per exposure, windows paired); returns the
    windows compared and adds what the notes should say."""
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
        rel = paired_rate_ratio_test(both["value"], both["exposure"], both["value_t"],
                                     both["exposure_t"], alpha=alpha)
        n_windows = rel.details["windows"]
        row.update(effect=row["treatment_rate"] - row["control_rate"], lift=rel.effect,
                   lift_ci_low=rel.ci_low, lift_ci_high=rel.ci_high, p_value=rel.p_value,
                   method=rel.method,
                   why="a sum with an exposure: rate per exposure, windows paired")
    return n_windows


def compare_users(
    users: Any,
    *,
    arm: str = "source",
    metrics: list[str] | None = None,
    ratios: dict[str, tuple[str, str]] | None = None,
    pre: dict[str, str] | None = None,
    baseline: str | None = None,
    alpha: float = D.ALPHA,
    correction: str = D.CORRECTION,
) -> pl.DataFrame:
    """Compare sources on a frame of per-user values you built yourself (one row per user).

    The same tests as :func:`compare` under ``design="users"``: Welch on the difference of
    per-user means (or the delta method for a ratio of per-user sums), the relative lift with
    Fieller's interval, which agrees with the test.

    Args:
        users: a frame with one row per user: a column (named by ``arm``) with the user's source
            and one column per metric.
        arm: the name of the column that holds each user's source.
        metrics: mean metrics (columns), compared per user.
        ratios: ratio metrics, ``name → (numerator column, denominator column)`` (e.g. minutes
            per click).
        pre: ``metric → pre-period column``: those mean metrics are CUPED-adjusted (θ pooled).
        baseline: the control arm; default the first arm in sort order.

    Returns:
        One row per metric and treatment arm: users, means, relative lift with interval,
        p-value, adjusted p-value, the decision numbers (chance to win, expected loss; as
        :func:`compare`), method, and warnings: as in :func:`compare`, a difference skewed by a
        small heavy-tailed arm is corrected for, and beyond
        :data:`~attrkit.defaults.SKEWNESS_BOUND_SHARE` the row has no p-value, interval or
        verdict (the warning says why).

    Example:
        From an attribution whose log has ``USER_ID`` (``result.users``): each user's metric
        attributed to the arm that served them first, zeros included, and the
        recommendations served::

            per_user = (result.users.per_user("CLICKS", [A, B])
                        .select("USER_ID", "arm", pl.col("value").alias("clicks"), "served"))
            compare_users(per_user, arm="arm", metrics=["clicks"],
                          ratios={"clicks_per_recommendation": ("clicks", "served")},
                          baseline=A)

        >>> import polars as pl
        >>> u = pl.DataFrame({"source": ["A", "B"] * 100,
        ...                   "clicks": [float(i % 5 + (i % 2)) for i in range(200)]})
        >>> r = compare_users(u, metrics=["clicks"], baseline="A").row(0, named=True)
        >>> r["control_users"], r["treatment_users"], round(r["lift"], 4)
        (100, 100, 0.5)
    """
    alpha = check_alpha(alpha)
    check_choice("correction", correction, CORRECTIONS)
    u = to_polars(users, "users")
    shape = ("users needs one row per user: a column with each user's source (named by arm=) "
             "and one numeric column per metric")
    if arm not in u.columns:
        raise ValueError(f"arm={arm!r}: not a column of users (columns: {u.columns}); {shape}")
    if u.height and "USER_ID" in u.columns and u["USER_ID"].n_unique() < u.height:
        raise ValueError(f"users: {u.height - u['USER_ID'].n_unique():,} repeated USER_IDs; "
                         f"{shape} (aggregate per user first)")
    arms = u[arm].unique().sort().to_list()
    control = baseline if baseline is not None else arms[0]
    if control not in arms:
        raise ValueError(f"baseline={baseline!r}: not an arm; arms are {arms}")
    metrics = metrics or []
    ratios = ratios or {}
    pre = pre or {}
    for col in [*metrics, *pre.values(), *(c for pair in ratios.values() for c in pair)]:
        if col not in u.columns:
            raise ValueError(f"column {col!r}: not in users (columns: {u.columns}); {shape}")
    if not metrics and not ratios:
        raise ValueError("metrics or ratios: name at least one metric")
    u = u.with_columns(pl.Series(f"{m}__cuped", cuped_adjusted(u[m], u[x]))
                       for m, x in pre.items() if m in metrics)
    tests = [(m, f"{m}__cuped" if m in pre else m, None) for m in metrics]
    tests += [(name, num, den) for name, (num, den) in ratios.items()]
    rows = []
    cu = u.filter(pl.col(arm) == control)
    for treatment in [a for a in arms if a != control]:
        tu = u.filter(pl.col(arm) == treatment)
        for name, column, den in tests:
            rows.append((name, control, treatment, cu.height, tu.height,
                         *_frame_test(cu, tu, column, den, alpha)))
    tested = [i for i, row in enumerate(rows) if math.isfinite(row[5].p_value)]
    adj = adjust_pvalues([rows[i][5].p_value for i in tested], correction, alpha=alpha)
    adjusted = dict(zip(tested, zip(adj.p_adjusted, adj.rejected, strict=True), strict=True))
    return pl.DataFrame([
        {"metric": m, "control": c, "treatment": t, "control_users": nc, "treatment_users": nt,
         "control_mean": r.control, "treatment_mean": r.treatment,
         "lift": r.treatment / r.control - 1, "lift_ci_low": r.ci_low,
         "lift_ci_high": r.ci_high, "p_value": r.p_value,
         "p_adjusted": float(adjusted[i][0]) if i in adjusted else math.nan,
         "significant": bool(adjusted[i][1]) if i in adjusted else None,
         "chance_to_win": d.chance_to_win if d else math.nan,
         "expected_loss": d.expected_loss if d else math.nan, "method": method,
         "warnings": note}
        for i, (m, c, t, nc, nt, r, method, d, note) in enumerate(rows)
    ], schema_overrides={"significant": pl.Boolean, "warnings": pl.String})


def _frame_test(cu: pl.DataFrame, tu: pl.DataFrame, column: str, den: str | None,
                alpha: float) -> tuple[Comparison, str, Any, str | None]:
    """One row of :func:`compare_users`: the test (corrected for skewness, or withheld, as
    :func:`compare`'s), its method, the decision numbers (None when withheld) and the note."""
    if den is not None:
        cs, ts = (RatioStats.from_frame(x, column, den) for x in (cu, tu))
    else:
        cs, ts = (SampleStats.from_frame(x, column) for x in (cu, tu))
    few = min(cu.height, tu.height)
    raw = column.removesuffix("__cuped")
    if few < 2:  # (a variance needs two users)
        if raw != column:
            cs, ts = (SampleStats.from_frame(x, raw) for x in (cu, tu))
        means = [math.nan if not x.n else float(x.ratio if isinstance(x, RatioStats)
                                               else x.mean) for x in (cs, ts)]
        none = Comparison(*means, math.nan, math.nan, math.nan, math.nan, math.nan,
                          "not computed", alpha, "two-sided", True)
        return none, "not computed", None, _too_few(few)
    if raw != column:  # CUPED: the lift over the control's own mean
        cs, ts = (Cuped(SampleStats.from_frame(x, raw), s, _frame_cross(x, raw, column))
                  for x, s in ((cu, cs), (tu, ts)))
    kind = "per_recommendation" if den is not None else "per_user"
    names = {"value": column, "served": den or column}
    kappa, judged = _skewness(_FrameArm(cu, names), _FrameArm(tu, names), kind, None)
    withheld, note = _skewed(kappa, judged, min(cu.height, tu.height), alpha)
    r = _user_test(cs, ts, alpha, skewness=0.0 if withheld else _correction(kappa))
    everything = not withheld and math.isinf(r.ci_low) and math.isinf(r.ci_high)
    if withheld:
        r = dataclasses.replace(r, ci_low=math.nan, ci_high=math.nan, p_value=math.nan)
    elif math.isinf(r.ci_low) or math.isinf(r.ci_high):
        note = "; ".join(x for x in (note, UNBOUNDED) if x)
    rel = _relative(cs, ts, alpha, r)
    return r, r.method, None if withheld or everything else decision(rel.effect, rel.se), note


def _frame_cross(frame: pl.DataFrame, a: str, b: str) -> float:
    """The covariance (n − 1) of two columns of a frame of users."""
    return float(frame.select(pl.cov(pl.col(a).cast(pl.Float64), pl.col(b).cast(pl.Float64),
                                     ddof=1)).item())


class _FrameArm:
    """One arm of :func:`compare_users`' frame as :func:`_skewness` reads an arm's moments
    (``central`` and ``linearised`` of :class:`~attrkit.attribution.moments.Moments`), in
    floats: ``names`` maps the quantities to the frame's columns."""

    def __init__(self, frame: pl.DataFrame, names: dict[str, str]) -> None:
        self.n = frame.height
        self.columns = {q: frame[c].cast(pl.Float64).to_numpy() for q, c in names.items()}

    def central(self, combo: dict[str, Any]) -> tuple[int, float, float]:
        x = sum(float(k) * self.columns[q] for q, k in combo.items())
        d = x - x.mean() if self.n else x
        return self.n, float((d * d).sum()), float((d**3).sum())

    def linearised(self, num: str, den: str) -> tuple[int, float, float]:
        y, x = self.columns[num], self.columns[den]
        if not self.n or not x.sum():
            return self.n, math.nan, math.nan
        mean = x.mean()
        n, m2, m3 = self.central({num: 1, den: -(y.sum() / x.sum())})
        return n, m2 / mean**2, m3 / mean**3


__all__ = ["DESIGNS", "MIN_USERS", "MIN_WINDOWS", "compare", "compare_users", "exposure_from_log"]
