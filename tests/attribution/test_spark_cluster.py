"""The attribution on a Spark cluster in miniature (two executor processes and a driver,
``local-cluster``): the same bytes as the embedded engine. A module of its own, so that it runs
beside the other Spark tests under pytest-xdist."""

from __future__ import annotations

import subprocess
import sys

from conftest import CLICKS_WATCH_MINUTES as MA
from spark_cases import _damaged, _write

import attrkit


def test_local_cluster_crosses_process_boundaries(tmp_path):
    """Two executor processes and a driver, as on a cluster: the same bytes."""
    paths = _write(_damaged(7), tmp_path, "parquet")
    code = f"""
import attrkit, json, sys
from attrkit.attribution.spark import session
spark = session(master="local-cluster[2,1,1024]")
r = attrkit.attribute({paths['interactions']!r}, json.loads({__import__('json').dumps(MA)!r}),
    items={paths['items']!r}, recommendations={paths['recommendations']!r},
    on_bad_rows="quarantine", engine="spark", spark=spark)
r.write_report({str(tmp_path / 'cluster.csv')!r}, when=0)
spark.stop()
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    want = attrkit.attribute(paths["interactions"], MA, items=paths["items"],
                             recommendations=paths["recommendations"], on_bad_rows="quarantine")
    assert (tmp_path / "cluster.csv").read_bytes() == want.write_report(
        tmp_path / "local.csv", when=0).read_bytes()
