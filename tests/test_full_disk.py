"""A real full disk on every write path: a small tmpfs mounted for the test (CI runs as root),
filled up, and attrkit's commands run against it. Each failure is one line naming the file,
exit 2; nothing is left behind and the previous output is unchanged, byte for byte."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from attrkit import storage
from attrkit.errors import explain

CLEAN = ("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_ATTRIBUTION_SOURCE\n"
         + "".join(f"u{i % 7},i{i % 5},{900 * (i % 40) + i},click,{'ab'[i % 2]}\n"
                   for i in range(400)))
EVENTS = CLEAN + "u1,i1,not-a-time,click,a\n"  # a bad row: quarantined beside the report
MA = ('{"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks", '
      '"expression": "SAMPLECOUNT()"}]}')


@pytest.fixture
def small_disk(tmp_path):
    """``make(size)``: a tmpfs of ``size`` mounted under ``tmp_path``, unmounted afterwards."""
    mounted = []

    def make(size: str = "256k") -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                               str(where)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip("a real full disk needs a tmpfs, and mounting one is not allowed here "
                        f"({(done.stderr or done.stdout).strip()}); CI runs as root, where it is")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, leave: int = 0) -> None:
    """Fill ``disk`` so that about ``leave`` bytes stay free (whole pages on a tmpfs)."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(disk / "filler", "wb") as fh:
        try:
            fh.write(b"\0" * max(free - leave, 0))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, hidden ones included, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "filler"}


def run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "attrkit", *argv], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def one_line(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("attrkit: error: "), done.stderr
    for w in words:
        assert w in done.stderr, done.stderr


def test_a_group_of_writes_replaces_all_files_or_none(small_disk):
    disk = small_disk("64k")
    for name in ("a.txt", "b.txt", "c.csv"):
        (disk / name).write_text(f"the previous {name}\n")
    before = snapshot(disk)
    fill(disk, leave=8192)  # room for two small files, not for the third
    with pytest.raises(OSError) as caught, storage.together():
        storage.atomic_write_text(disk / "a.txt", "new a\n")
        storage.atomic_write_text(disk / "b.txt", "new b\n")
        storage.write_frame(disk / "c.csv", pl.DataFrame({"x": range(20_000)}))
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(disk / "c.csv")
    assert snapshot(disk) == before  # a and b were written, then taken back: none replaced
    # with room, the same group replaces all three
    (disk / "filler").unlink()
    with storage.together():
        storage.atomic_write_text(disk / "a.txt", "new a\n")
        storage.atomic_write_text(disk / "b.txt", "new b\n")
    assert (disk / "a.txt").read_text() == "new a\n" and (disk / "b.txt").read_text() == "new b\n"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_polars_writers_on_a_full_disk_name_the_file(small_disk, suffix):
    # polars' Rust I/O raises OSError (CSV) or ComputeError (Parquet) with no errno, only
    # "(os error 28)" in the message: attrkit names the file and says what to do.
    disk = small_disk("16k")
    fill(disk)
    target = disk / "out" / f"r{suffix}"
    with pytest.raises(OSError) as caught:
        storage.write_frame(target, pl.DataFrame({"x": range(50_000)}))
    assert str(explain(caught.value)) == (f"{target}: no space left on device; the disk is "
                                          "full: free space or write elsewhere")
    assert snapshot(disk) == {} and not (disk / "out").exists()


def test_attribute_on_a_full_disk_keeps_the_previous_report_and_quarantine(tmp_path, small_disk):
    disk = small_disk("256k")
    events, ma = tmp_path / "events.csv", tmp_path / "ma.json"
    events.write_text(EVENTS)
    ma.write_text(MA)
    first = run_cli("attribute", "--interactions", str(events), "--metric-attribution", str(ma),
                    "--out", str(disk / "r.csv"), "--on-bad-rows", "quarantine")
    assert first.returncode == 0, first.stderr
    before = snapshot(disk)
    assert sorted(before) == ["r.csv", "r.quarantine.csv"]
    events.write_text(EVENTS.replace("click,a", "click,a-longer-source-name") * 3)
    fill(disk)
    done = run_cli("attribute", "--interactions", str(events), "--metric-attribution", str(ma),
                   "--out", str(disk / "r.csv"), "--on-bad-rows", "quarantine")
    one_line(done, str(disk / "r"), "no space left on device", "the disk is full")
    assert snapshot(disk) == before


def test_attribute_into_a_new_folder_on_a_full_disk_leaves_no_folder(tmp_path, small_disk):
    disk = small_disk("16k")
    events, ma = tmp_path / "events.csv", tmp_path / "ma.json"
    events.write_text(CLEAN)
    ma.write_text(MA)
    fill(disk)
    done = run_cli("attribute", "--interactions", str(events), "--metric-attribution", str(ma),
                   "--out", str(disk / "new" / "deeper") + "/")
    one_line(done, str(disk / "new" / "deeper" / "AggregatedAttributionMetrics"), "disk is full")
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_sample_on_a_full_disk_writes_none_of_its_files(small_disk):
    disk = small_disk("1m")
    (disk / "truth.json").write_text('{"previous": true}\n')
    before = snapshot(disk)
    fill(disk, leave=64 << 10)  # the small files fit, the interactions do not
    done = run_cli("sample", "--out", str(disk), "--days", "1", "--users", "500")
    one_line(done, "no space left on device", str(disk))
    assert snapshot(disk) == before


def test_temporary_buckets_on_a_full_disk_say_where_to_point_tmpdir(tmp_path, small_disk,
                                                                     monkeypatch):
    import tempfile

    import attrkit

    disk = small_disk("16k")
    fill(disk)
    events, ma = tmp_path / "events.csv", tmp_path / "ma.json"
    events.write_text(CLEAN)
    ma.write_text(MA)
    monkeypatch.setattr(tempfile, "tempdir", str(disk))  # as TMPDIR would
    # above a chunk, the events are first written to temporary Parquet buckets
    with pytest.raises(attrkit.AttrkitError) as caught:
        attrkit.attribute(str(events), str(ma), chunk_rows=100)
    message = str(caught.value)
    assert message.startswith(f"{disk}: no space left on device while writing the temporary "
                              "buckets") and "set TMPDIR" in message and "\n" not in message
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_index_on_a_full_disk_keeps_the_previous_index(small_disk):
    disk = small_disk("64k")
    record = {"name": "weekly", "html": "weekly.html", "status": "ok", "title": "Weekly"}
    (disk / "weekly.json").write_text(json.dumps(record))
    first = run_cli("index", str(disk))
    assert first.returncode == 0, first.stderr
    before = snapshot(disk)
    (disk / "weekly.json").write_text(json.dumps(record | {"title": "Weekly, renamed"}))
    before["weekly.json"] = (disk / "weekly.json").read_bytes()
    fill(disk)
    done = run_cli("index", str(disk))
    one_line(done, str(disk / "index.html"), "disk is full")
    assert snapshot(disk) == before


def test_report_on_a_full_disk_keeps_the_previous_run(small_disk):
    disk = small_disk("256k")
    previous = {"attribution_report.html": "<p>the previous report</p>\n",
                "attribution_report.json": '{"name": "attribution_report", "status": "ok"}\n',
                "attribution_report.ipynb": '{"cells": []}\n',
                "index.html": "<p>the previous index</p>\n"}
    for name, text in previous.items():
        (disk / name).write_text(text)
    before = snapshot(disk)
    fill(disk)
    done = run_cli("report", "attribution_report", "--out", str(disk), "-p", "sample_days", "1")
    one_line(done, str(disk), "no space left on device")
    assert snapshot(disk) == before
