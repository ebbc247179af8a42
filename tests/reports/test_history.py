"""Results over time: the index of a folder of runs, the exported comparison tables, and
relative dates in a report's parameters."""

from __future__ import annotations

import json
import os
import re

import polars as pl
import pytest
from conftest import run_attrkit
from polars.testing import assert_frame_equal

import attrkit
from attrkit.frames import RESULT_SCHEMA, TODAY_VARIABLE
from attrkit.reports import history, render
from attrkit.reports.run import write_index
from attrkit.simulate.sample import HOLDOUT, RECOMMENDER_A

# The sample's data run from 2026-01-05; with today pinned to 2026-01-07, "-2d" is its start.
TODAY = "2026-01-07"


def _report(out, name, *params):
    done = run_attrkit("report", "--out", str(out), "--name", name, "-p", "sample_days", "3",
                       *params, env={TODAY_VARIABLE: TODAY})
    assert done.returncode == 0, done.stderr
    record = json.loads((out / f"{name}.json").read_text())
    # the terminal says where the table went and what the answer is, as the index does
    assert f"comparison: {out / name}.comparison.csv, {out / name}.comparison.parquet" \
        in done.stdout
    assert done.stdout.count("\nanswer: ") == len(record["results"]["headline"])
    assert "answer: CLICKS per user, because-you-watched vs top-picks: +" in done.stdout
    return record


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two weekly-style looks at one experiment: the first two days, then all three."""
    out = tmp_path_factory.mktemp("weekly")
    first = _report(out, "look-1", "-p", "start", "-2d", "-p", "end", "today")
    second = _report(out, "look-2", "-p", "start", "2026-01-05")
    return out, first, second


def test_relative_dates_are_resolved_once_at_the_pinned_clock(two_runs):
    _, first, second = two_runs
    assert first["parameters"]["start"] == "2026-01-05T00:00:00Z"
    assert first["parameters"]["end"] == "2026-01-07T00:00:00Z"
    assert first["relative_dates"] == {"start": "-2d", "end": "today"}
    assert first["data_window"]["first_utc"] == "2026-01-05 00:00 UTC"
    assert first["data_window"]["last_utc"] == "2026-01-06 23:45 UTC"
    assert second["relative_dates"] == {}
    assert second["data_window"]["last"] >= first["data_window"]["last"] + 86_400


def test_each_report_exports_its_comparison_table_as_compare_makes_it(two_runs):
    out, first, _ = two_runs
    assert first["exports"] == ["look-1.comparison.csv", "look-1.comparison.parquet"]
    parquet = pl.read_parquet(out / "look-1.comparison.parquet")
    csv = pl.read_csv(out / "look-1.comparison.csv", schema=RESULT_SCHEMA)
    assert parquet.schema == RESULT_SCHEMA
    assert_frame_equal(csv, parquet, check_exact=True)
    # independently: the API on the same sample and dates
    sample = attrkit.generate_sample(out / "api-sample", seed=0, days=3)
    result = attrkit.attribute(sample.interactions, sample.metric_attribution,
                               items=sample.items, recommendations=sample.recommendations)
    from attrkit.reports.sections import between

    w, e, u = between(result.windows, result.exposure, result.users, "2026-01-05",
                      "2026-01-07")
    api = attrkit.compare(w, exposure=e, users=u, traffic=result.traffic,
                          baseline=RECOMMENDER_A, holdout=HOLDOUT).frame  # (the sample's)
    assert_frame_equal(parquet, api, check_exact=True)


def test_two_runs_give_two_rows_and_a_trend_chart_per_metric(two_runs):
    out, first, second = two_runs
    page = (out / "index.html").read_text()
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == 2
    assert body.index("look-2.html") < body.index("look-1.html")  # newest first
    metrics = [h["metric"] for h in second["results"]["headline"]]
    assert metrics == ["CLICKS", "WATCHES", "WATCH_MINUTES"]
    charts = re.findall(r"<img alt='([^']*)' style='max-width:100%' src='data:image/png;base64,",
                        page)
    assert charts == [f"{m}: lift by run" for m in metrics]
    # each row: data window, design, each metric's primary comparison with interval, verdict
    assert "2026-01-05 00:00 UTC to 2026-01-06 23:45 UTC" in body
    assert body.count("users randomised") == 2
    for h in second["results"]["headline"]:
        lift = render.formatter("+.1%")(h["lift"])
        assert f"{h['metric']} per user, because-you-watched vs top-picks: {lift} (95% CI" in body
    # both runs start at the same window with the same design: one experiment, looked at twice
    assert "always-valid [" in body and "are looks at one experiment (look-2, look-1)" in page
    # the verdict read off a shared experiment is the always-valid interval's
    assert "(always-valid)" in body and "▲ higher<" not in body
    assert "<script" not in page.lower() and f'content="{render.CSP}"' in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)


def test_the_always_valid_interval_is_wider_and_contains_the_fixed_one(two_runs):
    _, first, second = two_runs
    for run in (first, second):
        for h in run["results"]["headline"]:
            assert h["tested"] and h["always_valid_low"] is not None
            assert h["always_valid_low"] <= h["lift_ci_low"] + 0.01
            assert h["always_valid_high"] >= h["lift_ci_high"] - 0.01


def test_the_index_is_the_same_bytes_when_rebuilt(two_runs):
    out, _, _ = two_runs
    before = (out / "index.html").read_bytes()
    assert write_index(out).read_bytes() == before


def _older(record: dict) -> dict:
    """The run as attrkit 0.1 of earlier issues wrote it: no headline, alpha or exports."""
    old = json.loads(json.dumps(record))
    for key in ("exports", "relative_dates"):
        old.pop(key)
    for key in ("headline", "alpha", "correction"):
        old["results"].pop(key)
    return old


def test_an_older_runs_json_still_renders_with_what_it_has(two_runs, tmp_path):
    out, first, second = two_runs
    (tmp_path / "look-1.json").write_text(json.dumps(_older(first)))
    (tmp_path / "look-2.json").write_text(json.dumps(second))
    (tmp_path / "bare.json").write_text(json.dumps(
        {"name": "bare", "html": "bare.html", "status": "ok"}))
    (tmp_path / "broken.json").write_text("{not json")
    page = write_index(tmp_path).read_text()
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == 3 and "bare.html" in body
    # the older run's headline comes from its comparisons: the same lines as the new record's
    old_run = history.read_run(_older(first))
    new_run = history.read_run(first)
    assert [(h.metric, h.lift, h.low, h.high, h.verdict) for h in old_run.headlines] == [
        (h.metric, h.lift, h.low, h.high, h.verdict) for h in new_run.headlines]
    assert all(h.always_valid_low is None for h in old_run.headlines)
    assert "Not shown: broken.json" in page
    assert len(re.findall(r"data:image/png;base64,", page)) == 3


def test_runs_over_different_data_are_separate_experiments(two_runs, tmp_path):
    _, first, second = two_runs
    later = json.loads(json.dumps(second))
    later["name"], later["html"] = "next-week", "next-week.html"
    later["data_window"]["first"] += 7 * 86_400
    later["generated_at"] = "2999-01-01T00:00:00+00:00"
    runs = [history.read_run(r) for r in (first, later)]
    history._mark_shared(runs)
    assert not any(h.shared for r in runs for h in r.headlines)
    page = render.index_page(runs)
    assert "separate experiments" in page and "always-valid [" not in page


def test_a_hostile_title_in_a_run_is_text_on_the_index(tmp_path):
    record = {"name": "x", "html": "x.html", "status": "ok", "title": "<script>alert(1)</script>",
              "results": {"design": "users", "headline": [
                  {"metric": "<img src=x>", "control": "a", "treatment": "b", "lift": "nan",
                   "lift_ci_low": "-inf", "lift_ci_high": "inf", "verdict": "<b>"}]}}
    (tmp_path / "x.json").write_text(json.dumps(record))
    page = write_index(tmp_path).read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "<img src=x>" not in page


def test_notebooks_run_by_papermill_itself_are_recorded_and_indexed(tmp_path):
    """As Airflow's PapermillOperator leaves them: executed notebooks only."""
    import nbformat
    import papermill

    from attrkit.cli import main
    from attrkit.reports.run import template_path

    kwargs = {"progress_bar": False, "extra_arguments": ["--IPKernelApp.log_level=ERROR"]}
    papermill.execute_notebook(str(template_path()), str(tmp_path / "weekly-1.ipynb"),
                               parameters={"sample_days": 2}, **kwargs)
    with pytest.raises(papermill.PapermillExecutionError):
        papermill.execute_notebook(str(template_path()), str(tmp_path / "weekly-2.ipynb"),
                                   parameters={"sample_days": 2, "primary_metric": "nope"},
                                   **kwargs)
    nbformat.write(nbformat.v4.new_notebook(), str(tmp_path / "scratch.ipynb"))
    assert main(["index", str(tmp_path)]) == 0
    ok = json.loads((tmp_path / "weekly-1.json").read_text())
    failed = json.loads((tmp_path / "weekly-2.json").read_text())
    assert ok["status"] == "ok" and ok["template"] == "attribution_report"
    assert ok["parameters"]["sample_days"] == 2 and ok["parameters"]["alpha"] == 0.05
    assert ok["exports"] == ["weekly-1.comparison.csv", "weekly-1.comparison.parquet"]
    assert pl.read_parquet(tmp_path / "weekly-1.comparison.parquet").schema == RESULT_SCHEMA
    assert failed["status"] == "failed" and "primary_metric='nope'" in failed["error"]
    assert not (tmp_path / "scratch.json").exists()  # not an executed report
    page = (tmp_path / "index.html").read_text()
    assert "weekly-1.html" in page and "weekly-2.html" in page
    assert "failed: ConfigError: parameter primary_metric=" in page
    before = (tmp_path / "weekly-1.json").read_bytes()
    assert main(["index", str(tmp_path)]) == 0
    assert (tmp_path / "weekly-1.json").read_bytes() == before  # recorded once


