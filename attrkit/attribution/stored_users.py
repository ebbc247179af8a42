"""Per-user data larger than memory: :class:`StoredUserData` keeps the users in buckets on disk
and answers what the comparisons ask (:class:`~attrkit.attribution.users.UserData`'s methods of
the same names) a bucket at a time.

A user's assignment, values and recommendations served are all in one bucket (the bucket of a
hash of ``USER_ID``), so each bucket is a small :class:`UserData` of its own, and what the
comparisons need adds up over buckets: the moments are whole numbers
(:mod:`~attrkit.attribution.moments`), sums per day and source too, counts of users add up
because no user is in two buckets. The cap's quantile is the exact element that polars'
``higher`` quantile picks, found from the buckets' counts of each distinct value. The answers
are those of one :class:`UserData` holding every user, byte for byte; memory holds one bucket.

The embedded engine builds this when it attributes in chunks and the log has ``USER_ID``
(:mod:`~attrkit.attribution.buckets`). The files live in a temporary folder that is removed
when the last object reading it goes away.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from attrkit.attribution.moments import ArmMoments, Moments, in_units
from attrkit.attribution.users import (
    BASE,
    DesignCheck,
    UserData,
    _by_arm,
    capped_limits,
    design_check,
    higher_index,
    source_means,
    tested_moments,
    unscaled_by_day,
)
from attrkit.frames import ASSIGNMENT_SCHEMA, SERVED_SCHEMA, USER_ORDER, VALUES_SCHEMA

USER_BUCKET = "__attrkit_user_bucket"
PARTS = {"assignment": ASSIGNMENT_SCHEMA, "values": VALUES_SCHEMA, "served": SERVED_SCHEMA}

Step = Callable[[int, UserData], UserData]


def user_bucket(n: int, column: str = "USER_ID") -> pl.Expr:
    """The bucket of each row's user, of ``n`` (the same for a user in every frame: a hash of
    ``USER_ID`` as a string; a missing one has a bucket too)."""
    return (pl.col(column).cast(pl.String).hash(seed=29) % n).cast(pl.Int64).alias(USER_BUCKET)


class Folder:
    """A temporary folder, removed when no object holds it (or when Python exits)."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="attrkit-users-"))
        self._remove = weakref.finalize(self, shutil.rmtree, str(self.path), True)


def write_bucket(folder: Folder, b: int, users: UserData) -> None:
    """Store bucket ``b``'s frames (in any order: :meth:`StoredUserData.assignment` and the
    others sort the whole in :data:`~attrkit.frames.USER_ORDER`)."""
    where = folder.path / str(b)
    where.mkdir(parents=True, exist_ok=True)
    for name in PARTS:
        getattr(users, name).write_parquet(where / f"{name}.parquet")


class PrePeriod:
    """:meth:`StoredUserData.scaled_pre_period`'s answer: each bucket's pre-period, computed
    when a bucket's moments need it."""

    def __init__(self, users: StoredUserData, metric: str, before: int) -> None:
        self.users, self.metric, self.before = users, metric, before

    def of(self, b: int) -> pl.DataFrame:
        return self.users.load(b).scaled_pre_period(self.metric, self.before)


