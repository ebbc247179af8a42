"""Users as the unit of analysis: who was assigned to which source, and what each user did.

Personalize experiments randomise *users*: a user is served by one recommender and stays there.
Comparisons must then treat users, not windows or events, as the units (spec/statistics.md).
When the recommendations log has ``USER_ID``, :func:`attrkit.attribute` builds a
:class:`UserData` beside the windows:

- ``assignment``: one row per user in the log, with the *arm* (the source that served the user
  first, ties broken by source name), when that was, and how many sources served the user;
- ``values``: per user, UTC day, metric and source, the metric attributed to that source;
- ``served``: per user, UTC day and source, recommendations served.

Day granularity lets a comparison be recomputed at each daily look (the always-valid monitor)
and restricted to a date range, while staying small: it grows with users × days, not events.

The population of a comparison is the users in the log (the assigned), never the users who
happen to have events: a user without events counts as zero.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import polars as pl

from attrkit.attribution.moments import (
    LIMIT,
    SCALE,
    ArmMoments,
    Moments,
    in_units,
    polars_aggregates,
    scaled,
    too_large,
)
from attrkit.attribution.windows import window_start
from attrkit.names import short_name

DAY = 86_400


MAX_MULTI_SOURCE_SHARE = 0.01
"""Above this share of users served by several sources, the 'users' design is doubtful."""
MAX_UNLOGGED_EVENT_SHARE = 0.05
"""Above this share of attributed recommender events from users the log does not know, warn."""


def day_of(timestamp: str | pl.Expr) -> pl.Expr:
    """The UTC day (its start, Unix seconds) of a timestamp column: a window one day long."""
    return window_start(timestamp, length=DAY, origin=0)


def assignment_plan(log: pl.LazyFrame) -> pl.LazyFrame:
    """One row per user of the log: the first source served (as assigned) and how many served."""
    return (log.filter(pl.col("USER_ID").is_not_null())
            .group_by("USER_ID")
            .agg(pl.col("SOURCE").sort_by("TIMESTAMP", "SOURCE").first().alias("arm"),
                 pl.col("TIMESTAMP").min().alias("first_served"),
                 pl.col("SOURCE").n_unique().cast(pl.Int64).alias("sources_served")))


def served_plan(log: pl.LazyFrame) -> pl.LazyFrame:
    """Recommendations served per user, UTC day and source."""
    return (log.filter(pl.col("USER_ID").is_not_null())
            .group_by("USER_ID", day_of("TIMESTAMP").alias("day"), pl.col("SOURCE").alias("source"))
            .agg(pl.len().cast(pl.Int64).alias("recommendations")))



USERS_EXPORT_SCHEMA = pl.Schema({"USER_ID": pl.String, "arm": pl.String, "metric_name": pl.String,
                                 "value": pl.Float64, "served": pl.Float64, "total": pl.Float64})
"""The per-user export (:meth:`UserData.write_parquet`, on either engine)."""


def _in_range(frame: pl.DataFrame, metric: str) -> pl.DataFrame:
    """Per-user sums (Int128 whole units) as Int64, or a clear error where one does not fit."""
    cols = [c for c in ("value", "total", "pre") if c in frame.columns]
    big = frame.select(pl.max_horizontal(pl.col(cols).abs().max())).item() if frame.height else 0
    if big is not None and big > LIMIT:
        raise too_large(metric, big)
    return frame.with_columns(pl.col(cols).cast(pl.Int64))


def _unscaled(x: pl.Expr) -> pl.Expr:
    """Whole billionths back to the metric's units (the nearest float)."""
    return x.map_elements(lambda v: in_units(int(v), "value"), return_dtype=pl.Float64)


def source_means(sums: dict[str, tuple[int, int]], n: int, sources: list[str]
                 ) -> dict[str, tuple[float | None, int]]:
    """Per source: its exact sum over ``n`` users as a mean (None without users), and its
    users with events, from ``sums`` (source → whole-unit sum, users with events; a source
    with no event is absent)."""
    return {s: (float(Fraction(sums.get(s, (0, 0))[0], SCALE["value"] * n)) if n else None,
                sums.get(s, (0, 0))[1]) for s in sources}


