"""Watching a comparison over time: the always-valid test at every look, and the lift day by day."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from attrkit import defaults as D
from attrkit.attribution.users import DAY, UserData
from attrkit.comparison.choose import (
    DESIGNS,
    MIN_USERS,
    MIN_WINDOWS,
    Design,
    _exposure,
    _series,
    _side_by_side,
    _user_test,
)
from attrkit.frames import to_polars
from attrkit.names import resolve_source
from attrkit.stats import mean_test
from attrkit.stats._core import SampleStats, check_alpha, check_choice
from attrkit.stats.sequential import (
    confidence_sequence,
    cumulative_mean_effect,
    cumulative_ratio_effect,
)


def monitor(
    windows: Any,
    *,
    metric: str,
    control: str,
    treatment: str,
    exposure: Any = None,
    design: Design | None = None,
    users: UserData | None = None,
    n_star: float | None = None,
    alpha: float = D.ALPHA,
    relative: bool = True,
) -> pl.DataFrame:
    """The always-valid test at every look, so that watching it does not inflate errors.

    Under ``design="users"`` (the default with per-user data) a look is the end of each UTC day:
    the users assigned by then, each with the metric attributed to their arm's source so far
    (zeros included), compared per user (Welch, delta method), recomputed at each look.
    ``n_star`` defaults to the users of both arms at the last look. No look is significant before
    both arms have :data:`MIN_USERS` users (burn-in). ``control`` and ``treatment`` are arms, by
    their full names or as the report names them (an ARN's last segment).

    Otherwise each 15-minute window is a unit (right only when requests were randomised): values
    per window (or value per exposure, by the delta method) accumulate; ``n_star`` defaults to
    5000; verdicts need ``design="requests"`` and :data:`MIN_WINDOWS` windows.

    Returns:
        A frame: ``timestamp`` (the look: end of a day, or start of a window), ``window_start``
        (the same as a datetime), ``looks``, ``n`` (users or windows), ``effect``, ``ci_low``,
        ``ci_high``, ``p_value`` and ``significant`` (null without a verdict).

    Example:
        >>> from attrkit.simulate.calibration import (A, B, Scenario, attribute_simulation,
        ...                                          simulate_experiment)
        >>> result = attribute_simulation(simulate_experiment(Scenario("demo", users=400, days=3),
        ...                                                   lift=0.3, seed=1))
        >>> looks = monitor(result, metric="CLICKS", control=A, treatment=B)
        >>> looks.height, looks.columns[:3]  # a look at the end of each UTC day with events
        (4, ['timestamp', 'looks', 'n'])
    """
    alpha = check_alpha(alpha)
    if design is not None:
        check_choice("design", design, DESIGNS)
    if users is None:
        users = getattr(windows, "users", None)
    if design is None and users is not None:
        design = "users"
    metric = metric.upper()
    if design == "users":
        if users is None:
            raise ValueError("design='users' needs per-user data: a recommendations log with "
                             "USER_ID, or users=")
        control, treatment = _arms(users, control, treatment)
        frame = _monitor_users(users, metric, control, treatment, n_star, alpha, relative)
        burn_in = pl.col("n_min") >= MIN_USERS
    else:
        frame = _monitor_windows(windows, exposure, metric, control, treatment, n_star or D.N_STAR,
                                 alpha, relative)
        burn_in = pl.col("looks") >= MIN_WINDOWS
    from attrkit.attribution.windows import to_datetime

    verdict = (pl.col("p_value") < alpha) & burn_in
    return frame.with_columns(
        to_datetime(pl.col("timestamp")).alias("window_start"),
        (verdict if design in ("users", "requests") else pl.lit(None, dtype=pl.Boolean))
        .alias("significant"),
    ).drop("n_min")


def _arms(users: Any, control: str, treatment: str) -> tuple[str, str]:
    """``control`` and ``treatment`` as the per-user data names its arms: the full name, or the
    name the report shows (an ARN's last segment); a name that is no arm is refused."""
    return (resolve_source(control, users.arms, "control"),
            resolve_source(treatment, users.arms, "treatment"))


def _monitor_users(users: UserData, metric: str, control: str, treatment: str,
                   n_star: float | None, alpha: float, relative: bool) -> pl.DataFrame:
    days = users.days()
    moments = users.moments_by_look(metric, [control, treatment], [d + DAY for d in days])
    rows = []
    for look, day in enumerate(days, start=1):
        c, t = (moments[(day + DAY, a)].sample("value") if (day + DAY, a) in moments
                else SampleStats(0, 0.0, 0.0, 0.0) for a in (control, treatment))
        try:
            # The sequence is on the difference (robust to heavy-tailed users, as in compare);
            # a relative lift divides it by the control mean at the look.
            r = mean_test(c, t)
            effect, se, scale = r.effect, r.se, (r.control if relative else 1.0)
        except (ValueError, ZeroDivisionError):
            effect = se = scale = math.nan
        rows.append((day + DAY, look, int(c.n + t.n), int(min(c.n, t.n)), effect, se, scale))
    looks = pl.DataFrame(rows, schema={"timestamp": pl.Int64, "looks": pl.Int64, "n": pl.Int64,
                                       "n_min": pl.Int64,
                                       "effect": pl.Float64, "se": pl.Float64,
                                       "scale": pl.Float64}, orient="row")
    looks = looks.filter((pl.col("scale") > 0) & pl.col("effect").is_finite() & (pl.col("se") > 0))
    return _sequence(looks, n_star or float(looks["n"].max() or 1), alpha)


def _monitor_windows(windows, exposure, metric, control, treatment, n_star, alpha, relative
                     ) -> pl.DataFrame:
    exp = _exposure(windows, exposure)
    w = to_polars(windows, "windows")
    c = _series(w, metric, control)
    t = _series(w, metric, treatment)
    if exp is not None:
        c, t = (_side_by_side(arm, exp.filter(source=s).select("timestamp", "exposure"))
                for arm, s in ((c, control), (t, treatment)))
    j = _side_by_side(c, t).sort("timestamp")
    vc, vt = j["value"].to_numpy(), j["value_t"].to_numpy()
    if exp is not None:
        ec, et = j["exposure"].to_numpy(), j["exposure_t"].to_numpy()
        effect, se, n = cumulative_ratio_effect(vc, ec, vt, et, relative)
    else:
        effect, se, n = cumulative_mean_effect(vc, vt, relative)
    k = np.arange(1, j.height + 1)
    looks = pl.DataFrame({"timestamp": j["timestamp"].cast(pl.Int64), "looks": k,
                          "n": n.astype(np.int64), "n_min": k, "effect": effect, "se": se,
                          "scale": 1.0})
    looks = looks.filter(pl.col("effect").is_finite() & pl.col("se").is_finite()
                         & (pl.col("se") > 0))
    return _sequence(looks, n_star, alpha)


def _sequence(looks: pl.DataFrame, n_star: float, alpha: float) -> pl.DataFrame:
    """The confidence sequence at each look (``looks`` numbers them)."""
    effect, low, high, p = confidence_sequence(
        *(looks[c].to_numpy().astype(float) for c in ("effect", "se", "n")), alpha, n_star,
        scale=looks["scale"].to_numpy().astype(float))
    return looks.select("timestamp", "looks", "n", "n_min", pl.Series("effect", effect),
                        pl.Series("ci_low", low), pl.Series("ci_high", high),
                        pl.Series("p_value", p))


def lift_by_day(users: Any, *, metric: str, control: str, treatment: str,
                alpha: float = D.ALPHA) -> pl.DataFrame:
    """The per-user lift of each UTC day on its own (users assigned by the day's end, their
    metric that day), to show a novelty effect fading. Fixed-horizon intervals, one per day,
    Fieller's as :func:`compare` computes them but without its correction for a skewed
    difference (a day's moments hold no third powers): with arms of very unequal size and a
    heavy-tailed metric a day's interval misses more often than α says. A description of the
    trend, not a test to act on.
    ``control`` and ``treatment`` are arms, named as :func:`monitor` takes them.

    Returns:
        A frame: ``day`` (a UTC date), ``users``, ``control_mean``, ``treatment_mean``,
        ``lift``, ``lift_ci_low``, ``lift_ci_high``.

    Example:
        >>> from attrkit.simulate.calibration import (A, B, Scenario, attribute_simulation,
        ...                                          simulate_experiment)
        >>> result = attribute_simulation(simulate_experiment(Scenario("demo", users=400, days=3),
        ...                                                   lift=0.3, seed=1))
        >>> days = lift_by_day(result, metric="CLICKS", control=A, treatment=B)
        >>> days.height  # each day on its own (the last evening's clicks spill into a fourth)
        4
    """
    alpha = check_alpha(alpha)
    users = getattr(users, "users", users)
    if not hasattr(users, "day_moments"):
        raise ValueError("lift_by_day needs per-user data: an Attribution whose recommendations "
                         "log has USER_ID, or a UserData")
    control, treatment = _arms(users, control, treatment)
    rows = []
    by_day = users.day_moments(metric.upper(), [control, treatment])
    for day in users.days():
        c, t = (by_day[(day, a)].sample("value") for a in (control, treatment))
        try:  # compare's per-user interval (Fieller's), uncorrected for skewness
            r = _user_test(c, t, alpha)
            vals = (r.control, r.treatment, r.treatment / r.control - 1, r.ci_low, r.ci_high)
        except (ValueError, ZeroDivisionError):  # (an arm of fewer than two users that day)
            means = [x.mean if x.n else math.nan for x in (c, t)]
            lift = means[1] / means[0] - 1 if means[0] else math.nan
            vals = (*means, lift, math.nan, math.nan)
        rows.append((day, int(c.n + t.n), *vals))
    from attrkit.attribution.windows import to_datetime

    return pl.DataFrame(rows, orient="row", schema={
        "day": pl.Int64, "users": pl.Int64, "control_mean": pl.Float64,
        "treatment_mean": pl.Float64, "lift": pl.Float64, "lift_ci_low": pl.Float64,
        "lift_ci_high": pl.Float64}).with_columns(to_datetime(pl.col("day")).dt.date())



__all__ = ["lift_by_day", "monitor"]
