"""Spark Connect, as Databricks and Spark 4 use it: a local Connect server started here on
127.0.0.1 (in the tests' local session), and attrkit as its client, from the command line
(``--spark-remote sc://HOST:PORT``) and the API (``spark=`` a Connect session): the same report
and comparison bytes as the embedded engine. Clients run in processes of their own: a Connect
session switches pyspark's functions to Connect for the whole process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import CLICKS_WATCH_MINUTES as MA
from conftest import run_attrkit
from test_spark import _damaged, _write

import attrkit

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.spark_matrix  # (make test-spark)


@pytest.fixture(scope="module")
def remote(spark):
    """Spark's Connect service, started in the tests' local session (conftest's ``spark``) and
    listening on 127.0.0.1 at a free port, as ``spark.plugins`` starts it on a server: its
    clients' jobs run in a JVM the other Spark tests have already warmed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sc = spark._jsc.sc()
    for key, value in {"spark.connect.grpc.binding.address": "127.0.0.1",
                       "spark.connect.grpc.binding.port": str(port),
                       "spark.sql.shuffle.partitions": "2"}.items():  # (its sessions' too)
        sc.conf().set(key, value)
    service = spark._jvm.org.apache.spark.sql.connect.service.SparkConnectService
    service.start(sc)
    try:
        yield f"sc://127.0.0.1:{port}"
    finally:
        service.stop(getattr(service, "stop$default$1")(), getattr(service, "stop$default$2")())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("connect")
    paths = _write(_damaged(11), folder, "parquet")
    (folder / "ma.json").write_text(json.dumps(MA))
    return folder, paths


def test_the_command_line_through_spark_connect(remote, data):
    """In a process of its own (a Connect session cannot share one with a regular session)."""
    folder, paths = data
    common = ["--interactions", paths["interactions"], "--items", paths["items"],
              "--recommendations", paths["recommendations"], "--metric-attribution",
              str(folder / "ma.json"), "--on-bad-rows", "quarantine"]
    got = subprocess.run([sys.executable, "-m", "attrkit", "attribute", *common, "--engine",
                          "spark", "--spark-remote", remote, "--out", str(folder / "connect.csv"),
                          "--users-out", str(folder / "users")],
                         capture_output=True, text=True, timeout=600)
    assert got.returncode == 0, got.stderr[-3000:]
    embedded = run_attrkit("attribute", *common, "--out", str(folder / "e.csv"),
                           "--users-out", str(folder / "users.parquet"))
    assert embedded.returncode == 0 and "users: " in embedded.stdout, embedded.stderr
    assert pl.read_parquet(folder / "users" / "*.parquet").sort("USER_ID", "metric_name").equals(
        pl.read_parquet(folder / "users.parquet"))
    want = attrkit.attribute(paths["interactions"], MA, items=paths["items"],
                             recommendations=paths["recommendations"], on_bad_rows="quarantine")
    assert ((folder / "connect.csv").read_text().splitlines()
            == want.write_report(folder / "embedded.csv", when=0).read_text().splitlines())
    # the bad rows, written by the server's executors: the embedded engine's file, byte for byte
    bad = (folder / "connect.quarantine.csv").read_bytes()
    assert bad == (folder / "e.quarantine.csv").read_bytes() and bad.count(b"\n") > 10
    # (the comparison through Connect: test_a_connect_session_passed_as_spark)
    bad = run_attrkit("attribute", *common, "--spark-remote", remote, "--out",
                      str(folder / "x.csv"))
    assert bad.returncode == 2 and "--spark-remote: only with --engine spark" in bad.stderr


def test_a_connect_session_passed_as_spark(remote, data):
    folder, paths = data
    code = f"""
import json, attrkit
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote({remote!r}).getOrCreate()
r = attrkit.attribute({paths['interactions']!r}, {MA!r}, items={paths['items']!r},
                      recommendations={paths['recommendations']!r}, on_bad_rows="quarantine",
                      engine="spark", spark=spark)
table = attrkit.compare(r)
table.frame.write_json({str(folder / 'frame.json')!r})
# frames, which go to the server as Arrow
import polars as pl
frames = [pl.read_parquet(p) for p in ({paths['interactions']!r}, {paths['items']!r},
                                       {paths['recommendations']!r})]
f = attrkit.attribute(frames[0], {MA!r}, items=frames[1], recommendations=frames[2],
                      on_bad_rows="quarantine", engine="spark", spark=spark)
f.quarantine.write_csv({str(folder / 'frames-quarantine.csv')!r})
print(json.dumps({{"health": r.health.to_dict(), "windows": r.windows.height,
                  "frames": f.health.to_dict()}}))
"""
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600)
    assert got.returncode == 0, got.stderr[-3000:]
    want = attrkit.attribute(paths["interactions"], MA, items=paths["items"],
                             recommendations=paths["recommendations"], on_bad_rows="quarantine")
    out = json.loads(got.stdout.strip().splitlines()[-1])
    assert out["windows"] == want.windows.height
    assert out["health"] == json.loads(json.dumps(want.health.to_dict()))
    frames = [pl.read_parquet(paths[k]) for k in ("interactions", "items", "recommendations")]
    of_frames = attrkit.attribute(frames[0], MA, items=frames[1], recommendations=frames[2],
                                  on_bad_rows="quarantine")
    assert out["frames"] == json.loads(json.dumps(of_frames.health.to_dict()))
    assert of_frames.quarantine.height > 10 and of_frames.quarantine["ROW"].null_count() == 0
    assert pl.read_csv(folder / "frames-quarantine.csv", infer_schema=False).equals(
        pl.read_csv(of_frames.quarantine.write_csv().encode(), infer_schema=False))
    attrkit.compare(want).frame.write_json(folder / "want.json")
    assert (folder / "frame.json").read_text() == (folder / "want.json").read_text()
