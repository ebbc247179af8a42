"""Run the attribution benchmark: attrkit (API and CLI), DuckDB SQL (as an analyst would write
it, and with attrkit's checks), the same plain query in polars, pandas and PySpark, and a
scan floor.

Usage: python bench/run.py [--events N] [--formats parquet,csv] [--data DIR] [--out DIR]

Each method runs in its own process; wall time and peak RSS (from wait4) are its own. All jobs
must produce the same report, and attrkit and the checked SQL the same counts (rows, bad rows,
duplicates, unresolved IDs), or the run fails. Prints a table per format and writes
``results.json``. Times are ratios in one run, on one machine: compare them, not absolutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
JOBS = ("attrkit-api", "attrkit-cli", "attrkit-spark", "duckdb", "duckdb-checked", "polars",
        "pandas", "pyspark")
COUNTED = ("attrkit-api", "duckdb-checked")  # jobs that write <report>.counts.json


def run_one(method: str, fmt: str, data: Path, out: Path) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(HERE / "methods.py"), method, fmt, str(data),
                             str(out)], stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{method} ({fmt}) failed:\n{err}")
    return {"method": method, "format": fmt, "seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024}


def read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, schema_overrides={"EVENT_ATTRIBUTION_SOURCE": pl.String,
                                               "VALUE": pl.Float64, "TIMESTAMP": pl.Int64})


def check_agree(reports: dict[str, Path]) -> None:
    """Every job's report equal to attrkit's: same rows, values within 1e-9 relative."""
    base_name = next(n for n in (*JOBS, *reports) if n in reports)  # attrkit's own, when run
    base = read(reports[base_name])
    for name, path in reports.items():
        other = read(path)
        keys = ["TIMESTAMP", "METRIC_NAME", "EVENT_ATTRIBUTION_SOURCE"]
        if other.select(keys).sort(keys).rows() != base.select(keys).sort(keys).rows():
            raise AssertionError(f"{name}'s report has other rows than {base_name}'s")
        j = base.join(other, on=keys, suffix="_o")
        bad = j.filter((pl.col("VALUE") - pl.col("VALUE_o")).abs()
                       > 1e-9 * pl.col("VALUE").abs().clip(lower_bound=1))
        if bad.height:
            raise AssertionError(f"{name} disagrees with {base_name} on {bad.height} rows")
        if name.startswith("attrkit") and path.read_bytes() != reports[base_name].read_bytes():
            raise AssertionError(f"{name}'s report differs byte for byte from {base_name}'s")
    counts = {n: json.loads(p.with_suffix(".counts.json").read_text())
              for n, p in reports.items() if n in COUNTED}
    if len({json.dumps(c, sort_keys=True) for c in counts.values()}) > 1:
        raise AssertionError(f"the counts disagree: {counts}")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--data", type=Path, default=HERE / "out" / "data")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--repeat", type=int, default=1, help="runs per method; the best is kept")
    ap.add_argument("--methods", default=",".join(JOBS),
                    help="which jobs to run (default all; the scan floor always runs)")
    args = ap.parse_args(argv)
    data = args.data / str(args.events)
    formats = args.formats.split(",")
    if not all((data / f"interactions.{f}").exists() for f in formats):
        print(f"generating {args.events:,} events in {data} ...", flush=True)
        # In a child process: Linux carries a parent's peak RSS into the children it forks,
        # so the parent must stay small for the children's peaks to be their own.
        subprocess.run([sys.executable, str(HERE / "generate.py"), str(data), str(args.events),
                        "0", args.formats], check=True, stdout=subprocess.DEVNULL)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"events": args.events, "machine": {
        "cpus": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "polars": pl.__version__}, "runs": []}
    for fmt in args.formats.split(","):
        reports = {}
        rows = []
        for method in (*[j for j in JOBS if j in args.methods.split(",")], "scan"):
            out = args.out / f"report-{method}-{fmt}.csv"
            best = min((run_one(method, fmt, data, out) for _ in range(args.repeat)),
                       key=lambda r: r["seconds"])
            rows.append(best)
            if method != "scan":
                reports[method] = out
        check_agree(reports)
        duck = next((r for r in rows if r["method"] == "duckdb"), {"seconds": float("nan")})
        floor = next(r for r in rows if r["method"] == "scan")
        print(f"\n{args.events:,} events, {fmt}: all {len(reports)} reports agree, and the counts")
        print(f"{'method':<15}{'wall s':>9}{'peak RSS MB':>13}{'events/s':>14}"
              f"{'x DuckDB':>10}{'x scan':>8}")
        for r in rows:
            r["events_per_second"] = args.events / r["seconds"]
            r["ratio_to_duckdb"] = r["seconds"] / duck["seconds"]
            r["ratio_to_scan"] = r["seconds"] / floor["seconds"]
            print(f"{r['method']:<15}{r['seconds']:>9.2f}{r['peak_rss_mb']:>13.0f}"
                  f"{r['events_per_second']:>14,.0f}{r['ratio_to_duckdb']:>10.2f}"
                  f"{r['ratio_to_scan']:>8.2f}")
        by = {r["method"]: r["seconds"] for r in rows}
        if "attrkit-spark" in by and "pyspark" in by:
            print(f"attrkit on Spark: {by['attrkit-spark'] / by['pyspark']:.2f} x the plain "
                  "PySpark job (both with their session's start)")
        results["runs"] += rows
    results["compare"] = compare_timing()
    c = results["compare"]
    print(f"\nattrkit.compare on {c['days']} days x {c['sources']} sources x {c['metrics']} "
          f"metrics ({c['rows']:,} windows): {c['seconds_paired']:.2f} s by per-window totals, "
          f"{c['seconds_rate']:.2f} s with an exposure")
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def compare_timing(days: int = 90, sources: int = 4, metrics: int = 10) -> dict:
    """Time attrkit.compare on a quarter of 15-minute windows (in a child process)."""
    code = f"""
import json, time, numpy as np, polars as pl, attrkit
rng = np.random.default_rng(0)
n = {days} * 96
ts = 1767571200 + np.arange(n) * 900
w = pl.concat([pl.DataFrame({{"timestamp": ts, "metric_name": f"M{{m}}",
    "math_function": "samplecount", "source": f"src-{{s}}",
    "value": rng.poisson(100, n).astype(float)}}) for s in range({sources}) for m in range({metrics})])
e = pl.concat([pl.DataFrame({{"timestamp": ts, "source": f"src-{{s}}",
    "exposure": rng.poisson(300, n).astype(float)}}) for s in range({sources})])
attrkit.stats, attrkit.compare  # imports outside the timing
t = time.perf_counter(); attrkit.compare(w); a = time.perf_counter() - t
t = time.perf_counter(); attrkit.compare(w, exposure=e); b = time.perf_counter() - t
print(json.dumps({{"rows": w.height, "seconds_paired": a, "seconds_rate": b}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {"days": days, "sources": sources, "metrics": metrics,
            **json.loads(out.stdout.strip().splitlines()[-1])}


if __name__ == "__main__":
    main()
