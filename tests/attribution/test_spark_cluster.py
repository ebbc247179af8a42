"""The attribution on a Spark cluster in miniature (two executor processes and a driver,
``local-cluster``) whose driver takes at most 1 MB of results (``spark.driver.maxResultSize``,
Spark's smallest): the same bytes as the embedded engine, and 30,000 users (two arms)
attributed and compared per user with nothing proportional to the users reaching the driver.
Their per-user frames alone are about 2 MB of results; the engine that collected them failed
this way. ``make bench-large`` runs 5 million users at 16m. In a process of its own (the
limit is fixed when a session starts); a module of its own, so that it runs beside the other
Spark tests under pytest-xdist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLICKS_WATCH_MINUTES as MA
from spark_cases import _damaged, _write

import attrkit

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.spark_matrix  # (make test-spark)


def test_a_cluster_in_miniature_with_a_small_driver(tmp_path):
    """Two executor processes and a driver, as on a cluster: the same bytes; and many users
    compared on a driver that cannot take a row per user."""
    paths = _write(_damaged(7), tmp_path, "parquet")
    code = f"""
import attrkit, json, sys
sys.path.append({str(ROOT / 'bench')!r})  # (after the standard library: bench/profile.py)
import many_users
from attrkit.attribution.spark import session
spark = session(master="local-cluster[2,1,1024]")
assert spark.sparkContext.getConf().get("spark.driver.maxResultSize") == "1m"
r = attrkit.attribute({paths['interactions']!r}, json.loads({json.dumps(MA)!r}),
    items={paths['items']!r}, recommendations={paths['recommendations']!r},
    on_bad_rows="quarantine", engine="spark", spark=spark)
r.write_report({str(tmp_path / 'cluster.csv')!r}, when=0)
many = many_users.generate(__import__("pathlib").Path({str(tmp_path / 'users')!r}), 30_000)
r = attrkit.attribute(many["interactions"], many_users.MA,
                      recommendations=many["recommendations"], engine="spark", spark=spark)
row = attrkit.compare(r, baseline=many_users.A).row("CLICKS", many_users.A, many_users.B)
try:  # (the limit bites: the per-user frames themselves do not fit)
    r.users.to_polars()
    refused = ""
except Exception as exc:
    refused = str(exc)
print(json.dumps({{"events": many["events"], "users_compared": row["control_n"] + row["treatment_n"],
                  "clicks": row["control_total"] + row["treatment_total"],
                  "frames_refused": "maxResultSize" in refused}}))
spark.stop()
"""
    small = "--conf spark.driver.maxResultSize=1m " + os.environ["PYSPARK_SUBMIT_ARGS"]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=900, env={**os.environ, "PYSPARK_SUBMIT_ARGS": small})
    assert done.returncode == 0, done.stderr[-3000:]
    want = attrkit.attribute(paths["interactions"], MA, items=paths["items"],
                             recommendations=paths["recommendations"], on_bad_rows="quarantine")
    assert (tmp_path / "cluster.csv").read_bytes() == want.write_report(
        tmp_path / "local.csv", when=0).read_bytes()
    # every user compared (zeros included), every click counted
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["users_compared"] == 30_000 and out["clicks"] == out["events"] > 20_000
    assert out["frames_refused"]  # while the per-user frames would not reach this driver
