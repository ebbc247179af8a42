"""The one HTML renderer: every table and note attrkit shows, in a notebook or a shared report.

Tables go through pandas' Styler: each column formatted (percentages, p-values, counts), every
cell and heading escaped (a source named ``<script>`` is shown as text), lifts coloured by
direction, verdicts in words, the method as a numbered footnote under the table. The output is
the same bytes for the same table (the Styler's id is derived from the content) and holds no
script: only inline styles, which the report's content-security policy allows.

Every function returns :class:`Html`, a string that notebooks display as HTML, so a cell can
end with ``render.table(frame)``.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from attrkit.reports.verdict import verdict

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
"""The content-security policy of every page attrkit writes: no script, nothing fetched."""
UP, DOWN = "#1a7f37", "#b42318"
"""Colours of a lift above and below zero."""
DASH = "–"


class Html(str):
    """A fragment of HTML; Jupyter displays it as HTML, ``+`` joins fragments."""

    def _repr_html_(self) -> str:
        return str(self)

    def __add__(self, other: str) -> Html:
        return Html(str(self) + str(other))


_UNSEEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Control characters and bidirectional overrides: shown as escapes, so text from the data
can neither hide itself nor turn the text around it."""


def esc(x: Any) -> str:
    """Text as HTML: ``<``, ``>``, ``&`` and quotes escaped; control characters and
    bidirectional overrides shown as ``\\uXXXX``."""
    return html.escape(_UNSEEN.sub(lambda m: f"\\u{ord(m.group()):04x}", str(x)), quote=True)


def join(parts: Iterable[str]) -> Html:
    return Html("".join(str(p) for p in parts))


def heading(text: str, level: int = 2) -> Html:
    return Html(f"<h{level}>{esc(text)}</h{level}>")


def paragraphs(lines: Iterable[str], *, lead: str | None = None) -> Html:
    """One paragraph per line; ``lead`` (bold) opens the first."""
    out = []
    for i, line in enumerate(lines):
        bold = f"<b>{esc(lead)}</b> " if lead and i == 0 else ""
        out.append(f"<p>{bold}{esc(line)}</p>")
    return Html("".join(out))


def bullets(lines: Iterable[str], css_class: str = "attrkit-warnings") -> Html:
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return Html(f"<ul class='{css_class}'>{items}</ul>" if items else "")


def key_values(rows: Iterable[tuple[str, Any]], css_class: str = "attrkit-kv") -> Html:
    """A two-column table of names and values."""
    body = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th>"
                   f"<td style='text-align:left'>{esc(v)}</td></tr>" for k, v in rows)
    return Html(f"<table class='{css_class}'>{body}</table>")


def details(summary: str, body: str, *, open: bool = True) -> Html:
    return Html(f"<details{' open' if open else ''}><summary><b>{esc(summary)}</b></summary>"
                f"{body}</details>")


def formatter(spec: str | None) -> Any:
    """A cell formatter for a format spec (``'.2%'``, ``',.0f'``, ``'chance'``: a probability
    as a percentage, ``<0.1%`` and ``>99.9%`` at the ends, or ``'loss'``: see :func:`loss`):
    missing and NaN show as a dash, infinities as ±∞, text as is."""

    def fmt(v: Any) -> str:
        if spec == "chance" and isinstance(v, float) and math.isfinite(v):
            return chance(v)
        if spec == "loss" and isinstance(v, float) and math.isfinite(v):
            return loss(v)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return DASH
        if isinstance(v, float) and math.isinf(v):
            return "+∞" if v > 0 else "−∞"
        if isinstance(v, bool) or spec is None or not isinstance(v, int | float):
            return str(v)
        return format(v, spec)

    return fmt


def chance(p: float) -> str:
    """A probability as a percentage that never rounds to a certainty: ``<0.1%``, ``97.3%``,
    ``>99.9%``."""
    return "<0.1%" if p < 0.001 else ">99.9%" if p > 0.999 else f"{p:.1%}"


def loss(x: float) -> str:
    """An expected loss (a share of the control) as a percentage: ``<0.01%`` below it."""
    return "<0.01%" if x < 0.00005 else f"{x:.2%}"


def _direction(v: Any) -> str:
    if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v) or v == 0:
        return ""
    return f"color:{UP}" if v > 0 else f"color:{DOWN}"


