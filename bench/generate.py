"""Benchmark data: N interaction events in Personalize format, items, a recommendations log.

Seeded and vectorised. Half the events carry a recommendation ID, of which about 2% the log does
not know (unresolved); some carry an attribution-source label; the rest are organic. About 0.5%
of rows are exact copies of another (client retries). Written as CSV and Parquet.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import polars as pl

START = 1_767_571_200  # 2026-01-05T00:00:00Z
DAYS = 14
N_ITEMS = 20_000
N_USERS = 200_000
SOURCES = [f"arn:aws:personalize:us-east-1:111122223333:recommender/rec-{i}" for i in range(3)]

METRIC_ATTRIBUTION = {
    "name": "bench",
    "metrics": [
        {"eventType": "click", "metricName": "CLICKS", "expression": "SAMPLECOUNT()"},
        {"eventType": "watch", "metricName": "WATCHES", "expression": "SAMPLECOUNT()"},
        {"eventType": "watch", "metricName": "WATCH_MINUTES", "expression": "SUM(Items.LENGTH)"},
    ],
}


def generate(out: Path, n: int, seed: int = 0, chunk: int = 2_000_000,
             formats: tuple[str, ...] = ("parquet", "csv")) -> dict:
    """Write ``interactions.{csv,parquet}``, ``items.*``, ``recommendations.*`` and
    ``metric_attribution.json`` to ``out``. The events are made, copied (client retries) and
    shuffled a chunk at a time, each chunk written to a part file, and the parts then streamed
    into one file: memory holds a chunk, so 200 million events can be made on one machine."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_recs = max(1, n // 4)
    recs = pl.DataFrame({
        "_i": np.arange(n_recs),
        "SOURCE": np.array(SOURCES)[rng.integers(0, len(SOURCES), n_recs)],
        "TIMESTAMP": START + rng.integers(0, DAYS * 86400, n_recs),
    }).select(pl.format("rid-{}", pl.col("_i").cast(pl.String).str.zfill(9))
              .alias("RECOMMENDATION_ID"), "SOURCE", "TIMESTAMP")
    items = pl.DataFrame({
        "_i": np.arange(N_ITEMS),
        "LENGTH": rng.integers(5, 180, N_ITEMS),
        "GENRE": np.array(["drama", "comedy", "kids"])[rng.integers(0, 3, N_ITEMS)],
    }).select(pl.format("item-{}", pl.col("_i").cast(pl.String).str.zfill(6)).alias("ITEM_ID"),
              "LENGTH", "GENRE")
    scratch = out / "_parts"
    scratch.mkdir(exist_ok=True)
    for i, start in enumerate(range(0, n, chunk)):
        size = min(chunk, n - start)
        copies = size // 200
        m = size - copies
        kind = rng.random(m)
        rec = np.where(kind < 0.5, rng.integers(0, n_recs + n_recs // 50, m), -1)
        label = np.where((kind >= 0.5) & (kind < 0.6), rng.integers(0, 2, m), -1)
        events = pl.DataFrame({
            "USER_ID": rng.integers(0, N_USERS, m),
            "ITEM_ID": rng.integers(0, N_ITEMS + 200, m),  # a few items missing
            "TIMESTAMP": START + rng.integers(0, DAYS * 86400, m),
            "EVENT_TYPE": np.array(["click", "watch", "view"])[
                rng.choice(3, m, p=[0.5, 0.3, 0.2])],
            "EVENT_VALUE": np.round(rng.random(m), 3),
            "_rec": rec, "_label": label,
        }).select(
            pl.format("user-{}", "USER_ID").alias("USER_ID"),
            pl.format("item-{}", pl.col("ITEM_ID").cast(pl.String).str.zfill(6)).alias("ITEM_ID"),
            "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE",
            pl.when(pl.col("_rec") >= 0).then(
                pl.format("rid-{}", pl.col("_rec").cast(pl.String).str.zfill(9)))
            .alias("RECOMMENDATION_ID"),
            pl.when(pl.col("_label") == 0).then(pl.lit("partner-carousel"))
            .when(pl.col("_label") == 1).then(pl.lit("email-campaign"))
            .alias("EVENT_ATTRIBUTION_SOURCE"),
        )
        retries = events.sample(copies, seed=seed + i)
        pl.concat([events, retries]).sample(fraction=1.0, shuffle=True, seed=seed + i + 1
                                            ).write_parquet(scratch / f"{i:06d}.parquet")
    parts = pl.scan_parquet(scratch / "*.parquet")
    if "parquet" in formats:
        parts.sink_parquet(out / "interactions.parquet")
    if "csv" in formats:
        parts.sink_csv(out / "interactions.csv")
    shutil.rmtree(scratch)
    for name, frame in (("items", items), ("recommendations", recs)):
        for fmt in formats:
            getattr(frame, f"write_{fmt}")(out / f"{name}.{fmt}")
    (out / "metric_attribution.json").write_text(json.dumps(METRIC_ATTRIBUTION, indent=2))
    return {"events": n, "recommendations": n_recs, "items": N_ITEMS}


if __name__ == "__main__":
    print(generate(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0,
                   formats=tuple(sys.argv[4].split(",")) if len(sys.argv) > 4 else ("parquet", "csv")))
