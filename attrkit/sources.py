"""Which recommendation source an event belongs to (the service's rules, spec §3).

1. a non-empty ``EVENT_ATTRIBUTION_SOURCE`` label wins, even over a recommendation ID;
2. else the source that served ``RECOMMENDATION_ID``, from the recommendations log;
3. else ``SOURCE_NAME_UNDEFINED``. A recommendation ID the log does not know lands here too and
   is flagged *unresolved*.
"""

from __future__ import annotations

import polars as pl

from attrkit import _defaults as D


def resolve_sources(events: pl.LazyFrame, recommendations: pl.LazyFrame | None) -> pl.LazyFrame:
    """Add ``SOURCE`` and ``_unresolved`` to events.

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
    schema = events.collect_schema()
    fill = [pl.lit(None, dtype=pl.String).alias(c)
            for c in ("RECOMMENDATION_ID", "EVENT_ATTRIBUTION_SOURCE") if c not in schema]
    if fill:
        events = events.with_columns(fill)
    label = pl.col("EVENT_ATTRIBUTION_SOURCE")
    rec_id = pl.col("RECOMMENDATION_ID")
    if recommendations is None:
        served = pl.lit(None, dtype=pl.String)
    else:
        log = recommendations.select("RECOMMENDATION_ID", pl.col("SOURCE").alias("_served_by"))
        events = events.join(log, on="RECOMMENDATION_ID", how="left")
        served = pl.col("_served_by")
    return events.with_columns(
        pl.coalesce(label, served, pl.lit(D.UNDEFINED_SOURCE)).alias("SOURCE"),
        (label.is_null() & rec_id.is_not_null() & served.is_null()).alias("_unresolved"),
    ).drop("_served_by", strict=False)
