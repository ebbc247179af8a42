"""Results by segment: does the lift hold for everyone, or only for some users?

A *segment* is a value fixed for each user before the comparison looks at them: a column of
Personalize's Users dataset (``USER_ID`` and metadata, the ``user_metadata`` input), or a
column of the interactions, where each user's segment is the value on their first event (by
time; ties by value), and users whose value later changes are counted and warned about.

Per segment, the primary comparison (the metric per assigned user) of every metric and pair,
with lift, interval, the decision numbers and a verdict; the multiple-comparison correction runs
across all segments, metrics and pairs at once (Holm by default, as ``compare``'s
``correction``); a segment with fewer than :data:`~attrkit.comparison.MIN_USERS` users in an
arm gets no verdict. Whether the lift differs between segments is Cochran's Q on the segments'
relative lifts (inverse-variance weights, delta-method standard errors;
:func:`attrkit.stats.heterogeneity_test`): when it is not significant, no segment is a winner on its
own, and the overall result is the one to read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.errors import ConfigError, InputError
from attrkit.names import short_label

NONE = "(none)"
"""The segment of a user with no value (no row in the Users dataset, or an empty value)."""

SEGMENT_SCHEMA = pl.Schema({"USER_ID": pl.String, "segment": pl.String, "changed": pl.Boolean})


@dataclass(frozen=True)
class Segmentation:
    """Each user's segment.

    Attributes:
        column: the column the segments are the values of.
        source: where the values come from, in words (said in the report).
        of_user: ``USER_ID``, ``segment`` (text; :data:`NONE` for no value) and ``changed``
            (the user's value changed after their first event; interactions only).
    """

    column: str
    source: str
    of_user: pl.DataFrame

    @property
    def changed(self) -> int:
        """Users whose value changed after their first event."""
        return int(self.of_user["changed"].sum())


def from_user_metadata(data: Any, column: str) -> Segmentation:
    """Segments from a Users dataset (path, folder, ``s3://`` key or frame; CSV or Parquet):
    one row per ``USER_ID``. A bad row (a missing or repeated ``USER_ID``) is an error naming
    its file, line and column."""
    from attrkit.inputs.readers import load
    from attrkit.inputs.schema import coerce

    ds = load("user_metadata", data)
    if column not in ds.columns:
        raise ConfigError(f"segments={column!r}: not a column of the users dataset "
                          f"{ds.source} (columns: {', '.join(ds.columns)})")
    typed = coerce(ds.raw.select("USER_ID", column, "__attrkit_pos"), "user_metadata",
                   keep_other_columns=True)
    frame = typed.collect()
    bad = frame.filter("__attrkit_bad").sort("__attrkit_pos")
    if bad.height:
        first = bad.row(0, named=True)
        raise ds.error(first["__attrkit_pos"], first["__attrkit_rule"], first["__attrkit_column"])
    of_user = frame.select("USER_ID", _text(column).alias("segment"),
                           pl.lit(False).alias("changed"))
    return Segmentation(column, f"column {column} of the users dataset ({ds.source})",
                        of_user.cast(dict(SEGMENT_SCHEMA)))


def from_interactions(data: Any, column: str, *, timestamp_unit: str = "s") -> Segmentation:
    """Segments from a column of the interactions: each user's value on their first event (by
    time, ties by value), and whether it changed later. Rows that break a rule are left out, as
    the attribution leaves them out (its health counts them)."""
    from attrkit.inputs.readers import Dataset, load
    from attrkit.inputs.schema import coerce

    ds = data if isinstance(data, Dataset) else load("interactions", data)
    if column not in ds.columns:
        raise ConfigError(f"segments={column!r}: not a column of the interactions "
                          f"{ds.source} (columns: {', '.join(ds.columns)})")
    typed = coerce(ds.raw.select("USER_ID", "TIMESTAMP", column, "__attrkit_pos"),
                   "interactions", keep_other_columns=True, timestamp_unit=timestamp_unit)
    value = _text(column)
    of_user = (typed.filter(~pl.col("__attrkit_bad"))
               .group_by("USER_ID")
               .agg(value.sort_by("TIMESTAMP", value).first().alias("segment"),
                    (value.n_unique() > 1).alias("changed"))
               .collect(engine="streaming"))
    return Segmentation(column, f"column {column} of the interactions, each user's value on "
                        f"their first event ({ds.source})", of_user.cast(dict(SEGMENT_SCHEMA)))


def _text(column: str) -> pl.Expr:
    text = pl.col(column).cast(pl.String, strict=False)
    return (pl.when(text.str.strip_chars() == "").then(None).otherwise(text)).fill_null(NONE)


def segmentation(column: str, *, user_metadata: Any = None, interactions: Any = None,
                 timestamp_unit: str = "s") -> Segmentation:
    """The segments of ``column``: from the Users dataset when one is given and has the column,
    else from the interactions."""
    if user_metadata is not None:
        from attrkit.inputs.readers import Dataset, load

        ds = load("user_metadata", user_metadata)
        if column in ds.columns or interactions is None:
            return from_user_metadata(ds, column)
        events = (interactions if isinstance(interactions, Dataset)
                  else load("interactions", interactions))
        if column not in events.columns:
            raise ConfigError(f"segments={column!r}: not a column of the users dataset "
                              f"{ds.source} (columns: {', '.join(ds.columns)}) nor of the "
                              f"interactions {events.source}")
        interactions = events
    if interactions is None:
        raise ConfigError(f"segments={column!r}: give a users dataset with that column "
                          "(user_metadata= / --user-metadata), or the interactions it is a "
                          "column of")
    return from_interactions(interactions, column, timestamp_unit=timestamp_unit)


@dataclass(frozen=True)
class SegmentResults:
    """The comparison by segment.

    Attributes:
        segmentation: where each user's segment came from.
        frame: one row per segment, metric and pair (the primary comparison: per assigned
            user), :data:`~attrkit.frames.RESULT_SCHEMA`'s columns and ``segment``; p-values
            adjusted across every row of the frame.
        heterogeneity: per metric and pair, Cochran's Q of the segments' lifts: ``segments``
            (those with a verdict), ``q``, ``df``, ``p_value``, ``i2`` (the share of the
            variation between segments that is not chance).
        users: users per segment (every arm compared).
        warnings: what a reader should know (changing values, users without a segment).
    """

    segmentation: Segmentation
    frame: pl.DataFrame
    heterogeneity: pl.DataFrame
    users: dict[str, int]
    warnings: list[str]

    def sentence(self, metric: str, control: str, treatment: str, alpha: float = D.ALPHA
                 ) -> str:
        """Whether the lift of ``metric`` differs between segments, in words: never a segment
        called a winner when the heterogeneity test is not significant."""
        col = self.segmentation.column
        h = self.heterogeneity.filter(metric=metric, control=control, treatment=treatment)
        pair = f"{short_label(treatment)} vs {short_label(control)}"
        if not h.height or h["p_value"][0] is None or not math.isfinite(h["p_value"][0]):
            return (f"Too few segments of {col} with enough users to test whether the lift of "
                    f"{metric} ({pair}) differs between them.")
        r = h.row(0, named=True)
        test = f"Cochran's Q = {r['q']:.2f}, df {r['df']}, p = {r['p_value']:.2g}"
        if r["p_value"] >= alpha:
            return (f"The lift of {metric} ({pair}) does not differ detectably between the "
                    f"{r['segments']} segments of {col} ({test}): read the overall result; no "
                    "segment's lift stands apart from the others.")
        rows = self.frame.filter(metric=metric, control=control, treatment=treatment,
                                 tested=True).sort("lift")
        low, high = rows.row(0, named=True), rows.row(-1, named=True)
        return (f"The lift of {metric} ({pair}) differs between segments of {col} ({test}): "
                f"from {low['lift']:+.1%} ({low['segment']}) to {high['lift']:+.1%} "
                f"({high['segment']}).")


def compare_segments(users: Any, seg: Segmentation, metrics: list[str],
                     pairs: list[tuple[str, str]], alpha: float, correction: str,
                     user_rows: Any, *, cap: float | None = None, pre_of: Any = None
                     ) -> SegmentResults:
    """The per-user comparison of every metric and pair within each segment (``user_rows``
    is :func:`~attrkit.comparison.choose._user_rows`), the correction across all of them, and
    the heterogeneity test. ``pre_of(metric)`` gives a metric's pre-period for CUPED."""
    from attrkit.comparison.results import verdicts
    from attrkit.frames import RESULT_SCHEMA

    arms = sorted({a for p in pairs for a in p})
    counts = users.segment_counts(seg.of_user, arms, NONE)
    values = counts["segment"].to_list()
    if not counts.height:
        raise InputError(seg.source, "no assigned user to put in a segment")
    assigned = int(counts["users"].sum())
    warnings = []
    missing = int(counts.filter(segment=NONE)["users"].sum())
    if missing:
        warnings.append(f"{missing:,} of {assigned:,} assigned users have no value of "
                        f"{seg.column}: they form the segment {NONE}")
    if seg.changed:
        changed = int(counts["changed"].sum())
        warnings.append(f"{changed:,} assigned users' {seg.column} changed during the data "
                        "(each stays in the segment of their first event)")
    if len(values) > D.MAX_SEGMENTS:
        raise ConfigError(f"segments={seg.column!r}: {len(values):,} distinct values; at most "
                          f"{D.MAX_SEGMENTS} segments are compared (choose a coarser column)")
    rows = []
    for value in values:
        part = users.in_segment(seg.of_user, value, NONE)
        for metric in metrics:
            pre = pre_of(metric) if pre_of is not None else None
            for control, treatment in pairs:
                for r in user_rows(part, metric, control, treatment, alpha, cap=cap, pre=pre):
                    if r["kind"] == "per_user":
                        rows.append(r | {"segment": value})
    frame = pl.DataFrame(rows, schema=RESULT_SCHEMA | {"segment": pl.String}, orient="row")
    frame = verdicts(frame, "users", correction, alpha)
    frame = frame.select("segment", *RESULT_SCHEMA)
    return SegmentResults(seg, frame, _heterogeneity(frame, D.MIN_USERS),
                          dict(counts.select("segment", "users").iter_rows()),
                          warnings)


HETEROGENEITY_SCHEMA = pl.Schema({"metric": pl.String, "control": pl.String,
                                  "treatment": pl.String, "segments": pl.Int64, "q": pl.Float64,
                                  "df": pl.Int64, "p_value": pl.Float64, "i2": pl.Float64})


def _heterogeneity(frame: pl.DataFrame, min_users: int) -> pl.DataFrame:
    """Cochran's Q per metric and pair over the segments with enough users and a finite lift
    and standard error (:func:`attrkit.stats.heterogeneity_test`)."""
    from attrkit.stats import heterogeneity_test

    out = []
    usable = frame.filter(pl.col("tested"), pl.min_horizontal("control_n", "treatment_n")
                          >= min_users, pl.col("lift_se").is_finite(), pl.col("lift_se") > 0)
    for metric, control, treatment in frame.select("metric", "control", "treatment").unique(
            maintain_order=True).iter_rows():
        u = usable.filter(metric=metric, control=control, treatment=treatment)
        if u.height < 2:
            out.append((metric, control, treatment, u.height, None, None, None, None))
            continue
        r = heterogeneity_test(u["lift"].to_numpy(), u["lift_se"].to_numpy())
        out.append((metric, control, treatment, u.height, r.q, r.df, r.p_value, r.i2))
    return pl.DataFrame(out, schema=HETEROGENEITY_SCHEMA, orient="row")


__all__ = ["NONE", "SegmentResults", "Segmentation", "compare_segments", "from_interactions",
           "from_user_metadata", "segmentation"]
