"""A small run of the benchmark: the four jobs must produce the same report. No time is asserted."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "run.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_run", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_benchmark_agrees(tmp_path, capsys):
    bench = _load()
    results = bench.main(["--events", "30000", "--data", str(tmp_path / "data"),
                          "--out", str(tmp_path / "out"), "--methods",
                          "attrkit-api,attrkit-cli,duckdb,duckdb-checked,polars,pandas"])
    methods = {(r["method"], r["format"]) for r in results["runs"]}
    assert methods == {(m, f) for m in ("attrkit-api", "attrkit-cli", "duckdb", "duckdb-checked",
                                        "polars", "pandas", "scan") for f in ("parquet", "csv")}
    counts = json.loads((tmp_path / "out" / "report-duckdb-checked-csv.counts.json").read_text())
    # the generator plants retries (0.5% of rows) and IDs the log does not know
    assert counts["duplicates"] == 150 and counts["unresolved_ids"] > 0
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["events"] == 30000
    assert all(isinstance(r["peak_rss_mb"], int | float) for r in saved["runs"])
    # the step-by-step profile runs on the same data and times every step
    spec = importlib.util.spec_from_file_location("bench_profile", BENCH.with_name("profile.py"))
    profile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(profile)
    capsys.readouterr()
    profile.main(["--events", "30000", "--data", str(tmp_path / "data"), "--repeat", "1"])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  ")]
    assert len(lines) == 2 * 7  # seven steps, for Parquet and for CSV
    assert all(ln.split()[-1].replace(".", "", 1).isdigit() for ln in lines)
    # what the checks alone cost on DuckDB: its rules find the rows attrkit's find, and its
    # distinct row hashes the duplicates (so the study times the same work)
    spec = importlib.util.spec_from_file_location("bench_checks",
                                                  BENCH.with_name("checks_cost.py"))
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    cost = study.main(["--events", "30000", "--data", str(tmp_path / "data"), "--engines",
                       "duckdb", "--repeat", "1", "--out", str(tmp_path / "cost.json")])
    found = cost["duckdb"].pop("counts")
    attrkit_counts = json.loads((tmp_path / "out" / "report-attrkit-api-parquet.counts.json")
                                .read_text())
    assert found["rows"] == attrkit_counts["rows"] == 30000
    assert found["rows"] - found["bad_rows"] - found["distinct_hashes"] == 150
    assert len(cost["duckdb"]) == 4 and all(s > 0 for s in cost["duckdb"].values())


def test_disagreement_is_caught(tmp_path):
    import pytest

    bench = _load()
    header = "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"
    good, bad = tmp_path / "a.csv", tmp_path / "b.csv"
    good.write_text(header + "CLICKS,CLICK,2.0,samplecount,s,0\n")
    bad.write_text(header + "CLICKS,CLICK,3.0,samplecount,s,0\n")
    with pytest.raises(AssertionError, match="disagrees"):
        bench.check_agree({"attrkit-api": good, "duckdb": bad})


def test_disagreeing_counts_are_caught(tmp_path):
    import pytest

    bench = _load()
    header = "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"
    reports = {}
    for name, dups in (("attrkit-api", 3), ("duckdb-checked", 4)):
        reports[name] = tmp_path / f"{name}.csv"
        reports[name].write_text(header + "CLICKS,CLICK,2.0,samplecount,s,0\n")
        reports[name].with_suffix(".counts.json").write_text(json.dumps({"duplicates": dups}))
    with pytest.raises(AssertionError, match="counts disagree"):
        bench.check_agree(reports)
