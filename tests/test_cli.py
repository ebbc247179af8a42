import json
import subprocess
import sys

import polars as pl
import pytest

from attrkit import read_report
from attrkit.cli import main


@pytest.mark.parametrize("argv", [["--help"], ["sample", "--help"], ["attribute", "--help"]])
def test_help_exits_0(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage: attrkit" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["nope"], ["attribute"], ["sample", "--out", "x", "--days", "0"],
                                  ["attribute", "--interactions", "a", "--metric-attribution", "b",
                                   "--out", "c", "--on-bad-rows", "skip"]])
def test_bad_usage_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_missing_file_exits_2(tmp_path, capsys, ma_json):
    code = main(["attribute", "--interactions", str(tmp_path / "nope.csv"),
                 "--metric-attribution", str(ma_json), "--out", str(tmp_path / "r.csv")])
    assert code == 2
    assert "nope.csv: interactions file not found" in capsys.readouterr().err


def test_sample_then_attribute_end_to_end(tmp_path):
    """The installed entry point, as a user runs it."""
    run = [sys.executable, "-m", "attrkit"]
    sample = tmp_path / "sample"
    done = subprocess.run([*run, "sample", "--out", str(sample), "--days", "1", "--users", "300",
                           "--seed", "3"], capture_output=True, text=True, check=True)
    assert "truth.json" in done.stdout
    out = tmp_path / "reports"
    done = subprocess.run([*run, "attribute", "--interactions", str(sample / "interactions.csv"),
                           "--items", str(sample / "items.csv"),
                           "--recommendations", str(sample / "recommendations.csv"),
                           "--metric-attribution", str(sample / "metric_attribution.json"),
                           "--out", f"{out}/", "--dedupe", "--low-memory",
                           "--users-out", str(tmp_path / "users.parquet")],
                          capture_output=True, text=True, check=True)
    [report] = list(out.glob("AggregatedAttributionMetrics - FULL - *.csv"))
    # the per-user export: every user of the log, in the arm that served them first, each metric
    users = pl.read_parquet(tmp_path / "users.parquet")
    log = pl.read_csv(sample / "recommendations.csv")
    first = (log.sort("TIMESTAMP", "SOURCE").group_by("USER_ID", maintain_order=True)
             .agg(pl.col("SOURCE").first().alias("arm")).sort("USER_ID"))
    metrics = json.loads((sample / "metric_attribution.json").read_text())["metrics"]
    assert users.height == first.height * len(metrics)
    assert users.filter(metric_name="CLICKS").select("USER_ID", "arm").equals(first)
    assert f"users: {tmp_path / 'users.parquet'}" in done.stdout
    assert f"report: {report}" in done.stdout
    assert "duplicates:" in done.stdout and "(removed)" in done.stdout
    frame = read_report(report)
    truth = json.loads((sample / "truth.json").read_text())
    events = pl.read_csv(sample / "interactions.csv").unique()
    assert frame.filter(metric_name="CLICKS")["value"].sum() == \
        events.filter(pl.col("EVENT_TYPE") == "click").height
    assert truth["counts"]["events"] == pl.read_csv(sample / "interactions.csv").height


def test_unexpected_failure_exits_1(tmp_path):
    code = subprocess.run([sys.executable, "-c", "import sys; import attrkit.attribution.engine as a; "
                           "a.attribute = lambda *x, **k: 1/0; from attrkit.cli import main; "
                           "sys.exit(main(['attribute', '--interactions', 'x.csv', "
                           "'--metric-attribution', 'm.json', '--out', 'r.csv']))"],
                          capture_output=True, text=True, cwd=tmp_path).returncode
    assert code == 1


