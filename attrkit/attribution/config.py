"""The metric attribution configuration: what to count or sum, for which event type.

It mirrors the service's CreateMetricAttribution request. Load one from JSON (the API's camelCase
keys, or the console's ``EventType``/``MetricName``/``MetricMathExpression``) or build it in Python::

    >>> ma = MetricAttribution(
    ...     name="video-metrics",
    ...     metrics=[Metric("clicks", "click", "SAMPLECOUNT()"),
    ...              Metric("watch_minutes", "watch", "SUM(Items.LENGTH)")],
    ... )
    >>> ma.metrics[1].function, ma.metrics[1].dataset, ma.metrics[1].column
    ('sum', 'items', 'LENGTH')

Every rule of the service is checked when the object is made; a broken rule raises
:class:`~attrkit.errors.ConfigError` naming the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from attrkit import storage
from attrkit.errors import ConfigError, has_surrogate, json_problem

_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]*")
_DATASET_GROUP_ARN = re.compile(r"arn:([a-z\d-]+):personalize:.*:.*:.+")
_ROLE_ARN = re.compile(r"arn:([a-z\d-]+):iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
_S3_PATH = re.compile(r"(s3|http|https)://.+")
_KMS_ARN = re.compile(r"arn:aws.*:kms:.*:[0-9]{12}:key/.*")

# The whole expression grammar. Whitespace is allowed only between tokens, where it cannot change
# the meaning; function and dataset names are case-insensitive, the column is kept as written.
_SAMPLECOUNT = re.compile(r"\s*SAMPLECOUNT\s*\(\s*\)\s*", re.IGNORECASE | re.ASCII)
_SUM = re.compile(
    r"\s*SUM\s*\(\s*(?P<dataset>ITEMS|INTERACTIONS)\.(?P<column>[A-Za-z_][A-Za-z0-9_]*)\s*\)\s*",
    re.IGNORECASE | re.ASCII,  # the grammar is ASCII: no Unicode case folding (ı, ſ)
)

Function = Literal["samplecount", "sum"]
Dataset = Literal["items", "interactions"]


_NOT_SUMMABLE = {
    "interactions": {"USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "IMPRESSION",
                     "RECOMMENDATION_ID", "EVENT_ATTRIBUTION_SOURCE"},
    "items": {"ITEM_ID"},
}
"""Schema columns that hold IDs, times or labels: never what a SUM reads."""


def _refuse_unknown(what: str, data: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{what}: unknown key {unknown[0]!r}; expected {sorted(known)}")


def parse_expression(expression: str) -> tuple[Function, Dataset | None, str | None]:
    """Parse a metric expression into ``(function, dataset, column)``.

    Args:
        expression: ``SAMPLECOUNT()`` or ``SUM(Items.<COLUMN>)`` / ``SUM(Interactions.<COLUMN>)``.

    Returns:
        ``("samplecount", None, None)`` or ``("sum", "items" | "interactions", column)``.

    Raises:
        ConfigError: for anything outside that grammar.

    Example:
        >>> parse_expression("SUM(ITEMS.PRICE)")
        ('sum', 'items', 'PRICE')
    """
    if not isinstance(expression, str):
        raise ConfigError(f"expression {expression!r}: must be a string")
    if len(expression) > 256:
        raise ConfigError(f"expression {expression[:40]!r}...: longer than 256 characters")
    if _SAMPLECOUNT.fullmatch(expression):
        return "samplecount", None, None
    m = _SUM.fullmatch(expression)
    if m:
        dataset: Dataset = "items" if m["dataset"].lower() == "items" else "interactions"
        column = m["column"]
        if column.upper() in _NOT_SUMMABLE[dataset] or column.startswith("__attrkit_"):
            raise ConfigError(f"expression {expression!r}: {column} is not a number to sum "
                              f"(an ID, a time or a label of the {dataset} schema); sum a "
                              "numeric column such as EVENT_VALUE or Items.PRICE")
        return "sum", dataset, column
    raise ConfigError(
        f"expression {expression!r}: must be SAMPLECOUNT() or SUM(Items.<COLUMN>) or "
        "SUM(Interactions.<COLUMN>); nothing else is supported by metric attribution"
    )


def _check_length(what: str, value: Any, low: int, high: int) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{what} {value!r}: must be a string")
    if not low <= len(value) <= high:
        raise ConfigError(f"{what} {value!r}: length {len(value)} is outside {low}..{high}")
    return value


def _check_pattern(what: str, value: Any, pattern: re.Pattern[str], high: int) -> str:
    _check_length(what, value, 1, high)
    if not pattern.fullmatch(value):
        raise ConfigError(f"{what} {value!r}: does not match {pattern.pattern}")
    return value


@dataclass(frozen=True)
class Metric:
    """One metric: a name, the event type it watches, and its expression.

    Attributes:
        name: the metric's name (1–256 characters); reports upper-case it.
        event_type: the event type that counts (1–256 characters); matched case-insensitively.
        expression: ``SAMPLECOUNT()`` or ``SUM(<Items|Interactions>.<COLUMN>)``.

    Example:
        >>> from attrkit import Metric
        >>> m = Metric("watch_minutes", "watch", "SUM(Items.LENGTH)")
        >>> m.function, m.dataset, m.column
        ('sum', 'items', 'LENGTH')
    """

    name: str
    event_type: str
    expression: str
    function: Function = field(init=False)
    dataset: Dataset | None = field(init=False)
    column: str | None = field(init=False)

    def __post_init__(self) -> None:
        _check_length("metric name", self.name, 1, 256)
        _check_length(f"metric {self.name!r}: eventType", self.event_type, 1, 256)
        try:
            parsed = parse_expression(self.expression)
        except ConfigError as exc:
            raise ConfigError(f"metric {self.name!r}: {exc}") from None
        for attr, value in zip(("function", "dataset", "column"), parsed, strict=True):
            object.__setattr__(self, attr, value)

    @property
    def math_function(self) -> str:
        """The report's ``MATH_FUNCTION`` text: ``samplecount`` or ``sum``."""
        return self.function

    def to_dict(self) -> dict[str, str]:
        """The metric in the API's request shape."""
        return {"eventType": self.event_type, "metricName": self.name, "expression": self.expression}