def test_the_index_leads_with_the_newest_data_and_says_when_the_last_run_failed(two_runs):
    _, first, second = two_runs
    backfill = json.loads(json.dumps(first))  # older data, made last (a backfill)
    backfill["name"], backfill["html"] = "backfill", "backfill.html"
    backfill["generated_at"] = "2999-01-01T00:00:00+00:00"
    runs = [history.read_run(r) for r in (backfill, second)]
    runs.sort(key=lambda r: r.generated_at, reverse=True)
    assert history.latest(runs).name == "look-2"
    page = render.index_page(runs)
    assert "<b>Latest (<a href='look-2.html'>" in page
    failed = {"name": "broke", "html": "broke.html", "status": "failed",
              "generated_at": "3000-01-01T00:00:00+00:00", "error": "cell 3: InputError: x",
              "parameters": {"start": "2026-12-07T00:00:00Z", "end": "2026-12-14T00:00:00Z"}}
    page = render.index_page([history.read_run(failed), *runs])
    assert "The most recent run failed:</b> <a href='broke.html'>" in page
    assert "asked: 2026-12-07T00:00:00Z to 2026-12-14T00:00:00Z" in page


def test_a_report_says_when_its_health_covers_more_than_its_dates(two_runs):
    out, _, _ = two_runs
    narrow = (out / "look-1.html").read_text()  # two of the three days
    assert ("These counts cover every row read, windows from 2026-01-05 00:00 UTC to "
            "2026-01-08 00:00 UTC; the comparisons cover 2026-01-05 00:00 UTC to 2026-01-06 "
            "23:45 UTC") in narrow
    # look-2 compares every window read: nothing to say
    assert "These counts cover every row read" not in (out / "look-2.html").read_text()


