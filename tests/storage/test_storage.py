"""attrkit.storage: local atomic writes and the scheme table, exercised through a handler that
keeps objects in memory (S3 itself is tested against a local endpoint in test_aws.py). Faults
are injected at the handler, the seam every remote read and write goes through."""

from __future__ import annotations

import os
import shutil
import sys
import types
from pathlib import Path

import polars as pl
import pytest

import attrkit
from attrkit import storage


@pytest.fixture
def mem(monkeypatch, tmp_path):
    """A ``mem://`` scheme whose objects live in a dict."""
    objects: dict[str, bytes] = {}
    module = types.ModuleType("mem_handler")

    def upload(local, url, *, kms_key_arn=None, content_type=None):
        if url.endswith("/"):
            url += Path(local).name
        objects[url] = Path(local).read_bytes()
        return url

    def download(url, *, suffix_filter=()):
        keys = sorted(k for k in objects if k.startswith(url) and (url.endswith("/") or k == url)
                      and (not suffix_filter or k.endswith(suffix_filter)))
        out = []
        for i, k in enumerate(keys):
            local = tmp_path / f"{i:05d}-{k.rsplit('/', 1)[-1]}"
            local.write_bytes(objects[k])
            out.append(local)
        return out

    module.upload, module.download = upload, download
    module.fetch = lambda url: download(url)[0]
    monkeypatch.setitem(sys.modules, "mem_handler", module)
    monkeypatch.setitem(storage.HANDLERS, "mem", "mem_handler")
    return objects


def test_paths_and_urls():
    assert storage.scheme("s3://b/k") == "s3" and storage.scheme("/tmp/x.csv") is None
    assert storage.scheme("https://example.org/x.csv") is None  # no handler: not remote
    assert storage.join("s3://b/p/", "r.csv") == "s3://b/p/r.csv"
    assert storage.join(Path("out"), "r.csv") == Path("out/r.csv")
    assert storage.sibling("s3://b/p/r.csv", "q.csv") == "s3://b/p/q.csv"
    assert storage.sibling(Path("out/r.csv"), "q.csv") == Path("out/q.csv")
    assert storage.is_folder("s3://b/p/") and not storage.is_folder("s3://b/p/r.csv")


def test_a_failed_local_write_leaves_nothing(tmp_path):
    target = tmp_path / "out" / "r.csv"

    def half(path: Path) -> None:
        path.write_text("METRIC_NAME,")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        storage.write_with(target, half)
    assert list(tmp_path.iterdir()) == []  # no file, and not the folder the write made
    (tmp_path / "out").mkdir()
    with pytest.raises(OSError, match=f"No space left.*{target}"):  # named, errno kept
        storage.write_with(target, half)
    assert list(tmp_path.iterdir()) == [tmp_path / "out"]  # a folder that was there stays
    assert list(target.parent.iterdir()) == []


def test_reports_round_trip_through_a_handler(mem, tmp_path):
    ev = pl.DataFrame({"USER_ID": ["u"] * 3, "ITEM_ID": ["i"] * 3, "TIMESTAMP": [0, 10, 950],
                       "EVENT_TYPE": ["click"] * 3})
    ma = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
                                    "expression": "SAMPLECOUNT()"}]}
    result = attrkit.attribute(ev, ma)
    url = result.write_report("mem://bucket/reports/", when=0)
    assert url == "mem://bucket/reports/AggregatedAttributionMetrics - FULL - 0.csv"
    assert list(mem) == [url]
    back = attrkit.read_report("mem://bucket/reports/")
    assert back["value"].to_list() == result.windows["value"].to_list()
    # the metric attribution JSON through the same table; its errors name the URL
    mem["mem://bucket/ma.json"] = b'{"name": "m", "metrics": []}'
    with pytest.raises(attrkit.ConfigError, match=r"^mem://bucket/ma.json: "):
        attrkit.MetricAttribution.from_json("mem://bucket/ma.json")


