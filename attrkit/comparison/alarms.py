"""Alarms a scheduler can act on: checks of a comparison and its data that either fire, stay
clear, or cannot be computed from the input (and then never fire).

``attrkit compare --fail-on srm,unattributed`` exits with the code of the first alarm named
that fired (:data:`ALARMS`), never 1 or 2 (a failure, bad input), and prints a line per alarm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from attrkit import defaults as D
from attrkit.errors import ConfigError
from attrkit.names import short_name


@dataclass(frozen=True)
class Alarm:
    """One alarm's outcome: ``status`` is ``fired``, ``clear`` or ``not computable``."""

    name: str
    code: int
    status: str
    detail: str

    @property
    def fired(self) -> bool:
        return self.status == "fired"

    def line(self) -> str:
        return f"{self.name}: {self.status}: {self.detail}"


ALARMS = D.ALARMS
"""Each alarm's exit code and what it means (:data:`attrkit.defaults.ALARMS`)."""


def parse(text: str) -> list[str]:
    """``srm,unattributed`` as a list of alarm names, each known.

    Example:
        >>> parse("srm, unattributed")
        ['srm', 'unattributed']
    """
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    for n in names:
        if n not in ALARMS:
            raise ConfigError(f"--fail-on {text}: unknown alarm {n!r}; alarms are "
                              f"{', '.join(ALARMS)}")
    if not names:
        raise ConfigError("--fail-on: name at least one alarm: " + ", ".join(ALARMS))
    return list(dict.fromkeys(names))


def _health(health: Any, count: Any, what: str) -> tuple[str, str]:
    if health is None:
        return "not computable", ("a report read back has no rows to check; attribute the "
                                  "interactions to check " + what)
    n = count(health)
    return ("fired" if n else "clear"), f"{n:,} {what}"


def evaluate(names: list[str], table: Any, health: Any = None,
             max_unattributed: float = D.MAX_UNATTRIBUTED_SHARE, *, baseline: str | None = None,
             windows: pl.DataFrame | None = None, metrics: list[str] | None = None,
             why: str = "") -> list[Alarm]:
    """The alarms ``names`` on a comparison (:class:`~attrkit.ComparisonTable`) and the health
    of the data behind it (None for a report read back, which has none).

    Without a comparison (``table`` None, ``why`` says why), the share with no source is read
    from ``windows`` (its first metric, or of ``metrics``), and the comparison's alarms are not
    computable. ``regression`` needs the ``baseline`` the comparison was made against."""
    out = []
    for name in names:
        code = ALARMS[name][0]
        if name in ("srm", "regression") and table is None:
            status, detail = "not computable", f"no comparison: {why}"
        elif name == "srm":
            srm = table.srm
            status, detail = (
                ("not computable", "no users, recommendations served or planned split are "
                 "known (a service report has none)") if srm is None else
                ("fired" if srm.mismatch else "clear",
                 f"p = {srm.p_value:.3g} (threshold {srm.threshold:g})"))
        elif name == "unattributed":
            status, detail = _unattributed(table, windows, metrics, max_unattributed)
        elif name == "bad-rows":
            status, detail = _health(health, lambda h: sum(h.quarantined.values()),
                                     "rows set aside")
        elif name == "duplicates":
            status, detail = _health(health, lambda h: h.duplicates,
                                     "exact duplicate events")
        elif name == "unresolved":
            status, detail = _health(health, lambda h: h.unresolved_events,
                                     "events with an unknown recommendation ID")
        else:
            status, detail = _regression(table, baseline)
        out.append(Alarm(name, code, status, detail))
    return out


def _unattributed(table: Any, windows: pl.DataFrame | None, metrics: list[str] | None,
                  limit: float) -> tuple[str, str]:
    if table is not None:
        share = table.unattributed_share
        metric = table.frame["metric"][0] if table.frame.height else "the metric"
    else:
        known = sorted(windows["metric_name"].unique().to_list()) if windows is not None else []
        chosen = [m.upper() for m in metrics or known if m.upper() in known]
        if not chosen:
            return "not computable", "no metric to measure it on"
        from attrkit.comparison.choose import unattributed_share

        metric = chosen[0]
        share = unattributed_share(windows, metric)
    if share is None:
        return "not computable", "no metric to measure it on"
    return ("fired" if share > limit else "clear",
            f"{share:.1%} of {metric} has no source (threshold {limit:.1%})")


def _regression(table: Any, baseline: str | None) -> tuple[str, str]:
    if baseline is None:
        return "not computable", ("no baseline: name the control with --baseline (without one, "
                                  "every pair is compared and none is the control)")
    tested = table.frame.filter(pl.col("tested") & pl.col("significant").is_not_null()
                                & (pl.col("control") == baseline))
    if not tested.height:
        return "not computable", ("no comparison against the baseline has a verdict (the design "
                                  "is undeclared or observational, or too few users or windows)")
    worse = tested.filter(pl.col("significant") & (pl.col("lift") < 0))
    if not worse.height:
        return "clear", f"none of {tested.height} tested comparisons is significantly lower"
    r = worse.row(0, named=True)
    return "fired", (f"{r['metric']} {r['kind'].replace('_', ' ')}: {short_name(r['treatment'])} "
                     f"{r['lift']:+.1%} vs {short_name(r['control'])}"
                     + (f" and {worse.height - 1} more" if worse.height > 1 else ""))


def exit_code(alarms: list[Alarm]) -> int:
    """The code of the first alarm that fired, in the order named; 0 when none fired."""
    return next((a.code for a in alarms if a.fired), 0)
