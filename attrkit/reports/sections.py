"""The report's sections, one module per question the report answers; this module gathers
their names for the notebooks (``from attrkit.reports import sections as R``).

- :mod:`~attrkit.reports.data` — what was analysed: the data, the date range, the parameters.
- :mod:`~attrkit.reports.data_health` — is the data sound: health, traffic split, caveats.
- :mod:`~attrkit.reports.answer` — what the answer is: the primary comparison in words, the
  opening, the comparison table and the conclusion.
- :mod:`~attrkit.reports.over_time` — how the sources move by day, and the always-valid
  monitoring look by look.
- :mod:`~attrkit.reports.power` — could these data see an effect: the detectable lift.
- :mod:`~attrkit.reports.record` — what a run records for ``attrkit report`` and the index.

Each section is a plain tested function that returns what a notebook cell displays (HTML from
:mod:`attrkit.reports.render`, a frame, or sentences); the notebook stays thin.
"""

from __future__ import annotations

from attrkit.reports import render
from attrkit.reports.answer import (
    CORRECTION_NAMES,
    comparisons_section,
    conclusion,
    conclusion_section,
    decision_sentence,
    family_size,
    has_lifts,
    incrementality_section,
    monitored,
    segments_section,
    sentence,
    summary,
)
from attrkit.reports.data import (
    NOT_APPLICABLE,
    ReportData,
    about_run,
    between,
    compare_data,
    data_window,
    epoch,
    load_data,
)
from attrkit.reports.data_health import (
    caveats,
    health_section,
    totals_section,
    totals_table,
    traffic_section,
)
from attrkit.reports.over_time import daily_rates, metrics_intro, monitoring, unit_of
from attrkit.reports.power import planted_lift, power_section, power_table, why_not_significant
from attrkit.reports.record import (
    RESULTS_MIMETYPE,
    frame_payload,
    headlines,
    jsonable,
    results,
    results_bundle,
)
from attrkit.reports.render import Html, esc, key_values, paragraphs

table_html = render.table
"""Earlier name of :func:`attrkit.reports.render.table`."""

__all__ = [
    "CORRECTION_NAMES", "NOT_APPLICABLE", "RESULTS_MIMETYPE", "Html", "ReportData", "about_run",
    "between", "caveats", "compare_data", "comparisons_section", "conclusion",
    "conclusion_section", "daily_rates", "data_window", "decision_sentence", "epoch", "esc",
    "family_size", "frame_payload", "has_lifts", "headlines", "health_section",
    "incrementality_section", "jsonable", "key_values",
    "load_data", "metrics_intro", "monitored", "monitoring", "paragraphs", "planted_lift",
    "power_section", "power_table", "results", "results_bundle", "segments_section", "sentence",
    "summary",
    "table_html", "totals_section", "totals_table", "traffic_section", "unit_of",
    "why_not_significant",
]