def _by_arm(pu: pl.DataFrame, quantities: tuple[str, ...], arms: list[str],
            third: bool = False) -> dict[str, Moments]:
    """Each arm's :class:`~attrkit.attribution.moments.Moments` of a scaled per-user frame."""
    rows = {r["arm"]: r for r in pu.group_by("arm").agg(polars_aggregates(quantities, third))
            .with_columns(pl.col("arm").cast(pl.String)).iter_rows(named=True)}
    return {a: Moments.from_row(rows.get(a, {}), quantities) for a in arms}


BASE = ("value", "served", "total")
"""The per-user quantities of :meth:`UserData.scaled_per_user`."""


def as_units(frame: pl.DataFrame, c: str) -> pl.Series:
    """A column of whole units (:data:`SCALE`) in the metric's units, Float64: a true division,
    as Spark's (polars would multiply by 1e-9)."""
    import numpy as np

    return pl.Series(c, frame[c].to_numpy().astype(np.float64) / SCALE[c])


def higher_index(q: float, n: int) -> int:
    """The index of the ``q`` quantile among ``n`` sorted values with polars' (and numpy's)
    ``higher`` interpolation: the element at or above the exact rank."""
    import math

    return min(n - 1, max(0, math.ceil((n - 1) * q))) if n else 0


def capped_limits(at: dict[str, Any] | None) -> dict[str, float]:
    """Each quantity's cap in the metric's units (0 where there is no user) from the whole
    units of ``at`` (None: no cap)."""
    if at is None:
        return {}
    return {c: in_units(int(at[c]), c) if at[c] is not None else 0.0 for c in BASE}


def tested_moments(pu: pl.DataFrame, arms: list[str], at: dict[str, Any] | None,
                   pre: pl.DataFrame | None, raw: dict[str, Moments]) -> dict[str, Moments]:
    """Each arm's moments as tested, of a scaled per-user frame: capped at ``at`` (whole
    units; None: no cap), with the pre-period ``pre`` joined for CUPED (``raw`` when
    neither)."""
    if at is None and pre is None:
        return raw
    if at is not None:
        pu = pu.with_columns(pl.col(c).clip(upper_bound=int(at[c])) for c in BASE
                             if at[c] is not None)
    if pre is None:
        return _by_arm(pu, BASE, arms, third=True)
    pu = pu.join(pre, on="USER_ID", how="left").with_columns(pl.col("pre").fill_null(0))
    return _by_arm(pu, (*BASE, "pre"), arms, third=True)


def unscaled_by_day(sums: pl.DataFrame) -> pl.DataFrame:
    """:meth:`UserData.own_by_day` from its whole-unit sums, sorted."""
    return (sums.sort("day", "source")
            .select("day", "source", _unscaled(pl.col("value")).alias("arm_total")))


def _labelled(assignment: pl.DataFrame, of_user: pl.DataFrame, none: str) -> pl.DataFrame:
    """Each assigned user's ``arm``, ``segment`` and ``changed`` (``none`` and False for users
    ``of_user`` does not hold)."""
    return (assignment.select(pl.col("USER_ID").cast(pl.String), pl.col("arm").cast(pl.String))
            .join(of_user.select("USER_ID", "segment", "changed"), on="USER_ID", how="left")
            .with_columns(pl.col("segment").fill_null(none), pl.col("changed").fill_null(False)))


