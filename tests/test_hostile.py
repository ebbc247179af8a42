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
from conftest import run_attrkit

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
    done = run_attrkit("report", "--out", str(tmp_path / "out"), "--name", name)
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


# -- one line, exit 2: failures of the environment and of libraries, at one boundary ----------

def _main(capsys, *argv: str) -> tuple[int, str]:
    from attrkit.cli import main

    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def _one_line(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("attrkit: error: "), err
    for w in words:
        assert w in err, err


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_paths_the_system_refuses_get_one_line(tmp_path, capsys):
    events, ma = _files(tmp_path)
    before = _listing(tmp_path)
    cases = [
        (["--metric-attribution", str(tmp_path)], "not a regular file"),  # a folder as the config
        (["--out", str(events / "r.csv")], "a file is in the way"),  # --out under a regular file
        (["--out", str(tmp_path / ("x" * 300 + ".csv"))], "at most 255 bytes"),
    ]
    for extra, words in cases:
        args = {"--interactions": str(events), "--metric-attribution": str(ma),
                "--out": str(tmp_path / "out" / "r.csv")}
        args.update(dict(zip(extra[::2], extra[1::2], strict=True)))
        code, err = _main(capsys, "attribute", *[x for kv in args.items() for x in kv])
        _one_line(code, err, words)
    assert set(_listing(tmp_path)) - set(before) <= {"out"}  # at most an empty folder
    assert not any((tmp_path / "out").rglob("*"))


def test_report_options_that_name_no_notebook_kernel_or_folder(tmp_path, capsys):
    not_nb = tmp_path / "t.ipynb"
    not_nb.write_text("hello")
    a_file = tmp_path / "a.txt"
    a_file.write_text("keep")
    cases = [
        (["report", str(not_nb), "--out", str(tmp_path / "o")], "not a Jupyter notebook"),
        (["params", str(not_nb)], "not a Jupyter notebook"),
        (["report", "--kernel", "no-such-kernel", "--out", str(tmp_path / "o")],
         "no such Jupyter kernel"),
        (["report", "--out", str(a_file)], "is a file"),
    ]
    for argv, words in cases:
        _one_line(*_main(capsys, *argv), words)
    assert a_file.read_text() == "keep" and not (tmp_path / "o").exists()


@pytest.mark.parametrize("fault", ["full disk", "permission on the folder", "rename refused"])
def test_storage_faults_while_writing_give_one_line_and_leave_nothing(tmp_path, capsys,
                                                                      monkeypatch, fault):
    """CI runs as root, where chmod provokes nothing: the faults are injected at the storage
    layer's own calls."""
    import errno

    from attrkit.storage import local

    events, ma = _files(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.csv").write_text("the previous report\n")
    if fault == "full disk":
        def write_csv(self, path, **kw):
            Path(path).write_text("METRIC_NAME,EV")  # half a file, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        monkeypatch.setattr(pl.DataFrame, "write_csv", write_csv)
        words = "the disk is full"
    elif fault == "permission on the folder":
        def mkstemp(*a, dir=None, **k):
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        monkeypatch.setattr(local.tempfile, "mkstemp", mkstemp)
        words = "check its permissions"
    else:
        def replace(src, dst):
            raise OSError(errno.EROFS, "Read-only file system", str(dst))
        monkeypatch.setattr(local.os, "replace", replace)
        words = "read-only"
    code, err = _main(capsys, "attribute", "--interactions", str(events),
                      "--metric-attribution", str(ma), "--out", str(out / "r.csv"))
    _one_line(code, err, words, str(out))
    assert _listing(out) == ["r.csv"] and (out / "r.csv").read_text() == "the previous report\n"


def test_an_unreadable_input_is_named(tmp_path, capsys, monkeypatch):
    import errno

    events, ma = _files(tmp_path)
    real_open = Path.open

    def guarded(self, *a, **k):
        if self == events:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *a, **k)

    monkeypatch.setattr(Path, "open", guarded)
    code, err = _main(capsys, "attribute", "--interactions", str(events),
                      "--metric-attribution", str(ma), "--out", str(tmp_path / "o.csv"))
    _one_line(code, err, str(events), "permission denied")
    assert not (tmp_path / "o.csv").exists()


def test_a_failed_upload_gives_one_line(tmp_path, capsys, monkeypatch):
    """An upload that fails at the storage layer's handler (here a store that is full)."""
    import errno
    import types

    from attrkit import storage

    module = types.ModuleType("full_handler")

    def upload(local, url, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", url)

    module.upload = upload
    monkeypatch.setitem(sys.modules, "full_handler", module)
    monkeypatch.setitem(storage.HANDLERS, "full", "full_handler")
    events, ma = _files(tmp_path)
    code, err = _main(capsys, "attribute", "--interactions", str(events),
                      "--metric-attribution", str(ma), "--out", "full://bucket/r.csv")
    _one_line(code, err, "full://bucket/r.csv", "disk is full")


def test_attrkits_own_bugs_exit_1_with_the_traceback(tmp_path, capsys, monkeypatch):
    from attrkit.attribution import engine

    def broken(*a, **k):
        raise KeyError("a bug")

    monkeypatch.setattr(engine, "_run", broken)
    events, ma = _files(tmp_path)
    code, err = _main(capsys, "attribute", "--interactions", str(events),
                      "--metric-attribution", str(ma), "--out", str(tmp_path / "o.csv"))
    assert code == 1 and "Traceback" in err and "KeyError" in err and "a bug in attrkit" in err


# -- internal columns never meet the data's ----------------------------------------------------

def test_columns_named_like_attrkits_working_columns_change_nothing(tmp_path):
    base = pl.DataFrame({"USER_ID": ["u1", "u1", "u2"], "ITEM_ID": ["i1", "i1", "i2"],
                         "TIMESTAMP": [1700000000, 1700000000, 1700000950],
                         "EVENT_TYPE": ["click"] * 3, "RECOMMENDATION_ID": ["r1", "r1", None]})
    log = pl.DataFrame({"RECOMMENDATION_ID": ["r1"], "SOURCE": ["rec-a"],
                        "TIMESTAMP": [1699999999], "USER_ID": ["u1"]})
    names = ["_bad", "_pos", "_h", "_record", "_served_by", "_unresolved", "_found", "_ds",
             "_column", "_rule", "_value", "SOURCE", "window_start", "events", "value"]
    noisy = base.with_columns(pl.lit("x").alias(n) for n in names)
    for dedupe in (False, True):
        want = attribute(base, MA, recommendations=log, dedupe=dedupe)
        for data in (noisy, noisy.to_pandas()):
            got = attribute(data, MA, recommendations=log, dedupe=dedupe,
                            on_bad_rows="quarantine")
            assert got.windows.equals(want.windows)
            assert got.health.duplicates == want.health.duplicates
    path = tmp_path / "e.csv"
    noisy.with_columns(pl.lit("y").alias("__attrkit_pos")).write_csv(path)
    with pytest.raises(InputError, match="reserved for attrkit") as caught:
        attribute(path, MA)
    assert caught.value.column == "__attrkit_pos"


# -- bounded reading and echoing ----------------------------------------------------------------

def test_a_csv_with_ten_thousand_columns_reads_and_keeps_whole_row_duplicates(tmp_path):
    extra = [f"c{i}" for i in range(10_000)]
    row = ["u1", "i1", "1700000000", "click"] + ["x"] * 10_000
    other = row[:-1] + ["z"]  # differs in the last column only: not a duplicate
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(",".join(r) for r in (
        ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", *extra], row, row, other)) + "\n")
    result = attribute(path, MA)
    assert result.health.duplicates == 1 and result.health.events_used == 3


def test_configuration_that_would_not_fit_is_refused_unread(tmp_path, capsys):
    events, _ = _files(tmp_path)
    cases = {
        "deep.json": "[" * 200_000 + "]" * 200_000,
        "digits.json": '{"name": "m", "x": ' + "9" * 5000 + "}",
        "huge.json": '{"name": "' + "m" * 2_000_000 + '"}',
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        code, err = _main(capsys, "attribute", "--interactions", str(events),
                          "--metric-attribution", str(tmp_path / name), "--out",
                          str(tmp_path / "o.csv"))
        _one_line(code, err, name)
        assert len(err) < 500
    bomb = tmp_path / "bomb.yaml"
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"{b}: &{b} [{', '.join(['*' + a] * 9)}]"
              for a, b in zip("abcdefg", "bcdefgh", strict=True)]
    bomb.write_text("\n".join(lines) + "\ninteractions: *h\n")
    code, err = _main(capsys, "report", "--params-file", str(bomb), "--out", str(tmp_path / "r"))
    _one_line(code, err, "aliases", "line 2")
    assert len(err) < 500 and not (tmp_path / "r").exists() and not (tmp_path / "o.csv").exists()


def test_a_header_line_too_long_and_deep_json_lines(tmp_path):
    long_header = tmp_path / "long.csv"
    long_header.write_text("USER_ID," + "x" * (2 << 20) + "\n")
    with pytest.raises(InputError, match="header line longer"):
        attribute(long_header, MA)
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"userId": "u1", "sessionId": "s", "eventList": [{"eventType": "click", '
                    '"itemId": "i1", "sentAt": 1700000000}]}\n' + "[" * 100_000 + "\n")
    result = attribute(deep, MA, on_bad_rows="quarantine")
    assert result.quarantine["RULE"].to_list() == ["not valid JSON (nested too deeply)"]
    assert result.quarantine["LINE"].to_list() == [2] and result.health.events_used == 1


# -- the terminal: closed stdout, control characters ------------------------------------------

def test_a_closed_stdout_ends_quietly(tmp_path):
    events, ma = _files(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "attrkit", "attribute", "--interactions",
                             str(events), "--metric-attribution", str(ma), "--out",
                             str(tmp_path / "o.csv")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # as `| head -0` would
    assert proc.wait(timeout=300) == 141
    assert proc.stderr.read() == b""


def test_control_characters_in_the_data_are_shown_escaped(tmp_path):
    events = pl.DataFrame({"USER_ID": ["u1", "u2"], "ITEM_ID": ["i1", "i1"],
                           "TIMESTAMP": [1700000000, 1700000001],
                           "EVENT_TYPE": ["click", "click\x1b]0;owned\x07"],
                           "RECOMMENDATION_ID": ["r1", "r2"]})
    log = pl.DataFrame({"RECOMMENDATION_ID": ["r1", "r2"],
                        "SOURCE": ["a\nwarning: forged line", "b\x1b[2J"],
                        "TIMESTAMP": [1699999999] * 2})
    summary = attribute(events, MA, recommendations=log).health.summary()
    assert "\x1b" not in summary and "\x07" not in summary
    assert "\nwarning: forged" not in summary and "a\\nwarning: forged line" in summary
    assert "b\\x1b[2J" in summary


# -- types and numbers no reader expected ---------------------------------------------------------

def test_parquet_lists_bytes_and_uint64_are_rows_that_break_a_rule(tmp_path):
    cases = {
        "list": ({"USER_ID": [["u1"], ["u2"]]}, "USER_ID", "must be text, not List(String)"),
        "bytes": ({"USER_ID": [b"\xff\xfe", b"u2"]}, "USER_ID", "must be text, not Binary"),
        "uint64": ({"TIMESTAMP": pl.Series([2**64 - 1, 1700000000], dtype=pl.UInt64)},
                   "TIMESTAMP", "out of range"),
    }
    base = {"USER_ID": ["u1", "u2"], "ITEM_ID": ["i1", "i1"], "TIMESTAMP": [1700000000] * 2,
            "EVENT_TYPE": ["click"] * 2}
    for name, (columns, column, rule) in cases.items():
        path = tmp_path / f"{name}.parquet"
        pl.DataFrame(base | columns).write_parquet(path)
        with pytest.raises(InputError, match=re.escape(rule)) as caught:
            attribute(path, MA)
        assert caught.value.row == 0 and caught.value.column == column
        q = attribute(path, MA, on_bad_rows="quarantine").quarantine
        assert q["ROW"][0] == 0 and q["COLUMN"][0] == column
    assert q.height == 1  # the uint64 file: one row out of range, the other used


@pytest.mark.parametrize("option", ["--window-origin", "--window-seconds"])
def test_window_options_beyond_64_bits(tmp_path, capsys, option):
    events, ma = _files(tmp_path)
    code, err = _main(capsys, "attribute", "--interactions", str(events),
                      "--metric-attribution", str(ma), "--out", str(tmp_path / "o.csv"),
                      option, str(2**70))
    _one_line(code, err, option.strip("-").replace("-", "_"))


@pytest.mark.parametrize("value", ["NaN", "inf", "-inf", "2.5", "-1"])
def test_report_csv_values_a_count_cannot_have(tmp_path, value):
    path = tmp_path / "r.csv"
    path.write_text("METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,"
                    f"TIMESTAMP\nCLICKS,CLICK,3,samplecount,a,1700000100\nCLICKS,CLICK,{value},"
                    "samplecount,b,1700000100\n")
    with pytest.raises(InputError, match="VALUE") as caught:
        read_report(path)
    assert caught.value.line == 3


# -- found by a second hunt: names, links, pipes, patterns ---------------------------------------

def test_file_names_that_are_not_utf8_are_refused_by_name(tmp_path, capsys):
    events, ma = _files(tmp_path)
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/ev\xff.csv"))
    odd.write_bytes(events.read_bytes())
    _one_line(*_main(capsys, "attribute", "--interactions", str(odd), "--metric-attribution",
                     str(ma), "--out", str(tmp_path / "o.csv")), "not valid UTF-8")
    out = os.fsdecode(bytes(tmp_path) + b"/r\xfe.csv")
    _one_line(*_main(capsys, "attribute", "--interactions", str(events), "--metric-attribution",
                     str(ma), "--out", out), "not valid UTF-8")
    assert not Path(out).exists()


def test_a_loop_of_links_as_out(tmp_path, capsys):
    events, ma = _files(tmp_path)
    (tmp_path / "l1.csv").symlink_to(tmp_path / "l2.csv")
    (tmp_path / "l2.csv").symlink_to(tmp_path / "l1.csv")
    _one_line(*_main(capsys, "attribute", "--interactions", str(events), "--metric-attribution",
                     str(ma), "--out", str(tmp_path / "l1.csv")), "loop of symbolic links")


def test_a_pipe_as_a_configuration_file_is_refused_without_waiting(tmp_path):
    events, _ = _files(tmp_path)
    fifo = tmp_path / "ma.json"
    fifo.unlink()
    os.mkfifo(fifo)
    done = _attribute(events, fifo, tmp_path / "o.csv")  # would block forever if opened
    assert done.returncode == 2 and "not a regular file" in done.stderr
    assert done.stderr.count("\n") == 1


def test_a_file_whose_name_looks_like_a_pattern_is_read_as_itself(tmp_path):
    events, _ = _files(tmp_path)
    for name in ("week*.csv", "week2.csv", "a[1].csv", "a1.csv"):
        (tmp_path / name).write_text(EVENTS if "*" in name or "[" in name else EVENTS + EVENTS
                                     .split("\n", 1)[1])
    for literal in ("week*.csv", "a[1].csv"):
        assert attribute(tmp_path / literal, MA).health.rows_read == {"interactions": 2}


def test_values_beyond_what_can_be_summed_or_shown_are_rows_that_break_a_rule(tmp_path):
    ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "value",
                                    "expression": "SUM(Interactions.EVENT_VALUE)"}]}
    csv_path = tmp_path / "e.csv"
    csv_path.write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n"
                        "u1,i1,1700000000,click,1e30\nu2,i1,1700000001,click,2.5\n")
    result = attribute(csv_path, ma, on_bad_rows="quarantine")
    assert result.quarantine["LINE"].to_list() == [2] and result.windows["value"].sum() == 2.5
    assert "too large to sum" in result.quarantine["RULE"][0]
    pq = tmp_path / "e.parquet"
    pl.DataFrame({"USER_ID": pl.Series([None, 2], dtype=pl.Duration("ms")),
                  "ITEM_ID": ["i1", "i1"],
                  "TIMESTAMP": pl.Series([2**62, 1_700_000_000_000], dtype=pl.Datetime("ms")),
                  "EVENT_TYPE": ["click"] * 2, "EVENT_VALUE": [1.0, 2.0]}).write_parquet(pq)
    q = attribute(pq, ma, on_bad_rows="quarantine").quarantine
    assert q.select("ROW", "COLUMN").rows() == [(0, "USER_ID"), (1, "USER_ID")]
    pl.read_parquet(pq).with_columns(pl.col("USER_ID").cast(pl.Int64).cast(pl.String)
                                     .fill_null("u1")).write_parquet(pq)
    q = attribute(pq, ma, on_bad_rows="quarantine").quarantine
    assert q.select("ROW", "COLUMN").rows() == [(0, "TIMESTAMP")]
    assert q["VALUE"][0] == str(2**62)  # the stored number: no calendar has that date


@pytest.mark.parametrize("column", ["Interactions.USER_ID", "Interactions.TIMESTAMP",
                                    "Items.ITEM_ID", "Interactions.__attrkit_pos"])
def test_a_sum_of_an_id_time_or_working_column_is_refused(column):
    with pytest.raises(ConfigError, match="not a number to sum"):
        parse_expression(f"SUM({column})")


def test_lone_surrogate_escapes_in_put_events_are_lines_that_break_a_rule(tmp_path):
    path = tmp_path / "e.jsonl"
    good = ('{"userId": "u1", "sessionId": "s", "eventList": [{"eventType": "click", '
            '"itemId": "i1", "sentAt": 1700000000}]}')
    path.write_text("\n".join([good, good.replace('"u1"', '"\\ud800"'),
                               good.replace('"click"', '"\\udc80click"')]) + "\n")
    result = attribute(path, MA, on_bad_rows="quarantine")
    assert result.quarantine["LINE"].to_list() == [2, 3] and result.health.events_used == 1


def test_report_timestamps_beyond_the_calendar(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,"
                    "TIMESTAMP\nCLICKS,CLICK,3,samplecount,a,10000000000000\n")
    with pytest.raises(InputError, match="out of range") as caught:
        read_report(path)
    assert caught.value.line == 2 and caught.value.column == "TIMESTAMP"


@pytest.mark.parametrize("argv", [["--users", "1"], ["--seed", "-1"],
                                  ["--users", str(2**63)], ["--days", "100000"]])
def test_sample_sizes_outside_what_can_be_made(tmp_path, capsys, argv):
    _one_line(*_main(capsys, "sample", "--out", str(tmp_path / "s"), *argv), "sample")
    assert not (tmp_path / "s").exists()


def test_usage_errors_of_subcommands_are_attrkit_lines(capsys):
    from attrkit.cli import main

    with pytest.raises(SystemExit) as done:
        main(["sample", "--out", "x", "--days", "0"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err == ("attrkit: error: sample: argument --days: '0' must "
                                            "be at least 1\n")


def test_paths_with_control_characters_are_printed_escaped(tmp_path):
    events, ma = _files(tmp_path)
    done = _attribute(events, ma, tmp_path / "r\x1b[2J.csv")
    assert done.returncode == 0 and "\x1b" not in done.stdout and "r\\x1b[2J.csv" in done.stdout


def test_a_failed_report_says_one_line_and_an_empty_one_says_why(tmp_path):
    events, ma = _files(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(EVENTS.replace("1700000950", "soon"))
    empty = tmp_path / "empty.csv"
    empty.write_text(EVENTS.split("\n", 1)[0] + "\n")
    for data, words in ((bad, "must be Unix epoch seconds"), (empty, "no events to compare")):
        done = subprocess.run([sys.executable, "-m", "attrkit", "report", "-p", "interactions",
                               str(data), "-p", "metric_attribution", str(ma), "--out",
                               str(tmp_path / "rep")], capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert words in done.stderr and "report failed" in done.stderr


def test_out_naming_a_file_of_a_folder_input_is_refused(tmp_path, capsys):
    events, ma = _files(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "part-0.csv").write_text(EVENTS)
    (folder / "r.quarantine.csv").write_text(EVENTS)
    for out in (folder / "part-0.csv", folder / "r.csv"):  # the part; the quarantine's name
        code, err = _main(capsys, "attribute", "--interactions", str(folder),
                          "--metric-attribution", str(ma), "--out", str(out))
        _one_line(code, err, "is one of the inputs")
    assert (folder / "part-0.csv").read_text() == EVENTS
    assert (folder / "r.quarantine.csv").read_text() == EVENTS and not (folder / "r.csv").exists()


def test_the_kernels_own_stderr_goes_to_a_log_not_the_terminal(tmp_path):
    """A kernel writes to the stderr it was started with (tornado's "Socket operation on
    non-socket" when it is stopped after a failed cell, seen under load): attrkit's one line
    stays alone, and the kernel's words are kept in $TMPDIR/attrkit-kernel-<pid>.log."""
    import nbformat

    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    noisy = nbformat.v4.new_code_cell(
        "import os\nos.write(2, b'kernel noise on its stderr\\n')\nraise ValueError('stop')")
    nb = nbformat.v4.new_notebook(cells=[params, noisy])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(tmp_path / "noisy.ipynb"))
    (tmp_path / "tmp").mkdir()
    done = subprocess.run([sys.executable, "-m", "attrkit", "report", "noisy.ipynb", "--out",
                           "rep"], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={**os.environ, "TMPDIR": str(tmp_path / "tmp")})
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "cell 2: ValueError: stop" in done.stderr and "noise" not in done.stderr
    logs = list((tmp_path / "tmp").glob("attrkit-kernel-*.log"))
    assert [p.read_text() for p in logs] == ["kernel noise on its stderr\n"]
