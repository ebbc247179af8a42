"""Per-user data that stays on Spark: :class:`SparkUserData` answers what the comparisons ask
(:class:`~attrkit.attribution.users.UserData`'s methods of the same names) with aggregates run
on the executors. Only small results reach the driver: per arm a few dozen exact integers (see
:mod:`~attrkit.attribution.moments`), per day and arm a row; never a row per user.

The moments are whole numbers, so they are the same whatever order Spark adds them in, and the
same as the embedded engine's: a comparison gives the same bytes on either engine. The frames
are cached on the executors while the session lives; :meth:`SparkUserData.to_polars` brings
them to the driver (small data, tests) and :meth:`SparkUserData.write_parquet` writes the
per-user values where they are.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import polars as pl

from attrkit.attribution.moments import (
    LIMB,
    LIMIT,
    SCALE,
    SHIFTS,
    ArmMoments,
    Moments,
    in_units,
    limb_terms,
    pairs,
    product_name,
    too_large,
    triple_name,
    triple_terms,
    triples,
)
from attrkit.attribution.users import (
    DAY,
    DesignCheck,
    UserData,
    capped_limits,
    design_check,
    higher_index,
    source_means,
)
from attrkit.frames import ASSIGNMENT_SCHEMA, SERVED_SCHEMA, USER_ORDER, VALUES_SCHEMA


def _f() -> Any:
    from pyspark.sql import functions as F

    return F


@contextmanager
def described(spark: Any, name: str) -> Iterator[None]:
    """The Spark jobs started inside described as ``attrkit: <name>`` in Spark's UI, history
    server and event log, on a classic session (Spark Connect has no job descriptions); the
    caller's own description (of its thread) is put back after."""
    sc = getattr(spark, "_sc", None)
    if sc is None:
        yield
        return
    before = sc.getLocalProperty("spark.job.description")
    sc.setJobDescription(f"attrkit: {name}")
    try:
        yield
    finally:
        sc.setJobDescription(before)


Method = TypeVar("Method", bound=Callable[..., Any])


def _job(name: str) -> Callable[[Method], Method]:
    """A :class:`SparkUserData` question whose Spark jobs are :func:`described` as ``name``
    (an inner question's name shows while it runs)."""
    def wrap(method: Method) -> Method:
        @functools.wraps(method)
        def asked(self: SparkUserData, *args: Any, **kw: Any) -> Any:
            with described(self.assignment.sparkSession, name):
                return method(self, *args, **kw)
        return asked  # type: ignore[return-value]
    return wrap


def scaled(value: Any, q: str) -> Any:
    """Spark's :func:`attrkit.attribution.moments.scaled`: per-user-day values in whole units,
    rounded half to even as polars rounds (DECIMAL(38, 0): a sum is checked, then made long)."""
    F = _f()
    x = F.bround(value * float(SCALE[q])) if SCALE[q] != 1 else value
    return x.cast("decimal(38,0)")


class _Sql(str):
    """Spark SQL text that adds and multiplies as a number does, so that the limb arithmetic of
    :func:`~attrkit.attribution.moments.limb_terms` and ``triple_terms`` writes each aggregate
    as one expression: one call to Spark an aggregate, where a column built operator by
    operator took one call an operator (thousands a comparison, most of a second each time)."""

    def __add__(self, other: object) -> _Sql:
        return _Sql(f"({self} + {other})")

    def __radd__(self, other: object) -> _Sql:  # (sum() starts at 0)
        return self if other == 0 else _Sql(f"({other} + {self})")

    def __mul__(self, other: object) -> _Sql:
        return _Sql(f"({self} * {other})")


