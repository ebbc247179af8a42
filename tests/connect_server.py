"""A local Spark Connect server for the tests: ``python tests/connect_server.py PORT``.

A regular local[2] session with Spark's Connect plugin, listening on 127.0.0.1:PORT; prints
``ready`` once it serves, and stops when its standard input closes (the test that started it
closes it, or ends).
"""

from __future__ import annotations

import sys


def main() -> None:
    port = sys.argv[1]
    import os

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # its Python workers: this Python
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1]))
    from pyspark.sql import SparkSession

    from attrkit.storage.local import children_stderr_to

    with children_stderr_to("spark-connect"):
        spark = (SparkSession.builder.master("local[2]").appName("attrkit-connect-test")
                 .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
                 .config("spark.connect.grpc.binding.address", "127.0.0.1")
                 .config("spark.connect.grpc.binding.port", port)
                 .config("spark.ui.enabled", "false")
                 .config("spark.sql.shuffle.partitions", "2")
                 .config("spark.sql.session.timeZone", "UTC")
                 .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    print("ready", flush=True)
    sys.stdin.read()
    spark.stop()


if __name__ == "__main__":
    main()