def table(frame: pl.DataFrame, formats: dict[str, str] | None = None, *,
          coloured: Sequence[str] = (), footnotes: Sequence[str] = (),
          css_class: str = "attrkit-table") -> Html:
    """A small frame as an HTML table (pandas' Styler), every cell escaped.

    Args:
        formats: a format spec per column (``{"lift": "+.2%"}``).
        coloured: columns whose numbers are coloured by sign (green above zero, red below).
        footnotes: lines under the table, numbered ``[1]``, ``[2]``, ... (cells refer to them).
    """
    formats = formats or {}
    pdf = frame.to_pandas(use_pyarrow_extension_array=False)
    digest = hashlib.sha256(frame.write_csv().encode() + css_class.encode()).hexdigest()[:10]
    from pandas.io.formats.style import Styler

    styler = (Styler(pdf, uuid=digest, cell_ids=False).hide(axis="index")
              .format({c: formatter(formats.get(c)) for c in pdf.columns}, escape="html")
              .format_index(escape="html", axis=1))
    shown = [c for c in coloured if c in pdf.columns]
    if shown:
        styler = styler.map(_direction, subset=shown)
    out = styler.to_html(table_attributes=f'class="{css_class}"', doctype_html=False)
    if footnotes:
        notes = "".join(f"<li>{esc(n)}</li>" for n in footnotes)
        out += f"<ol class='attrkit-notes'>{notes}</ol>"
    return Html(out)


def result_html(frame: pl.DataFrame, notes: Sequence[str] = ()) -> Html:
    """A result object's display: its frame as a table, its notes as a list under it."""
    return table(frame) + bullets(notes)


def comparison_table(frame: pl.DataFrame, alpha: float, correction: str, *,
                     label: Any = str) -> Html:
    """A comparison's rows (:data:`~attrkit.frames.RESULT_SCHEMA`): the lift with its interval,
    p-values, the verdict in words, and each row's method and warnings as footnotes."""
    notes: list[str] = []

    def note(text: str | None) -> str:
        if not text:
            return ""
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    rows = []
    for r in frame.iter_rows(named=True):
        refs = " ".join(x for x in (note(r["method"]), note(r.get("warnings"))) if x)
        rows.append({
            "metric": r["metric"], "compares": (r.get("kind") or "").replace("_", " "),
            "control": label(r["control"]), "treatment": label(r["treatment"]),
            "control value": r["control_rate"], "treatment value": r["treatment_rate"],
            "lift": r["lift"],
            f"{1 - alpha:.0%} CI": _interval(r["lift_ci_low"], r["lift_ci_high"]),
            "p": r["p_value"], f"p ({correction})": r["p_adjusted"],
            "verdict": verdict(r["significant"], r["lift"], r.get("tested"), r["method"]),
            "chance to beat control": r.get("chance_to_win"),
            "expected loss": r.get("expected_loss"), "notes": refs})
    shown = pl.DataFrame(rows, schema={
        "metric": pl.String, "compares": pl.String, "control": pl.String,
        "treatment": pl.String, "control value": pl.Float64, "treatment value": pl.Float64,
        "lift": pl.Float64, f"{1 - alpha:.0%} CI": pl.String, "p": pl.Float64,
        f"p ({correction})": pl.Float64, "verdict": pl.String,
        "chance to beat control": pl.Float64, "expected loss": pl.Float64, "notes": pl.String})
    return table(shown, {"control value": ".4g", "treatment value": ".4g", "lift": "+.2%",
                         "p": ".3g", f"p ({correction})": ".3g",
                         "chance to beat control": "chance", "expected loss": "loss"},
                 coloured=["lift"], footnotes=notes, css_class="attrkit-compare")


def _interval(low: float | None, high: float | None) -> str:
    f = formatter("+.1%")
    return f"[{f(low)}, {f(high)}]"


DESIGNS = {"users": "users randomised", "requests": "requests randomised",
           "observational": "observational", None: "not declared", "unknown": DASH}
"""A run's design in the index, in a few words."""


