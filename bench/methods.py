"""One benchmark method per process, so wall time and peak RSS are its own.

Usage: python bench/methods.py METHOD FORMAT DATA_DIR OUT_CSV
METHOD: attrkit-api, attrkit-cli, duckdb, pandas, scan (read the needed columns only).
Every method writes the report as the service's S3 CSV (scan writes a row count).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPORT_HEADER = "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP"
NEEDED = ["ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "RECOMMENDATION_ID", "EVENT_ATTRIBUTION_SOURCE"]


def attrkit_api(fmt: str, data: Path, out: Path) -> None:
    import attrkit

    result = attrkit.attribute(data / f"interactions.{fmt}", data / "metric_attribution.json",
                               items=data / f"items.{fmt}",
                               recommendations=data / f"recommendations.{fmt}")
    result.write_report(out)


def attrkit_cli(fmt: str, data: Path, out: Path) -> None:
    subprocess.run([sys.executable, "-m", "attrkit", "attribute",
                    "--interactions", str(data / f"interactions.{fmt}"),
                    "--items", str(data / f"items.{fmt}"),
                    "--recommendations", str(data / f"recommendations.{fmt}"),
                    "--metric-attribution", str(data / "metric_attribution.json"),
                    "--out", str(out)], check=True, stdout=subprocess.DEVNULL)


def duckdb_sql(fmt: str, data: Path, out: Path) -> None:
    """The query a good analyst would write: one scan, joins on what is needed, one group-by."""
    import duckdb

    read = "read_parquet('{}')" if fmt == "parquet" else "read_csv('{}', header=true)"
    ev, it, rc = (read.format(data / f"{n}.{fmt}") for n in ("interactions", "items",
                                                               "recommendations"))
    con = duckdb.connect()
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


def scan(fmt: str, data: Path, out: Path) -> None:
    """The floor: only read the needed columns with polars (streaming), nothing else."""
    import polars as pl

    path = data / f"interactions.{fmt}"
    lf = pl.scan_parquet(path) if fmt == "parquet" else pl.scan_csv(path, infer_schema=False)
    # null counts touch every value of every needed column, so nothing is skipped
    counts = lf.select(pl.col(NEEDED).null_count()).collect(engine="streaming")
    counts.write_csv(out)


METHODS = {"attrkit-api": attrkit_api, "attrkit-cli": attrkit_cli, "duckdb": duckdb_sql,
           "pandas": pandas_job, "scan": scan}

if __name__ == "__main__":
    method, fmt, data, out = sys.argv[1:5]
    METHODS[method](fmt, Path(data), Path(out))