# Key spellings accepted for a metric: API request shape first, then the console's editor.
_METRIC_KEYS = {
    "eventType": "event_type", "EventType": "event_type",
    "metricName": "name", "MetricName": "name",
    "expression": "expression", "MetricMathExpression": "expression", "Expression": "expression",
}


@dataclass(frozen=True)
class MetricAttribution:
    """A metric attribution: a name, 1–10 metrics and, optionally, where the service would publish.

    ``dataset_group_arn`` and the output settings are optional offline; when given they are
    checked against the service's patterns.

    Example:
        >>> from attrkit import Metric, MetricAttribution
        >>> ma = MetricAttribution("video", [Metric("clicks", "click", "SAMPLECOUNT()")])
        >>> [m.name for m in ma.metrics]
        ['clicks']
        >>> MetricAttribution.from_dict({"name": "video", "metrics": [{"eventType": "click",
        ...     "metricName": "clicks", "expression": "SAMPLECOUNT()"}]}) == ma
        True
    """

    name: str
    metrics: tuple[Metric, ...]
    dataset_group_arn: str | None = None
    role_arn: str | None = None
    s3_path: str | None = None
    kms_key_arn: str | None = None

    def __post_init__(self) -> None:
        _check_pattern("name", self.name, _NAME, 63)
        metrics = tuple(self.metrics)
        object.__setattr__(self, "metrics", metrics)
        if not 1 <= len(metrics) <= 10:
            raise ConfigError(f"metrics: {len(metrics)} given; a metric attribution has 1 to 10")
        for m in metrics:
            if not isinstance(m, Metric):
                raise ConfigError(f"metrics: {m!r} is not a Metric")
        seen: set[str] = set()
        for m in metrics:
            # Reports upper-case metric names, so names differing only in case would collide.
            key = m.name.upper()
            if key in seen:
                raise ConfigError(f"metrics: metric name {m.name!r} is used twice (names are "
                                  "compared upper-cased, as in the reports)")
            seen.add(key)
        if self.dataset_group_arn is not None:
            _check_pattern("datasetGroupArn", self.dataset_group_arn, _DATASET_GROUP_ARN, 256)
        if self.role_arn is not None:
            _check_pattern("metricsOutputConfig.roleArn", self.role_arn, _ROLE_ARN, 256)
        if self.s3_path is not None:
            _check_pattern("metricsOutputConfig.s3DataDestination.path", self.s3_path, _S3_PATH, 256)
        if self.kms_key_arn is not None:
            _check_pattern("metricsOutputConfig.s3DataDestination.kmsKeyArn", self.kms_key_arn,
                           _KMS_ARN, 2048)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricAttribution:
        """Build from a CreateMetricAttribution request body (camelCase or console keys)."""
        if not isinstance(data, dict):
            raise ConfigError("metric attribution: expected a JSON object")
        known = {"name", "datasetGroupArn", "metrics", "metricsOutputConfig"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"metric attribution: unknown key {unknown[0]!r}; expected "
                              f"{sorted(known)}")
        if "name" not in data:
            raise ConfigError("metric attribution: 'name' is required")
        raw_metrics = data.get("metrics")
        if not isinstance(raw_metrics, list):
            raise ConfigError("metrics: required, a list of 1 to 10 metric objects")
        metrics = [_metric_from_dict(i, m) for i, m in enumerate(raw_metrics)]
        if has_surrogate(data):
            raise ConfigError("metric attribution: holds a \\u escape that is no character (a "
                              "lone surrogate); names must be valid Unicode")
        out = data.get("metricsOutputConfig", {})
        if not isinstance(out, dict):
            raise ConfigError("metricsOutputConfig: expected an object")
        _refuse_unknown("metricsOutputConfig", out, {"roleArn", "s3DataDestination"})
        dest = out.get("s3DataDestination", {})
        if not isinstance(dest, dict):
            raise ConfigError("metricsOutputConfig.s3DataDestination: expected an object")
        _refuse_unknown("metricsOutputConfig.s3DataDestination", dest, {"path", "kmsKeyArn"})
        return cls(
            name=data["name"],
            metrics=tuple(metrics),
            dataset_group_arn=data.get("datasetGroupArn"),
            role_arn=out.get("roleArn"),
            s3_path=dest.get("path"),
            kms_key_arn=dest.get("kmsKeyArn"),
        )

    @classmethod
    def from_json(cls, path: str | Path) -> MetricAttribution:
        """Load from a JSON file (a local path or ``s3://``); errors name the file."""
        local = storage.local_file(path)  # errors name ``path``, never a scratch copy
        try:
            data = json.loads(storage.read_small(local, str(path)))
        except FileNotFoundError:
            raise ConfigError(f"{path}: file not found") from None
        except OSError as exc:  # a folder, no permission
            raise ConfigError(f"{path}: {(exc.strerror or 'cannot be read').lower()}; expected "
                              "a readable JSON file") from None
        except ConfigError:
            raise
        except (ValueError, RecursionError) as exc:  # syntax, UTF-8, depth, 4,300+ digits
            raise ConfigError(f"{path}: not valid UTF-8 JSON ({json_problem(exc)})") from None
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The request body the service's CreateMetricAttribution takes."""
        body: dict[str, Any] = {"name": self.name, "metrics": [m.to_dict() for m in self.metrics]}
        if self.dataset_group_arn:
            body["datasetGroupArn"] = self.dataset_group_arn
        out: dict[str, Any] = {}
        if self.role_arn:
            out["roleArn"] = self.role_arn
        if self.s3_path:
            dest = {"path": self.s3_path}
            if self.kms_key_arn:
                dest["kmsKeyArn"] = self.kms_key_arn
            out["s3DataDestination"] = dest
        if out:
            body["metricsOutputConfig"] = out
        return body

    def to_json(self, path: str | Path) -> None:
        """Write the request body as JSON (atomically)."""
        storage.atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")


def _metric_from_dict(i: int, m: Any) -> Metric:
    if not isinstance(m, dict):
        raise ConfigError(f"metrics[{i}]: expected an object")
    kwargs: dict[str, Any] = {}
    for key, value in m.items():
        attr = _METRIC_KEYS.get(key)
        if attr is None:
            raise ConfigError(f"metrics[{i}]: unknown key {key!r}; expected eventType, metricName,"
                              " expression (or the console's EventType, MetricName, "
                              "MetricMathExpression)")
        if attr in kwargs:
            raise ConfigError(f"metrics[{i}]: {key!r} given twice under different spellings")
        kwargs[attr] = value
    for attr, key in (("name", "metricName"), ("event_type", "eventType"),
                      ("expression", "expression")):
        if attr not in kwargs:
            raise ConfigError(f"metrics[{i}]: {key!r} is required")
    try:
        return Metric(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"metrics[{i}]: {exc}") from None