def aggregates(quantities: tuple[str, ...], third: bool = False) -> list[Any]:
    """:func:`attrkit.attribution.moments.polars_aggregates` on Spark, over DECIMAL(38, 0)
    (or long) columns, with ``_big``: the largest magnitude, checked by :func:`_moments` (a
    value beyond a long becomes null in the limbs: the check fails then)."""
    F = _f()
    mask = (1 << LIMB) - 1

    def long(q: str) -> str:
        return f"try_cast(`{q}` AS BIGINT)"

    def limbs(q: str) -> tuple[_Sql, _Sql, _Sql]:
        x = long(q)
        return (_Sql(f"shiftright({x}, {2 * LIMB})"), _Sql(f"(shiftright({x}, {LIMB}) & {mask})"),
                _Sql(f"({x} & {mask})"))

    def decimal(x: str) -> str:
        return f"CAST({x} AS DECIMAL(38,0))"

    sizes = [f"abs({decimal(f'`{q}`')})" for q in quantities]
    biggest = f"greatest({', '.join(sizes)})" if len(sizes) > 1 else sizes[0]
    texts = {"n": "count(1)", "_big": f"max({biggest})"}
    texts |= {f"sum:{q}": f"sum({decimal(f'`{q}`')})" for q in quantities}
    for a, b in pairs(quantities):
        for shift, term in zip(SHIFTS, limb_terms(limbs(a), limbs(b)), strict=True):
            texts[product_name(a, b, shift)] = f"sum({decimal(term)})"
    # triples: two 32-bit limbs, widened to decimals before they are multiplied (each term
    # below 2⁹⁸); four sums a triple, since Spark's cost is in the number of decimal sums
    def limbs32(q: str) -> tuple[_Sql, ...]:
        return (_Sql(decimal(f"shiftright({long(q)}, 32)")),
                _Sql(decimal(f"({long(q)} & {0xFFFFFFFF})")))

    for t in triples(quantities) if third else ():
        terms = triple_terms(*(limbs32(q) for q in t))
        for k, term in enumerate(terms):
            texts[triple_name(t, 32 * (len(terms) - 1 - k))] = decimal(f"sum({term})")
    return [F.expr(text).alias(name) for name, text in texts.items()]


def _moments(frame: Any, quantities: tuple[str, ...], keys: list[str], metric: str | None = None,
             third: bool = False) -> dict[Any, Moments]:
    """Per group of ``keys``, the :class:`Moments` of ``quantities``: one job."""
    rows = frame.groupBy(*keys).agg(*aggregates(quantities, third)).collect()
    for r in rows:
        if r["_big"] is not None and int(r["_big"]) > LIMIT:
            raise too_large(metric or r["metric_name"], int(r["_big"]))
        if r["n"] and any(v is None for k, v in r.asDict().items() if "@" in k):
            # a decimal sum beyond 38 digits (about 4e8 users at the largest values)
            raise ValueError(f"metric {metric or r['metric_name']}: the sums of per-user "
                             "values' powers exceed 38 digits; compare fewer users at once")
    key = (lambda r: r[keys[0]]) if len(keys) == 1 else (lambda r: tuple(r[k] for k in keys))
    return {key(r): Moments.from_row(r.asDict(), quantities) for r in rows}


