"""`attrkit report` and `attrkit params` end to end: real papermill runs of the templates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import attrkit
from attrkit.reports.run import parameters, template_path

SMALL = ["-p", "sample_days", "2"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "attrkit", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


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


def test_failing_notebook_still_writes_html_and_exits_nonzero(tmp_path):
    missing = tmp_path / "missing.csv"
    done = _run("report", "--out", str(tmp_path), "-p", "interactions", str(missing),
                "-p", "metric_attribution", str(tmp_path / "ma.json"))
    assert done.returncode == 1
    assert "report failed" in done.stderr
    html = (tmp_path / "attribution_report.html").read_text()
    assert "file not found" in html  # the error is shown in the report
    record = json.loads((tmp_path / "attribution_report.json").read_text())
    assert record["status"] == "failed" and "file not found" in record["error"]


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
