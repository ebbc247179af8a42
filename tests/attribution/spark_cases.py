"""Data for the Spark tests: random data with bad rows, and writing it in a format."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from conftest import random_data


def _damaged(seed: int) -> dict[str, pl.DataFrame]:
    """Random data with bad rows of several kinds and a log that ties users to lists."""
    data = random_data(seed)
    i = pl.int_range(pl.len())
    data["interactions"] = data["interactions"].with_columns(
        pl.when(i % 37 == 3).then(None).otherwise(pl.col("USER_ID")).alias("USER_ID"),
        pl.when(i % 41 == 5).then(pl.lit(99_999_999_999_000)).otherwise(pl.col("TIMESTAMP"))
        .alias("TIMESTAMP"),
        pl.when(i % 43 == 7).then(pl.lit("  ")).otherwise(pl.col("ITEM_ID")).alias("ITEM_ID"),
        pl.when(i % 47 == 9).then(pl.lit("caf\u00e9")).otherwise(
            pl.col("EVENT_ATTRIBUTION_SOURCE")).alias("EVENT_ATTRIBUTION_SOURCE"))
    log = data["recommendations"].with_columns(pl.format("u{}", i % 20).alias("USER_ID"))
    data["recommendations"] = pl.concat([log, log.head(2)])  # two repeated IDs
    return data


def _write(data: dict[str, pl.DataFrame], folder: Path, fmt: str) -> dict[str, str]:
    paths = {k: str(folder / f"{k}.{fmt}") for k in data}
    for k, frame in data.items():
        getattr(frame, f"write_{fmt}")(paths[k])
    return paths
