"""Where attribution's time goes: the engine's plan built up one step at a time.

Usage: python bench/profile.py [--events N] [--formats parquet,csv] [--repeat R]

Reads the benchmark's data (run ``make bench`` first). Each row adds one step of
:func:`attrkit.attribute`'s plan to the one before and times the whole query (best of R, in this
process, streaming engine); the difference between rows is that step's cost. The last row is
``attrkit.attribute`` itself, which also types the log first, counts duplicates and unresolved
IDs, and assembles the report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from attrkit import attribute
from attrkit.attribution.plan import row_hash as _row_hash
from attrkit.attribution.sources import lookup_sources
from attrkit.attribution.windows import window_start
from attrkit.inputs.readers import load
from attrkit.inputs.schema import coerce, may_repeat

sys.path.append(str(Path(__file__).resolve().parent))
from methods import best  # noqa: E402  # (the benchmark's timing, one piece for every study)

HERE = Path(__file__).resolve().parent


def stages(data: Path, fmt: str) -> list[tuple[str, object]]:
    ev = load("interactions", data / f"interactions.{fmt}")
    log_ds = load("recommendations", data / f"recommendations.{fmt}")
    items_ds = load("items", data / f"items.{fmt}")
    # as the engine does it: IDs checked for repeats by hash (exactly only if a hash repeats)
    typed_log = coerce(log_ds.raw, "recommendations", unique=False).drop(
        "__attrkit_column", "__attrkit_rule", "__attrkit_value")
    log = typed_log.filter(~pl.col("__attrkit_bad")).collect(engine="streaming")
    items = coerce(items_ds.raw.select("ITEM_ID", "LENGTH", "__attrkit_pos"), "items",
                   numeric=("LENGTH",))
    items = items.filter(~pl.col("__attrkit_bad")).select(
        "ITEM_ID", pl.col("LENGTH").alias("_len"), pl.lit(True).alias("_found")).collect()

    def count(lf: pl.LazyFrame):
        # null counts touch every value of every column, so no step is optimised away
        return lambda: lf.select(pl.all().null_count()).collect(engine="streaming")

    scanned = ev.raw.drop("__attrkit_pos")
    typed = coerce(ev.raw, "interactions", keep_other_columns=True)
    valid = typed.filter(~pl.col("__attrkit_bad")).drop(
        "__attrkit_pos", "__attrkit_column", "__attrkit_rule", "__attrkit_value", "__attrkit_bad")
    cols = valid.collect_schema().names()
    needed = ["TIMESTAMP", "EVENT_TYPE", "EVENT_ATTRIBUTION_SOURCE", "RECOMMENDATION_ID",
              "ITEM_ID"]
    hashed = valid.select(*needed, _row_hash(cols).alias("__attrkit_h"))
    looked_up = lookup_sources(hashed, log)
    grouped = looked_up.with_columns(window_start("TIMESTAMP").alias("_W")).join(
        items.lazy(), on="ITEM_ID", how="left").group_by(
        "_W", "EVENT_TYPE", "EVENT_ATTRIBUTION_SOURCE", "__attrkit_served_by").agg(
        pl.len(), pl.col("__attrkit_unresolved").sum(), pl.col("_len").sum(),
        pl.col("_found").null_count())
    return [
        ("scan every column (the events' floor)", count(scanned)),
        ("+ type and check every row", count(valid)),
        ("+ 64-bit row hash (for duplicates)", count(hashed)),
        ("+ source lookup (hashed join, 2.5M-row log)", count(looked_up)),
        ("+ items join, group by window (the report)", lambda: grouped.collect(engine="streaming")),
        ("type and check the log alone", lambda: may_repeat(
            typed_log.collect(engine="streaming")["RECOMMENDATION_ID"])),
        ("attrkit.attribute (all of it)", lambda: attribute(
            data / f"interactions.{fmt}", data / "metric_attribution.json",
            items=data / f"items.{fmt}", recommendations=data / f"recommendations.{fmt}")),
    ]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--data", type=Path, default=HERE / "out" / "data")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    data = args.data / str(args.events)
    if not (data / "interactions.parquet").exists():
        raise SystemExit(f"{data}: no benchmark data; run `make bench EVENTS={args.events}` first")
    for fmt in args.formats.split(","):
        print(f"\n{args.events:,} events, {fmt}: seconds (best of {args.repeat})")
        for name, run in stages(data, fmt):
            print(f"  {name:<48}{best(args.repeat, run):>7.2f}", flush=True)


if __name__ == "__main__":
    main()
