"""AWS at the edges: S3 paths, CloudWatch series, Personalize metric attributions.

boto3 is imported here only, and only when a function runs, so everything offline works
without it or without credentials. Credentials and region come from boto3's standard chain;
``endpoint_url`` (or the ``AWS_ENDPOINT_URL`` variables boto3 reads itself) points at an
S3-compatible store or a local endpoint. Throttling and server errors are retried by botocore's
``standard`` retry mode. Failures become one :class:`AwsError` line naming the bucket, key or
service and what to check.
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from attrkit.errors import AttrkitError

CLOUDWATCH_NAMESPACE = "AWS/Personalize"
PERIOD = 900
MAX_DATUMS_PER_PUT = 1000  # PutMetricData's limit per request
MAX_QUERIES_PER_GET = 500  # GetMetricData's limit per request
RETRY = {"max_attempts": 8, "mode": "standard"}


class AwsError(AttrkitError):
    """An AWS call failed: access, missing bucket or key, credentials or endpoint."""


_settings: dict[str, Any] = {"endpoint_url": None, "region": None}


def configure(*, endpoint_url: str | None = None, region: str | None = None) -> None:
    """Set the endpoint URL and region every later AWS call uses (None: boto3's defaults)."""
    _settings.update(endpoint_url=endpoint_url, region=region)


def client(service: str, *, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """A boto3 client with attrkit's retry configuration."""
    import boto3
    from botocore.config import Config

    region = region or _settings["region"] or os.environ.get("AWS_REGION") or os.environ.get(
        "AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint_url or _settings["endpoint_url"],
        config=Config(retries=dict(RETRY), connect_timeout=5, read_timeout=30))


def explain(exc: BaseException, what: str) -> AwsError:
    """One clear line for a botocore failure on ``what`` (a URL or a service)."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsError(f"{what}: no usable AWS credentials; set them up (environment, "
                        "~/.aws/credentials or a role) or check AWS_PROFILE")
    if isinstance(exc, EndpointConnectionError):
        return AwsError(f"{what}: cannot reach the endpoint {exc.kwargs.get('endpoint_url')}; "
                        "check the network, the region and --endpoint-url")
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired",
                    "InvalidClientTokenId", "TokenRefreshRequired"):
            return AwsError(f"{what}: the AWS credentials have expired or are invalid ({code}); "
                            "refresh them")
        if code in ("AccessDenied", "AccessDeniedException", "403", "Forbidden") or status == 403:
            return AwsError(f"{what}: access denied ({code or status}); check the IAM policy "
                            "of these credentials")
        if code == "NoSuchBucket":
            return AwsError(f"{what}: bucket does not exist; check the bucket name and region")
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            return AwsError(f"{what}: no such object; check the key")
        if code in ("Throttling", "ThrottlingException", "RequestLimitExceeded",
                    "SlowDown") or (status and status >= 500):
            return AwsError(f"{what}: still failing after {RETRY['max_attempts']} attempts "
                            f"({code or status}); try again later")
        return AwsError(f"{what}: {code or status}: {err.get('Message', '')}".rstrip(": "))
    return AwsError(f"{what}: {type(exc).__name__}: {exc}")


def _botocore_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


# -- S3 ----------------------------------------------------------------------------------------


def is_s3(path: Any) -> bool:
    return isinstance(path, str) and path.startswith("s3://")


def parse_s3(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``.

    Example:
        >>> parse_s3("s3://my-bucket/reports/a.csv")
        ('my-bucket', 'reports/a.csv')
    """
    if not is_s3(url):
        raise AwsError(f"{url}: not an s3:// URL")
    bucket, _, key = url[5:].partition("/")
    if not bucket:
        raise AwsError(f"{url}: no bucket in the URL")
    return bucket, key


_scratch: list[str] = []


def _scratch_dir() -> Path:
    d = tempfile.mkdtemp(prefix="attrkit-s3-")
    if not _scratch:
        atexit.register(lambda: [shutil.rmtree(p, ignore_errors=True) for p in _scratch])
    _scratch.append(d)
    return Path(d)


def download(url: str, *, suffix_filter: tuple[str, ...] = ()) -> list[Path]:
    """Download an object, or every object under a prefix ending in ``/``, to a scratch folder
    kept until the process ends. Returns the local paths, in key order."""
    bucket, key = parse_s3(url)
    s3 = client("s3")
    dest = _scratch_dir()
    errors = _botocore_errors()
    try:
        if key == "" or key.endswith("/"):
            keys = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
                keys += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
            keys = [k for k in sorted(keys) if not suffix_filter or k.lower().endswith(suffix_filter)]
            if not keys:
                raise AwsError(f"{url}: no matching objects under this prefix")
        else:
            keys = [key]
        out = []
        for i, k in enumerate(keys):
            local = dest / f"{i:05d}-{Path(k).name}"
            s3.download_file(bucket, k, str(local))
            out.append(local)
        return out
    except errors as exc:
        raise _s3_error(s3, exc, bucket, url) from None


def _s3_error(s3: Any, exc: BaseException, bucket: str, url: str) -> AwsError:
    """A HEAD on a missing object says only 404; ask whether the bucket itself exists."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError) and exc.response.get("ResponseMetadata", {}).get(
            "HTTPStatusCode") == 404:
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as inner:
            if inner.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return AwsError(f"{url}: bucket {bucket} does not exist; check the bucket name "
                                "and region")
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass
    return explain(exc, url)


def fetch(url: str) -> Path:
    """One S3 object as a local file (an error for a prefix)."""
    if url.endswith("/"):
        raise AwsError(f"{url}: a prefix; this input takes one object")
    return download(url)[0]


def upload(local: str | os.PathLike[str], url: str, *, kms_key_arn: str | None = None,
           content_type: str | None = None) -> str:
    """Upload a file to ``url`` (a key, or a prefix ending in ``/`` to keep the file's name),
    with SSE-KMS when a key is given. Returns the object's URL."""
    bucket, key = parse_s3(url)
    if key == "" or key.endswith("/"):
        key += Path(local).name
    extra: dict[str, str] = {}
    if kms_key_arn:
        extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_arn)
    if content_type:
        extra["ContentType"] = content_type
    try:
        client("s3").upload_file(str(local), bucket, key, ExtraArgs=extra or None)
    except _botocore_errors() as exc:
        raise explain(exc, f"s3://{bucket}/{key}") from None
    return f"s3://{bucket}/{key}"


def presign(url: str, *, expires: int = 3600) -> str:
    """A presigned GET URL for an object."""
    bucket, key = parse_s3(url)
    try:
        return client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(expires))
    except _botocore_errors() as exc:
        raise explain(exc, url) from None


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
        start, end: the time range (default: the last 14 days, what CloudWatch keeps at 15-min
            resolution).
        namespace: ``AWS/Personalize`` for the service's own series.

    Returns:
        The frame :func:`attrkit.attribute` returns (period 900 s, statistic Sum); ``events`` is
        the value for count metrics and null for sums.
    """
    from attrkit.report import WINDOW_SCHEMA
    from attrkit.windows import to_datetime

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
    cw = client("cloudwatch")
    try:
        series: list[tuple[str, str]] = []
        for metric in kinds:
            found = sorted(set(sources or ()) or _list_sources(cw, namespace, metric,
                                                               dataset_group_arn))
            series += [(metric, s) for s in found]
        sums = _get_sums(cw, series, namespace, dataset_group_arn, start, end)
    except _botocore_errors() as exc:
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
    cw = client("cloudwatch")
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
    except _botocore_errors() as exc:
        raise explain(exc, f"CloudWatch {namespace}") from None
    return len(data)


# -- Personalize -------------------------------------------------------------------------------


def describe_metric_attribution(arn: str, *, personalize: Any = None) -> Any:
    """A :class:`~attrkit.MetricAttribution` from DescribeMetricAttribution and
    ListMetricAttributionMetrics (all pages)."""
    from attrkit.config import MetricAttribution

    api = personalize or client("personalize")
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
    except _botocore_errors() as exc:
        raise explain(exc, f"Personalize metric attribution {arn}") from None
    out = desc.get("metricsOutputConfig", {})
    body = {"name": desc["name"], "datasetGroupArn": desc.get("datasetGroupArn"),
            "metrics": metrics,
            "metricsOutputConfig": {k: v for k, v in out.items()
                                    if k in ("roleArn", "s3DataDestination")}}
    if not body["metricsOutputConfig"]:
        body.pop("metricsOutputConfig")
    return MetricAttribution.from_dict(body)
