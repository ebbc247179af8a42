"""Results over time: the runs recorded in a folder of reports, read for its ``index.html``.

Each run's JSON (written by :func:`~attrkit.reports.run.run_report`) is read as it is: runs
written by earlier versions of attrkit lack some fields and show what they have. A run's
*headline* is each metric's primary comparison (the first tested row of the metric, the
baseline pair per assigned user under a per-user design), chosen before any p-value is seen.

Looking at a fixed-horizon interval every week is repeated testing. Runs whose data start at
the same window, with the same title and design, and that compare the same pair on the same
metric, are looks at one experiment: for them the index shows the always-valid interval, which
stays valid however often it is looked at. Runs over different data (``start=-7d`` each week)
are separate experiments, each with its own interval.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_CHARTED = 52
"""The most recent runs drawn in a trend chart (a year of weekly runs); the table lists all."""


MAX_LIFT = 1e6
"""A lift (or bound) beyond this many times the control is not a number a run can have."""
MAX_BYTES = 16 << 20
"""A run's JSON larger than this (16 MiB) is not read (a run's record is a few kilobytes)."""


def number(x: Any) -> float | None:
    """A number from a run's JSON (``"nan"`` and ``"inf"`` as JSON writes them), else None;
    finite values beyond :data:`MAX_LIFT` are None too."""
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, int | float) or isinstance(x, str) and x in ("nan", "inf", "-inf"):
        x = float(x)
    else:
        return None
    return x if not math.isfinite(x) or abs(x) <= MAX_LIFT else None


def _text(x: Any) -> str:
    return x if isinstance(x, str) else "" if x is None else json.dumps(x)[:200]


def _seconds(x: Any) -> int | None:
    from attrkit import defaults as D

    ok = isinstance(x, int) and not isinstance(x, bool) and abs(x) < D.MAX_PLAUSIBLE_SECONDS
    return x if ok else None


@dataclass
class Headline:
    """One metric's primary comparison in one run."""

    metric: str
    control: str
    treatment: str
    kind: str
    lift: float | None
    low: float | None
    high: float | None
    verdict: str
    always_valid_low: float | None = None
    always_valid_high: float | None = None
    shared: bool = False
    """Whether this run is one of several looks at one experiment (then the always-valid
    interval is the one to read)."""

    @property
    def verdict_shown(self) -> str:
        """The verdict to read: where the run is one of several looks at one experiment, the
        always-valid interval's (a fixed-horizon verdict, looked at every week, would find a
        difference by chance sooner or later)."""
        low, high, valid = self.interval
        if not valid or low is None or high is None:
            return self.verdict
        if low > 0:
            return "▲ higher (always-valid)"
        if high < 0:
            return "▼ lower (always-valid)"
        return "not significant (always-valid)"

    @property
    def interval(self) -> tuple[float | None, float | None, bool]:
        """The interval to show: always-valid when the run shares its experiment and has one,
        else the run's own; and whether it is the always-valid one."""
        if self.shared and self.always_valid_low is not None and self.always_valid_high is not None:
            return self.always_valid_low, self.always_valid_high, True
        return self.low, self.high, False


@dataclass
class Run:
    """One run as the index shows it."""

    name: str
    title: str
    html: str
    status: str
    generated_at: str
    window: tuple[str, str] | None
    first_window: int | None
    last_window: int | None
    design: str | None
    alpha: float = 0.05
    asked: tuple[str, str] | None = None
    """The date range the run's parameters asked for (``start``, ``end``), when they did."""
    headlines: list[Headline] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def experiment(self) -> tuple[Any, ...] | None:
        """What makes runs looks at one experiment: title, design and the first window."""
        if self.status != "ok" or self.first_window is None or self.design not in (
                "users", "requests"):
            return None
        return (self.title, self.design, self.first_window)


def _headlines(results: dict[str, Any]) -> list[Headline]:
    """The run's headline rows; for runs written before headlines were recorded, the first
    tested comparison of each metric (else the first with a lift), as the report chose it."""
    from attrkit.reports.verdict import verdict

    rows = results.get("headline")
    if not isinstance(rows, list):
        rows, seen = [], set()
        found = results.get("comparisons")
        comps = [c for c in (found if isinstance(found, list) else [])
                 if isinstance(c, dict) and isinstance(c.get("metric"), str)]
        for tested in (True, False):
            for c in comps:
                lift = number(c.get("lift"))
                if (c.get("metric") not in seen and lift is not None and not math.isnan(lift)
                        and bool(c.get("tested")) == tested):
                    seen.add(c.get("metric"))
                    rows.append(c | {"verdict": verdict(c.get("significant"), lift,
                                                        c.get("tested"), c.get("method"))})
        order = [c.get("metric") for c in comps]
        rows.sort(key=lambda r: order.index(r.get("metric")))
    out = []
    for r in rows:
        if not isinstance(r, dict) or not isinstance(r.get("metric"), str):
            continue
        out.append(Headline(
            r["metric"], _text(r.get("control")), _text(r.get("treatment")),
            _text(r.get("kind")), number(r.get("lift")), number(r.get("lift_ci_low")),
            number(r.get("lift_ci_high")), _text(r.get("verdict")),
            number(r.get("always_valid_low")), number(r.get("always_valid_high"))))
    return out


