"""attrkit: which recommendation source moves clicks, watch minutes or revenue, offline and open.

The package reads as its data flow::

    storage → inputs → attribution → personalize (the service's S3 CSV, CloudWatch)
                                   ↘ comparison (stats) → reports (notebooks → HTML)

- :mod:`attrkit.defaults` — every default and option type (window, alpha, correction, ...).
- :mod:`attrkit.errors` — :class:`AttrkitError` and every subclass attrkit raises.
- :mod:`attrkit.frames` — the frame contracts that cross modules and the pandas adapter.
- :mod:`attrkit.storage` — where bytes live: local paths (atomic writes) and one handler per URL
  scheme (``s3://``); nothing else looks at schemes. :mod:`attrkit.aws_session` — boto3 clients.
- :mod:`attrkit.inputs` — :func:`load` (CSV, Parquet, PutEvents JSON Lines, frames) and the
  datasets' row rules.
- :mod:`attrkit.attribution` — the metric attribution config, how an event's source is resolved
  (``attribution/sources.py``), windows, the plan and its engine (:func:`attribute`), health,
  per-user data.
- :mod:`attrkit.personalize` — the service's S3 report CSV (:func:`write_report`,
  :func:`read_report`), CloudWatch and the Personalize API.
- :mod:`attrkit.stats` — all the mathematics: tests on sufficient statistics, sequences,
  power, SRM.
- :mod:`attrkit.comparison` — orchestration: :func:`compare` sources as the declared design
  randomised them, :func:`monitor`, :func:`lift_by_day`, :func:`compare_users`.
- :mod:`attrkit.reports` — ``attrkit report``: templates, papermill, the report's sections
  (one module per question; the conclusion's wording is in ``reports/answer.py``), the one HTML
  renderer and the display every result shares (``reports/display.py``).
- :mod:`attrkit.plots` — matplotlib/seaborn figures: Axes in, Axes out.
- :mod:`attrkit.simulate` — :func:`generate_sample` and the calibration study.
- :mod:`attrkit.cli` — the ``attrkit`` command.

Example:
    >>> import attrkit, polars as pl
    >>> ma = attrkit.MetricAttribution("demo", [attrkit.Metric("clicks", "click", "SAMPLECOUNT()")])
    >>> ev = pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i"], "TIMESTAMP": [900],
    ...                    "EVENT_TYPE": ["CLICK"]})
    >>> attrkit.attribute(ev, ma).windows["value"].to_list()
    [1.0]
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
from typing import Any

from attrkit.attribution.config import Metric, MetricAttribution, parse_expression
from attrkit.attribution.engine import Attribution, attribute, attribute_exposure
from attrkit.attribution.health import Health, MetricHealth
from attrkit.errors import AttrkitError, ConfigError, InputError
from attrkit.inputs.readers import Dataset, load
from attrkit.personalize.report_csv import WINDOW_SCHEMA, read_report, write_report

__version__ = "0.1.0"

# The statistics pull in scipy and statsmodels (about a second to import), the sample generator
# numpy; load them on first use so that attributing, reading and writing reports start fast.
_LAZY = {"stats": "attrkit.stats", "generate_sample": "attrkit.simulate.sample",
         "ComparisonTable": "attrkit.comparison",
         "compare": "attrkit.comparison", "compare_users": "attrkit.comparison",
         "exposure_from_log": "attrkit.comparison", "monitor": "attrkit.comparison",
         "lift_by_day": "attrkit.comparison"}


# Module paths of earlier versions, kept importable (``import attrkit.engine`` still works):
# each resolves to the module that now holds its code.
_MOVED = {
    "attrkit._defaults": "attrkit.defaults", "attrkit.io": "attrkit.inputs.readers",
    "attrkit.schema": "attrkit.inputs.schema", "attrkit.config": "attrkit.attribution.config",
    "attrkit.sources": "attrkit.attribution.sources",
    "attrkit.windows": "attrkit.attribution.windows",
    "attrkit.health": "attrkit.attribution.health", "attrkit.users": "attrkit.attribution.users",
    "attrkit.engine": "attrkit.attribution.engine",
    "attrkit.report": "attrkit.personalize.report_csv",
    "attrkit.notebooks": "attrkit.reports.run", "attrkit.reporting": "attrkit.reports.sections",
    "attrkit.sample": "attrkit.simulate.sample",
    "attrkit.calibration": "attrkit.simulate.calibration",
}


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an earlier module path as the module that now holds its code."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: Any) -> Any:
        module = importlib.import_module(_MOVED[spec.name])
        spec.loader_state = module.__spec__  # the import system overwrites it: kept to restore
        return module

    def exec_module(self, module: Any) -> None:
        module.__spec__ = module.__spec__.loader_state


if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
    sys.meta_path.append(_MovedFinder())


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'attrkit' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if name == "stats" else getattr(module, name)
    globals()[name] = value
    return value

__all__ = [
    "Attribution", "AttrkitError", "ComparisonTable", "ConfigError", "Dataset", "Health",
    "InputError", "Metric", "MetricAttribution", "MetricHealth", "WINDOW_SCHEMA", "__version__",
    "attribute", "attribute_exposure", "compare", "compare_users", "exposure_from_log",
    "generate_sample", "lift_by_day", "load", "monitor", "parse_expression", "read_report", "stats",
    "write_report",
]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