def test_a_failed_upload_leaves_no_scratch_file(mem, monkeypatch, tmp_path):
    made = []
    real = storage.tempfile.TemporaryDirectory

    def tracked(*a, **k):
        d = real(*a, **k)
        made.append(d.name)
        return d

    def refuse(local, url, **kw):
        raise OSError("upload refused")

    monkeypatch.setattr(storage.tempfile, "TemporaryDirectory", tracked)
    monkeypatch.setattr(sys.modules["mem_handler"], "upload", refuse)
    with pytest.raises(OSError, match="upload refused"):
        storage.write_with("mem://bucket/r.csv", lambda p: p.write_text("x"))
    assert made and not any(Path(d).exists() for d in made)
    assert mem == {}
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_together_replaces_all_or_none_even_when_a_rename_fails(tmp_path, monkeypatch):
    from attrkit.storage import local

    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"old {name}\n")
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith("c.txt"):
            raise OSError(5, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(local.os, "replace", replace)
    with pytest.raises(OSError, match="c.txt") as caught, storage.together():
        for name in ("a.txt", "b.txt", "c.txt"):
            storage.atomic_write_text(tmp_path / name, f"new {name}\n")
    assert caught.value.errno == 5 and caught.value.filename == str(tmp_path / "c.txt")
    # a and b were replaced, then given their earlier files back; nothing hidden is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "c.txt"]
    assert [(tmp_path / n).read_text() for n in ("a.txt", "b.txt", "c.txt")] == [
        "old a.txt\n", "old b.txt\n", "old c.txt\n"]


def test_a_failed_inner_block_takes_back_only_its_own_files(tmp_path):
    with storage.together():
        storage.atomic_write_text(tmp_path / "outer.txt", "outer\n")
        with pytest.raises(RuntimeError), storage.together():
            storage.atomic_write_text(tmp_path / "inner.txt", "inner\n")
            raise RuntimeError("one notebook of several was damaged")
        assert not (tmp_path / "outer.txt").exists()  # not yet: when the outer block ends
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outer.txt"]


def test_a_file_removed_then_written_in_one_block_is_kept(tmp_path):
    (tmp_path / "r.csv").write_text("old\n")
    with storage.together():
        assert storage.remove_local(tmp_path / "r.csv")
        storage.atomic_write_text(tmp_path / "r.csv", "new\n")
    assert (tmp_path / "r.csv").read_text() == "new\n"
    with storage.together():
        storage.remove_local(tmp_path / "r.csv")
        assert (tmp_path / "r.csv").exists()  # removed when the block succeeds
    assert not (tmp_path / "r.csv").exists()


def test_folders_a_failed_write_made_are_removed_and_others_kept(tmp_path, monkeypatch):
    from attrkit.storage import local

    (tmp_path / "kept").mkdir()
    real = Path.mkdir

    def mkdir(self, *a, **k):
        if self.name == "c":
            raise OSError(28, "No space left on device", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(local.Path, "mkdir", mkdir)
    with pytest.raises(OSError, match="No space"):
        storage.atomic_write_text(tmp_path / "kept" / "a" / "b" / "c" / "r.txt", "x")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["kept"]


def test_a_killed_processs_scratch_folder_is_removed_by_the_next(tmp_path, monkeypatch):
    """atexit does not run in a process killed with SIGKILL (a kernel stopped hard): its
    scratch folder stays, and the next scratch_dir removes it once an hour old; a live
    process's folder and a killed one's fresh folder stay."""
    import os
    import subprocess
    import sys
    import tempfile

    from attrkit.storage.local import scratch_dir

    code = ("import os, signal\nfrom attrkit.storage.local import scratch_dir\n"
            "d = scratch_dir('attrkit-sample-')\n(d / 'x.csv').write_text('1')\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    for _ in range(2):
        killed = subprocess.run([sys.executable, "-c", code], env=env, timeout=120)
        assert killed.returncode == -9
    left = sorted(tmp_path.iterdir(), key=lambda p: p.stat().st_mtime)
    assert len(left) == 2 and all((p / "x.csv").exists() for p in left)
    os.utime(left[0], (0, 0))  # the first is old, the second fresh
    alive = tmp_path / f"attrkit-sample-{os.getppid()}-abc"  # (a live process's, old)
    alive.mkdir()
    os.utime(alive, (0, 0))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    mine = scratch_dir("attrkit-sample-")
    assert not left[0].exists() and left[1].exists() and alive.exists() and mine.exists()
    assert mine.name.startswith(f"attrkit-sample-{os.getpid()}-")


def test_the_logs_of_ended_processes_are_removed_after_a_week(tmp_path, monkeypatch):
    """A Spark or kernel log stays to be read after a failed run; once its process has ended
    and the log is a week old, the next log of the same kind removes it. A live process's old
    log, an ended one's recent log, other kinds' logs and other files stay."""
    import os
    import subprocess
    import sys
    import tempfile
    import time

    from attrkit.storage.local import LOG_DAYS, children_stderr_to

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, timeout=60)
    gone = int(ended.stdout)
    week = LOG_DAYS * 86_400
    old = {"gone": f"attrkit-spark-{gone}.log", "alive": f"attrkit-spark-{os.getppid()}.log",
           "kernel": f"attrkit-kernel-{gone}.log", "other": f"attrkit-spark-{gone}.log.txt"}
    recent = f"attrkit-spark-{gone + 1}.log"
    now = time.time()
    for name, age in [*((n, week + 60) for n in old.values()), (recent, week - 3600)]:
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (now - age, now - age))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with children_stderr_to("spark") as log:
        assert log.name == f"attrkit-spark-{os.getpid()}.log"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert old["gone"] not in left
    assert sorted([old["alive"], old["kernel"], old["other"], recent, log.name]) == left
