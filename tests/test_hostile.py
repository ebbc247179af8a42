"""Hostile input and hostile file systems, by kind: data is never lost or counted twice, and a
bad target or input gets one clean line (exit 2) with nothing left behind or overwritten."""

import multiprocessing
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from attrkit import ConfigError, InputError, attribute, read_report, write_report
from attrkit.attribution.config import parse_expression

MA = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
                                "expression": "SAMPLECOUNT()"}]}
EVENTS = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,i1,1700000000,click\nu2,i1,1700000950,click\n"


def _files(tmp_path: Path) -> tuple[Path, Path]:
    events, ma = tmp_path / "events.csv", tmp_path / "ma.json"
    events.write_text(EVENTS)
    ma.write_text('{"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks", '
                  '"expression": "SAMPLECOUNT()"}]}')
    return events, ma


def _attribute(events: Path, ma: Path, out: Path | str, *extra: str):
    return subprocess.run([sys.executable, "-m", "attrkit", "attribute", "--interactions",
                           str(events), "--metric-attribution", str(ma), "--out", str(out),
                           *extra], capture_output=True, text=True, timeout=300)


# -- data lost: targets that are not regular files, inputs as outputs ------------------------

def test_a_fifo_or_device_as_out_is_refused_and_left_as_it_was(tmp_path):
    events, ma = _files(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done = _attribute(events, ma, fifo)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "not a regular file" in done.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    link = tmp_path / "null-link"
    link.symlink_to(os.devnull)
    assert _attribute(events, ma, link).returncode == 2
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv", "ma.json", "null-link",
                                                           "pipe"]


def test_out_naming_an_input_is_refused_and_the_input_kept(tmp_path):
    events, ma = _files(tmp_path)
    for target in (events, tmp_path / "." / "events.csv", ma):
        before = Path(target).read_bytes()
        done = _attribute(events, ma, target)
        assert done.returncode == 2 and "is one of the inputs" in done.stderr
        assert Path(target).read_bytes() == before


def test_a_clean_rerun_removes_the_earlier_runs_quarantine(tmp_path):
    events, ma = _files(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(EVENTS + "u3,i1,soon,click\n")
    out = tmp_path / "r.csv"
    assert _attribute(bad, ma, out, "--on-bad-rows", "quarantine").returncode == 0
    assert (tmp_path / "r.quarantine.csv").exists()
    done = _attribute(events, ma, out)
    assert done.returncode == 0
    assert not (tmp_path / "r.quarantine.csv").exists()
    assert "removed the earlier run's" in done.stdout


# -- counted twice: temporary and marker files in a folder of reports -------------------------

def test_a_folder_of_reports_skips_temporary_hidden_and_marker_files(tmp_path):
    result = attribute(pl.read_csv(EVENTS.encode()), MA)
    report = write_report(result.windows, tmp_path / "r.csv")
    body = report.read_bytes()
    (tmp_path / ".r.abc123.tmp.csv").write_bytes(body)  # a killed run's temporary file
    (tmp_path / "_SUCCESS").write_bytes(b"")
    (tmp_path / "_temporary.csv").write_bytes(body)
    assert read_report(tmp_path).equals(read_report(report))


# -- lost: two runs in the same second ----------------------------------------------------------

def _write_one(folder: str) -> str:
    windows = attribute(pl.read_csv(EVENTS.encode()), MA).windows
    return str(write_report(windows, folder + "/"))


def test_runs_in_the_same_second_write_different_reports(tmp_path):
    folder = str(tmp_path / "reports")
    first, second = _write_one(folder), _write_one(folder)
    assert first != second
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        names = pool.map(_write_one, [folder] * 4)
    assert len(set(names) | {first, second}) == 6
    files = sorted(p.name for p in Path(folder).iterdir())
    assert len(files) == 6 and not any(f.startswith(".") for f in files)


def test_an_explicit_name_repeated_replaces_that_runs_own_report(tmp_path):
    windows = attribute(pl.read_csv(EVENTS.encode()), MA).windows
    write_report(windows, tmp_path / "r.csv")
    write_report(windows, tmp_path / "r.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


# -- silently wrong: numbers at the edge of 64 bits, Unicode in the grammar ---------------------

@pytest.mark.parametrize("value", [-(2**63), 2**63 - 1, -(10**14)])
def test_timestamps_at_the_edge_of_64_bits_are_out_of_range(value):
    ev = pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i"], "TIMESTAMP": [value],
                       "EVENT_TYPE": ["click"]}, schema_overrides={"TIMESTAMP": pl.Int64})
    with pytest.raises(InputError, match="TIMESTAMP.*out of range"):
        attribute(ev, MA)
    text = pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i"], "TIMESTAMP": [str(value)],
                         "EVENT_TYPE": ["click"]})
    with pytest.raises(InputError, match="TIMESTAMP"):
        attribute(text, MA)


@pytest.mark.parametrize("expression", ["SUM(\u0131tems.LENGTH)", "\u017fUM(Items.LENGTH)",
                                        "SAMPLECOUNT\u2009()", "SUM(Items.L\u0130NGTH)"])
def test_the_expression_grammar_is_ascii(expression):
    with pytest.raises(ConfigError, match="must be SAMPLECOUNT"):
        parse_expression(expression)
    assert parse_expression("sum(items.length)") == ("sum", "items", "length")


# -- script in the shared index ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["javascript:alert(1)", "index", "INDEX", "../up", ".hidden",
                                  "a b", "x" * 200])
def test_run_names_are_plain_file_names(tmp_path, name):
    done = subprocess.run([sys.executable, "-m", "attrkit", "report", "--out",
                           str(tmp_path / "out"), "--name", name], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "must be a plain file name" in done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert not (tmp_path / "out").exists()


def test_the_index_links_only_report_files_and_forbids_script(tmp_path):
    import json

    from attrkit.reports.render import CSP
    from attrkit.reports.run import write_index

    (tmp_path / "good.json").write_text(json.dumps(
        {"name": "good", "html": "good.html", "status": "ok"}))
    for i, target in enumerate(["javascript:alert(1)", "https://example.com/x.html",
                                "../outside.html", "data:text/html,<script>1</script>"]):
        (tmp_path / f"stray{i}.json").write_text(json.dumps(
            {"name": f"stray{i}", "html": target, "status": "ok"}))
    (tmp_path / "partial.json").write_text(json.dumps({"html": "p.html", "status": "ok"}))
    page = write_index(tmp_path).read_text()
    assert f'content="{CSP}"' in page
    assert sorted(re.findall(r"href='([^']*)'", page)) == ["good.html", "p.html"]
    assert "<script" not in page