def read_run(record: dict[str, Any]) -> Run:
    """A run from its JSON record, whatever version of attrkit wrote it (or whoever edited it:
    a field of the wrong type is read as missing)."""
    def mapping(x: Any) -> dict[str, Any]:
        return x if isinstance(x, dict) else {}

    results, window = mapping(record.get("results")), mapping(record.get("data_window"))
    params = mapping(record.get("parameters"))
    span = ((_text(window.get("first_utc")), _text(window.get("last_utc")))
            if window.get("first_utc") else None)
    found = results.get("warnings")
    warnings = ([found] if isinstance(found, str) else
                [_text(w) for w in found if w] if isinstance(found, list) else [])
    if record.get("status") != "ok" and record.get("error"):
        warnings.insert(0, f"failed: {_text(record['error'])}")
    design = results.get("design") if "design" in results else "unknown"
    alpha = number(results.get("alpha", params.get("alpha")))
    alpha = alpha if alpha is not None and 0 < alpha < 1 else 0.05
    return Run(
        name=_text(record.get("name")),
        title=_text(record.get("title") or record.get("name")),
        html=_text(record.get("html")), status=_text(record.get("status")),
        generated_at=_text(record.get("generated_at")), window=span,
        first_window=_seconds(window.get("first")), last_window=_seconds(window.get("last")),
        design=design if isinstance(design, str) or design is None else "unknown", alpha=alpha,
        asked=((_text(params.get("start")) or "…", _text(params.get("end")) or "…")
               if params.get("start") or params.get("end") else None),
        headlines=_headlines(results), warnings=warnings)


def read_runs(folder: str | Path) -> tuple[list[Run], list[str]]:
    """Every run recorded in ``folder``, newest first, and the JSON files that could not be
    read as runs (named on the index, never dropped silently)."""
    from attrkit.errors import has_surrogate

    runs, skipped = [], []
    for p in sorted(Path(folder).glob("*.json")):
        if p.name.startswith("."):
            continue
        try:
            # regular files of a bounded size only: a pipe or /dev/zero named *.json is no run
            if not p.is_file() or p.stat().st_size > MAX_BYTES:
                raise ValueError(p.name)
            record = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):  # JSON's and Unicode's errors too
            skipped.append(p.name)
            continue
        if has_surrogate(record):
            skipped.append(p.name)
        elif isinstance(record, dict) and "html" in record and "status" in record:
            runs.append(read_run(record))
    runs.sort(key=lambda r: (r.generated_at, r.name), reverse=True)
    _mark_shared(runs)
    return runs, skipped


def _mark_shared(runs: list[Run]) -> None:
    """Mark each headline that is one of several looks at one experiment (same title, design,
    first window, metric and pair)."""
    looks: dict[tuple[Any, ...], int] = {}
    for run in runs:
        for h in run.headlines:
            if run.experiment is not None:
                key = (*run.experiment, h.metric, h.control, h.treatment, h.kind)
                looks[key] = looks.get(key, 0) + 1
    for run in runs:
        for h in run.headlines:
            if run.experiment is not None:
                h.shared = looks[(*run.experiment, h.metric, h.control, h.treatment, h.kind)] > 1


def latest(runs: list[Run]) -> Run | None:
    """The successful run with the newest data (then the most recently made): the answer the
    index leads with, whatever order backfills ran in."""
    done = [r for r in runs if r.status == "ok" and r.headlines]
    return max(done, key=lambda r: (r.last_window or 0, r.generated_at, r.name), default=None)


def trends(runs: list[Run]) -> dict[str, list[tuple[Run, Headline]]]:
    """Per metric, its headline in each successful run, oldest first (by the data's last
    window, then when the run was made), the latest :data:`MAX_CHARTED`."""
    out: dict[str, list[tuple[Run, Headline]]] = {}
    ordered = sorted((r for r in runs if r.status == "ok"),
                     key=lambda r: (r.last_window or 0, r.generated_at, r.name))
    for run in ordered:
        for h in run.headlines:
            if h.lift is not None and math.isfinite(h.lift):
                out.setdefault(h.metric, []).append((run, h))
    return {m: points[-MAX_CHARTED:] for m, points in out.items()}
