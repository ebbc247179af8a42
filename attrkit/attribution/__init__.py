"""Attribution: which source each event belongs to, and the configured metrics per 15-minute window.

Read in the order the data flows:

- :mod:`~attrkit.attribution.config` — :class:`MetricAttribution` and :class:`Metric`, the
  service's CreateMetricAttribution shape, every limit checked.
- :mod:`~attrkit.attribution.sources` — how an event's source is resolved (recommendation ID
  against the log, else the attribution-source label).
- :mod:`~attrkit.attribution.windows` — 15-minute window starts.
- :mod:`~attrkit.attribution.plan` — the relational plan, one function per step (type and check
  rows, resolve sources, window, aggregate); each metric declares the aggregate it needs.
- :mod:`~attrkit.attribution.engine` — :func:`attribute`: runs the plan on an executor (polars
  today; the seam a second engine plugs into) and assembles the :class:`Attribution`.
- :mod:`~attrkit.attribution.health` — the run's :class:`Health` summary.
- :mod:`~attrkit.attribution.users` — per-user assignment and outcomes (:class:`UserData`) and
  the check of the declared design.
"""

from attrkit.attribution.config import Metric, MetricAttribution, parse_expression
from attrkit.attribution.engine import Attribution, attribute, attribute_exposure
from attrkit.attribution.health import Health, MetricHealth

__all__ = ["Attribution", "Health", "Metric", "MetricAttribution", "MetricHealth", "attribute",
           "attribute_exposure", "parse_expression"]