class StoredUserData:
    """Per-user assignment and outcomes in ``n`` buckets of users under ``folder`` (see the
    module docs); :class:`UserData`'s methods, a bucket in memory at a time."""

    def __init__(self, folder: Folder, n: int, log_rows_without_user: int = 0,
                 steps: tuple[Step, ...] = ()) -> None:
        self.folder, self.n, self.log_rows_without_user = folder, n, log_rows_without_user
        self._steps = steps
        self._arms: list[str] | None = None
        self._parts: tuple[pl.DataFrame, dict[int, pl.DataFrame]] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> StoredUserData:
        return self  # (its files are never changed, and a copy must keep them alive)

    # -- buckets -------------------------------------------------------------------------

    def load(self, b: int, parts: tuple[str, ...] = tuple(PARTS)) -> UserData:
        """Bucket ``b`` as a :class:`UserData` (the frames not in ``parts`` empty, unless a
        step such as :meth:`in_segment` reads them: then all)."""
        if self._steps:
            parts = tuple(PARTS)
        where = self.folder.path / str(b)
        frames = [pl.read_parquet(where / f"{name}.parquet") if name in parts
                  else pl.DataFrame(schema=schema) for name, schema in PARTS.items()]
        users = UserData(*frames, self.log_rows_without_user)
        for step in self._steps:
            users = step(b, users)
        return users

    def _each(self, parts: tuple[str, ...] = tuple(PARTS)) -> Iterator[tuple[int, UserData]]:
        for b in range(self.n):
            yield b, self.load(b, parts)

    def _with(self, step: Step) -> StoredUserData:
        return StoredUserData(self.folder, self.n, self.log_rows_without_user,
                              (*self._steps, step))

    def _part(self, frame: pl.DataFrame, b: int) -> pl.DataFrame:
        """The rows of a per-user ``frame`` (``USER_ID``) whose users are in bucket ``b``."""
        if self._parts is None or self._parts[0] is not frame:
            split = frame.with_columns(user_bucket(self.n)).partition_by(
                USER_BUCKET, as_dict=True, include_key=False)
            self._parts = (frame, {k[0]: v for k, v in split.items()})
        return self._parts[1].get(b, frame.clear())

    # -- the frames, whole (small data, tests) --------------------------------------------

    def _whole(self, name: str) -> pl.DataFrame:
        return pl.concat([getattr(u, name) for _, u in self._each((name,))]).sort(
            *USER_ORDER[name])

    @property
    def assignment(self) -> pl.DataFrame:
        """Every user's assignment, in memory (as :class:`UserData`'s)."""
        return self._whole("assignment")

    @property
    def values(self) -> pl.DataFrame:
        """Every user's values, in memory (as :class:`UserData`'s)."""
        return self._whole("values")

    @property
    def served(self) -> pl.DataFrame:
        """Every user's recommendations served, in memory (as :class:`UserData`'s)."""
        return self._whole("served")

    def to_polars(self) -> UserData:
        """The whole data as one :class:`UserData` in memory."""
        return UserData(self.assignment, self.values, self.served, self.log_rows_without_user)

    # -- UserData's questions ---------------------------------------------------------------

    @property
    def arms(self) -> list[str]:
        """Sources that users were assigned to, sorted."""
        if self._arms is None:
            self._arms = sorted({a for _, u in self._each(("assignment",)) for a in u.arms})
        return self._arms

    def between(self, start: int | None = None, end: int | None = None) -> StoredUserData:
        """As :meth:`UserData.between`."""
        if start is None and end is None:
            return self
        return self._with(lambda _, u: u.between(start, end))

    def in_segment(self, of_user: pl.DataFrame, value: str, none: str) -> StoredUserData:
        """As :meth:`UserData.in_segment`."""
        return self._with(lambda b, u: u.in_segment(self._part(of_user, b), value, none))

    def segment_counts(self, of_user: pl.DataFrame, arms: list[str], none: str
                       ) -> pl.DataFrame:
        """As :meth:`UserData.segment_counts`."""
        parts = [u.segment_counts(self._part(of_user, b), arms, none)
                 for b, u in self._each(("assignment",))]
        return (pl.concat(parts).group_by("segment")
                .agg(pl.col("users", "changed").sum().cast(pl.Int64)).sort("segment"))

    def assigned_before(self, time: int) -> int:
        return sum(u.assigned_before(time) for _, u in self._each(("assignment",)))

    def assigned_by_day(self) -> pl.DataFrame:
        """As :meth:`UserData.assigned_by_day`."""
        parts = [u.assigned_by_day() for _, u in self._each(("assignment",))]
        return (pl.concat(parts).group_by("source", "day")
                .agg(pl.col("assigned").sum().cast(pl.Int64)).sort("source", "day"))

    def own_by_day(self, metric: str) -> pl.DataFrame:
        """As :meth:`UserData.own_by_day`."""
        parts = [u.own_by_day_sums(metric) for _, u in self._each(("assignment", "values"))]
        return unscaled_by_day(pl.concat(parts).group_by("day", "source")
                               .agg(pl.col("value").sum()))

    def days(self) -> list[int]:
        return sorted({d for _, u in self._each(("served",)) for d in u.days()})

    def metrics(self) -> list[str]:
        return sorted({m for _, u in self._each(("values",)) for m in u.metrics()})

    def first_metric(self) -> str | None:
        return min(self.metrics(), default=None)

    def per_user(self, metric: str, arms: list[str], *, until: int | None = None
                 ) -> pl.DataFrame:
        """As :meth:`UserData.per_user` (every user of ``arms`` in memory)."""
        return pl.concat([u.per_user(metric, arms, until=until)
                             for _, u in self._each()]).sort("USER_ID")

    def scaled_per_user(self, metric: str, arms: list[str]) -> pl.DataFrame:
        """As :meth:`UserData.scaled_per_user` (every user of ``arms`` in memory)."""
        return pl.concat([u.scaled_per_user(metric, arms)
                             for _, u in self._each()]).sort("USER_ID")

    def pre_period(self, metric: str, before: int) -> pl.DataFrame:
        return pl.concat([u.pre_period(metric, before)
                             for _, u in self._each(("values",))])

    def scaled_pre_period(self, metric: str, before: int) -> PrePeriod:
        """As :meth:`UserData.scaled_pre_period`: each bucket's, when :meth:`arm_moments`
        reads that bucket."""
        return PrePeriod(self, metric, before)

    def _pre_of(self, pre: PrePeriod | pl.DataFrame | None, b: int) -> pl.DataFrame | None:
        if pre is None:
            return None
        if isinstance(pre, PrePeriod):
            if pre.users.folder is not self.folder:
                raise ValueError("the pre-period must come from the same per-user data")
            return pre.of(b)
        return self._part(pre, b)

    def arm_moments(self, metric: str, arms: list[str], *, cap: float | None = None,
                    pre: PrePeriod | pl.DataFrame | None = None) -> ArmMoments:
        """As :meth:`UserData.arm_moments`: the buckets' moments added up, in one pass (with
        CUPED too); with a cap, the first pass counts each distinct value to find the
        quantile, and a second caps."""
        raw: dict[str, Moments] = {}
        tested: dict[str, Moments] = {}
        counts: dict[str, list[pl.DataFrame]] = {c: [] for c in BASE}
        n = 0
        for b, u in self._each():
            pu = u.scaled_per_user(metric, arms)
            part = _by_arm(pu, BASE, arms, third=True)
            raw = _added(raw, part)
            n += pu.height
            if cap is not None:
                for c in BASE:
                    counts[c].append(pu[c].value_counts(name="count"))
            elif pre is not None:
                tested = _added(tested, tested_moments(pu, arms, None, self._pre_of(pre, b),
                                                       part))
        at = None
        if cap is not None:
            k = higher_index(cap, n)
            at = {c: _kth(counts[c], c, k) if n else None for c in BASE}
            for b, u in self._each():
                pu = u.scaled_per_user(metric, arms)
                tested = _added(tested, tested_moments(pu, arms, at, self._pre_of(pre, b), raw))
        return ArmMoments(raw, tested or raw, capped_limits(at))

    def day_moments(self, metric: str, arms: list[str]) -> dict[tuple[int, str], Moments]:
        """As :meth:`UserData.day_moments`."""
        days = self.days()
        out: dict[tuple[int, str], Moments] = {}
        for _, u in self._each():
            out = _added(out, u.day_moments(metric, arms, days))
        return out

    def moments_by_look(self, metric: str, arms: list[str], looks: list[int]
                        ) -> dict[tuple[int, str], Moments]:
        """As :meth:`UserData.moments_by_look`."""
        out: dict[tuple[int, str], Moments] = {}
        for _, u in self._each(("assignment", "values")):
            out = _added(out, u.moments_by_look(metric, arms, looks))
        return dict(sorted(out.items()))

    def source_means(self, metric: str, sources: list[str], arms: list[str]
                     ) -> dict[str, tuple[float | None, int]]:
        """As :meth:`UserData.source_means`."""
        sums: dict[str, tuple[int, int]] = {}
        n = 0
        for _, u in self._each(("assignment", "values")):
            part, users = u.source_sums(metric, sources, arms)
            n += users
            for s, (v, w) in part.items():
                old = sums.get(s, (0, 0))
                sums[s] = (old[0] + v, old[1] + w)
        return source_means(sums, n, sources)

    def check(self, metric: str | None = None) -> DesignCheck:
        """As :meth:`UserData.check`."""
        if metric is None:
            metric = self.first_metric()
        by_arm = dict.fromkeys(self.arms, 0)
        totals = [0, 0, 0, 0]
        for _, u in self._each(("assignment", "values")):
            for arm, k in u.assignment.group_by("arm").len().iter_rows():
                by_arm[arm] += k
            totals = [x + y for x, y in zip(totals, u.check_counts(metric, list(by_arm)),
                                            strict=True)]
        return design_check(by_arm, totals[0], totals[1], in_units(totals[2], "value"),
                            in_units(totals[3], "value"), metric, self.log_rows_without_user)

    def export(self) -> pl.DataFrame:
        """As :meth:`UserData.export` (every user in memory)."""
        metrics = self.metrics()
        return pl.concat([u.export(metrics) for _, u in self._each()]).sort(
            "USER_ID", "metric_name")

    def write_parquet(self, path: Any) -> None:
        """As :meth:`UserData.write_parquet`."""
        from attrkit import storage

        frame = self.export()
        storage.write_with(path, frame.write_parquet)


def _added(a: dict[Any, Moments], b: dict[Any, Moments]) -> dict[Any, Moments]:
    """Two buckets' moments by key, added (a key of one alone, or without users in one,
    kept as the other has it: a bucket without users has no sums of triples to add)."""
    def add(k: Any) -> Moments:
        x, y = a.get(k), b.get(k)
        if x is None or y is None or not y.n:
            return x if x is not None else y
        return y if not x.n else x + y

    return {k: add(k) for k in {**a, **b}}


def _kth(counts: list[pl.DataFrame], column: str, k: int) -> int:
    """The ``k``-th smallest value (from 0) of a column from its buckets' value counts."""
    total = (pl.concat(counts).group_by(column).agg(pl.col("count").sum()).sort(column)
             .with_columns(pl.col("count").cum_sum()))
    return int(total.filter(pl.col("count") > k)[column][0])


__all__ = ["Folder", "StoredUserData", "user_bucket", "write_bucket"]
