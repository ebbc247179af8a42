"""The report against an independent DuckDB SQL computation, on random data with every edge."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from conftest import CLICKS_WATCH_MINUTES, random_data

from attrkit import attribute, read_report
from attrkit.attribution import engine as attribution_engine

SQL = """
WITH ev AS (
  SELECT e.*, upper(e.EVENT_TYPE) AS et,
         CASE WHEN e.EVENT_ATTRIBUTION_SOURCE IS NOT NULL AND e.EVENT_ATTRIBUTION_SOURCE <> ''
              THEN e.EVENT_ATTRIBUTION_SOURCE
              WHEN r.SOURCE IS NOT NULL THEN r.SOURCE
              ELSE 'SOURCE_NAME_UNDEFINED' END AS src,
         CAST({origin} + floor((e.TIMESTAMP - {origin}) / {length}) * {length} AS BIGINT) AS w
  FROM (SELECT DISTINCT * FROM events WHERE {dedupe}
        UNION ALL SELECT * FROM events WHERE NOT {dedupe}) e
  LEFT JOIN log r ON e.RECOMMENDATION_ID = r.RECOMMENDATION_ID
)
SELECT 'CLICKS' AS METRIC_NAME, 'CLICK' AS EVENT_TYPE, CAST(count(*) AS DOUBLE) AS VALUE,
       'samplecount' AS MATH_FUNCTION, src AS EVENT_ATTRIBUTION_SOURCE, w AS TIMESTAMP
FROM ev WHERE et = 'CLICK' GROUP BY src, w
UNION ALL
SELECT 'WATCHES', 'WATCH', count(*), 'samplecount', src, w FROM ev WHERE et = 'WATCH'
GROUP BY src, w
UNION ALL
SELECT 'WATCH_MINUTES', 'WATCH', coalesce(sum(i.LENGTH), 0), 'sum', src, w
FROM ev LEFT JOIN items i ON ev.ITEM_ID = i.ITEM_ID WHERE et = 'WATCH' GROUP BY src, w
UNION ALL
SELECT 'WATCH_VALUE', 'WATCH', coalesce(sum(EVENT_VALUE), 0), 'sum', src, w
FROM ev WHERE et = 'WATCH' GROUP BY src, w
ORDER BY TIMESTAMP, METRIC_NAME, EVENT_ATTRIBUTION_SOURCE
"""


CASES = [(seed, *case) for seed in range(6) for case in [(900, 0, False), (900, 24, True),
                                                          (3600, -1000, False)]]


@pytest.mark.parametrize("engine, seed, length, origin, dedupe",
                         [("polars", *c) for c in CASES]
                         + [("polars-streaming", *c) for c in CASES[:6]]
                         + [("spark", *c) for c in CASES[:4]])
def test_report_matches_duckdb(tmp_path, request, monkeypatch, engine, seed, length, origin,
                               dedupe):
    data = random_data(seed)
    given = data
    kw = {}
    if engine == "polars-streaming":  # the engine of large inputs, on these small ones
        monkeypatch.setattr(attribution_engine, "SMALL_INPUT_ROWS", 0)
    if engine == "spark":  # Spark reads files
        given = {k: tmp_path / f"{k}.parquet" for k in data}
        for k, frame in data.items():
            frame.write_parquet(given[k])
        given = {k: str(p) for k, p in given.items()}
        kw = {"engine": "spark", "spark": request.getfixturevalue("spark")}
    result = attribute(given["interactions"], CLICKS_WATCH_MINUTES, items=given["items"],
                       recommendations=given["recommendations"], window_seconds=length,
                       window_origin=origin, dedupe=dedupe, **kw)
    con = duckdb.connect()
    for name, frame in (("events", data["interactions"]), ("items", data["items"]),
                        ("log", data["recommendations"])):
        con.register(name, frame.to_arrow())
    expected = con.sql(SQL.format(origin=origin, length=length, dedupe=str(dedupe).upper())).pl()
    ours = pl.read_csv(result.write_report(tmp_path / "r.csv"),
                       schema_overrides={"EVENT_ATTRIBUTION_SOURCE": pl.String})
    assert ours.columns == expected.columns
    assert ours.select("METRIC_NAME", "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP").rows() == \
        expected.select("METRIC_NAME", "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP").rows()
    assert ours["VALUE"].to_list() == pytest.approx(expected["VALUE"].to_list(), rel=1e-12)
    # and the health counts against SQL too
    dups = con.execute("SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM events)) "
                   "FROM events").fetchone()[0]
    assert result.health.duplicates == dups
    unresolved = con.execute("""SELECT count(DISTINCT e.RECOMMENDATION_ID) FROM events e
        LEFT JOIN log r USING (RECOMMENDATION_ID) WHERE e.RECOMMENDATION_ID IS NOT NULL
        AND e.EVENT_ATTRIBUTION_SOURCE IS NULL AND r.SOURCE IS NULL""").fetchone()[0]
    assert result.health.unresolved_ids == unresolved
    assert read_report(tmp_path / "r.csv").height == expected.height
