"""AWS services attrkit talks to: CloudWatch series and Personalize metric attributions.

Clients come from :mod:`attrkit.aws_session` (endpoint, region, retries, one-line
:class:`AwsError` messages); S3 files go through :mod:`attrkit.storage`. The S3 helpers and the
session's functions are re-exported here for callers of earlier versions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from attrkit import aws_session
from attrkit.attribution.config import MetricAttribution
from attrkit.aws_session import RETRY, client, configure, explain
from attrkit.errors import AwsError
from attrkit.frames import WINDOW_SCHEMA, to_datetime
from attrkit.storage.s3 import download, fetch, parse_s3, presign, upload

CLOUDWATCH_NAMESPACE = "AWS/Personalize"
PERIOD = 900
MAX_DATUMS_PER_PUT = 1000  # PutMetricData's limit per request
MAX_QUERIES_PER_GET = 500  # GetMetricData's limit per request


# -- CloudWatch --------------------------------------------------------------------------------


def _dims(source: str, dataset_group_arn: str) -> list[dict[str, str]]:
    # The service's own sample publishes the source upper-cased.
    return [{"Name": "EventAttributionSource", "Value": source.upper()},
            {"Name": "DatasetGroupArn", "Value": dataset_group_arn}]


def _align(t: datetime, up: bool = False) -> datetime:
    """Round to the 900-second grid, so CloudWatch's periods are the report's windows."""
    s = int(t.timestamp())
    s = -(-s // PERIOD) * PERIOD if up else s // PERIOD * PERIOD
    return datetime.fromtimestamp(s, tz=UTC)


def _get_sums(cw: Any, series: list[tuple[str, str]], namespace: str, dataset_group_arn: str,
              start: datetime, end: datetime) -> dict[tuple[str, str, int], float]:
    """Sum per window for each (metric, source) series, paginated and batched."""
    out: dict[tuple[str, str, int], float] = {}
    start, end = _align(start), _align(end, up=True)
    for i in range(0, len(series), MAX_QUERIES_PER_GET):
        chunk = series[i:i + MAX_QUERIES_PER_GET]
        queries = [{"Id": f"q{j}", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric,
                       "Dimensions": _dims(source, dataset_group_arn)},
            "Period": PERIOD, "Stat": "Sum"}} for j, (metric, source) in enumerate(chunk)]
        for page in cw.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries, StartTime=start, EndTime=end):
            for res in page["MetricDataResults"]:
                metric, source = chunk[int(res["Id"][1:])]
                for ts, value in zip(res["Timestamps"], res["Values"], strict=True):
                    key = (metric, source, int(ts.timestamp()))
                    out[key] = out.get(key, 0.0) + float(value)
    return out


def read_cloudwatch(
    metric_attribution: Any = None,
    *,
    dataset_group_arn: str | None = None,
    metrics: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    namespace: str = CLOUDWATCH_NAMESPACE,
) -> pl.DataFrame:
    """The metric-attribution series from CloudWatch as the tidy windowed frame.

    Args:
        metric_attribution: a :class:`~attrkit.MetricAttribution` (names, event types, functions
            and the dataset group); or give ``dataset_group_arn`` and ``metrics``.
        sources: ``EventAttributionSource`` values; default every one CloudWatch lists.
        start: the time range's start (default: 14 days ago, what CloudWatch keeps at 15-min
            resolution).
        end: its end (default: now).
        namespace: ``AWS/Personalize`` for the service's own series.

    Returns:
        The frame :func:`attrkit.attribute` returns (period 900 s, statistic Sum); ``events`` is
        the value for count metrics and null for sums.
    """

    kinds: dict[str, tuple[str | None, str]] = {}
    if metric_attribution is not None:
        dataset_group_arn = dataset_group_arn or metric_attribution.dataset_group_arn
        for m in metric_attribution.metrics:
            kinds[m.name.upper()] = (m.event_type.upper(), m.math_function)
    for name in metrics or ():
        kinds.setdefault(name.upper(), (None, "sum"))
    if not dataset_group_arn:
        raise AwsError("read_cloudwatch: give dataset_group_arn (or a metric attribution "
                       "that names it)")
    if not kinds:
        raise AwsError("read_cloudwatch: give the metrics (or a metric attribution)")
    end = end or datetime.now(UTC)
    start = start or end.replace(microsecond=0) - timedelta(days=14)
    cw = aws_session.client("cloudwatch")
    try:
        series: list[tuple[str, str]] = []
        for metric in kinds:
            found = sorted(set(sources or ()) or _list_sources(cw, namespace, metric,
                                                               dataset_group_arn))
            series += [(metric, s) for s in found]
        sums = _get_sums(cw, series, namespace, dataset_group_arn, start, end)
    except aws_session.botocore_errors() as exc:
        raise explain(exc, f"CloudWatch {namespace}") from None
    rows = [{"timestamp": ts, "metric_name": m, "event_type": kinds[m][0],
             "math_function": kinds[m][1], "source": s, "value": v}
            for (m, s, ts), v in sums.items()]
    frame = pl.DataFrame(rows, schema={"timestamp": pl.Int64, "metric_name": pl.String,
                                       "event_type": pl.String, "math_function": pl.String,
                                       "source": pl.String, "value": pl.Float64})
    return frame.select(
        to_datetime(pl.col("timestamp")).alias("window_start"), "timestamp", "metric_name",
        "event_type", "math_function", "source", "value",
        pl.when(pl.col("math_function") == "samplecount").then(pl.col("value").cast(pl.Int64))
        .alias("events"),
    ).cast(dict(WINDOW_SCHEMA)).sort("timestamp", "metric_name", "source")


def _list_sources(cw: Any, namespace: str, metric: str, dataset_group_arn: str) -> list[str]:
    found = set()
    for page in cw.get_paginator("list_metrics").paginate(
            Namespace=namespace, MetricName=metric,
            Dimensions=[{"Name": "DatasetGroupArn", "Value": dataset_group_arn}]):
        for m in page["Metrics"]:
            for d in m["Dimensions"]:
                if d["Name"] == "EventAttributionSource":
                    found.add(d["Value"])
    return sorted(found)


def publish_cloudwatch(
    windows: pl.DataFrame,
    *,
    namespace: str,
    dataset_group_arn: str,
) -> int:
    """Send a report's windows to CloudWatch with PutMetricData; return the points sent.

    CloudWatch adds up every point sent for the same metric, dimensions and period, so sending
    a report twice would double the Sum per window. To make publishing repeatable, attrkit first
    reads the Sum already stored for each window and sends only the difference (nothing when a
    window already holds the report's value). Points appear in CloudWatch after a short delay;
    publish the same report again only once its points are readable.

    Raises:
        AwsError: a namespace starting with ``AWS/`` (reserved), or a failed call.
    """
    if namespace.startswith("AWS/"):
        raise AwsError(f"namespace {namespace!r}: names starting with AWS/ are reserved for "
                       "AWS; choose your own (e.g. Attrkit/Attribution)")
    if windows.height == 0:
        return 0
    cw = aws_session.client("cloudwatch")
    w = windows.with_columns(pl.col("metric_name").str.to_uppercase())
    series = sorted(set(w.select("metric_name", "source").iter_rows()))
    start = datetime.fromtimestamp(int(w["timestamp"].min()), tz=UTC)
    end = datetime.fromtimestamp(int(w["timestamp"].max()) + PERIOD, tz=UTC)
    try:
        stored = _get_sums(cw, series, namespace, dataset_group_arn, start, end)
        data = []
        for metric, source, ts, value in w.select("metric_name", "source", "timestamp",
                                                  "value").iter_rows():
            delta = float(value) - stored.get((metric, source, int(ts)), 0.0)
            if math.isclose(delta, 0.0, abs_tol=1e-9):
                continue
            data.append({"MetricName": metric, "Dimensions": _dims(source, dataset_group_arn),
                         "Timestamp": datetime.fromtimestamp(int(ts), tz=UTC), "Value": delta,
                         "Unit": "None"})
        for i in range(0, len(data), MAX_DATUMS_PER_PUT):
            cw.put_metric_data(Namespace=namespace, MetricData=data[i:i + MAX_DATUMS_PER_PUT])
    except aws_session.botocore_errors() as exc:
        raise explain(exc, f"CloudWatch {namespace}") from None
    return len(data)


# -- Personalize -------------------------------------------------------------------------------


def describe_metric_attribution(arn: str, *, personalize: Any = None) -> Any:
    """A :class:`~attrkit.MetricAttribution` from DescribeMetricAttribution and
    ListMetricAttributionMetrics (all pages)."""

    api = personalize or aws_session.client("personalize")
    try:
        desc = api.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]
        metrics, token = [], None
        while True:
            kw = {"metricAttributionArn": arn, "maxResults": 100}
            if token:
                kw["nextToken"] = token
            page = api.list_metric_attribution_metrics(**kw)
            metrics += page.get("metrics", [])
            token = page.get("nextToken")
            if not token:
                break
    except aws_session.botocore_errors() as exc:
        raise explain(exc, f"Personalize metric attribution {arn}") from None
    out = desc.get("metricsOutputConfig", {})
    body = {"name": desc["name"], "datasetGroupArn": desc.get("datasetGroupArn"),
            "metrics": metrics,
            "metricsOutputConfig": {k: v for k, v in out.items()
                                    if k in ("roleArn", "s3DataDestination")}}
    if not body["metricsOutputConfig"]:
        body.pop("metricsOutputConfig")
    return MetricAttribution.from_dict(body)


# Earlier versions had S3 and the session here; the names stay importable.
__all__ = ["CLOUDWATCH_NAMESPACE", "RETRY", "AwsError", "client", "configure",
           "describe_metric_attribution", "download", "explain", "fetch", "parse_s3", "presign",
           "publish_cloudwatch", "read_cloudwatch", "upload"]
