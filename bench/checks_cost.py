"""What attrkit's checks cost on its peers' own engines: the floor under any engine that keeps them.

Usage: python bench/checks_cost.py [--events N] [--engines duckdb,spark] [--repeat R]

Reads the benchmark's Parquet data (run ``make bench`` first) and times, best of R in one
process (warm), the plain report query of ``bench/methods.py`` and then two of attrkit's checks
written as each engine's own SQL, with nothing else: every row's rules counted (blank, length,
printable label, plausible time, finite value), and exact duplicates' first step, the distinct
count of a 64-bit hash of each row's columns. On DuckDB each is one query over the file; on
PySpark (``local[2]``) each is the plain job plus a second aggregate over the same read (the plain
job filtered to the rows the rules keep, as attrkit's report is). An engine that kept every check
(and the quarantine, the unresolved IDs, the exposure and the per-user data besides) could not
take less than the plain query plus these. Writes ``bench/out/checks_cost.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# This folder's profile.py must not stand in for the standard library's (pyspark imports it).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))

from methods import NEEDED, best, event_rules_sql  # noqa: E402

from attrkit import defaults as D  # noqa: E402

HERE = Path(__file__).resolve().parent
LABEL = "EVENT_ATTRIBUTION_SOURCE"
COLUMNS = ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE", "RECOMMENDATION_ID",
           LABEL]


def duckdb_costs(data: Path, repeat: int) -> dict[str, float]:
    import duckdb

    ev, rc, it = (f"read_parquet('{data / n}.parquet')"
                  for n in ("interactions", "recommendations", "items"))
    ok = event_rules_sql()
    plain = f"""SELECT upper(e.EVENT_TYPE) et, CAST(floor(e.TIMESTAMP / 900) * 900 AS BIGINT) w,
        coalesce(nullif(e.{LABEL}, ''), r.SOURCE, 'SOURCE_NAME_UNDEFINED') src, count(*),
        coalesce(sum(i.LENGTH), 0) FROM {ev} e LEFT JOIN {rc} r USING (RECOMMENDATION_ID)
        LEFT JOIN {it} i USING (ITEM_ID) WHERE upper(e.EVENT_TYPE) IN ('CLICK', 'WATCH')
        GROUP BY ALL"""
    queries = {"plain report": plain,
               "rules counted, alone": f"SELECT count(*) FILTER (WHERE NOT ({ok})) FROM {ev}",
               "distinct row hashes, alone":
                   f"SELECT count(DISTINCT hash({', '.join(COLUMNS)})) FROM {ev}",
               "both checks, one pass": f"SELECT count(*) FILTER (WHERE NOT ({ok})), "
                                        f"count(DISTINCT hash({', '.join(COLUMNS)})) FROM {ev}"}
    con = duckdb.connect()
    times = {name: best(repeat, lambda q=q: con.execute(q).fetchall())
             for name, q in queries.items()}
    rows, bad, distinct = con.execute(f"SELECT count(*), count(*) FILTER (WHERE NOT ({ok})), "
                                      f"count(DISTINCT hash({', '.join(COLUMNS)})) FROM {ev} "
                                      ).fetchone()
    # (what the checks found, beside their cost: the bad rows, and the exact duplicates if no
    # two distinct rows share a hash; the benchmark's own run checks them against attrkit's)
    return {**times, "counts": {"rows": rows, "bad_rows": bad, "distinct_hashes": distinct}}


def spark_costs(data: Path, repeat: int) -> dict[str, float]:
    from pyspark.sql import functions as F

    from attrkit.attribution.spark import session

    start = time.perf_counter()
    spark = session(master="local[2]")
    started = time.perf_counter() - start

    def text_ok(c: str, required: bool = True, longest: int = D.MAX_ID_LENGTH):
        ok = ~F.col(c).rlike(r"^\s*$") & (F.length(c) <= longest)
        return F.col(c).isNotNull() & ok if required else F.col(c).isNull() | ok

    label = F.col(LABEL)
    ok = (text_ok("USER_ID") & text_ok("ITEM_ID") & text_ok("EVENT_TYPE")
          & text_ok("RECOMMENDATION_ID", False)
          & (label.isNull() | (label == "") | (~label.rlike(r"^\s*$") & (
              F.length(label) <= D.MAX_ATTRIBUTION_SOURCE_LENGTH)
              & label.rlike(r"^[\x20-\x7E]*$")))
          & F.col("TIMESTAMP").isNotNull() & (F.abs("TIMESTAMP") < D.MAX_PLAUSIBLE_SECONDS)
          & (F.col("EVENT_VALUE").isNull() | ~F.isnan("EVENT_VALUE")))

    def job(check: str | None) -> None:
        ev = spark.read.parquet(str(data / "interactions.parquet")).select(*COLUMNS)
        if check == "rules":
            ev.agg(F.count_if(~ok)).collect()
        elif check == "hash":
            ev.agg(F.count_distinct(F.xxhash64(*COLUMNS))).collect()
        if check:
            ev = ev.filter(ok)
        ev = ev.select(*NEEDED).withColumn("et", F.upper("EVENT_TYPE")).filter(
            F.col("et").isin("CLICK", "WATCH"))
        ev = ev.join(spark.read.parquet(str(data / "recommendations.parquet")).select(
            "RECOMMENDATION_ID", "SOURCE"), on="RECOMMENDATION_ID", how="left")
        ev = ev.join(spark.read.parquet(str(data / "items.parquet")).select(
            "ITEM_ID", F.col("LENGTH").cast("double")), on="ITEM_ID", how="left")
        ev.groupBy("et", (F.floor(F.col("TIMESTAMP") / 900) * 900).cast("long").alias("w"),
                   F.coalesce(F.when(label != "", label), F.col("SOURCE"),
                              F.lit("SOURCE_NAME_UNDEFINED")).alias("src")).agg(
            F.count(F.lit(1)), F.sum("LENGTH")).toArrow()

    first = best(1, lambda: job(None))  # (the JVM's first query compiles much of Spark)
    out = {"session start": started, "plain job, first": first,
           "plain job": best(repeat, lambda: job(None)),
           "plain job + rules counted": best(repeat, lambda: job("rules")),
           "plain job + distinct row hashes": best(repeat, lambda: job("hash"))}
    spark.stop()
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--data", type=Path, default=HERE / "out" / "data")
    ap.add_argument("--engines", default="duckdb,spark")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "checks_cost.json")
    args = ap.parse_args(argv)
    data = args.data / str(args.events)
    if not (data / "interactions.parquet").exists():
        sys.exit(f"{data}: no benchmark data; run make bench first")
    runs = {"duckdb": duckdb_costs, "spark": spark_costs}
    results = {}
    for engine in args.engines.split(","):
        results[engine] = runs[engine](data, args.repeat)
        base = results[engine].get("plain report") or results[engine]["plain job"]
        print(f"\n{args.events:,} events, Parquet, {engine} (warm, best of {args.repeat}):")
        for name, seconds in results[engine].items():
            if name == "counts":
                continue
            print(f"  {name:<34} {seconds:6.2f} s   {seconds / base:5.2f} x plain")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"events": args.events, **results}, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
