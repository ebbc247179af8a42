"""Many users on a small Spark driver: the attribution and the per-user comparison of USERS users
(two arms, a few lists and events each) on Spark with ``spark.driver.maxResultSize`` set small.
Nothing proportional to the users may reach the driver, so the run completes; the comparison's
user counts are checked against the data generated.

    python bench/many_users.py --users 5000000 --max-result-size 16m --out bench/out/users
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

MA = {"name": "many-users", "metrics": [
    {"eventType": "click", "expression": "SAMPLECOUNT()", "metricName": "CLICKS"}]}
A = "arn:aws:personalize:us-east-1:1:recommender/a"
B = "arn:aws:personalize:us-east-1:1:recommender/b"


def generate(folder: Path, users: int, seed: int = 1) -> dict[str, str]:
    """Two lists per user (in the user's arm), clicks on some: Parquet files in ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    user = np.repeat(np.arange(users), 2)
    arm = np.where(rng.random(users) < 0.5, A, B)[user]
    t0 = 1_700_000_000
    log = pl.DataFrame({"RECOMMENDATION_ID": pl.Series(np.arange(user.size)).cast(pl.String),
                        "USER_ID": pl.Series(user).cast(pl.String),
                        "SOURCE": arm, "TIMESTAMP": t0 + rng.integers(0, 7 * 86_400, user.size)})
    clicked = rng.random(user.size) < 0.4
    events = pl.DataFrame({
        "USER_ID": log["USER_ID"].filter(clicked), "ITEM_ID": "i1",
        "EVENT_TYPE": "click", "RECOMMENDATION_ID": log["RECOMMENDATION_ID"].filter(clicked),
        "TIMESTAMP": log["TIMESTAMP"].filter(clicked) + 60})
    paths = {"interactions": folder / "interactions.parquet",
             "recommendations": folder / "recommendations.parquet"}
    events.write_parquet(paths["interactions"])
    log.write_parquet(paths["recommendations"])
    return {k: str(v) for k, v in paths.items()} | {"events": events.height}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=5_000_000)
    ap.add_argument("--max-result-size", default="16m")
    ap.add_argument("--out", type=Path, default=Path("bench/out/users"))
    args = ap.parse_args(argv)
    from pyspark.sql import SparkSession

    import attrkit
    from attrkit.storage.local import children_stderr_to

    started = time.perf_counter()
    paths = generate(args.out, args.users)
    generated = time.perf_counter()
    with children_stderr_to("spark"):
        spark = (SparkSession.builder.master("local[2]").appName("attrkit-many-users")
                 .config("spark.ui.enabled", "false")
                 .config("spark.sql.session.timeZone", "UTC")
                 .config("spark.sql.shuffle.partitions", "8")  # (as attrkit's own session)
                 .config("spark.driver.maxResultSize", args.max_result_size)
                 .config("spark.driver.memory", "4g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    result = attrkit.attribute(paths["interactions"], MA, recommendations=paths["recommendations"],
                               engine="spark", spark=spark)
    table = attrkit.compare(result, baseline=A)
    row = table.row("CLICKS", A, B)
    done = time.perf_counter()
    users = row["control_n"] + row["treatment_n"]
    clicks = row["control_total"] + row["treatment_total"]
    out = {"users": args.users, "events": paths["events"],
           "max_result_size": args.max_result_size, "users_compared": users,
           "clicks": clicks, "lift": row["lift"], "p_value": row["p_value"],
           "generate_s": round(generated - started, 1),
           "attribute_and_compare_s": round(done - generated, 1)}
    print(json.dumps(out))
    spark.stop()
    if users != args.users or clicks != paths["events"]:
        print(f"users compared {users:,} (want {args.users:,}), clicks {clicks:,.0f} "
              f"(want {paths['events']:,})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
