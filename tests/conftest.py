"""Shared fixtures: small seeded data, written in each input format."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from pathlib import Path

# One polars thread per test process: `make test` runs two workers on two cores, and the tests'
# data are small, where a second thread adds synchronisation and no speed (the calibration
# test: 50 → 38 CPU seconds, and faster). Results never depend on it; test_properties runs
# the same report on one thread and on two. Set before polars is imported; inherited by the
# tests' subprocesses and report kernels.
os.environ.setdefault("POLARS_MAX_THREADS", "1")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import pytest  # noqa: E402
from jvm import submit_args  # noqa: E402

from attrkit.simulate.sample import generate_sample

# Every JVM the tests start (the Spark session here, the README's, the local cluster's and the
# Connect server's in their own processes, which inherit this) runs with the options of
# tests/jvm.py: the client compiler only, and the class-data archive `make test` writes.
os.environ.setdefault("PYSPARK_SUBMIT_ARGS", submit_args())

CLICKS_WATCH_MINUTES = {
    "name": "test-metrics",
    "metrics": [
        {"eventType": "click", "metricName": "clicks", "expression": "SAMPLECOUNT()"},
        {"eventType": "watch", "metricName": "watches", "expression": "SAMPLECOUNT()"},
        {"eventType": "watch", "metricName": "watch_minutes", "expression": "SUM(Items.LENGTH)"},
        {"eventType": "watch", "metricName": "watch_value",
         "expression": "SUM(Interactions.EVENT_VALUE)"},
    ],
}


def random_data(seed: int, n: int = 400) -> dict[str, pl.DataFrame]:
    """Random interactions, items and a log, with every resolution case and edge on purpose:
    labels over recommendation IDs, unknown IDs, missing items, null values, mixed-case types,
    timestamps on and around window boundaries, before and after the Unix epoch."""
    rng = np.random.default_rng(seed)
    n_recs = 30
    rec_ids = np.array([f"r{i}" for i in range(n_recs + 5)])  # the last 5 are not in the log
    sources = np.array(["arn:aws:personalize:us-east-1:1:campaign/a", "recB", "recC"])
    boundary = rng.integers(-3, 30, n) * 900 + rng.choice([-1, 0, 1, 450, 899], n)
    events = pl.DataFrame({
        "USER_ID": [f"u{i}" for i in rng.integers(0, 20, n)],
        "ITEM_ID": [f"i{i}" for i in rng.integers(0, 25, n)],  # i20..i24 are not in items
        "TIMESTAMP": 1_700_000_000 * rng.integers(0, 2, n) + boundary,
        "EVENT_TYPE": rng.choice(["click", "CLICK", "Watch", "watch", "purchase"], n),
        "EVENT_VALUE": np.where(rng.random(n) < 0.2, np.nan, np.round(rng.random(n) * 10, 2)),
        "RECOMMENDATION_ID": np.where(rng.random(n) < 0.5, rng.choice(rec_ids, n), None).tolist(),
        "EVENT_ATTRIBUTION_SOURCE": np.where(rng.random(n) < 0.25,
                                             rng.choice(["partner", "email,promo"], n),
                                             None).tolist(),
    }).with_columns(pl.col("EVENT_VALUE").fill_nan(None))
    # Exact duplicates, as client retries make them.
    events = pl.concat([events, events.sample(n // 20, seed=seed)])
    items = pl.DataFrame({
        "ITEM_ID": [f"i{i}" for i in range(20)],
        "LENGTH": np.where(rng.random(20) < 0.1, np.nan, rng.integers(1, 200, 20).astype(float)),
    }).with_columns(pl.col("LENGTH").fill_nan(None))
    log = pl.DataFrame({
        "RECOMMENDATION_ID": rec_ids[:n_recs],
        "SOURCE": rng.choice(sources, n_recs),
        "TIMESTAMP": rng.integers(1_700_000_000, 1_700_100_000, n_recs),
    })
    return {"interactions": events, "items": items, "recommendations": log}


def to_put_events(events: pl.DataFrame) -> str:
    """The same events as PutEvents requests, one request per event, one per line."""
    lines = []
    for row in events.iter_rows(named=True):
        ev = {"eventType": row["EVENT_TYPE"], "sentAt": row["TIMESTAMP"], "itemId": row["ITEM_ID"]}
        if row.get("EVENT_VALUE") is not None:
            ev["eventValue"] = row["EVENT_VALUE"]
        if row.get("RECOMMENDATION_ID") is not None:
            ev["recommendationId"] = row["RECOMMENDATION_ID"]
        if row.get("EVENT_ATTRIBUTION_SOURCE") is not None:
            ev["metricAttribution"] = {"eventAttributionSource": row["EVENT_ATTRIBUTION_SOURCE"]}
        lines.append(json.dumps({"trackingId": "t", "sessionId": "s-" + row["USER_ID"],
                                 "userId": row["USER_ID"], "eventList": [ev]}))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory: pytest.TempPathFactory):
    """A 2-day sample with 1,000 users, written once per test session."""
    return generate_sample(tmp_path_factory.mktemp("sample"), seed=7, days=2, users=1000)


@pytest.fixture
def ma_json(tmp_path: Path) -> Path:
    path = tmp_path / "ma.json"
    path.write_text(json.dumps(CLICKS_WATCH_MINUTES))
    return path


def write_csv(path: Path, text: str) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.fixture(scope="session")
def spark():
    """One local Spark session (two cores) for the whole test run."""
    from attrkit.attribution.spark import session

    made = session(master="local[2]")
    # Two shuffle partitions for two cores: the tests' data are small, and 8 partitions only
    # add tasks. Results never depend on the partitioning (the local-cluster test keeps
    # attrkit's 8, as does a command run in this process: getOrCreate applies its settings),
    # so this is one more layout the same bytes must survive.
    made.conf.set("spark.sql.shuffle.partitions", "2")
    yield made
    made.stop()


# The modules that take longest, heaviest first. Under pytest-xdist with ``--dist loadscope``
# (make test) each module runs on one worker, so its fixtures (a report run, Spark's session, a
# notebook's kernel) are made once per module; starting the long ones first keeps both workers
# busy to the end instead of leaving one to finish a long module alone.
LONGEST_FIRST = (
    "tests/attribution/test_spark.py", "tests/test_docs.py",
    "tests/attribution/test_spark_cluster.py", "tests/attribution/test_spark_connect.py",
    "tests/attribution/test_spark_moments.py", "tests/reports/test_run.py",
    "tests/reports/test_lab.py", "tests/test_hostile.py", "tests/reports/test_history.py",
    "tests/comparison/test_moments.py", "tests/attribution/test_differential.py",
)
# The modules that use the ``spark`` fixture (the Connect server's too) run on one worker, one
# after another: a JVM's first attributions cost several times its later ones (class loading,
# query compilation), and one warm session serves them all (two workers each warming their own
# cost about 20 seconds).
ONE_SESSION = ("tests/attribution/test_spark.py", "tests/attribution/test_spark_moments.py",
               "tests/attribution/test_spark_connect.py", "tests/attribution/test_differential.py")


def pytest_collection_modifyitems(config, items):
    """Run the longest modules first (see :data:`LONGEST_FIRST`); the order within a module,
    and of every other module, is kept."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.hookimpl(optionalhook=True)  # (a hook of pytest-xdist, when it runs)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope``, with the modules of :data:`ONE_SESSION` as one scope."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class OneSparkSession(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return ONE_SESSION[0] if module in ONE_SESSION else super()._split_scope(nodeid)

    return OneSparkSession(config, log)


def run_attrkit(*args: str, cwd=None, env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    """``attrkit ARGS`` in this process (``attrkit.cli.main``), as a finished process: exit code,
    stdout and stderr. A new interpreter per command would cost seconds of imports; the tests
    that need a fresh process (stderr at the file descriptor, a library's output) use one."""
    from attrkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    here, saved = os.getcwd(), dict(os.environ)
    try:
        os.environ.update(env or {})
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(["attrkit", *args], code, out.getvalue(), err.getvalue())
