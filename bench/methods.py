"""One benchmark method per process, so wall time and peak RSS are its own.

Usage: python bench/methods.py METHOD FORMAT DATA_DIR OUT_CSV
METHOD: attrkit-api, attrkit-cli, attrkit-spark (local[2]), duckdb, duckdb-checked (the same job
with attrkit's checks), polars (DuckDB's query in polars), pandas, pyspark (DuckDB's query as a
plain PySpark job, local[2]), scan (read the needed columns only).
Every method writes the report as the service's S3 CSV (scan writes a row count).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

# This folder's profile.py must not stand in for the standard library's (pyspark imports it).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from attrkit import defaults as D  # noqa: E402  # the limits the checked SQL applies, as attrkit does

REPORT_HEADER = "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP"
NEEDED = ["ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "RECOMMENDATION_ID", "EVENT_ATTRIBUTION_SOURCE"]


def attrkit_api(fmt: str, data: Path, out: Path) -> None:
    import attrkit

    result = attrkit.attribute(data / f"interactions.{fmt}", data / "metric_attribution.json",
                               items=data / f"items.{fmt}",
                               recommendations=data / f"recommendations.{fmt}")
    result.write_report(out)
    h = result.health
    _write_counts(out, {"rows": h.rows_read["interactions"], "bad_rows": sum(h.quarantined.values()),
                        "duplicates": h.duplicates, "unresolved_ids": h.unresolved_ids})


def attrkit_spark(fmt: str, data: Path, out: Path) -> None:
    """attrkit on Apache Spark in local mode, two cores (the driver JVM is this process's child,
    so its peak RSS is in this job's)."""
    import attrkit
    from attrkit.attribution.spark import session

    spark = session(master="local[2]")
    result = attrkit.attribute(str(data / f"interactions.{fmt}"),
                               data / "metric_attribution.json", items=str(data / f"items.{fmt}"),
                               recommendations=str(data / f"recommendations.{fmt}"),
                               engine="spark", spark=spark)
    result.write_report(out)
    spark.stop()


def attrkit_cli(fmt: str, data: Path, out: Path) -> None:
    subprocess.run([sys.executable, "-m", "attrkit", "attribute",
                    "--interactions", str(data / f"interactions.{fmt}"),
                    "--items", str(data / f"items.{fmt}"),
                    "--recommendations", str(data / f"recommendations.{fmt}"),
                    "--metric-attribution", str(data / "metric_attribution.json"),
                    "--out", str(out)], check=True, stdout=subprocess.DEVNULL)


def _duckdb_reads(fmt: str, data: Path) -> tuple[str, str, str]:
    read = "read_parquet('{}')" if fmt == "parquet" else "read_csv('{}', header=true)"
    ev, it, rc = (read.format(data / f"{n}.{fmt}") for n in ("interactions", "items",
                                                               "recommendations"))
    return ev, it, rc


def _duckdb_report(con, ev: str, it: str, rc: str, out: Path) -> None:
    con.execute(f"""
    COPY (
      WITH ev AS (
        SELECT upper(e.EVENT_TYPE) AS et, e.ITEM_ID,
               CAST(floor(e.TIMESTAMP / 900) * 900 AS BIGINT) AS w,
               coalesce(nullif(e.EVENT_ATTRIBUTION_SOURCE, ''), r.SOURCE,
                        'SOURCE_NAME_UNDEFINED') AS src
        FROM {ev} e
        LEFT JOIN (SELECT RECOMMENDATION_ID, SOURCE FROM {rc}) r
          ON e.RECOMMENDATION_ID = r.RECOMMENDATION_ID
        WHERE upper(e.EVENT_TYPE) IN ('CLICK', 'WATCH')
      ),
      agg AS (
        SELECT ev.et, ev.w, ev.src, count(*) AS n, coalesce(sum(i.LENGTH), 0) AS minutes
        FROM ev LEFT JOIN (SELECT ITEM_ID, LENGTH FROM {it}) i ON ev.ITEM_ID = i.ITEM_ID
        GROUP BY ALL
      )
      SELECT METRIC_NAME, EVENT_TYPE, VALUE, MATH_FUNCTION, EVENT_ATTRIBUTION_SOURCE, TIMESTAMP
      FROM (
        SELECT 'CLICKS' AS METRIC_NAME, 'CLICK' AS EVENT_TYPE, CAST(n AS DOUBLE) AS VALUE,
               'samplecount' AS MATH_FUNCTION, src AS EVENT_ATTRIBUTION_SOURCE, w AS TIMESTAMP
        FROM agg WHERE et = 'CLICK'
        UNION ALL SELECT 'WATCHES', 'WATCH', n, 'samplecount', src, w FROM agg WHERE et = 'WATCH'
        UNION ALL SELECT 'WATCH_MINUTES', 'WATCH', minutes, 'sum', src, w FROM agg
          WHERE et = 'WATCH'
      ) ORDER BY TIMESTAMP, METRIC_NAME, EVENT_ATTRIBUTION_SOURCE
    ) TO '{out}' (HEADER, DELIMITER ',')""")


def duckdb_sql(fmt: str, data: Path, out: Path) -> None:
    """The query a good analyst would write: one scan, joins on what is needed, one group-by."""
    import duckdb

    _duckdb_report(duckdb.connect(), *_duckdb_reads(fmt, data), out)


def _id_ok(col: str, max_len: int = D.MAX_ID_LENGTH, required: bool = True) -> str:
    ok = f"(NOT regexp_full_match({col}, '\\s*') AND length({col}) <= {max_len})"
    return f"({col} IS NOT NULL AND {ok})" if required else f"({col} IS NULL OR {ok})"


TS_OK = f"TIMESTAMP IS NOT NULL AND abs(TIMESTAMP) < {D.MAX_PLAUSIBLE_SECONDS}"


def event_rules_sql() -> str:
    """attrkit's rules for an event row, as one DuckDB condition (true: the row is good)."""
    label = "EVENT_ATTRIBUTION_SOURCE"
    label_ok = (f"({label} IS NULL OR {label} = '' OR (NOT regexp_full_match({label}, '\\s*')"
                f" AND length({label}) <= {D.MAX_ATTRIBUTION_SOURCE_LENGTH}"
                f" AND regexp_full_match({label}, '[\\x20-\\x7E]*')))")
    return " AND ".join([_id_ok("USER_ID"), _id_ok("ITEM_ID"), _id_ok("EVENT_TYPE"),
                         _id_ok("RECOMMENDATION_ID", required=False), label_ok,
                         TS_OK, "(EVENT_VALUE IS NULL OR isfinite(EVENT_VALUE))"])


def log_rules_sql() -> str:
    """attrkit's rules for a row of the recommendations log, as one DuckDB condition."""
    return " AND ".join([_id_ok("RECOMMENDATION_ID"),
                         _id_ok("SOURCE", D.MAX_ATTRIBUTION_SOURCE_LENGTH), TS_OK])


def best(repeat: int, run) -> float:
    """The shortest of ``repeat`` timed calls of ``run``, in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return min(times)


def duckdb_checked(fmt: str, data: Path, out: Path) -> None:
    """The same job with attrkit's checks, as SQL: every row's rules, exact duplicates and
    unresolved recommendation IDs counted; the counts are written beside the report."""
    import duckdb

    ev, it, rc = _duckdb_reads(fmt, data)
    label = "EVENT_ATTRIBUTION_SOURCE"
    ok, log_ok = event_rules_sql(), log_rules_sql()
    con = duckdb.connect()
    con.execute(f"CREATE TEMP TABLE raw_ev AS SELECT *, {ok} AS ok FROM {ev}")
    con.execute(f"CREATE TEMP TABLE log AS SELECT *, {log_ok} AS ok FROM {rc}")
    rows, bad = con.execute("SELECT count(*), count(*) FILTER (NOT ok) FROM raw_ev").fetchone()
    log_bad = con.execute("SELECT count(*) FILTER (NOT ok) + count(RECOMMENDATION_ID) "
                          "- count(DISTINCT RECOMMENDATION_ID) FROM log").fetchone()[0]
    cols = ("USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE, EVENT_VALUE, RECOMMENDATION_ID, "
            f"nullif({label}, '')")
    distinct = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT {cols} FROM raw_ev WHERE ok)"
                           ).fetchone()[0]
    unresolved = con.execute(f"""
        SELECT count(DISTINCT e.RECOMMENDATION_ID) FROM raw_ev e
        LEFT JOIN (SELECT RECOMMENDATION_ID, SOURCE FROM log WHERE ok) r
          ON e.RECOMMENDATION_ID = r.RECOMMENDATION_ID
        WHERE e.ok AND nullif(e.{label}, '') IS NULL AND e.RECOMMENDATION_ID IS NOT NULL
          AND r.SOURCE IS NULL""").fetchone()[0]
    _duckdb_report(con, "(SELECT * FROM raw_ev WHERE ok)", it,
                   "(SELECT * FROM log WHERE ok)", out)
    _write_counts(out, {"rows": rows, "bad_rows": bad + log_bad,
                        "duplicates": rows - bad - distinct, "unresolved_ids": unresolved})


def _write_counts(out: Path, counts: dict) -> None:
    import json

    out.with_suffix(".counts.json").write_text(json.dumps(counts, sort_keys=True) + "\n")


def pandas_job(fmt: str, data: Path, out: Path) -> None:
    import numpy as np
    import pandas as pd

    def read(name: str, cols: list[str]) -> pd.DataFrame:
        path = data / f"{name}.{fmt}"
        if fmt == "parquet":
            return pd.read_parquet(path, columns=cols)
        return pd.read_csv(path, usecols=cols, keep_default_na=True)

    ev = read("interactions", NEEDED)
    ev["et"] = ev["EVENT_TYPE"].str.upper()
    ev = ev[ev["et"].isin(["CLICK", "WATCH"])]
    recs = read("recommendations", ["RECOMMENDATION_ID", "SOURCE"])
    ev = ev.merge(recs, on="RECOMMENDATION_ID", how="left")
    label = ev["EVENT_ATTRIBUTION_SOURCE"].replace("", np.nan)
    ev["src"] = label.fillna(ev["SOURCE"]).fillna("SOURCE_NAME_UNDEFINED")
    ev["w"] = (ev["TIMESTAMP"] // 900) * 900
    items = read("items", ["ITEM_ID", "LENGTH"])
    ev = ev.merge(items, on="ITEM_ID", how="left")
    agg = ev.groupby(["et", "w", "src"]).agg(n=("et", "size"), minutes=("LENGTH", "sum"))
    agg = agg.reset_index()
    frames = []
    for metric, et, col, fn in (("CLICKS", "CLICK", "n", "samplecount"),
                                ("WATCHES", "WATCH", "n", "samplecount"),
                                ("WATCH_MINUTES", "WATCH", "minutes", "sum")):
        a = agg[agg["et"] == et]
        frames.append(pd.DataFrame({"METRIC_NAME": metric, "EVENT_TYPE": et,
                                    "VALUE": a[col].astype(float), "MATH_FUNCTION": fn,
                                    "EVENT_ATTRIBUTION_SOURCE": a["src"], "TIMESTAMP": a["w"]}))
    report = pd.concat(frames).sort_values(["TIMESTAMP", "METRIC_NAME", "EVENT_ATTRIBUTION_SOURCE"])
    report.to_csv(out, index=False)


def polars_plain(fmt: str, data: Path, out: Path) -> None:
    """DuckDB's query in polars, as an analyst would write it: no checks, no health counts."""
    import polars as pl

    def scan_(name: str) -> pl.LazyFrame:
        path = data / f"{name}.{fmt}"
        return pl.scan_parquet(path) if fmt == "parquet" else pl.scan_csv(path)

    ev = scan_("interactions").select(NEEDED).with_columns(
        pl.col("EVENT_TYPE").str.to_uppercase().alias("et")).filter(
        pl.col("et").is_in(["CLICK", "WATCH"]))
    ev = ev.join(scan_("recommendations").select("RECOMMENDATION_ID", "SOURCE"),
                 on="RECOMMENDATION_ID", how="left")
    ev = ev.join(scan_("items").select("ITEM_ID", "LENGTH"), on="ITEM_ID", how="left")
    agg = ev.group_by(
        "et", (pl.col("TIMESTAMP") // 900 * 900).alias("w"),
        pl.coalesce(pl.col("EVENT_ATTRIBUTION_SOURCE").replace("", None), "SOURCE",
                    pl.lit("SOURCE_NAME_UNDEFINED")).alias("src"),
    ).agg(pl.len().cast(pl.Float64).alias("n"), pl.col("LENGTH").sum().cast(pl.Float64)
          .alias("minutes")).collect(engine="streaming")
    _plain_report(agg, out)


def _plain_report(agg, out: Path) -> None:
    """A plain job's groups (``et``, ``w``, ``src``, ``n``, ``minutes``; polars) as the report."""
    import polars as pl

    parts = [agg.filter(pl.col("et") == et).select(
        pl.lit(metric).alias("METRIC_NAME"), pl.lit(et).alias("EVENT_TYPE"),
        pl.col(col).alias("VALUE"), pl.lit(fn).alias("MATH_FUNCTION"),
        pl.col("src").alias("EVENT_ATTRIBUTION_SOURCE"), pl.col("w").alias("TIMESTAMP"))
        for metric, et, col, fn in (("CLICKS", "CLICK", "n", "samplecount"),
                                    ("WATCHES", "WATCH", "n", "samplecount"),
                                    ("WATCH_MINUTES", "WATCH", "minutes", "sum"))]
    pl.concat(parts).sort("TIMESTAMP", "METRIC_NAME", "EVENT_ATTRIBUTION_SOURCE").write_csv(out)


def pyspark_plain(fmt: str, data: Path, out: Path) -> None:
    """DuckDB's query as a plain PySpark job, in the session attrkit-spark starts (local[2],
    the same settings, its start included): read, two left joins, one group-by; no checks."""
    import polars as pl
    from pyspark.sql import functions as F

    from attrkit.attribution.spark import session

    spark = session(master="local[2]")

    def read(name: str):
        path = str(data / f"{name}.{fmt}")
        return (spark.read.parquet(path) if fmt == "parquet"
                else spark.read.option("header", "true").csv(path))

    ev = read("interactions").select(*NEEDED).withColumn("et", F.upper("EVENT_TYPE")).filter(
        F.col("et").isin("CLICK", "WATCH"))
    ev = ev.join(read("recommendations").select("RECOMMENDATION_ID", "SOURCE"),
                 on="RECOMMENDATION_ID", how="left")
    ev = ev.join(read("items").select("ITEM_ID", F.col("LENGTH").cast("double")), on="ITEM_ID",
                 how="left")
    label = F.col("EVENT_ATTRIBUTION_SOURCE")
    agg = ev.groupBy(
        "et", (F.floor(F.col("TIMESTAMP").cast("long") / 900) * 900).cast("long").alias("w"),
        F.coalesce(F.when(label != "", label), F.col("SOURCE"), F.lit("SOURCE_NAME_UNDEFINED"))
        .alias("src"),
    ).agg(F.count(F.lit(1)).cast("double").alias("n"),
          F.coalesce(F.sum("LENGTH"), F.lit(0.0)).alias("minutes"))
    _plain_report(pl.from_arrow(agg.toArrow()), out)
    spark.stop()


def scan(fmt: str, data: Path, out: Path) -> None:
    """The floor: only read the needed columns with polars (streaming), nothing else."""
    import polars as pl

    path = data / f"interactions.{fmt}"
    lf = pl.scan_parquet(path) if fmt == "parquet" else pl.scan_csv(path, infer_schema=False)
    # null counts touch every value of every needed column, so nothing is skipped
    counts = lf.select(pl.col(NEEDED).null_count()).collect(engine="streaming")
    counts.write_csv(out)


METHODS = {"attrkit-api": attrkit_api, "attrkit-cli": attrkit_cli,
           "attrkit-spark": attrkit_spark, "duckdb": duckdb_sql,
           "duckdb-checked": duckdb_checked, "polars": polars_plain,
           "pandas": pandas_job, "pyspark": pyspark_plain, "scan": scan}

if __name__ == "__main__":
    method, fmt, data, out = sys.argv[1:5]
    METHODS[method](fmt, Path(data), Path(out))
