"""attrkit.frames: the one pandas/polars adapter and the display results share."""

import pandas as pd
import polars as pl
import pytest

import attrkit
from attrkit.frames import WINDOW_SCHEMA, is_pandas, to_polars
from attrkit.reports.display import Display


def test_every_frame_kind_becomes_the_same_polars_frame():
    frame = pl.DataFrame({"a": [1, 2], "b": ["x", None]})
    for given in (frame, frame.lazy(), frame.to_pandas()):
        assert to_polars(given, "x").equals(frame)
    assert is_pandas(frame.to_pandas()) and not is_pandas(frame)


def test_an_attribution_gives_its_windows_and_anything_else_a_one_line_error():
    ma = attrkit.MetricAttribution("m", [attrkit.Metric("clicks", "click", "SAMPLECOUNT()")])
    ev = pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i"], "TIMESTAMP": [900],
                       "EVENT_TYPE": ["click"]})
    result = attrkit.attribute(ev, ma)
    assert to_polars(result, "windows") is result.windows
    assert result.windows.schema == WINDOW_SCHEMA
    with pytest.raises(TypeError, match=r"^windows: expected a polars or pandas frame, got list$"):
        to_polars([1, 2], "windows")


def test_results_share_one_display():
    class Result(Display):
        def to_polars(self):
            return pl.DataFrame({"lift": [0.5], "name": ["<b>x</b>"]})

        def _notes(self):
            return ["a note"]

    r = Result()
    assert isinstance(r.to_pandas(), pd.DataFrame)
    html = r._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<li>a note</li>" in html
    assert isinstance(attrkit.ComparisonTable(pl.DataFrame()), Display)
    assert issubclass(attrkit.Attribution, Display)
