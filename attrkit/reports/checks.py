"""Checks of a report's parameters, run before the notebook starts: a mistake gets a one-line
error naming the parameter, and nothing is run or written.

:data:`CHECKS` maps a template to its check; :func:`~attrkit.reports.run.run_report` calls it
with the run's effective parameters (defaults and given values).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from attrkit import defaults as D
from attrkit import storage
from attrkit.errors import ConfigError

NONE = "none"
"""A parameter value meaning "no such input" (``-p items none``)."""


def given(value: Any) -> bool:
    """Whether an input parameter names an input (not empty, not ``none``)."""
    return isinstance(value, str) and value.strip() != "" and value.strip().lower() != NONE


def _exists(name: str, value: str, *, folder_ok: bool = False) -> None:
    if storage.is_remote(value) or (storage.is_pattern(value) and not Path(value).exists()):
        return  # checked when read: an AWS error, or a pattern that matches no file
    path = Path(value).expanduser()
    if not path.exists():
        raise ConfigError(f"parameter {name}={value!r}: no such file")
    if path.is_dir() and not folder_ok:
        raise ConfigError(f"parameter {name}={value!r}: is a folder; give a file")


def _check_inputs(p: dict[str, Any]) -> None:
    """The report's input files: one of report_csv and interactions, each file there, none
    given that the run would not read."""
    if given(p.get("report_csv")):
        if given(p.get("interactions")):
            raise ConfigError("parameters report_csv and interactions: give one, not both (a "
                              "Personalize report CSV, or the interactions to attribute)")
        _exists("report_csv", p["report_csv"], folder_ok=True)
    elif given(p.get("interactions")):
        _exists("interactions", p["interactions"], folder_ok=True)
        if not given(p.get("metric_attribution")):
            raise ConfigError("parameter metric_attribution: required with interactions (the "
                              "CreateMetricAttribution JSON that names the metrics)")
    inputs = [n for n in ("items", "recommendations", "metric_attribution", "user_metadata")
              if given(p.get(n))]
    if inputs and not given(p.get("interactions")) and not given(p.get("report_csv")):
        named = f"{', '.join(inputs[:-1])} and {inputs[-1]}" if len(inputs) > 1 else inputs[0]
        raise ConfigError(f"parameter interactions: required with {named} "
                          "(without interactions the report runs on the bundled sample, which "
                          "would leave them unread)")
    for name in inputs:
        _exists(name, p[name], folder_ok=name != "metric_attribution")


def check_attribution_report(p: dict[str, Any]) -> None:
    """The attribution report's inputs and options, before anything runs."""
    from attrkit.attribution.windows import check_window
    from attrkit.frames import when as epoch
    from attrkit.simulate.sample import check_size

    _check_inputs(p)
    if given(p.get("user_metadata")) and not given(p.get("segments")):
        raise ConfigError("parameter user_metadata: used by segments; name the column to "
                          "compare within (segments)")
    if given(p.get("holdout")) and given(p.get("report_csv")):
        raise ConfigError("parameter holdout: compares users, which a report CSV does not "
                          "have; give interactions and a recommendations log with USER_ID")
    if given(p.get("segments")) and given(p.get("report_csv")):
        raise ConfigError("parameter segments: compares users, which a report CSV does not "
                          "have; give interactions and a recommendations log with USER_ID")
    if p.get("design") and p["design"] not in D.DESIGNS:
        raise ConfigError(f"parameter design={p['design']!r}: must be one of "
                          f"{', '.join(D.DESIGNS)}, or empty")
    if p.get("cuped", "auto") not in ("auto", "off"):
        raise ConfigError(f"parameter cuped={p['cuped']!r}: must be auto or off")
    if p.get("correction") and p["correction"] not in D.CORRECTIONS:
        raise ConfigError(f"parameter correction={p['correction']!r}: must be one of "
                          f"{', '.join(D.CORRECTIONS)}")
    alpha = p.get("alpha", 0.05)
    if not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ConfigError(f"parameter alpha={alpha!r}: must be between 0 and 1")
    for name in ("start", "end"):
        if p.get(name):
            try:
                epoch(p[name])
            except ValueError as exc:
                raise ConfigError(f"parameter {name}={exc}") from None
    if p.get("start") and p.get("end") and epoch(p["start"]) >= epoch(p["end"]):
        raise ConfigError(f"parameters start={p['start']!r} and end={p['end']!r}: start must "
                          "be before end")
    if not given(p.get("report_csv")) and not given(p.get("interactions")):
        check_size(seed=p.get("seed", 0), days=p.get("sample_days", 14), users=2)
    check_window(p.get("window_seconds", 900), p.get("window_origin", 0))
    if given(p.get("report_csv")) and (p.get("window_seconds", 900) != 900
                                       or p.get("window_origin", 0) != 0):
        raise ConfigError("parameters window_seconds and window_origin: a report CSV keeps the "
                          "service's 15-minute windows; they apply to interactions only")
    if (p.get("engine") or "polars") not in ("polars", "spark"):
        raise ConfigError(f"parameter engine={p['engine']!r}: must be polars or spark")
    if p.get("timestamp_unit", "s") not in ("s", "ms"):
        raise ConfigError(f"parameter timestamp_unit={p['timestamp_unit']!r}: must be s or ms")
    if p.get("window_seconds", 900) <= 0:
        raise ConfigError(f"parameter window_seconds={p['window_seconds']!r}: must be positive")


CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "attribution_report": check_attribution_report,
}