class SparkUserData:
    """Per-user assignment and outcomes as Spark DataFrames (the schemas of
    :class:`~attrkit.attribution.users.UserData`), queried where they are."""

    def __init__(self, assignment: Any, values: Any, served: Any,
                 log_rows_without_user: int = 0, metrics: tuple[str, ...] = (), *,
                 per_user: Any = None) -> None:
        self.assignment, self.values, self.served = assignment, values, served
        self.log_rows_without_user = log_rows_without_user
        self.metrics = metrics
        """the metrics of the values (those of the attribution)."""
        self._arms: list[str] | None = None
        self._raw: dict[tuple[str, str], Moments] | None = None
        self._labels: tuple[pl.DataFrame, Any] | None = None
        self._per_user = per_user  # (a part's: its parent's, selected; see _per_user_all)
        self._release: Callable[[], Any] = lambda: None
        self._segment_moments: tuple[pl.DataFrame, dict[Any, Moments]] | None = None

    @property
    @_job("the arms")
    def arms(self) -> list[str]:
        if self._arms is None:
            self._arms = sorted(r[0] for r in self.assignment.select("arm").distinct().collect())
        return self._arms

    def between(self, start: int | None = None, end: int | None = None) -> SparkUserData:
        """As :meth:`UserData.between`."""
        F = _f()
        if start is None and end is None:
            return self
        keep = F.lit(True)
        if start is not None:
            keep &= F.col("day") >= (F.floor(F.lit(start) / DAY) * DAY)
        if end is not None:
            keep &= F.col("day") < end
        assigned = self.assignment
        if end is not None:
            assigned = assigned.filter(F.col("first_served") < end)
        return SparkUserData(assigned, self.values.filter(keep), self.served.filter(keep),
                             self.log_rows_without_user, self.metrics)

    @_job("users per segment")
    def segment_counts(self, of_user: pl.DataFrame, arms: list[str], none: str
                       ) -> pl.DataFrame:
        """As :meth:`UserData.segment_counts`: the segments sent to the executors once and
        joined to the assignment there; a row per segment comes back."""
        F = _f()
        got = (self._labelled(of_user, none).filter(F.col("arm").isin(arms))
               .groupBy("segment").agg(F.count(F.lit(1)).alias("users"),
                                       F.sum(F.col("changed").cast("long")).alias("changed")))
        return _to_polars(got).cast({"users": pl.Int64, "changed": pl.Int64}).sort("segment")

    def in_segment(self, of_user: pl.DataFrame, value: str, none: str) -> SparkUserData:
        """As :meth:`UserData.in_segment`: the segment's users selected on the executors; its
        moments as they are taken from every segment's, computed at once."""
        keep = self._labelled(of_user, none).filter(_f().col("segment") == value).select(
            "USER_ID")
        assignment, values, served, per_user = (
            f.join(keep, on="USER_ID", how="left_semi") for f in (
                self.assignment, self.values, self.served, self._per_user_all()))
        part = SparkUserData(assignment, values, served, self.log_rows_without_user,
                             self.metrics, per_user=per_user)
        part._raw = {(m, a): mo for (s, m, a), mo in self._segments_raw(of_user, none).items()
                     if s == value}
        return part

    @_job("every segment's, metric's and arm's moments")
    def _segments_raw(self, of_user: pl.DataFrame, none: str
                      ) -> dict[tuple[str, str, str], Moments]:
        """The moments of every segment (of ``of_user``), metric and arm in one job, as each
        segment's :meth:`_all_raw` would give them one job each."""
        if self._segment_moments is None or self._segment_moments[0] is not of_user:
            segment = self._labelled(of_user, none).select("USER_ID", "segment")
            got = _moments(self._per_user_all().join(segment, on="USER_ID"),
                           ("value", "served", "total"), ["segment", "metric_name", "arm"],
                           third=True)
            self._segment_moments = (of_user, got)
        return self._segment_moments[1]

    def _labelled(self, of_user: pl.DataFrame, none: str) -> Any:
        """Each assigned user's arm, segment and ``changed`` on the executors (cached for the
        segments of one ``of_user``)."""
        if self._labels is None or self._labels[0] is not of_user:
            F = _f()
            meta = self.assignment.sparkSession.createDataFrame(
                of_user.select("USER_ID", "segment", "changed").to_arrow())
            labelled = (self.assignment.select(F.col("USER_ID").cast("string"),
                                               F.col("arm").cast("string"))
                        .join(meta, on="USER_ID", how="left")
                        .fillna({"segment": none, "changed": False}).cache())
            if self._labels is not None:
                self._labels[1].unpersist()
            self._labels = (of_user, labelled)
        return self._labels[1]

    @_job("users assigned before a time")
    def assigned_before(self, time: int) -> int:
        return self.assignment.filter(_f().col("first_served") < time).count()

    @_job("the days served")
    def days(self) -> list[int]:
        return sorted(r[0] for r in self.served.select("day").distinct().collect())

    def scaled_per_user(self, metric: str, arms: list[str]) -> Any:
        """As :meth:`UserData.scaled_per_user`, a Spark DataFrame (of :meth:`_per_user_all`)."""
        F = _f()
        return (self._per_user_all()
                .filter((F.col("metric_name") == metric) & F.col("arm").isin(arms))
                .drop("metric_name"))

    def scaled_pre_period(self, metric: str, before: int) -> Any:
        F = _f()
        pre = (self.values.filter((F.col("metric_name") == metric) & (F.col("day") < before))
               .groupBy("USER_ID").agg(F.sum(scaled(F.col("value"), "pre")).alias("pre")))
        return pre

    @_job("each arm's moments (the cap's quantile, CUPED's pre-period)")
    def arm_moments(self, metric: str, arms: list[str], *, cap: float | None = None,
                    pre: Any = None) -> ArmMoments:
        """As :meth:`UserData.arm_moments`: one aggregate on the executors (two with a cap,
        whose quantile is the exact element polars' ``higher`` interpolation picks)."""
        F = _f()
        base = ("value", "served", "total")
        raw = {a: self._all_raw().get((metric, a), Moments.from_row({}, base)) for a in arms}
        if cap is None and pre is None:
            return ArmMoments(raw, raw, {})
        pu = self.scaled_per_user(metric, arms).cache()
        try:
            tested, limits = raw, {}
            if cap is not None:
                n = sum(m.n for m in raw.values())
                at = _kth(pu, base, higher_index(cap, n))
                limits = capped_limits(at)
                pu = pu.select("USER_ID", "arm", *[
                    F.least(F.col(c), F.lit(v)).alias(c) if v is not None else F.col(c)
                    for c, v in at.items()])
            if pre is not None:
                pu = pu.join(pre, on="USER_ID", how="left").fillna(0, subset=["pre"])
            if cap is not None or pre is not None:
                quantities = (*base, "pre") if pre is not None else base
                got = _moments(pu, quantities, ["arm"], third=True)
                tested = {a: got.get(a, Moments.from_row({}, quantities)) for a in arms}
            return ArmMoments(raw, tested, limits)
        finally:
            pu.unpersist()

    @_job("every metric's and arm's moments")
    def _all_raw(self) -> dict[tuple[str, str], Moments]:
        """Every metric's and arm's moments as they are, in one job (a comparison asks for
        each metric and pair of arms; a user's values do not depend on the pair)."""
        if self._raw is None:
            self._raw = _moments(self._per_user_all(keep=False), ("value", "served", "total"),
                                 ["metric_name", "arm"], third=True)
        return self._raw

    def _per_user_all(self, keep: bool = True) -> Any:
        """Every user of the log and every metric, zeros included, in whole units: cached on
        the executors while this object lives (each comparison, cap and pre-period reads it;
        a segment's part selects its users from its parent's). ``keep=False``: not cached by
        this read (a plain comparison reads it once; caching would only cost)."""
        if self._per_user is None and not keep:
            return self._compute_per_user()
        if self._per_user is None:
            self._per_user = self._compute_per_user().cache()
            self._release = weakref.finalize(self, _release, self._per_user)
            self._release.atexit = False
        return self._per_user

    def _compute_per_user(self) -> Any:
        F = _f()
        pop = self.assignment.select("USER_ID", "arm")
        metrics = self.assignment.sparkSession.createDataFrame(
            [(m,) for m in self.metrics], "metric_name string")
        vals = (self.values.withColumn("value", scaled(F.col("value"), "value"))
                .join(pop, on="USER_ID"))
        sums = vals.groupBy("USER_ID", "metric_name").agg(
            F.sum(F.when(F.col("source") == F.col("arm"), F.col("value"))
                  .otherwise(F.lit(0).cast("decimal(38,0)"))).alias("value"),
            F.sum("value").alias("total"))
        recs = (self.served.join(pop, on="USER_ID").filter(F.col("source") == F.col("arm"))
                .groupBy("USER_ID").agg(F.sum("recommendations").alias("served")))
        return (pop.crossJoin(F.broadcast(metrics))
                .join(sums, on=["USER_ID", "metric_name"], how="left")
                .join(recs, on="USER_ID", how="left")
                .fillna(0, subset=["value", "total", "served"]))

    @_job("each day's moments")
    def day_moments(self, metric: str, arms: list[str]) -> dict[tuple[int, str], Moments]:
        """As :meth:`UserData.day_moments`, in one aggregate: each day's users with a value
        that day, then the zeros of the others assigned by the day's end."""
        F = _f()
        days = self.days()
        pop = self.assignment.filter(F.col("arm").isin(arms)).select(
            "USER_ID", "arm", "first_served")
        own = (self.values.filter(F.col("metric_name") == metric).join(pop, on="USER_ID")
               .filter(F.col("source") == F.col("arm"))
               .filter(F.col("first_served") < F.col("day") + DAY)
               .groupBy("USER_ID", "arm", "day")
               .agg(F.sum(scaled(F.col("value"), "value")).alias("value")))
        with_value = _moments(own, ("value",), ["day", "arm"], metric)
        assigned = self._assigned_by(days, arms)
        out = {}
        for day in days:
            for arm in arms:
                m = with_value.get((day, arm), Moments(0, {"value": 0},
                                                       {("value", "value"): 0}))
                out[(day, arm)] = Moments(assigned.get((day, arm), 0), m.sums, m.products)
        return out

    def _assigned_by(self, days: list[int], arms: list[str]) -> dict[tuple[int, str], int]:
        """Users of each arm first served before each day's end."""
        first = self.assigned_by_day().rows()
        return {(day, arm): sum(n for source, d, n in first if source == arm and d <= day)
                for day in days for arm in arms}

    @_job("the moments at each look")
    def moments_by_look(self, metric: str, arms: list[str], looks: list[int]
                        ) -> dict[tuple[int, str], Moments]:
        """As :meth:`UserData.moments_by_look`: users × looks on the executors, a row per
        look and arm to the driver."""
        F = _f()
        spark = self.assignment.sparkSession
        until = spark.createDataFrame([(int(x),) for x in sorted(set(looks))], "until long")
        pop = self.assignment.filter(F.col("arm").isin(arms)).select(
            "USER_ID", "arm", "first_served")
        own = (self.values.filter(F.col("metric_name") == metric).join(pop, on="USER_ID")
               .filter(F.col("source") == F.col("arm"))
               .groupBy("USER_ID", "day").agg(F.sum(scaled(F.col("value"), "value"))
                                              .alias("value")))
        at = pop.crossJoin(F.broadcast(until)).filter(F.col("first_served") < F.col("until"))
        cum = (at.join(own, on="USER_ID", how="left")
               .groupBy("USER_ID", "arm", "until")
               .agg(F.sum(F.when(F.col("day") < F.col("until"), F.col("value"))
                          .otherwise(F.lit(0).cast("decimal(38,0)"))).alias("value")))
        return _moments(cum, ("value",), ["until", "arm"], metric)

    @_job("each source's mean per user")
    def source_means(self, metric: str, sources: list[str], arms: list[str]
                     ) -> dict[str, tuple[float | None, int]]:
        F = _f()
        pop = self.assignment.filter(F.col("arm").isin(arms)).select("USER_ID")
        n = pop.count()
        rows = (self.values.filter((F.col("metric_name") == metric)
                                   & F.col("source").isin(sources))
                .join(pop, on="USER_ID")
                .groupBy("source", "USER_ID").agg(F.sum(scaled(F.col("value"), "value"))
                                                  .alias("value"))
                .groupBy("source").agg(F.sum("value").alias("sum"),
                                       F.sum((F.col("value") > 0).cast("long")).alias("with"))
                .collect())
        return source_means({r["source"]: (int(r["sum"] or 0), int(r["with"] or 0))
                             for r in rows}, n, sources)

    @_job("each arm's own value by day")
    def own_by_day(self, metric: str) -> pl.DataFrame:
        F = _f()
        arm = self.assignment.select("USER_ID", F.col("arm").alias("source"))
        rows = (self.values.filter(F.col("metric_name") == metric)
                .join(arm, on=["USER_ID", "source"]).groupBy("day", "source")
                .agg(F.sum(scaled(F.col("value"), "value")).alias("value")).collect())
        return pl.DataFrame(
            [(r["day"], r["source"], in_units(int(r["value"]), "value"))
             for r in rows], schema={"day": pl.Int64, "source": pl.String,
                                     "arm_total": pl.Float64}, orient="row").sort("day", "source")

    @_job("users assigned by day")
    def assigned_by_day(self) -> pl.DataFrame:
        F = _f()
        rows = (self.assignment.groupBy(F.col("arm").alias("source"),
                                        (F.floor(F.col("first_served") / DAY) * DAY)
                                        .cast("long").alias("day"))
                .agg(F.count(F.lit(1)).alias("assigned")).collect())
        return pl.DataFrame([tuple(r) for r in rows], schema={
            "source": pl.String, "day": pl.Int64, "assigned": pl.Int64}, orient="row"
        ).sort("source", "day")

    @_job("the design check")
    def check(self, metric: str | None = None) -> DesignCheck:
        """As :meth:`UserData.check`, from two aggregates."""
        F = _f()
        if metric is None:
            metric = min(self.metrics) if self.metrics else None
        arms_rows = self.assignment.groupBy("arm").agg(
            F.count(F.lit(1)).alias("n"),
            F.sum((F.col("sources_served") > 1).cast("long")).alias("multi")).collect()
        by_arm = dict(sorted((r["arm"], int(r["n"])) for r in arms_rows))
        multi = sum(int(r["multi"]) for r in arms_rows)
        arms = list(by_arm)
        known = self.assignment.select("USER_ID", F.lit(True).alias("_known"))
        value = scaled(F.col("value"), "value")
        in_arms = F.col("source").isin(arms) if arms else F.lit(False)
        of_metric = F.col("metric_name") == metric if metric is not None else F.lit(True)
        unknown = F.col("_known").isNull()
        u = (self.values.join(known, on="USER_ID", how="left")
             .agg(F.count_distinct(F.when(unknown, F.col("USER_ID"))).alias("users"),
                  F.sum(F.when(unknown & in_arms & of_metric, value)).alias("unlogged"),
                  F.sum(F.when(in_arms & of_metric, value)).alias("total")).first())
        return design_check(by_arm, multi, int(u["users"]),
                            in_units(int(u["unlogged"] or 0), "value"),
                            in_units(int(u["total"] or 0), "value"), metric,
                            self.log_rows_without_user)

    @_job("the per-user export")
    def write_parquet(self, path: str) -> None:
        """:meth:`UserData.export`'s rows, written by the executors: a Parquet folder at
        ``path`` (Spark's parts; replaced whole), a row per user and metric."""
        F = _f()
        present = self.values.select("metric_name").distinct()  # (as the embedded engine's)
        self._per_user_all(keep=False).join(present, on="metric_name", how="left_semi").select(
            "USER_ID", "arm", "metric_name",
            (F.col("value").cast("double") / float(SCALE["value"])).alias("value"),
            F.col("served").cast("double").alias("served"),
            (F.col("total").cast("double") / float(SCALE["total"])).alias("total"),
        ).write.mode("overwrite").parquet(str(path))

    @_job("the per-user frames to the driver")
    def to_polars(self) -> UserData:
        """The frames on the driver, sorted as the embedded engine's (small data only)."""
        frames = {"assignment": (self.assignment, ASSIGNMENT_SCHEMA),
                  "values": (self.values, VALUES_SCHEMA), "served": (self.served, SERVED_SCHEMA)}
        return UserData(*(_to_polars(f).cast(dict(schema)).sort(*USER_ORDER[k])
                          for k, (f, schema) in frames.items()), self.log_rows_without_user)

    def unpersist(self) -> None:
        for frame in (self.assignment, self.values, self.served):
            frame.unpersist()
        self._release()
        if self._labels is not None:  # the segments' labels (:meth:`_labelled`)
            self._labels[1].unpersist()
            self._labels = None


