import errno
import os
import subprocess
import sys

import polars as pl
import pytest

from attrkit import InputError, attribute, read_report, write_report
from attrkit.personalize.report_csv import report_filename

MA = {"name": "t", "metrics": [
    {"eventType": "Click", "metricName": "clicks", "expression": "SAMPLECOUNT()"},
    {"eventType": "watch", "metricName": "minutes", "expression": "SUM(Items.LENGTH)"},
]}


def _events():
    return pl.DataFrame({
        "USER_ID": ["u1", "u2", "u3", "u4", "u5", "u6"],
        "ITEM_ID": ["a", "b", "a", "b", "zz", "a"],
        "TIMESTAMP": [1800, 1801, 2699, 2700, 2701, 1900],
        "EVENT_TYPE": ["CLICK", "click", "watch", "WATCH", "watch", "watch"],
        "EVENT_ATTRIBUTION_SOURCE": ['with,comma "q"', None, "p", "p", "p", "p"],
    })


ITEMS = pl.DataFrame({"ITEM_ID": ["a", "b"], "LENGTH": [12.0, 30.5]})

# Worked by hand: window 1800 holds 1800, 1801, 1900, 2699; window 2700 holds 2700, 2701.
EXPECTED = (
    "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"
    "CLICKS,CLICK,1.0,samplecount,SOURCE_NAME_UNDEFINED,1800\n"
    'CLICKS,CLICK,1.0,samplecount,"with,comma ""q""",1800\n'
    "MINUTES,WATCH,24.0,sum,p,1800\n"
    "MINUTES,WATCH,30.5,sum,p,2700\n"
)


def test_report_bytes_match_the_service_format(tmp_path):
    result = attribute(_events(), MA, items=ITEMS)
    path = result.write_report(tmp_path / "r.csv")
    assert path.read_bytes() == EXPECTED.encode()
    # the missing item zz is counted, not summed
    assert result.health.metrics["minutes"].items_not_found == 1
    assert result.windows.filter(timestamp=2700)["events"].to_list() == [2]


def test_folder_gets_the_service_file_name(tmp_path):
    result = attribute(_events(), MA, items=ITEMS)
    path = result.write_report(tmp_path, import_mode="INCREMENTAL", when=1700000000)
    assert path.name == "AggregatedAttributionMetrics - INCREMENTAL - 1700000000.csv"
    assert path.parent == tmp_path
    new_dir = result.write_report(str(tmp_path / "new") + "/", when=5)
    assert new_dir.name == report_filename("FULL", 5)


def test_read_back_gives_the_same_frame(tmp_path):
    result = attribute(_events(), MA, items=ITEMS)
    back = read_report(result.write_report(tmp_path / "r.csv"))
    assert back.drop("events").equals(result.windows.drop("events"))
    counts = result.windows.filter(math_function="samplecount")
    assert back.filter(math_function="samplecount")["events"].equals(counts["events"])
    assert back.schema == result.windows.schema


def test_reads_the_services_own_report(tmp_path):
    # As the service writes it: windows 24 s past the quarter hour, lower-case columns upper-cased.
    (tmp_path / "AggregatedAttributionMetrics - INCREMENTAL - 1.csv").write_text(
        "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"
        "COUNTWATCHES,WATCH,12.0,samplecount,1P_RECS,1666925124\n"
        "COUNTWATCHES,WATCH,112.0,samplecount,2P_RECS,1666924224\n"
        "TOTALMINUTES,WATCH,3.5,sum,1P_RECS,1666925124\n")
    frame = read_report(tmp_path)
    assert frame["timestamp"].to_list() == [1666924224, 1666925124, 1666925124]
    assert frame["events"].to_list() == [112, 12, None]
    assert str(frame["window_start"][0]) == "2022-10-28 02:30:24+00:00"


def test_bad_report_names_line_and_column(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"
                    "A,B,1.0,samplecount,s,0\nA,B,x,samplecount,s,900\n")
    with pytest.raises(InputError, match=r"r.csv, line 3, column VALUE: must be a number"):
        read_report(path)
    path.write_text("METRIC_NAME,VALUE\nA,1\n")
    with pytest.raises(InputError, match="missing report column EVENT_TYPE"):
        read_report(path)


def test_a_full_disk_leaves_no_partial_file(tmp_path):
    # A real full disk for the writing process (a file-size limit of 200 bytes: the kernel
    # refuses the write with EFBIG), not a patched writer.
    result = attribute(_events(), MA, items=ITEMS)
    result.windows.write_parquet(tmp_path / "w.parquet")
    out = tmp_path / "out"
    code = (
        "import resource, signal, sys, polars as pl\n"
        "from attrkit import write_report\n"
        "w = pl.read_parquet(sys.argv[1])\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))\n"
        "try:\n"
        "    write_report(w, sys.argv[2])\n"
        "except OSError as e:\n"
        "    print('refused:', e); sys.exit(3)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "w.parquet"),
                           str(out / "r.csv")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert os.strerror(errno.EFBIG) in done.stdout  # "File too large"
    # the temporary file was removed, no r.csv appeared, and the folder the write made is gone
    assert not out.exists() and os.listdir(tmp_path) == ["w.parquet"]
    assert write_report(result.windows, out / "r.csv").stat().st_size > 200  # the limit was it


def test_reads_a_folder_as_the_inputs_do(tmp_path):
    # A folder of reports is read as the interactions' folders are (storage.expand): at any
    # depth, by pattern, skipping hidden and marker files; a folder without reports is named.
    result = attribute(_events(), MA, items=ITEMS)
    one = result.write_report(tmp_path / "reports" / "2026-11" / "a.csv")
    (tmp_path / "reports" / ".a.x1.tmp.csv").write_text("half a file")
    (tmp_path / "reports" / "_SUCCESS").write_text("")
    whole = read_report(one)
    nested = read_report(tmp_path / "reports")
    assert nested.equals(whole)
    assert read_report(str(tmp_path / "reports" / "*" / "*.csv")).equals(whole)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty.*no report CSV files"):
        read_report(tmp_path / "empty")


def test_a_report_written_twice_into_a_folder_is_refused_not_doubled(tmp_path):
    """A run repeated into the same folder writes a second file of the same rows: read
    together, every total would be doubled. Files that share only some windows (the service's
    publishes of separate imports) are added up."""
    result = attribute(_events(), MA, items=ITEMS)
    out = str(tmp_path / "out") + "/"
    first = result.write_report(out, when=1700000000)
    second = result.write_report(out, when=1700000100)
    with pytest.raises(InputError) as caught:
        read_report(tmp_path / "out")
    assert str(caught.value) == (
        f"{second}: holds the same rows as {first} (one report written twice, whose totals "
        "would be doubled): read one of them, or move the other out of the folder")
    second.unlink()
    later = attribute(_events().with_columns(pl.col("TIMESTAMP") + 900), MA, items=ITEMS)
    later.write_report(out, when=1700000200)
    both = read_report(tmp_path / "out")
    assert both.height == result.windows.height + later.windows.height
    # window 2700 is in both files (1800's events moved on, and its own): both rows are kept
    assert sorted(both.filter(timestamp=2700, metric_name="MINUTES")["value"]) == [24.0, 30.5]