def test_a_date_range_without_data_is_bad_input_naming_the_data_span(tmp_path):
    from attrkit.errors import InputError
    from attrkit.reports.sections import load_data

    with pytest.raises(InputError, match=r"start=2030-01-01 end=2030-01-08: no data in this date "
                       r"range; the data's windows run from 2026-01-05 00:00 UTC to "):
        load_data({"sample_days": 1, "start": "2030-01-01", "end": "2030-01-08"})


def test_unquoted_dates_in_a_parameters_file_are_dates(tmp_path):
    from attrkit.cli import read_params
    from attrkit.reports.run import resolve_parameters, template_path

    path = tmp_path / "p.yaml"
    path.write_text("start: 2026-11-02\nend: 2026-11-09T06:00:00\n")
    values = resolve_parameters(template_path(), read_params(path))
    assert values == {"start": "2026-11-02", "end": "2026-11-09T06:00:00"}


HEADLINE = {"metric": "CLICKS", "control": "a", "treatment": "b", "lift": 0.1,
            "lift_ci_low": 0.05, "lift_ci_high": 0.15, "verdict": "▲ higher", "tested": True}


@pytest.mark.parametrize("record", [
    {"results": {"warnings": 5}},
    {"results": {"warnings": "one warning"}},
    {"results": {"comparisons": 5}},
    {"results": {"comparisons": [{"metric": ["x"], "lift": 0.1, "tested": True}]}},
    {"results": {"comparisons": [{"metric": {"x": 1}, "lift": 0.1}]}},
    {"data_window": {"first": 1, "last": 10**20, "first_utc": "x", "last_utc": "y"},
     "results": {"headline": [HEADLINE]}},
    {"data_window": {"first": -10**15, "last": -10**15}, "results": {"headline": [HEADLINE]}},
    {"data_window": "2026", "parameters": [1], "results": []},
    {"results": {"headline": [HEADLINE | {"lift": 1e307, "lift_ci_high": "inf"}]}},
    {"results": {"headline": {"metric": "CLICKS"}}},
    {"results": {"headline": [HEADLINE | {"treatment": "deals$^{$", "metric": "$x$"}]},
     "name": "$\\frac{1}{0}$"},
    {"results": {"headline": [HEADLINE | {"control": "a\x00\u202eb"}]}, "title": "t\x1b[2J"},
    {"html": "index.html"},
    {"name": None, "title": None, "generated_at": 5, "alpha": "x"},
])
def test_any_runs_json_renders_and_what_is_wrong_is_read_as_missing(tmp_path, record):
    base = {"name": "r", "html": "r.html", "status": "ok",
            "data_window": {"first": 1767571200, "last": 1767657600,
                            "first_utc": "2026-01-05 00:00 UTC", "last_utc": "2026-01-06 00:00 UTC"}}
    (tmp_path / "r.json").write_text(json.dumps(base | record))
    (tmp_path / "s.json").write_text(json.dumps(base | {"name": "s", "html": "s.html",
                                                        "results": {"headline": [HEADLINE]}}))
    page = write_index(tmp_path).read_text()
    assert page.count("<tr>") == 3  # the header and both runs
    assert "\x00" not in page and "\u202e" not in page and "\x1b" not in page
    assert "href='index.html'" not in page
    assert write_index(tmp_path).read_text() == page


