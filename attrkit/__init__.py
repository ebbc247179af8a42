"""attrkit: which recommendation source moves clicks, watch minutes or revenue, offline and open.

The package reads as its data flow::

    load (io, schema) → attribute (sources, windows) → report (the service's S3 CSV)

- :mod:`attrkit.config` — :class:`MetricAttribution` and :class:`Metric`, the service's
  CreateMetricAttribution shape, every limit checked.
- :mod:`attrkit.storage` — where files live: local paths (atomic writes) and URLs whose
  scheme has a handler (``s3://``, :mod:`attrkit.storage.s3`); nothing else looks at schemes.
- :mod:`attrkit.io` — :func:`load` paths (CSV, Parquet, PutEvents JSON Lines) and frames.
- :mod:`attrkit.schema` — the datasets' columns and row rules.
- :mod:`attrkit.sources` — which source an event belongs to.
- :mod:`attrkit.windows` — 15-minute window starts.
- :mod:`attrkit.engine` — :func:`attribute`, the engine, and its :class:`Attribution` result.
- :mod:`attrkit.health` — the run's :class:`Health` summary.
- :mod:`attrkit.report` — :func:`write_report` and :func:`read_report` for the service's S3 CSV.
- :mod:`attrkit.sample` — :func:`generate_sample`, a seeded video-streaming data set with
  known effects.
- :mod:`attrkit.stats` — tests on sufficient statistics (Welch, delta method, CUPED,
  proportions, Poisson rates, paired windows, sequential, Bayes, bootstrap, SRM, power).
- :mod:`attrkit.users` — per-user assignment and outcomes (:class:`~attrkit.users.UserData`),
  the units of a user-randomised comparison, and the check of the declared design.
- :mod:`attrkit.comparison` — :func:`compare` sources as the declared design randomised them
  (per user, per window, or described only), :func:`monitor` them look by look,
  :func:`lift_by_day` to see an effect fade, :func:`compare_users` on a per-user frame.
- :mod:`attrkit.aws_session` — boto3 clients (endpoint, region, retries, one-line errors);
  :mod:`attrkit.aws` — CloudWatch and the Personalize API.
- :mod:`attrkit.errors` — :class:`AttrkitError` and its subclasses, every one attrkit raises.

Example:
    >>> import attrkit, polars as pl
    >>> ma = attrkit.MetricAttribution("demo", [attrkit.Metric("clicks", "click", "SAMPLECOUNT()")])
    >>> ev = pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i"], "TIMESTAMP": [900],
    ...                    "EVENT_TYPE": ["CLICK"]})
    >>> attrkit.attribute(ev, ma).windows["value"].to_list()
    [1.0]
"""

from attrkit.config import Metric, MetricAttribution, parse_expression
from attrkit.engine import Attribution, attribute, attribute_exposure
from attrkit.errors import AttrkitError, ConfigError, InputError
from attrkit.health import Health, MetricHealth
from attrkit.io import Dataset, load
from attrkit.report import WINDOW_SCHEMA, read_report, write_report

__version__ = "0.1.0"

# The statistics pull in scipy and statsmodels (about a second to import), the sample generator
# numpy; load them on first use so that attributing, reading and writing reports start fast.
_LAZY = {"stats": "attrkit.stats", "generate_sample": "attrkit.sample",
         "ComparisonTable": "attrkit.comparison",
         "compare": "attrkit.comparison", "compare_users": "attrkit.comparison",
         "exposure_from_log": "attrkit.comparison", "monitor": "attrkit.comparison",
         "lift_by_day": "attrkit.comparison"}


def __getattr__(name: str):
    import importlib

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