def _release(frame: Any) -> None:
    """Unpersist a cached frame, if its session still runs (a stopped one holds nothing)."""
    with suppress(Exception):
        frame.unpersist()


def _to_polars(df: Any) -> pl.DataFrame:
    """A small Spark result on the driver, as polars."""
    table = df.toArrow()
    return pl.from_arrow(table) if table.num_rows else pl.from_arrow(table).clear()


def _kth(frame: Any, columns: tuple[str, ...], k: int) -> dict[str, int | None]:
    """Each column's ``k``-th smallest value (from 0), exactly, in one job: counts per column
    and distinct value, accumulated in order (per column on one executor; distinct values, not
    rows)."""
    from functools import reduce

    from pyspark.sql import Window

    F = _f()
    long = reduce(lambda x, y: x.unionByName(y), [
        frame.select(F.lit(c).alias("_col"), F.col(c).cast("decimal(38,0)").alias("_v"))
        for c in columns])
    counts = long.groupBy("_col", "_v").agg(F.count(F.lit(1)).alias("_n"))
    cum = counts.withColumn("_c", F.sum("_n").over(Window.partitionBy("_col").orderBy("_v")))
    got = dict(cum.filter(F.col("_c") > k).groupBy("_col").agg(F.min("_v")).collect())
    return {c: int(got[c]) if got.get(c) is not None else None for c in columns}


__all__ = ["SparkUserData"]
