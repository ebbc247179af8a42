"""attrkit.storage: local atomic writes and the scheme table, exercised through a handler that
keeps objects in memory (S3 itself is tested against a local endpoint in test_aws.py). Faults
are injected at the handler, the seam every remote read and write goes through."""

from __future__ import annotations

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