def test_files_that_are_no_runs_json_are_named_and_never_waited_on(tmp_path):
    (tmp_path / "big.json").write_text('{"html": "b.html", "status": "ok", "x": ' + "9" * 5000
                                       + "}")
    (tmp_path / "surrogate.json").write_text('{"html": "x.html", "status": "ok", "name": '
                                             '"\\ud800"}')
    os.mkfifo(tmp_path / "pipe.json")
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    page = write_index(tmp_path).read_text()
    assert "Not shown: big.json, pipe.json, surrogate.json, zero.json" in page


def test_damaged_notebooks_are_named_and_do_not_stop_the_others(tmp_path, two_runs):
    import nbformat

    from attrkit.reports.run import record_notebooks

    out, _, _ = two_runs
    good = nbformat.read(str(out / "look-2.ipynb"), as_version=4)
    good.metadata["papermill"] = {"parameters": {"sample_days": 3}, "input_path": "x.ipynb"}
    nbformat.write(good, str(tmp_path / "b-good.ipynb"))
    (tmp_path / "a-damaged.ipynb").write_text('{"cells": [')
    odd = nbformat.read(str(out / "look-2.ipynb"), as_version=4)
    odd.metadata["papermill"] = "not a mapping"
    nbformat.write(odd, str(tmp_path / "c-odd.ipynb"))
    bad = json.loads(json.dumps(good))
    for cell in bad["cells"]:
        for o in cell.get("outputs", []):
            payload = o.get("data", {}).get("application/vnd.attrkit.results+json")
            if payload:
                payload["comparison_ipc"] = "not base64!"
    (tmp_path / "d-bad.ipynb").write_text(json.dumps(bad))
    (tmp_path / "e f.ipynb").write_text(json.dumps(bad))
    written, skipped = record_notebooks(tmp_path)
    assert [p.name for p in written] == ["b-good.json"]
    assert [s.split(":")[0] for s in skipped] == ["a-damaged.ipynb", "d-bad.ipynb", "e f.ipynb"]
    assert "its comparison table is damaged" in skipped[1]
    assert not (tmp_path / "d-bad.html").exists()  # nothing half-written
    assert not (tmp_path / "c-odd.json").exists()  # not executed by papermill: left alone
