"""Many users on a small Spark driver: the attribution and the per-user comparison of USERS users
(two arms, a few lists and events each) on Spark with ``spark.driver.maxResultSize`` set small.
Nothing proportional to the users may reach the driver, so the run completes; the comparison's
user counts are checked against the data generated. With ``--engine polars``, the same on the
embedded engine, in a process of its own whose peak memory is reported.

    python bench/many_users.py --users 5000000 --max-result-size 16m --out bench/out/users
    python bench/many_users.py --engine polars --users 10000000 --lists 6 --click-rate 0.83 \
        --out bench/out/users-embedded
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


def generate(folder: Path, users: int, seed: int = 1, lists: int = 2, click_rate: float = 0.4
             ) -> dict[str, str]:
    """``lists`` lists per user (in the user's arm), a click on each with ``click_rate``:
    Parquet files in ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    user = np.repeat(np.arange(users), lists)
    arm = np.where(rng.random(users) < 0.5, A, B)[user]
    t0 = 1_700_000_000
    log = pl.DataFrame({"RECOMMENDATION_ID": pl.Series(np.arange(user.size)).cast(pl.String),
                        "USER_ID": pl.Series(user).cast(pl.String),
                        "SOURCE": arm, "TIMESTAMP": t0 + rng.integers(0, 7 * 86_400, user.size)})
    clicked = rng.random(user.size) < click_rate
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
    ap.add_argument("--engine", choices=("spark", "polars"), default="spark")
    ap.add_argument("--lists", type=int, default=2, help="lists served per user")
    ap.add_argument("--click-rate", type=float, default=0.4, help="share of lists clicked")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:  # (the embedded engine's run, in a process of its own)
        return _embedded(args)
    started = time.perf_counter()
    paths = generate(args.out, args.users, lists=args.lists, click_rate=args.click_rate)
    generated = time.perf_counter()
    if args.engine == "polars":
        import subprocess

        got = subprocess.run([sys.executable, "-P", __file__, *(argv or sys.argv[1:]),
                              "--measure"], capture_output=True, text=True)
        sys.stderr.write(got.stderr)
        if got.returncode:
            return got.returncode
        out = json.loads(got.stdout.strip().splitlines()[-1]) | {
            "generate_s": round(generated - started, 1)}
        print(json.dumps(out))
        return _checked(out, args.users, paths["events"])
    from pyspark.sql import SparkSession

    import attrkit
    from attrkit.storage.local import children_stderr_to

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
    return _checked(out, args.users, paths["events"])


def _checked(out: dict, users: int, events: int) -> int:
    """0 if every user was compared and every click counted, else 1 and why."""
    if out["users_compared"] != users or out["clicks"] != events:
        print(f"users compared {out['users_compared']:,} (want {users:,}), clicks "
              f"{out['clicks']:,.0f} (want {events:,})", file=sys.stderr)
        return 1
    return 0


def _embedded(args: argparse.Namespace) -> int:
    """The attribution and comparison on the embedded engine; its time and peak memory."""
    import resource

    import attrkit

    folder = args.out
    started = time.perf_counter()
    result = attrkit.attribute(str(folder / "interactions.parquet"), MA,
                               recommendations=str(folder / "recommendations.parquet"))
    table = attrkit.compare(result, baseline=A)
    row = table.row("CLICKS", A, B)
    done = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # (KiB on Linux)
    print(json.dumps({
        "engine": "polars", "users": args.users, "events": result.health.events_used,
        "users_compared": row["control_n"] + row["treatment_n"],
        "clicks": row["control_total"] + row["treatment_total"], "lift": row["lift"],
        "p_value": row["p_value"], "attribute_and_compare_s": round(done - started, 1),
        "peak_rss_mb": round(peak)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
