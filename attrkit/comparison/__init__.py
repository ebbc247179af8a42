"""Comparing sources: orchestration only — which test of :mod:`attrkit.stats` fits which data.

- :mod:`~attrkit.comparison.choose` — :func:`compare` every metric × pair of sources as the
  declared design randomised them; :func:`compare_users` on a per-user frame.
- :mod:`~attrkit.comparison.monitoring` — :func:`monitor` look by look, :func:`lift_by_day`.
- :mod:`~attrkit.comparison.results` — :class:`ComparisonTable` and the display every result
  shares (``to_polars``, ``to_pandas``, ``_repr_html_``).
"""

from attrkit.comparison.choose import (
    DESIGNS,
    MIN_USERS,
    MIN_WINDOWS,
    compare,
    compare_users,
    exposure_from_log,
)
from attrkit.comparison.monitoring import lift_by_day, monitor
from attrkit.comparison.results import KINDS, ComparisonTable
from attrkit.frames import RESULT_SCHEMA

__all__ = ["DESIGNS", "KINDS", "MIN_USERS", "MIN_WINDOWS", "RESULT_SCHEMA", "ComparisonTable",
           "compare", "compare_users", "exposure_from_log", "lift_by_day", "monitor"]
