"""The report's logic as plain functions: the date range, the monitored comparison, the power
table and the conclusion's wording, each tested without running a notebook."""

from __future__ import annotations

import math

import polars as pl
import pytest
from scipy import stats as sps

import attrkit
from attrkit import reporting as R
from attrkit.simulate.calibration import START, A, B, Scenario, attribute_simulation, simulate_experiment


@pytest.fixture(scope="module")
def result():
    return attribute_simulation(simulate_experiment(Scenario("r", users=2500, days=7, shape=1.0),
                                                    lift=0.3, seed=4))


def test_between_cuts_windows_exposure_and_users_alike(result):
    start, end = "2026-01-06T00:00", "2026-01-08T00:00"
    w, e, u = R.between(result.windows, result.exposure, result.users, start, end)
    lo, hi = START + 86_400, START + 3 * 86_400
    assert w["timestamp"].min() >= lo and w["timestamp"].max() < hi
    assert e["timestamp"].min() >= lo and e["timestamp"].max() < hi
    assert u.values["day"].min() == lo and u.values["day"].max() == hi - 86_400
    assert u.served["day"].is_between(lo, hi - 86_400).all()
    assert u.assignment["first_served"].max() < hi
    same = R.between(result.windows, result.exposure, result.users)
    assert same[0].equals(result.windows) and same[2] is result.users


def test_the_monitored_row_is_chosen_before_looking(result):
    table = attrkit.compare(result, baseline=A)
    row = R.monitored(table)
    assert (row["metric"], row["kind"]) == ("CLICKS", "per_user")
    smallest = table.frame.sort("p_value").row(0, named=True)
    assert (smallest["metric"], smallest["kind"]) != (row["metric"], row["kind"])  # not it
    undeclared = attrkit.compare(result.windows, exposure=result.exposure, baseline=A)
    assert R.monitored(undeclared)["metric"] == "CLICKS"  # nothing tested: the first row
    empty = attrkit.compare(result, sources=[A, "partner-carousel"])
    assert empty.frame.height == 0 and R.monitored(empty) is None


def test_power_table_uses_the_units_the_tests_use(result):
    table = attrkit.compare(result, baseline=A)
    power = R.power_table(table, result.windows, result.exposure, result.users, 0.05)
    assert power.height == table.frame.filter("tested").height and "users" in power.columns
    row = power.filter(metric="CLICKS", kind="per_user").row(0, named=True)
    # at that relative lift, a two-sided Welch test of the control's per-user values has 80%
    # power: checked with the normal approximation, independently of attrkit.stats.power
    x = result.users.per_user("CLICKS", [A])["value"].to_numpy()
    se = math.sqrt(2 * x.var(ddof=1) / row["users"])
    z = row["mde_fixed"] * x.mean() / se - sps.norm.ppf(0.975)
    assert sps.norm.cdf(z) == pytest.approx(0.8, abs=0.01)
    assert row["mde_sequential"] > row["mde_fixed"]
    windows = attrkit.compare(result, baseline=A, design="requests")
    assert "windows" in R.power_table(windows, result.windows, result.exposure, None,
                                      0.05).columns


def test_the_conclusion_says_less_for_a_negative_lift(result):
    table = attrkit.compare(result, baseline=B, metrics=["CLICKS"])
    sentences = R.conclusion(table, 0.05)
    first = next(s for s in sentences if "per assigned user" in s)
    row = table.row("CLICKS", B, A)
    assert row["significant"] and row["lift"] < 0
    assert first.startswith(f"recommender-a drove {abs(row['lift']):.1%} less CLICKS")
    assert sentences[0].startswith("Design: users randomised")
    assert any(s.startswith("Described, not tested") for s in sentences)
    none = R.conclusion(attrkit.compare(result.windows.filter(pl.col("source") == A).vstack(
        result.windows.filter(pl.col("source") == B)), baseline=A), 0.05)
    assert any(s.startswith("Described, not tested") and "assume" not in s for s in none)


def test_daily_rates_match_an_independent_sql_computation(tmp_path):
    import duckdb

    import attrkit
    from attrkit.reports import sections as R

    paths = attrkit.generate_sample(tmp_path, seed=5, days=3, users=3000)
    data = R.load_data({"interactions": str(paths.interactions), "items": str(paths.items),
                        "recommendations": str(paths.recommendations),
                        "metric_attribution": str(paths.metric_attribution)})
    daily = R.daily_rates(data, "CLICKS").with_columns(
        pl.col("day").dt.epoch("s").alias("d")).drop("day")
    w, e = data.windows, data.exposure  # noqa: F841 (read by the SQL)
    a, v = data.users.assignment, data.users.values  # noqa: F841
    sql = duckdb.sql("""
        WITH t AS (SELECT timestamp // 86400 * 86400 AS d, source, sum(value) AS total
                   FROM w WHERE metric_name = 'CLICKS' GROUP BY ALL),
             s AS (SELECT timestamp // 86400 * 86400 AS d, source, sum(exposure) AS served
                   FROM e GROUP BY ALL),
             own AS (SELECT v.day AS d, v.source, sum(v.value) AS arm_total
                     FROM v JOIN a ON v.USER_ID = a.USER_ID AND v.source = a.arm
                     WHERE v.metric_name = 'CLICKS' GROUP BY ALL),
             n AS (SELECT days.d, a.arm AS source, count(*) AS assigned
                   FROM (SELECT DISTINCT d FROM t) AS days
                   JOIN a ON a.first_served < days.d + 86400 GROUP BY ALL)
        SELECT t.d, t.source, t.total, t.total / s.served AS per_recommendation,
               own.arm_total / n.assigned AS per_assigned_user
        FROM t LEFT JOIN s USING (d, source) LEFT JOIN own USING (d, source)
               LEFT JOIN n USING (d, source)
    """).pl()
    got = daily.sort("d", "source")
    want = sql.select(got.columns).sort("d", "source")
    assert got["source"].to_list() == want["source"].to_list()
    for column in ("total", "per_recommendation", "per_assigned_user"):
        assert got[column].to_list() == pytest.approx(want[column].to_list(), nan_ok=True), column
    assert got["per_assigned_user"].drop_nulls().len() > 0


def test_the_sample_a_report_generates_is_removed_when_the_process_ends(tmp_path):
    """A report on the bundled sample writes it to a scratch folder (19 MB for 14 days); the
    folder goes when the kernel ends, or every run would leave one in $TMPDIR."""
    import os
    import subprocess
    import sys

    code = ("import pathlib, sys\n"
            "from attrkit.reports.data import load_data\n"
            "data = load_data({'sample_days': 1})\n"
            "print(sorted(p.name[:15] for p in pathlib.Path(sys.argv[1]).iterdir()))\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['attrkit-sample-']"  # there while the data is used
    assert list(tmp_path.iterdir()) == []


def test_the_data_window_ends_where_its_last_window_ends():
    """The report's span runs to the end of its last window, not to that window's start."""
    windows = pl.DataFrame({"timestamp": [1767571200, 1767571200 + 900, 1767571200 + 2700]})
    got = R.data_window(windows)
    assert (got["first_utc"], got["last_utc"], got["end_utc"]) == (
        "2026-01-05 00:00 UTC", "2026-01-05 00:45 UTC", "2026-01-05 01:00 UTC")
    assert (got["windows"], got["missing_windows"]) == (3, 1)
    assert R.data_window(windows, 3600)["end_utc"] == "2026-01-05 01:45 UTC"
