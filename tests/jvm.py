"""The Java options of every JVM the tests start, and the class-data archive they start from.

A Spark JVM spends most of its start loading and verifying classes from the same jars every
time. ``make test`` first writes, once per install, a class-data-sharing archive of the classes
a Spark attribution loads (``python tests/jvm.py``: an attribution with
``-XX:ArchiveClassesAtExit``); every JVM of the tests then maps it
(``-XX:SharedArchiveFile``): a session's start and first query take about half the time (7.8 →
3.9 s, measured). The JDK checks the archive against its own build and the classpath and
ignores it silently when they differ (its ``cds`` log is off), so a stale archive costs only
the time it would have saved. attrkit itself leaves the JVM's options to the user.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The client compiler only and garbage collected on one thread: on the tests' small data a
# Spark session then costs about 40% less CPU (57 → 34 CPU seconds for a session and four
# attributions, measured), and the results are the same. The client compiler alone reserves a
# 48 MB code cache by default; the session compiles a class per query plan for the whole run,
# and a full cache stops the SparkContext: 256 MB, reserved.
FLAGS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:ReservedCodeCacheSize=256m -Xlog:cds*=off"
ARCHIVE = Path(sys.prefix) / "spark-classes.jsa"  # (in the virtual environment: one per install)


def submit_args(extra: str | None = None) -> str:
    """``PYSPARK_SUBMIT_ARGS`` giving the driver and the executors :data:`FLAGS` and ``extra``
    (by default, the archive when it exists)."""
    if extra is None:
        extra = f"-XX:SharedArchiveFile={ARCHIVE}" if ARCHIVE.is_file() else ""
    java = f"{FLAGS} {extra}".strip()
    return (f"--driver-java-options '{java}' --conf 'spark.executor.extraJavaOptions={java}' "
            "pyspark-shell")


def write_archive() -> None:
    """Run a small Spark attribution in a JVM that archives the classes it loaded when it
    exits; the archive is renamed into place once the JVM has ended."""
    partial = ARCHIVE.with_name(f".{ARCHIVE.name}.{os.getpid()}")
    os.environ["PYSPARK_SUBMIT_ARGS"] = submit_args(f"-XX:ArchiveClassesAtExit={partial}")
    here = Path(__file__).parent
    sys.path[:0] = [str(here.parent), str(here), str(here / "attribution")]
    import tempfile

    from conftest import CLICKS_WATCH_MINUTES
    from spark_cases import _damaged, _write

    import attrkit
    from attrkit.attribution.spark import session

    spark = session(master="local[2]")
    with tempfile.TemporaryDirectory() as folder:
        paths = _write(_damaged(1), Path(folder), "parquet")
        attrkit.attribute(paths["interactions"], CLICKS_WATCH_MINUTES, items=paths["items"],
                          recommendations=paths["recommendations"], on_bad_rows="quarantine",
                          engine="spark", spark=spark)
    gateway = spark.sparkContext._gateway
    spark.stop()
    gateway.proc.stdin.close()  # the JVM ends when its input closes, and writes the archive
    gateway.proc.wait(timeout=300)
    try:
        partial.replace(ARCHIVE)
    except FileNotFoundError:
        sys.exit(f"the JVM wrote no class-data archive at {partial}")
    print(f"wrote {ARCHIVE} ({ARCHIVE.stat().st_size / 2**20:.0f} MiB)")


if __name__ == "__main__":
    write_archive()
