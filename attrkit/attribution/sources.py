"""Which recommendation source an event belongs to (the service's rules, spec §3).

1. a non-empty ``EVENT_ATTRIBUTION_SOURCE`` label wins, even over a recommendation ID;
2. else the source that served ``RECOMMENDATION_ID``, from the recommendations log;
3. else ``SOURCE_NAME_UNDEFINED``. A recommendation ID the log does not know lands here too and
   is flagged *unresolved*.

Step 2 is a left join of every event against the log, the largest single step of attribution.
It is made cheap in three ways:

* the join key is a 64-bit hash of the recommendation ID, not the string. A match is accepted
  only when a second, independently seeded hash agrees as well, so a false match needs two
  64-bit collisions at once; and when two of the log's own IDs share the first hash the lookup
  falls back to joining on the strings;
* the log is always the join's build side (the hash table), so the events stream past it; left
  to choose, polars first buffers a sample of both sides, which for a log of millions of rows
  means holding millions of events;
* the serving source comes back as a small :class:`polars.Enum` code, not a string per event.
  :func:`source_of` turns label and code into the source name, best after grouping, when there
  are few rows left.
"""

from __future__ import annotations

import polars as pl

from attrkit import defaults as D
from attrkit.names import short_name  # noqa: F401  (its home before attrkit.names)

_SEEDS = (0x5EED_0001, 0x5EED_0002)


def id_hashes(ids: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Two independently seeded 64-bit hashes of the recommendation IDs."""
    return ids.hash(seed=_SEEDS[0]), ids.hash(seed=_SEEDS[1])


def lookup_sources(
    events: pl.LazyFrame, recommendations: pl.DataFrame | pl.LazyFrame | None,
    keys: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """Add ``__attrkit_served_by`` (the log's source for ``RECOMMENDATION_ID``, an Enum, or null) and
    ``__attrkit_unresolved`` (an unlabelled event whose recommendation ID the log does not know).

    ``RECOMMENDATION_ID`` and ``EVENT_ATTRIBUTION_SOURCE`` may be absent (all null); the log
    needs ``RECOMMENDATION_ID`` (unique) and ``SOURCE``.
    """
    schema = events.collect_schema()
    fill = [pl.lit(None, dtype=pl.String).alias(c)
            for c in ("RECOMMENDATION_ID", "EVENT_ATTRIBUTION_SOURCE") if c not in schema]
    if fill:
        events = events.with_columns(fill)
    rec_id = pl.col("RECOMMENDATION_ID")
    if recommendations is None:
        events = events.with_columns(pl.lit(None, dtype=pl.Enum([])).alias("__attrkit_served_by"))
    else:
        log = recommendations.lazy().collect() if isinstance(recommendations, pl.LazyFrame) \
            else recommendations
        code = source_code(log)
        k1, k2 = id_hashes(rec_id)
        keyed = log_keys(log) if keys is None else keys
        if keyed is not None:
            events = events.with_columns(k1.alias("_k1")).join(
                keyed.lazy(), on="_k1", how="left", build_side="force_right").with_columns(
                pl.when(rec_id.is_not_null() & (k2 == pl.col("_k2_log")))
                .then(pl.col("__attrkit_served_by")).alias("__attrkit_served_by")
            ).drop("_k1", "_k2_log")
        else:  # two of the log's IDs share a hash: join on the strings themselves
            events = events.join(log.lazy().select("RECOMMENDATION_ID", code),
                                 on="RECOMMENDATION_ID", how="left", build_side="force_right")
    label = pl.col("EVENT_ATTRIBUTION_SOURCE")
    return events.with_columns(
        (label.is_null() & rec_id.is_not_null() & pl.col("__attrkit_served_by").is_null())
        .alias("__attrkit_unresolved"))


def source_code(log: pl.DataFrame) -> pl.Expr:
    """The log's ``SOURCE`` as an Enum of its sources in sorted order (as it is already once
    the log is typed: four bytes a row, not the source's name)."""
    if isinstance(log.schema["SOURCE"], pl.Enum):
        return pl.col("SOURCE").alias("__attrkit_served_by")
    return pl.col("SOURCE").cast(pl.Enum(log["SOURCE"].drop_nulls().unique().sort())).alias(
        "__attrkit_served_by")


def log_keys(log: pl.DataFrame) -> pl.DataFrame | None:
    """The log keyed for the join: two 64-bit hashes of each recommendation ID and its source
    code (twenty bytes a row, made once per run); ``None`` when two IDs share the first hash
    (then the join is on the IDs themselves)."""
    k1, k2 = id_hashes(pl.col("RECOMMENDATION_ID"))
    keyed = log.select(k1.alias("_k1"), k2.alias("_k2_log"), source_code(log))
    return keyed if keyed["_k1"].n_unique() == keyed.height else None


def source_of(label: str = "EVENT_ATTRIBUTION_SOURCE", served: str = "__attrkit_served_by") -> pl.Expr:
    """The source name from an event's label and the log's source (rules 1 to 3)."""
    return pl.coalesce(pl.col(label), pl.col(served).cast(pl.String), pl.lit(D.UNDEFINED_SOURCE))


def resolve_sources(
    events: pl.LazyFrame, recommendations: pl.DataFrame | pl.LazyFrame | None
) -> pl.LazyFrame:
    """Add ``SOURCE`` and ``__attrkit_unresolved`` to events.

    Args:
        events: typed interactions; ``RECOMMENDATION_ID`` and ``EVENT_ATTRIBUTION_SOURCE`` may be
            absent (treated as all null).
        recommendations: typed log with ``RECOMMENDATION_ID`` and ``SOURCE`` (unique IDs), or None.

    Example:
        >>> import polars as pl
        >>> ev = pl.LazyFrame({"RECOMMENDATION_ID": ["r1", "r2", None],
        ...                    "EVENT_ATTRIBUTION_SOURCE": [None, None, "partner"]})
        >>> log = pl.LazyFrame({"RECOMMENDATION_ID": ["r1"], "SOURCE": ["arn:recA"]})
        >>> sorted(resolve_sources(ev, log).collect()["SOURCE"].to_list())
        ['SOURCE_NAME_UNDEFINED', 'arn:recA', 'partner']
    """
    return lookup_sources(events, recommendations).with_columns(
        source_of().alias("SOURCE")).drop("__attrkit_served_by")
