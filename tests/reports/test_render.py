"""The one HTML renderer: escaped, formatted, coloured by direction, deterministic, script-free."""

import math
import re
from html.parser import HTMLParser

import polars as pl

from attrkit.reports import render

HOSTILE = "<script>alert('x')</script>"


class _Cells(HTMLParser):
    """Tags and the text of each cell, parsed (not searched), so escaping is checked for real."""

    def __init__(self):
        super().__init__()
        self.tags, self.cells, self._in = [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("td", "th"):
            self._in, self._text = True, ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._in:
            self.cells.append(self._text.strip())
            self._in = False

    def handle_data(self, data):
        if self._in:
            self._text += data


def _parse(html: str) -> _Cells:
    p = _Cells()
    p.feed(html)
    return p


def test_a_table_escapes_every_cell_and_heading_and_formats_each_column():
    frame = pl.DataFrame({HOSTILE: [HOSTILE, "b"], "lift": [0.1234, -0.05],
                          "p": [0.000123, None], "n": [1234567, 2]})
    out = render.table(frame, {"lift": "+.1%", "p": ".2g", "n": ",.0f"})
    parsed = _parse(out)
    assert "script" not in parsed.tags
    assert parsed.cells == [HOSTILE, "lift", "p", "n", HOSTILE, "+12.3%", "0.00012", "1,234,567",
                            "b", "-5.0%", "–", "2"]


def test_lifts_are_coloured_by_direction_and_zero_or_missing_is_not():
    frame = pl.DataFrame({"lift": [0.1, -0.1, 0.0, math.nan]})
    out = render.table(frame, {"lift": "+.0%"}, coloured=["lift"])
    assert out.count(f"color: {render.UP}") == 1 and out.count(f"color: {render.DOWN}") == 1


def test_same_table_same_bytes_and_different_tables_different_ids():
    a = pl.DataFrame({"x": [1.0, 2.0]})
    b = pl.DataFrame({"x": [1.0, 3.0]})
    assert render.table(a) == render.table(a.clone())
    ids = {re.search(r'id="(T_[0-9a-f]+)"', render.table(f)).group(1) for f in (a, b)}
    assert len(ids) == 2


def test_comparison_rows_show_verdicts_in_words_and_methods_as_footnotes():
    frame = pl.DataFrame({
        "metric": ["CLICKS"] * 3, "kind": ["per_user"] * 3, "control": ["a"] * 3,
        "treatment": ["b", "c", HOSTILE], "control_rate": [1.0, 1.0, 1.0],
        "treatment_rate": [1.1, 0.9, 1.0], "lift": [0.1, -0.1, 0.0],
        "lift_ci_low": [0.05, -0.15, -0.1], "lift_ci_high": [0.15, -0.05, 0.1],
        "p_value": [0.001, 0.002, 0.9], "p_adjusted": [0.002, 0.004, 0.9],
        "significant": [True, True, None], "tested": [True, True, True],
        "method": ["Welch", "Welch", "delta"], "warnings": [None, None, "few users"],
        "chance_to_win": [0.9996, 0.0217, 0.5], "expected_loss": [0.00001, 0.1002, 0.0399]})
    out = render.comparison_table(frame, 0.05, "holm")
    parsed = _parse(out)
    assert "script" not in parsed.tags
    header = parsed.cells[:14]
    assert header[7] == "95% CI" and header[9] == "p (holm)"
    assert header[11:13] == ["chance to beat control", "expected loss"]
    rows = [parsed.cells[14 + 14 * i: 28 + 14 * i] for i in range(3)]
    assert [r[10] for r in rows] == ["▲ higher", "▼ lower", "no verdict"]
    # a chance never rounds to a certainty
    assert [r[11] for r in rows] == [">99.9%", "2.2%", "50.0%"]
    assert [r[12] for r in rows] == ["<0.01%", "10.02%", "3.99%"]
    assert [r[13] for r in rows] == ["[1]", "[1]", "[2] [3]"]
    assert rows[0][7] == "[+5.0%, +15.0%]"
    notes = re.findall(r"<li>(.*?)</li>", out.split("attrkit-notes")[1])
    assert notes == ["Welch", "delta", "few users"]


def test_verdicts():
    assert render.verdict(None, 0.1) == "no verdict"
    assert render.verdict(None, None, False, "not computed") == "not computed"
    assert render.verdict(False, 0.1) == "not significant"
    assert render.verdict(True, -0.1) == "▼ lower"
    assert render.verdict(True, 0.1, tested=False) == "described, not tested"


def test_fragments_escape_and_join_as_html():
    out = render.heading(HOSTILE) + render.paragraphs([HOSTILE, "b"], lead="L:") + render.bullets(
        []) + render.key_values([(HOSTILE, 1)])
    assert isinstance(out, render.Html) and out._repr_html_() == str(out)
    assert "<script>" not in out and out.count("&lt;script&gt;") == 3
    assert "<p><b>L:</b> " in out and render.bullets([]) == ""


def test_index_page_escapes_run_names():
    page = render.index_page([{"html": "x.html", "name": HOSTILE, "status": "ok"}])
    assert "<script>" not in page and "&lt;script&gt;" in page and page.startswith("<!DOCTYPE")
