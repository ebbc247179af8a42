"""Every reader, fed arbitrary bytes: the answer is a result or attrkit's own one-line error
(:class:`attrkit.AttrkitError`), never a library's exception, a crash or a hang.

Two kinds of input per reader: bytes from nowhere, and a valid file with bytes inserted,
replaced or cut (which reaches the later stages a reader has, past the header).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import attrkit
from attrkit import AttrkitError
from attrkit.cli import read_params
from attrkit.reports.run import parameters

MA = {"name": "m", "metrics": [
    {"eventType": "click", "metricName": "clicks", "expression": "SAMPLECOUNT()"},
    {"eventType": "watch", "metricName": "minutes", "expression": "SUM(Items.LENGTH)"}]}

VALID = {
    "interactions.csv": (b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,RECOMMENDATION_ID,"
                         b"EVENT_ATTRIBUTION_SOURCE\nu1,i1,1700000000,click,r1,\n"
                         b"u2,i2,1700000950,watch,,carousel\n"),
    "items.csv": b"ITEM_ID,LENGTH\ni1,90\ni2,30.5\n",
    "recommendations.csv": b"RECOMMENDATION_ID,SOURCE,TIMESTAMP,USER_ID\nr1,rec-a,1699999990,u1\n",
    "events.jsonl": (b'{"userId": "u1", "sessionId": "s", "eventList": [{"eventType": "click", '
                     b'"itemId": "i1", "sentAt": 1700000000, "recommendationId": "r1"}]}\n'),
    "ma.json": json.dumps(MA).encode(),
    "report.csv": (b"METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,"
                   b"TIMESTAMP\nCLICKS,CLICK,3.0,samplecount,a,1700000100\n"),
    "params.yaml": b"title: weekly\nalpha: 0.05\n",
}


def _parquet() -> bytes:
    buf = io.BytesIO()
    pl.DataFrame({"USER_ID": ["u1"], "ITEM_ID": ["i1"], "TIMESTAMP": [1700000000],
                  "EVENT_TYPE": ["click"]}).write_parquet(buf)
    return buf.getvalue()


VALID["interactions.parquet"] = _parquet()


@st.composite
def mutated(draw, name: str) -> bytes:
    """``VALID[name]`` with a few bytes inserted, replaced or cut."""
    data = bytearray(VALID[name])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "replace", "cut"]))
        chunk = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(
            [b'"', b",", b"\n", b"\r", b"\x00", b"\xff", b"{", b"[", b"*a", b"&a ", b"-1e999",
             b"9" * 30, b"NaN", b"\xef\xbb\xbf", b"\xe2\x80\xae"]))
        if kind == "insert":
            data[at:at] = chunk
        elif kind == "replace":
            data[at:at + len(chunk)] = chunk
        else:
            del data[at:at + draw(st.integers(1, 16))]
    return bytes(data)


def _bytes(name: str):
    return st.binary(max_size=300) | mutated(name)


def _read(name: str, data: bytes, folder: Path) -> object:
    """Feed ``data`` as file ``name`` to the reader that takes it."""
    path = folder / name
    path.write_bytes(data)
    good = {k: folder / f"good-{k}" for k in VALID}
    for k, p in good.items():
        p.write_bytes(VALID[k])
    kind = name.split(".")[0]
    if kind in ("interactions", "events"):
        out = attrkit.attribute(path, good["ma.json"], items=good["items.csv"],
                                recommendations=good["recommendations.csv"],
                                on_bad_rows="quarantine")
        attrkit.attribute(path, good["ma.json"], items=good["items.csv"])  # error mode
        return out
    if kind in ("items", "recommendations"):
        inputs = {"items": good["items.csv"], kind: path}
        return attrkit.attribute(good["interactions.csv"], good["ma.json"], **inputs,
                                 on_bad_rows="quarantine")
    if kind == "ma":
        return attrkit.attribute(good["interactions.csv"], path, items=good["items.csv"])
    if kind == "report":
        return attrkit.read_report(path)
    if kind == "params":
        return read_params(path)
    raise AssertionError(name)


FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(VALID))
def test_arbitrary_bytes_give_a_result_or_attrkits_error(name, tmp_path):
    @FUZZ
    @given(data=_bytes(name))
    def check(data: bytes) -> None:
        try:
            _read(name, data, tmp_path)
        except AttrkitError as exc:
            assert 0 < len(str(exc)) < 20_000  # said, and the echo bounded

    check()


def test_the_valid_files_read(tmp_path):
    """The seeds are valid: each reader gives a result on them (so the mutations start there)."""
    for name in VALID:
        assert _read(name, VALID[name], tmp_path) is not None


def test_a_template_that_is_not_a_notebook(tmp_path):
    @FUZZ
    @given(data=st.binary(max_size=200) | st.just(b'{"cells": 1}'))
    def check(data: bytes) -> None:
        path = tmp_path / "t.ipynb"
        path.write_bytes(data)
        with pytest.raises(AttrkitError):
            parameters(path)

    check()
