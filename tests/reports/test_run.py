"""`attrkit report` and `attrkit params` end to end: real papermill runs of the templates."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import run_attrkit

import attrkit
from attrkit.reports.run import parameters, template_path

SMALL = ["-p", "sample_days", "2"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return run_attrkit(*args, cwd=cwd)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    done = _run("report", "--out", str(out), *SMALL, "-p", "alpha", "0.05", "--name", "week-1")
    return out, done


def test_valid_run_writes_notebook_html_json_index(first_run):
    out, done = first_run
    assert done.returncode == 0, done.stderr
    assert f"report: {out / 'week-1.html'}" in done.stdout
    for name in ("week-1.ipynb", "week-1.html", "week-1.json", "index.html"):
        assert (out / name).is_file()
    record = json.loads((out / "week-1.json").read_text())
    assert record["status"] == "ok" and record["error"] is None
    assert record["parameters"]["sample_days"] == 2
    assert record["parameters"]["correction"] == "holm"  # defaults recorded too
    assert record["attrkit_version"] == attrkit.__version__
    assert record["data_window"]["windows"] > 100
    conclusion = record["results"]["conclusion"]
    assert any("more CLICKS per recommendation served" in s for s in conclusion)
    html = (out / "week-1.html").read_text()
    assert "Which recommendation source drives engagement?" in html
    assert "data:image/png;base64," in html
    assert "import attrkit" not in html  # code cells are hidden
    assert "<script" not in html.lower()
    # nothing that a browser would fetch: no external src/href, no CSS imports or remote urls
    import re

    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"@import|url\(\s*[\"']?\s*(https?:)?//", html, re.I)
    assert not list(out.glob(".*tmp*"))


def test_same_parameters_same_numbers(first_run, tmp_path):
    out, _ = first_run
    done = _run("report", "--out", str(tmp_path), *SMALL, "-p", "alpha", "0.05",
                "--name", "week-1")
    assert done.returncode == 0, done.stderr
    a = json.loads((out / "week-1.json").read_text())
    b = json.loads((tmp_path / "week-1.json").read_text())
    a.pop("generated_at"), b.pop("generated_at")
    assert a == b


def test_params_file_and_index_of_runs(first_run, tmp_path):
    out, _ = first_run
    params = tmp_path / "params.yaml"
    params.write_text("sample_days: 2\nalpha: 0.1\ntitle: Week two <b>bold</b>\n")
    done = _run("report", "attribution_report", "--params-file", str(params), "--out", str(out),
                "--name", "week-2")
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "week-2.json").read_text())
    assert record["parameters"]["alpha"] == 0.1
    index = (out / "index.html").read_text()
    assert "week-1.html" in index and "week-2.html" in index
    assert "Week two &lt;b&gt;bold&lt;/b&gt;" in index


def test_unknown_parameter_is_refused_before_running(tmp_path):
    done = _run("report", "--out", str(tmp_path / "o"), "-p", "alhpa", "0.1")
    assert done.returncode == 2
    assert "unknown parameter 'alhpa'" in done.stderr and "alpha" in done.stderr
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name, value", [("alpha", "lots"), ("window_seconds", "1.5"),
                                         ("dedupe", "maybe")])
def test_wrong_type_is_refused(tmp_path, name, value):
    done = _run("report", "--out", str(tmp_path / "o"), "-p", name, value)
    assert done.returncode == 2
    assert f"parameter {name}={value!r}: expected" in done.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("given, error", [
    (["-p", "interactions", "{tmp}/missing.csv", "-p", "metric_attribution", "{tmp}/ma.json"],
     "parameter interactions='{tmp}/missing.csv': no such file"),
    (["-p", "interactions", "{tmp}/events.csv"],
     "parameter metric_attribution: required with interactions"),
    (["-p", "interactions", "{tmp}/events.csv", "-p", "metric_attribution", "{tmp}"],
     "parameter metric_attribution='{tmp}': is a folder; give a file"),
    (["-p", "report_csv", "{tmp}/events.csv", "-p", "interactions", "{tmp}/events.csv"],
     "parameters report_csv and interactions: give one, not both"),
    (["-p", "recommendations", "{tmp}/events.csv", "-p", "metric_attribution", "{tmp}/ma.json"],
     "parameter interactions: required with recommendations and metric_attribution (without "
     "interactions the report runs on the bundled sample, which would leave them unread)"),
    (["-p", "design", "user"], "parameter design='user': must be one of users, requests"),
    (["-p", "start", "last week"], "parameter start='last week': not a date"),
    (["-p", "report_csv", "{tmp}/events.csv", "-p", "window_seconds", "3600"],
     "parameters window_seconds and window_origin: a report CSV keeps the service's"),
])
def test_parameters_are_checked_before_anything_runs(tmp_path, given, error):
    (tmp_path / "events.csv").write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu,i,1,click\n")
    out = tmp_path / "out"
    done = _run("report", "--out", str(out), *[g.format(tmp=tmp_path) for g in given])
    assert done.returncode == 2, done.stderr
    assert error.format(tmp=tmp_path) in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_failed_run_keeps_the_last_good_report_and_shows_the_error_in_words(tmp_path):
    good = _run("report", "--out", str(tmp_path), "--name", "wk", "-p", "sample_days", "1")
    assert good.returncode == 0, good.stderr
    before = (tmp_path / "wk.html").read_bytes()
    (tmp_path / "events.csv").write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu,i,1,click\n")
    (tmp_path / "ma.json").write_text('{"name": "m", "metrics": [{"eventType": "click", '
                                      '"metricName": "c", "expression": "MEAN(Items.X)"}]}')
    done = _run("report", "--out", str(tmp_path), "--name", "wk", "-p", "interactions",
                str(tmp_path / "events.csv"), "-p", "metric_attribution", str(tmp_path / "ma.json"))
    assert done.returncode == 2  # a bad metric attribution: the input's fault
    assert "report failed" in done.stderr and "wk.failed.html" in done.stderr
    assert (tmp_path / "wk.html").read_bytes() == before
    html = (tmp_path / "wk.failed.html").read_text()
    assert "ConfigError: " in html and "MEAN(Items.X)" in html
    assert "Traceback" not in html and "site-packages" not in html and "attrkit/" not in html
    record = json.loads((tmp_path / "wk.failed.json").read_text())
    assert record["status"] == "failed" and "MEAN(Items.X)" in record["error"]
    assert "Traceback" in (tmp_path / "wk.failed.ipynb").read_text()  # kept for whoever debugs
    index = (tmp_path / "index.html").read_text()
    assert "wk.html" in index and "wk.failed.html" in index and "failed" in index


def test_params_lists_types_defaults_and_help():
    done = _run("params")
    assert done.returncode == 0
    assert "alpha (float, default 0.05)" in done.stdout
    assert "significance level" in done.stdout
    params = parameters()
    assert {"interactions", "report_csv", "baseline", "correction", "seed", "title"} <= set(params)
    assert all(p.help for p in params.values())


def test_template_lookup_errors(tmp_path):
    from attrkit.errors import ConfigError

    with pytest.raises(ConfigError, match="bundled templates: attribution_report, explore"):
        template_path("nope")
    with pytest.raises(ConfigError, match="file not found"):
        template_path(tmp_path / "x.ipynb")


@pytest.mark.parametrize("content, match", [("- just\n- a list\n", "expected a mapping"),
                                            ("alpha: [unclosed\n", "not a readable YAML file")])
def test_bad_params_file_is_named(tmp_path, content, match):
    params = tmp_path / "p.yaml"
    params.write_text(content)
    done = _run("report", "--params-file", str(params), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert str(params) in done.stderr and match in done.stderr
    assert not (tmp_path / "o").exists()


TINY_EVENTS = """USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,RECOMMENDATION_ID,EVENT_ATTRIBUTION_SOURCE
u1,i1,1767571200,click,r1,
u2,i2,1767571300,click,r2,
u3,i1,1767572200,click,,carousel
u1,i2,1767572300,watch,r1,
u4,i1,1767572400,click,r3,
"""
TINY_LOG = """RECOMMENDATION_ID,SOURCE,TIMESTAMP,USER_ID
r1,arn:aws:personalize:us-east-1:1:recommender/top-picks,1767571100,u1
r2,arn:aws:personalize:us-east-1:1:recommender/trending-now,1767571150,u2
r3,arn:aws:personalize:us-east-1:1:recommender/trending-now,1767571190,u4
"""
TINY_MA = ('{"name": "tiny", "metrics": [{"eventType": "click", "metricName": "clicks", '
           '"expression": "SAMPLECOUNT()"}, {"eventType": "watch", "metricName": "watches", '
           '"expression": "SAMPLECOUNT()"}]}')
TWO_WINDOWS = """METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP
CLICKS,CLICK,10,samplecount,arn:aws:personalize:us-east-1:1:recommender/top-picks,1767571200
CLICKS,CLICK,12,samplecount,trending-now,1767571200
CLICKS,CLICK,11,samplecount,arn:aws:personalize:us-east-1:1:recommender/top-picks,1767572100
"""


def _words_only(out, name):
    record = json.loads((out / f"{name}.json").read_text())
    assert record["status"] == "ok", record["error"]
    html = (out / f"{name}.html").read_text()
    assert "Traceback" not in html and 'class="jp-RenderedText" data-mime-type="application/vnd' \
        not in html
    return record, html


def test_a_tiny_hand_made_dataset_renders_and_says_what_cannot_be_computed(tmp_path):
    for name, text in (("events.csv", TINY_EVENTS), ("log.csv", TINY_LOG), ("ma.json", TINY_MA)):
        (tmp_path / name).write_text(text)
    out = tmp_path / "out"
    done = _run("report", "--out", str(out), "--name", "tiny", "-p", "interactions",
                str(tmp_path / "events.csv"), "-p", "recommendations", str(tmp_path / "log.csv"),
                "-p", "metric_attribution", str(tmp_path / "ma.json"), "-p", "items", "none",
                "-p", "baseline", "top-picks")
    assert done.returncode == 0, done.stderr
    record, html = _words_only(out, "tiny")
    assert "No comparison of CLICKS could be computed" in html
    assert "not computed" in html
    assert ">recommendations<" in html and ">sample_days<" not in html  # only what applies
    assert "events.csv" in html and "synthetic" not in html


def test_a_two_window_service_report_renders_without_a_verdict(tmp_path):
    (tmp_path / "report.csv").write_text(TWO_WINDOWS)
    out = tmp_path / "out"
    done = _run("report", "--out", str(out), "--name", "svc", "-p", "report_csv",
                str(tmp_path / "report.csv"), "-p", "baseline", "top-picks")
    assert done.returncode == 0, done.stderr
    record, html = _words_only(out, "svc")
    answer = record["results"]["conclusion"]
    assert not any(" drove " in line for line in answer)
    assert "Read from the service's report" in html
    assert all(c["significant"] is None for c in record["results"]["comparisons"])


def test_baseline_names_a_source_exactly_never_by_substring(tmp_path):
    from attrkit.errors import ConfigError
    from attrkit.names import resolve_source

    arns = ["arn:aws:personalize:us-east-1:1:recommender/top-picks",
            "arn:aws:personalize:eu-west-1:1:recommender/top-picks",
            "arn:aws:personalize:us-east-1:1:recommender/trending-now", "partner"]
    assert resolve_source("trending-now", arns) == arns[2]
    assert resolve_source("partner", arns) == "partner"
    with pytest.raises(ConfigError, match="names 2 sources .*eu-west-1.*us-east-1"):
        resolve_source("top-picks", arns)
    with pytest.raises(ConfigError, match="no such source; sources are top-picks, top-picks, "
                                          "trending-now, partner"):
        resolve_source("trending", arns)


def test_a_baseline_nobody_was_assigned_to_is_bad_input(tmp_path):
    for name, text in (("events.csv", TINY_EVENTS), ("log.csv", TINY_LOG), ("ma.json", TINY_MA)):
        (tmp_path / name).write_text(text)
    done = _run("report", "--out", str(tmp_path / "out"), "--name", "t", "-p", "interactions",
                str(tmp_path / "events.csv"), "-p", "recommendations", str(tmp_path / "log.csv"),
                "-p", "metric_attribution", str(tmp_path / "ma.json"), "-p", "baseline",
                "carousel")
    assert done.returncode == 2, done.stderr  # the input, not attrkit, is at fault
    assert "baseline='carousel': no user was assigned to it" in done.stderr
    assert "the arms are top-picks, trending-now" in done.stderr
    html = (tmp_path / "out" / "t.failed.html").read_text()
    assert "papermill" not in html and "Traceback" not in html