def image(png: bytes, alt: str) -> Html:
    """A PNG embedded in the page (``data:``, which the content-security policy allows)."""
    import base64

    return Html(f"<img alt='{esc(alt)}' style='max-width:100%' "
                f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>")


def _run_link(run: Any) -> str:
    text = esc(run.title or run.name or run.html or "(unnamed run)")
    if (not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.html", run.html, re.ASCII)
            or run.html.lower() == "index.html"):
        return text  # not a report file beside the index: shown, never linked
    return f"<a href='{esc(run.html)}'>{text}</a>"


def headline_text(h: Any, alpha: float) -> str:
    """A run's primary comparison of one metric in a line: the lift, its interval (and the
    always-valid one where the run shares its experiment) and the verdict."""
    from attrkit.names import short_label

    f = formatter("+.1%")
    pair = f"{short_label(h.treatment)} vs {short_label(h.control)}"
    kind = f" {h.kind.replace('_', ' ')}" if h.kind else ""
    text = f"{h.metric}{kind}, {pair}: {f(h.lift)} ({1 - alpha:.0%} CI {_interval(h.low, h.high)}"
    low, high, valid = h.interval
    if valid:
        text += f"; always-valid {_interval(low, high)}"
    return text + f") {h.verdict_shown}".rstrip()


def _run_row(run: Any) -> str:
    window = (f"{run.window[0]} to {run.window[1]}" if run.window else
              f"asked: {run.asked[0]} to {run.asked[1]}" if run.asked else DASH)
    comps = "".join(f"<li>{esc(headline_text(h, run.alpha))}</li>" for h in run.headlines)
    warns = "".join(f"<li>{esc(w)}</li>" for w in run.warnings)
    return (f"<tr><td>{_run_link(run)}<br><small>{esc(run.name)}</small></td>"
            f"<td>{esc(window)}</td><td>{esc(DESIGNS.get(run.design, run.design))}</td>"
            f"<td><ul>{comps}</ul></td><td><ul>{warns}</ul></td><td>{esc(run.status)}</td>"
            f"<td>{esc(run.generated_at)}</td></tr>")


def _looks_note(runs: Sequence[Any]) -> str:
    shared = [r.name for r in runs if any(h.shared for h in r.headlines)]
    ok = [r for r in runs if r.status == "ok" and r.headlines]
    if shared:
        return ("Looking every week is repeated testing. Runs whose data start at the same "
                "window, with the same title, design and pair, are looks at one experiment ("
                + ", ".join(shared) + "): for them the chart and the table show the always-valid "
                "interval (filled points), which stays valid however often it is looked at. A "
                "fixed-horizon interval looked at every week would, by chance, exclude zero "
                "sooner or later.")
    if len(ok) > 1:
        return ("Each run's interval is its own fixed-horizon interval (open points): these runs "
                "cover different data, so they are separate experiments. Among many runs, an "
                "occasional significant one is expected by chance; look for a lift that holds "
                "run after run.")
    return ""


def index_page(records: Sequence[Any], charts: dict[str, bytes] | None = None,
               skipped: Sequence[str] = ()) -> str:
    """``index.html`` of a folder of reports: the latest answer first, each metric's headline
    lift across runs (one chart per metric), then one row per run, newest first: data window,
    design, each metric's primary comparison with its interval and verdict, and warnings.

    ``records`` are :class:`~attrkit.reports.history.Run` (or run JSON records, read as such);
    ``charts`` PNG bytes per metric. Static, no script, nothing fetched (:data:`CSP`)."""
    from attrkit.reports.history import latest as newest
    from attrkit.reports.history import read_run

    runs = [read_run(r) if isinstance(r, dict) else r for r in records]
    latest = newest(runs)
    lead = ""
    if runs and runs[0].status != "ok":
        lead += (f"<p><b>The most recent run failed:</b> {_run_link(runs[0])} "
                 f"({esc(runs[0].generated_at)}): {esc('; '.join(runs[0].warnings[:1]))}</p>")
    if latest is not None:
        span = f", data {latest.window[0]} to {latest.window[1]}" if latest.window else ""
        lead += (f"<p><b>Latest ({_run_link(latest)}{esc(span)}):</b></p><ul>"
                 + "".join(f"<li>{esc(headline_text(h, latest.alpha))}</li>"
                           for h in latest.headlines) + "</ul>")
    note = _looks_note(runs)
    trend = ""
    if charts or note:
        trend = ("<h2>Headline lift by run</h2>" + (paragraphs([note]) if note else "")
                 + "".join(f"<div>{image(png, f'{metric}: lift by run')}</div>"
                           for metric, png in (charts or {}).items()))
    rows = "".join(_run_row(r) for r in runs)
    unread = paragraphs([f"Not shown: {', '.join(skipped)} (not readable as a run's JSON)."]
                        ) if skipped else ""
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            "<title>attrkit reports</title><style>body{font-family:sans-serif;margin:2em}"
            "td,th{padding:.3em .8em;text-align:left;vertical-align:top;"
            "border-bottom:1px solid #ddd}ul{margin:0;padding-left:1.1em}</style></head>"
            f"<body><h1>attrkit reports</h1>{lead}{trend}<h2>Runs, newest first</h2>"
            "<table><thead><tr><th>report</th><th>data window</th><th>design</th>"
            "<th>primary comparison per metric</th><th>warnings</th><th>status</th>"
            f"<th>generated (UTC)</th></tr></thead><tbody>{rows}</tbody></table>{unread}"
            "</body></html>\n")