def _users(n: int) -> str:
    return f"{n:,} user" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class DesignCheck:
    """What the data says about a declared design (it cannot prove one: targeting also gives
    'each user saw one source').

    Attributes:
        users: users in the recommendations log (the population).
        users_by_arm: per source, users assigned to it (first served).
        multi_source_users: users served by more than one source; they stay in the arm first
            served.
        event_users_not_in_log: users with events that the log does not know (not analysed:
            they cannot be tied to an arm, e.g. an anonymous session that logs in later).
        unlogged_events: what those users were attributed by an arm's source, in ``metric``
            (events, for a count metric).
        metric: the metric the event counts are taken in.
        log_rows_without_user: log rows with no ``USER_ID`` (not assigned to any arm).
        warnings: what a reader should know.
    """

    users: int
    users_by_arm: dict[str, int]
    multi_source_users: int
    event_users_not_in_log: int
    unlogged_events: float
    metric: str | None
    log_rows_without_user: int
    warnings: list[str] = field(default_factory=list)

    @property
    def multi_source_share(self) -> float:
        return self.multi_source_users / self.users if self.users else 0.0

    def summary(self) -> str:
        """One paragraph of plain text."""
        arms = ", ".join(f"{short_name(k)} {v:,}" for k, v in self.users_by_arm.items())
        text = (f"{_users(self.users)} in the recommendations log ({arms}); "
                f"{self.multi_source_users:,} ({self.multi_source_share:.1%}) were served by "
                f"more than one source and stay in the arm that served them first; "
                f"{_users(self.event_users_not_in_log)} with events have no arm (not in the log, "
                "or first served after the period analysed) and are not analysed")
        if self.log_rows_without_user:
            text += f"; {self.log_rows_without_user:,} log rows have no USER_ID"
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        return {"users": self.users, "users_by_arm": self.users_by_arm,
                "multi_source_users": self.multi_source_users,
                "multi_source_share": self.multi_source_share,
                "event_users_not_in_log": self.event_users_not_in_log,
                "unlogged_events": self.unlogged_events, "metric": self.metric,
                "log_rows_without_user": self.log_rows_without_user,
                "warnings": list(self.warnings)}