def test_every_error_path_prints_one_line_and_nothing_else(tmp_path):
    """Each command's failure, run as a user runs it (a new process, stderr at the file
    descriptor): attrkit's one line and no library's warning, log line or panic around it."""
    import os

    events, ma, out = tmp_path / "e.csv", tmp_path / "ma.json", tmp_path / "out"
    events.write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu,i,900,click\nu,i,x,click\n")
    ma.write_text('{"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks", '
                  '"expression": "SAMPLECOUNT()"}]}')
    (tmp_path / "not_a_notebook").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / "bad.ipynb").write_text("{not json")
    (tmp_path / "report.csv").write_text("METRIC_NAME,VALUE\nA,1\n")
    attribute = ["attribute", "--interactions", str(events), "--metric-attribution", str(ma)]
    cases = {
        "template without .ipynb": ["report", str(tmp_path / "not_a_notebook"), "--out", str(out)],
        "params of a non-notebook": ["params", str(tmp_path / "not_a_notebook")],
        "damaged template": ["params", str(tmp_path / "bad.ipynb")],
        "bad parameter": ["report", "--out", str(out), "-p", "alpha", "2"],
        "unknown parameter": ["report", "--out", str(out), "-p", "nonsense", "1"],
        "bad row": [*attribute, "--out", str(out / "r.csv")],
        "users without a log": [*attribute, "--on-bad-rows", "quarantine", "--out",
                                str(out / "r.csv"), "--users-out", str(out / "u.parquet")],
        "missing input": ["attribute", "--interactions", str(tmp_path / "none.csv"),
                          "--metric-attribution", str(ma), "--out", str(out / "r.csv")],
        "configuration not JSON": ["attribute", "--interactions", str(events),
                                   "--metric-attribution", str(events), "--out", str(out)],
        "report CSV without columns": ["compare", "--report", str(tmp_path / "report.csv")],
        "index of a file": ["index", str(events)],
        "lab on a missing folder": ["lab", str(tmp_path / "none"), "--port", "1"],
        "sample over a file": ["sample", "--out", str(events)],
        "usage": ["attribute", "--interactions"],
    }
    env = {k: v for k, v in os.environ.items() if k != "ATTRKIT_DEBUG"}
    procs = {name: subprocess.Popen([sys.executable, "-m", "attrkit", *argv], cwd=tmp_path,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=env)
             for name, argv in cases.items()}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 2, (name, stderr)
        assert stderr.startswith("attrkit: error: ") and stderr.count("\n") == 1, (name, stderr)
        assert "Warning" not in stderr and "panicked" not in stderr, (name, stderr)
    assert not out.exists()


def test_a_command_run_in_process_leaves_warnings_and_logging_as_they_were(capsys):
    # main() may be called from a process that logs (Airflow, a notebook): the libraries are
    # quiet while the command runs, and everything is as it was afterwards
    import logging
    import warnings

    root = logging.getLogger()
    before = (list(warnings.filters), list(root.handlers), logging.getLogger("papermill").level)
    assert main(["params", "nonexistent-template"]) == 2
    assert capsys.readouterr().err.startswith("attrkit: error: template 'nonexistent-template'")
    after = (list(warnings.filters), list(root.handlers), logging.getLogger("papermill").level)
    assert after == before


def test_sigterm_ends_a_command_as_ctrl_c_does(tmp_path, monkeypatch):
    """A scheduler's timeout (SIGTERM) while a file is being written: the file is taken back,
    nothing half-written is left, the exit code is 143, and the handler before is restored."""
    import os
    import signal
    import time

    from attrkit import cli, storage

    def killed_while_writing(args):
        def write(path):
            path.write_text("half a report")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)  # (the handler interrupts this)

        with storage.together():
            storage.write_with(tmp_path / "r.csv", write)
        return 0

    monkeypatch.setattr(cli, "_attribute", killed_while_writing)
    before = signal.getsignal(signal.SIGTERM)
    started = time.monotonic()
    code = cli.main(["attribute", "--interactions", "e.csv", "--metric-attribution", "m.json",
                     "--out", str(tmp_path / "r.csv")])
    assert code == 143 and time.monotonic() - started < 9
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is before