@dataclass(frozen=True)
class UserData:
    """Per-user assignment and outcomes (see the module docs).

    Example:
        >>> import polars as pl
        >>> a = pl.DataFrame({"USER_ID": ["u1", "u2", "u3"], "arm": ["A", "B", "B"],
        ...                   "first_served": [0, 0, 90_000], "sources_served": [1, 1, 1]})
        >>> v = pl.DataFrame({"USER_ID": ["u1", "u2"], "day": [0, 0], "metric_name": "CLICKS",
        ...                   "source": ["A", "B"], "value": [2.0, 3.0]})
        >>> s = pl.DataFrame({"USER_ID": ["u1", "u2", "u3"], "day": [0, 0, 86_400],
        ...                   "source": ["A", "B", "B"], "recommendations": [1, 2, 1]})
        >>> ud = UserData(a, v, s)
        >>> ud.per_user("CLICKS", ["A", "B"]).sort("USER_ID")["value"].to_list()
        [2.0, 3.0, 0.0]
    """

    assignment: pl.DataFrame
    values: pl.DataFrame
    served: pl.DataFrame
    log_rows_without_user: int = 0

    @classmethod
    def from_arrays(cls, user_ids: Any, arms: Any, values: Any, metric: str = "M",
                    served: Any = None) -> UserData:
        """One day of per-user data from arrays: each user assigned to ``arms[i]``, served
        ``served[i]`` recommendations by it (default one) and attributed ``values[i]`` of
        ``metric`` (simulations, tests).

        Example:
            >>> UserData.from_arrays(["u1", "u2"], ["A", "B"], [1.0, 3.0]).arms
            ['A', 'B']
        """
        ids = pl.Series("USER_ID", user_ids, dtype=pl.String)
        arm = pl.Series("arm", arms, dtype=pl.String)
        zeros = pl.repeat(0, len(ids), dtype=pl.Int64, eager=True)
        ones = pl.repeat(1, len(ids), dtype=pl.Int64, eager=True)
        return cls(
            pl.DataFrame({"USER_ID": ids, "arm": arm, "first_served": zeros,
                          "sources_served": ones}),
            pl.DataFrame({"USER_ID": ids, "day": zeros, "metric_name": metric, "source": arm,
                          "value": pl.Series(values, dtype=pl.Float64)}),
            pl.DataFrame({"USER_ID": ids, "day": zeros, "source": arm,
                          "recommendations": ones if served is None
                          else pl.Series(served, dtype=pl.Int64)}))

    @property
    def arms(self) -> list[str]:
        """Sources that users were assigned to, sorted."""
        return self.assignment["arm"].unique().sort().to_list()

    def between(self, start: int | None = None, end: int | None = None) -> UserData:
        """Restricted to UTC days in ``[start, end)`` (Unix seconds; whole days): the users
        assigned before ``end``, with their outcomes and recommendations within the range."""
        if start is None and end is None:
            return self
        keep = pl.lit(True)
        if start is not None:
            keep &= pl.col("day") >= day_of(pl.lit(start))
        if end is not None:
            keep &= pl.col("day") < end
        assigned = self.assignment
        if end is not None:
            assigned = assigned.filter(pl.col("first_served") < end)
        return UserData(assigned, self.values.filter(keep), self.served.filter(keep),
                        self.log_rows_without_user)

    def per_user(self, metric: str, arms: list[str], *, until: int | None = None) -> pl.DataFrame:
        """One row per user assigned to one of ``arms`` (first served before ``until``): ``arm``,
        ``value`` (the metric attributed to the arm's source), ``served`` (recommendations the
        arm's source served) and ``total`` (the metric across all sources), up to ``until``.
        Users without events count as zero. Sums are exact (:meth:`scaled_per_user`), so they
        do not depend on the order of the rows. Sorted by user."""
        pu = self.between(None, until).scaled_per_user(metric, arms)
        return pu.select("USER_ID", "arm", *(as_units(pu, c) for c in ("value", "served", "total")))

    def segment_counts(self, of_user: pl.DataFrame, arms: list[str], none: str
                       ) -> pl.DataFrame:
        """Per segment of the users assigned to ``arms`` (``of_user``: ``USER_ID``, ``segment``,
        ``changed``; a user not in it is in ``none``): ``segment``, ``users`` and ``changed``
        (those whose value changed), sorted by segment."""
        return (_labelled(self.assignment, of_user, none).filter(pl.col("arm").is_in(arms))
                .group_by("segment").agg(pl.len().cast(pl.Int64).alias("users"),
                                         pl.col("changed").sum().cast(pl.Int64))
                .sort("segment"))

    def in_segment(self, of_user: pl.DataFrame, value: str, none: str) -> UserData:
        """The same data for the users of one segment alone (see :meth:`segment_counts`):
        their assignment, values and recommendations served."""
        keep = _labelled(self.assignment, of_user, none).filter(segment=value).select("USER_ID")
        return UserData(*(f.join(keep, on="USER_ID", how="semi")
                          for f in (self.assignment, self.values, self.served)),
                        self.log_rows_without_user)

    def assigned_before(self, time: int) -> int:
        """Users first served before ``time`` (Unix seconds)."""
        return self.assignment.filter(pl.col("first_served") < time).height

    def own_by_day(self, metric: str) -> pl.DataFrame:
        """Per UTC day (``day``) and arm (``source``): the metric its users were attributed by
        their own arm's source (``arm_total``)."""
        return unscaled_by_day(self.own_by_day_sums(metric))

    def own_by_day_sums(self, metric: str) -> pl.DataFrame:
        """:meth:`own_by_day` in whole billionths (``day``, ``source``, ``value``: Int128),
        before they become floats: sums of parts add up exactly."""
        arm = self.assignment.select("USER_ID", pl.col("arm").cast(pl.String).alias("source"))
        return (self.values.filter(metric_name=metric)
                .with_columns(pl.col("source").cast(pl.String), scaled(pl.col("value"), "value"))
                .join(arm, on=["USER_ID", "source"]).group_by("day", "source")
                .agg(pl.col("value").sum()))

    def assigned_by_day(self) -> pl.DataFrame:
        """Per arm (``source``) and UTC day of first service (``day``), the users assigned
        (``assigned``)."""
        return (self.assignment.group_by(pl.col("arm").cast(pl.String).alias("source"),
                                         day_of("first_served").alias("day"))
                .agg(pl.len().cast(pl.Int64).alias("assigned")).sort("source", "day"))

    def days(self) -> list[int]:
        """The UTC days (their start, Unix seconds) on which recommendations were served."""
        return self.served["day"].unique().sort().to_list()

    def scaled_per_user(self, metric: str, arms: list[str]) -> pl.DataFrame:
        """:meth:`per_user` in :data:`~attrkit.attribution.moments.SCALE`'s whole units
        (Int64): what :meth:`arm_moments` adds up. Each user-day value is rounded to its nine
        places first, so that the sums are exact and do not depend on the order they are
        added in."""
        pop = self.assignment.filter(pl.col("arm").is_in(arms)).select("USER_ID", "arm")
        value = scaled(pl.col("value"), "value")
        sums = (self.values.filter(metric_name=metric).join(pop, on="USER_ID")
                .group_by("USER_ID").agg(value.filter(pl.col("source") == pl.col("arm")).sum()
                                         .alias("value"), value.sum().alias("total")))
        recs = (self.served.join(pop, on="USER_ID").filter(pl.col("source") == pl.col("arm"))
                .group_by("USER_ID").agg(pl.col("recommendations").sum().alias("served")))
        out = (pop.join(sums, on="USER_ID", how="left").join(recs, on="USER_ID", how="left")
               .with_columns(pl.col("value", "served", "total").fill_null(0)))
        return _in_range(out, metric).sort("USER_ID")

    def metrics(self) -> list[str]:
        """The metrics of the values, sorted."""
        return self.values["metric_name"].unique().sort().to_list()

    def export(self, metrics: list[str] | None = None) -> pl.DataFrame:
        """Every user of the log and metric (of ``metrics``, default :meth:`metrics`):
        ``USER_ID``, ``arm``, ``metric_name``, ``value`` (attributed to the arm's source),
        ``served`` and ``total`` (all sources), zeros included; values from their exact sums.
        What :meth:`write_parquet` writes."""
        if metrics is None:
            metrics = self.metrics()
        parts = [self.scaled_per_user(m, self.arms).with_columns(pl.lit(m).alias("metric_name"))
                 for m in metrics]
        if not parts:
            return pl.DataFrame(schema=USERS_EXPORT_SCHEMA)
        whole = pl.concat(parts)
        return (whole.select("USER_ID", pl.col("arm").cast(pl.String), "metric_name")
                .with_columns(as_units(whole, c) for c in ("value", "served", "total"))
                .cast(dict(USERS_EXPORT_SCHEMA)).sort("USER_ID", "metric_name"))

    def write_parquet(self, path: str | os.PathLike[str]) -> None:
        """:meth:`export` as one Parquet file at ``path``, local or ``s3://`` (written whole
        or not at all)."""
        from attrkit import storage

        frame = self.export()
        storage.write_with(path, frame.write_parquet)

    def scaled_pre_period(self, metric: str, before: int) -> pl.DataFrame:
        """:meth:`pre_period` in whole billionths (``USER_ID``, ``pre``)."""
        pre = (self.values.filter(pl.col("metric_name") == metric, pl.col("day") < before)
               .group_by("USER_ID").agg(scaled(pl.col("value"), "pre").sum()
                                        .alias("pre")))
        return _in_range(pre, metric)

    def arm_moments(self, metric: str, arms: list[str], *, cap: float | None = None,
                    pre: pl.DataFrame | None = None) -> ArmMoments:
        """Per arm of ``arms``, the exact moments of its users' values (see
        :mod:`~attrkit.attribution.moments`): as they are, and as tested (capped at the
        ``cap`` quantile of both arms' values, with ``pre`` the per-user pre-period of
        :meth:`scaled_pre_period` for CUPED)."""
        pu = self.scaled_per_user(metric, arms)
        raw = _by_arm(pu, BASE, arms, third=True)
        at = None
        if cap is not None:  # the element itself: a quantile in floats rounds above 2⁵³
            k = higher_index(cap, pu.height)
            at = {c: int(pu[c].sort()[k]) if pu.height else None for c in BASE}
        return ArmMoments(raw, tested_moments(pu, arms, at, pre, raw), capped_limits(at))

    def day_moments(self, metric: str, arms: list[str], days: list[int] | None = None
                    ) -> dict[tuple[int, str], Moments]:
        """Per UTC day (of ``days``, default :meth:`days`) and arm: the moments of the users
        assigned by the day's end (zeros included) and their value that day, as
        :meth:`between` the day and the next, then :meth:`arm_moments` would give."""
        out = {}
        for day in self.days() if days is None else days:
            pu = self.between(day, day + DAY).scaled_per_user(metric, arms)
            for arm, m in _by_arm(pu, ("value",), arms).items():
                out[(day, arm)] = m
        return out

    def source_means(self, metric: str, sources: list[str], arms: list[str]
                     ) -> dict[str, tuple[float | None, int]]:
        """Per source of ``sources``: its metric's mean per user of ``arms`` (zeros included;
        None without users) and how many of them it has events from."""
        return source_means(*self.source_sums(metric, sources, arms), sources)

    def source_sums(self, metric: str, sources: list[str], arms: list[str]
                    ) -> tuple[dict[str, tuple[int, int]], int]:
        """What :meth:`source_means` divides: per source, its metric's exact sum (whole
        billionths) over the users of ``arms`` and how many have events from it; and how many
        users ``arms`` have."""
        pop = self.assignment.filter(pl.col("arm").is_in(arms)).select("USER_ID")
        vals = (self.values.filter(pl.col("metric_name") == metric,
                                   pl.col("source").is_in(sources))
                .join(pop, on="USER_ID")
                .with_columns(scaled(pl.col("value"), "value").alias("value"))
                .group_by("source", "USER_ID").agg(pl.col("value").sum())
                .group_by("source").agg(pl.col("value").sum().alias("sum"),
                                        (pl.col("value") > 0).sum().alias("with")))
        return {s: (int(v), int(w)) for s, v, w in vals.iter_rows()}, pop.height

    def moments_by_look(self, metric: str, arms: list[str], looks: list[int]
                        ) -> dict[tuple[int, str], Moments]:
        """The moments of :meth:`per_user`'s ``value`` at each look: for each ``until`` in
        ``looks`` and each arm, the users assigned before it and their values up to it (users
        without events count as zero). One pass over users × looks instead of one
        :meth:`per_user` per look (an arm with no user yet has no entry). Its size is users ×
        looks: the monitor's looks are days.

        Example:
            >>> a = pl.DataFrame({"USER_ID": ["u", "v"], "arm": ["A", "A"],
            ...                   "first_served": [0, 86_400], "sources_served": [1, 1]})
            >>> v = pl.DataFrame({"USER_ID": ["u", "v"], "day": [0, 86_400],
            ...                   "metric_name": "M", "source": "A", "value": [2.0, 4.0]})
            >>> s = pl.DataFrame(schema={"USER_ID": pl.String, "day": pl.Int64,
            ...                          "source": pl.String, "recommendations": pl.Int64})
            >>> m = UserData(a, v, s).moments_by_look("M", ["A"], [86_400, 172_800])
            >>> [(k, x.n, x.total("value"), x.sample("value").m2) for k, x in m.items()]
            [((86400, 'A'), 1, 2.0, 0.0), ((172800, 'A'), 2, 6.0, 2.0)]
        """
        until = pl.DataFrame({"until": looks}, schema={"until": pl.Int64}).unique().sort("until")
        pop = self.assignment.filter(pl.col("arm").is_in(arms)).select("USER_ID", "arm",
                                                                        "first_served")
        own = (self.values.filter(metric_name=metric)
               .join(pop.select("USER_ID", "arm"), on="USER_ID")
               .filter(pl.col("source") == pl.col("arm"))
               .with_columns(scaled(pl.col("value"), "value").alias("value"))
               .group_by("USER_ID", "day").agg(pl.col("value").sum())
               .sort("USER_ID", "day")
               .with_columns(pl.col("value").cum_sum().over("USER_ID")))
        own = _in_range(own, metric).rename({"value": "cum"})
        # each user at each look after their assignment; their value: the sum of the days
        # before it (a day's start is before `until` when it is at most `until` - 1)
        at = (pop.join(until, how="cross").filter(pl.col("first_served") < pl.col("until"))
              .with_columns((pl.col("until") - 1).alias("last_day")).sort("last_day"))
        at = (at.join_asof(own.select("USER_ID", pl.col("day").alias("last_day"), "cum")
                           .sort("last_day"), on="last_day", by="USER_ID",
                           check_sortedness=False)
              .with_columns(pl.col("cum").fill_null(0).alias("value")))
        rows = (at.group_by("until", "arm").agg(polars_aggregates(("value",)))
                .with_columns(pl.col("arm").cast(pl.String)).sort("until", "arm"))
        return {(r["until"], r["arm"]): Moments.from_row(r, ("value",))
                for r in rows.iter_rows(named=True)}

    def pre_period(self, metric: str, before: int) -> pl.DataFrame:
        """Each user's metric across all sources on UTC days before ``before`` (``USER_ID``,
        ``pre``): the covariate of CUPED, from before anyone was assigned (an exact sum)."""
        pre = self.scaled_pre_period(metric, before)
        return pre.select("USER_ID", as_units(pre, "pre"))

    def check(self, metric: str | None = None) -> DesignCheck:
        """What the data says about the 'users' design (see :class:`DesignCheck`); events are
        counted in ``metric`` (default the first metric by name: values of different metrics
        are never added)."""
        if metric is None:
            metric = self.first_metric()
        by_arm = dict(self.assignment.group_by("arm").len().sort("arm").iter_rows())
        counts = self.check_counts(metric, list(by_arm))
        return design_check(by_arm, counts[0], counts[1], in_units(counts[2], "value"),
                            in_units(counts[3], "value"), metric, self.log_rows_without_user)

    def first_metric(self) -> str | None:
        """The first metric of the values by name (None without values)."""
        return self.values["metric_name"].min() if self.values.height else None

    def check_counts(self, metric: str | None, arms: list[str]) -> tuple[int, int, int, int]:
        """What :meth:`check` counts besides the users per arm, as whole numbers that add up
        over disjoint sets of users: users served by several sources, users with events the
        log does not know, those users' events by ``arms``' sources in ``metric`` and all
        events by ``arms``' sources (both in whole billionths)."""
        multi = int((self.assignment["sources_served"] > 1).sum())
        unknown = self.values.join(self.assignment.select("USER_ID"), on="USER_ID", how="anti")
        unknown_users = unknown["USER_ID"].n_unique()
        arm_events = self.values.filter(pl.col("source").is_in(arms))
        if metric is not None:
            unknown, arm_events = (f.filter(metric_name=metric) for f in (unknown, arm_events))

        def exact(f: pl.DataFrame) -> int:  # the same number whatever the order of the sum
            return int(f.select(scaled(pl.col("value"), "value").sum()).item() or 0)

        return (multi, unknown_users, exact(unknown.filter(pl.col("source").is_in(arms))),
                exact(arm_events))


def design_check(by_arm: dict[str, int], multi: int, unknown_users: int, unlogged: float,
                 total_arm: float, metric: str | None, log_rows_without_user: int
                 ) -> DesignCheck:
    """The :class:`DesignCheck` of these counts, with its warnings (either engine's)."""
    users = sum(by_arm.values())
    warnings = []
    if users and multi / users > MAX_MULTI_SOURCE_SHARE:
        warnings.append(
            f"{multi / users:.1%} of users were served by more than one source: if users "
            "were randomised, each should see one; check the design (they are analysed in "
            "the arm that served them first)")
    if total_arm and unlogged / total_arm > MAX_UNLOGGED_EVENT_SHARE:
        warnings.append(
            f"{unlogged / total_arm:.1%} of the recommenders' attributed events come from "
            "users the recommendations log does not know; they are left out of the per-user "
            "comparison")
    if log_rows_without_user:
        warnings.append(f"{log_rows_without_user:,} recommendations log rows have no "
                        "USER_ID and assign no user")
    return DesignCheck(users, by_arm, multi, unknown_users, unlogged, metric,
                       log_rows_without_user, warnings)


__all__ = ["DesignCheck", "UserData", "day_of"]
