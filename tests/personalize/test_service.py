"""AWS against a local endpoint over real HTTP (moto's server on 127.0.0.1), Personalize through
botocore's Stubber, and faults injected between the client and the endpoint."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta

import boto3
import polars as pl
import pytest
from botocore.stub import Stubber

import attrkit
from attrkit import aws, aws_session
from attrkit.cli import main
from attrkit.errors import AwsError

MA = {"name": "t", "datasetGroupArn": "arn:aws:personalize:us-east-1:111122223333:dataset-group/dg",
      "metrics": [{"eventType": "click", "metricName": "clicks", "expression": "SAMPLECOUNT()"},
                  {"eventType": "watch", "metricName": "minutes",
                   "expression": "SUM(Items.LENGTH)"}]}
DG = MA["datasetGroupArn"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    aws.configure(endpoint_url=endpoint, region="us-east-1")
    yield endpoint
    aws.configure()


@pytest.fixture
def bucket(aws_env):
    name = f"b{_free_port()}"
    aws.client("s3").create_bucket(Bucket=name)
    return name


def _recent_events(n_windows: int = 8) -> dict[str, pl.DataFrame]:
    """Events in the last hours (CloudWatch only takes recent points)."""
    now = int(datetime.now(UTC).timestamp()) // 900 * 900 - n_windows * 900
    rows = []
    for w in range(n_windows):
        for k in range(w + 2):
            rows.append((f"u{k}", "i1" if k % 2 else "i2", now + w * 900 + k * 7,
                         "click" if k % 3 else "watch", "partner" if k % 2 else None,
                         "r1" if k % 2 == 0 else None))
    ev = pl.DataFrame(rows, schema=["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE",
                                    "EVENT_ATTRIBUTION_SOURCE", "RECOMMENDATION_ID"], orient="row")
    items = pl.DataFrame({"ITEM_ID": ["i1", "i2"], "LENGTH": [10.0, 25.5]})
    log = pl.DataFrame({"RECOMMENDATION_ID": ["r1"], "SOURCE": ["arn:campaign/recs"],
                        "TIMESTAMP": [now]})
    return {"interactions": ev, "items": items, "recommendations": log}


def _put(bucket, key, frame: pl.DataFrame, tmp_path) -> str:
    local = tmp_path / key.replace("/", "_")
    frame.write_csv(local)
    return aws.upload(local, f"s3://{bucket}/{key}")


def test_attribute_from_s3_equals_local(bucket, tmp_path):
    data = _recent_events()
    urls = {k: _put(bucket, f"in/{k}.csv", f, tmp_path) for k, f in data.items()}
    ma_local = tmp_path / "ma.json"
    ma_local.write_text(json.dumps(MA))
    ma_url = aws.upload(ma_local, f"s3://{bucket}/config/ma.json")
    remote = attrkit.attribute(urls["interactions"], ma_url, items=urls["items"],
                               recommendations=urls["recommendations"])
    local = attrkit.attribute(data["interactions"], MA, items=data["items"],
                              recommendations=data["recommendations"])
    assert remote.windows.equals(local.windows)
    # and a bad row in an S3 file is named by its URL and line
    bad = data["interactions"].with_columns(pl.lit("1700000000000").alias("TIMESTAMP"))
    bad_url = _put(bucket, "in/bad.csv", bad, tmp_path)
    with pytest.raises(attrkit.InputError, match=rf"{bad_url}, line 2, column TIMESTAMP"):
        attrkit.attribute(bad_url, MA, items=urls["items"])


def test_interactions_under_an_s3_prefix_or_pattern_equal_local(bucket, tmp_path):
    data = _recent_events()
    ev = data["interactions"]
    half = ev.height // 2
    _put(bucket, "lake/day=1/part-0.csv", ev.head(half), tmp_path)
    _put(bucket, "lake/day=2/part-1.csv", ev.tail(ev.height - half), tmp_path)
    _put(bucket, "lake/_temporary/part-9.csv", ev, tmp_path)  # a writer's leftovers
    _put(bucket, "lake/day=2/_SUCCESS.csv", ev, tmp_path)
    local = attrkit.attribute(ev, MA, items=data["items"])
    for given_as in (f"s3://{bucket}/lake/", f"s3://{bucket}/lake/day=*/part-*.csv",
                     f"s3://{bucket}/lake/**/*.csv"):
        remote = attrkit.attribute(given_as, MA, items=data["items"])
        assert remote.windows.equals(local.windows), given_as
        assert remote.health.rows_read == {"interactions": ev.height, "items": 2}
    bad = ev.head(3).with_columns(pl.lit("soon").alias("TIMESTAMP"))
    url = _put(bucket, "lake/day=3/part-2.csv", bad, tmp_path)
    with pytest.raises(attrkit.InputError, match=rf"{url}, line 2, column TIMESTAMP"):
        attrkit.attribute(f"s3://{bucket}/lake/", MA, items=data["items"])
    with pytest.raises(AwsError, match="no matching objects"):
        attrkit.attribute(f"s3://{bucket}/lake/day=9*/*.csv", MA, items=data["items"])


def test_write_and_read_reports_under_a_prefix(bucket):
    data = _recent_events()
    result = attrkit.attribute(data["interactions"], MA, items=data["items"],
                               recommendations=data["recommendations"])
    url = result.write_report(f"s3://{bucket}/reports/", when=1700000000)
    assert url == f"s3://{bucket}/reports/AggregatedAttributionMetrics - FULL - 1700000000.csv"
    back = attrkit.read_report(f"s3://{bucket}/reports/")
    assert back.drop("events").equals(result.windows.drop("events"))
    # a later publish of other events adds up; the same rows again would double every total
    later = attrkit.attribute(data["interactions"].head(20), MA, items=data["items"],
                              recommendations=data["recommendations"])
    later.write_report(f"s3://{bucket}/reports/", when=1700000900, import_mode="INCREMENTAL")
    both = attrkit.read_report(f"s3://{bucket}/reports/")
    assert both.height == result.windows.height + later.windows.height
    result.write_report(f"s3://{bucket}/reports/", when=1700001800, import_mode="INCREMENTAL")
    with pytest.raises(attrkit.InputError) as caught:
        attrkit.read_report(f"s3://{bucket}/reports/")
    assert str(caught.value).startswith(
        f"s3://{bucket}/reports/AggregatedAttributionMetrics - INCREMENTAL - 1700001800.csv: "
        f"holds the same rows as s3://{bucket}/reports/AggregatedAttributionMetrics - FULL - "
        "1700000000.csv (one report written twice")


def test_kms_key_encrypts_uploads(bucket):
    key = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    ma = attrkit.MetricAttribution.from_dict(MA | {"metricsOutputConfig": {
        "roleArn": "arn:aws:iam::111122223333:role/R",
        "s3DataDestination": {"path": f"s3://{bucket}/out/", "kmsKeyArn": key}}})
    data = _recent_events()
    result = attrkit.attribute(data["interactions"], ma, items=data["items"])
    url = result.write_report(f"s3://{bucket}/enc/r.csv")
    head = aws.client("s3").head_object(Bucket=bucket, Key="enc/r.csv")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(key.rsplit("/", 1)[-1])
    assert url.endswith("enc/r.csv")


def test_publish_to_cloudwatch_and_read_back_twice_without_doubling(aws_env, tmp_path, capsys):
    data = _recent_events()
    result = attrkit.attribute(data["interactions"], MA, items=data["items"],
                               recommendations=data["recommendations"])
    report = result.write_report(tmp_path / "r.csv")
    args = ["--endpoint-url", aws_env, "publish", "cloudwatch", "--report", str(report),
            "--namespace", "Attrkit/Test", "--dataset-group-arn", DG]
    assert main(args) == 0
    assert f"sent {result.windows.height:,} data points" in capsys.readouterr().out
    ma = attrkit.MetricAttribution.from_dict(MA)
    start = datetime.now(UTC) - timedelta(days=1)
    back = aws.read_cloudwatch(ma, namespace="Attrkit/Test", start=start)
    expect = result.windows.with_columns(pl.col("source").str.to_uppercase())
    assert back.select("timestamp", "metric_name", "source", "value").equals(
        expect.select("timestamp", "metric_name", "source", "value").sort(
            "timestamp", "metric_name", "source"))
    assert back.schema == result.windows.schema
    # publishing again sends nothing and leaves every Sum as it was
    assert main(args) == 0
    assert "sent 0 data points" in capsys.readouterr().out
    again = aws.read_cloudwatch(ma, namespace="Attrkit/Test", start=start)
    assert again.equals(back)
    # compare runs on CloudWatch's frame unchanged
    table = attrkit.compare(again, sources=["PARTNER", "ARN:CAMPAIGN/RECS"])
    assert table.frame.height == 2  # one pair, two metrics


def test_reserved_namespace_is_refused(aws_env, tmp_path, capsys):
    (tmp_path / "r.csv").write_text("METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,"
                                    "EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\nA,B,1.0,sum,s,0\n")
    code = main(["publish", "cloudwatch", "--report", str(tmp_path / "r.csv"),
                 "--namespace", "AWS/Personalize", "--dataset-group-arn", DG])
    assert code == 2
    assert "reserved" in capsys.readouterr().err


def test_throttling_and_server_errors_are_retried_without_loss(aws_env, monkeypatch):
    """Faults injected between the client and the endpoint with botocore's event hooks."""
    from botocore.awsrequest import AWSResponse

    real_client = aws.client
    failures = {"n": 0}

    class Raw:
        def __init__(self, body: bytes):
            self._body = body

        def stream(self, **kw):
            yield self._body

        def read(self, *a, **k):
            return self._body

    def cbor_text(t: str) -> bytes:
        b = t.encode()
        return (bytes([0x60 + len(b)]) if len(b) < 24 else bytes([0x78, len(b)])) + b

    def fault(request, **kw):
        # fail the first three PutMetricData calls: throttled, 503, throttled, answered in the
        # wire protocol the client speaks (JSON or Smithy RPC v2 CBOR)
        if failures["n"] < 3:
            failures["n"] += 1
            status = 503 if failures["n"] == 2 else 400
            code = "ServiceUnavailable" if status == 503 else "ThrottlingException"
            if "cbor" in str(request.headers.get("Content-Type", "")):
                body = (b"\xa2" + cbor_text("__type") + cbor_text(code)
                        + cbor_text("message") + cbor_text("injected"))
                headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
            else:
                body = json.dumps({"__type": code, "message": "injected"}).encode()
                headers = {"Content-Type": "application/x-amz-json-1.0"}
            return AWSResponse(request.url, status, headers, Raw(body))
        return None

    def hooked(service, **kw):
        c = real_client(service, **kw)
        if service == "cloudwatch":
            c.meta.events.register("before-send.cloudwatch.PutMetricData", fault)
        return c

    monkeypatch.setattr(aws_session, "client", hooked)
    data = _recent_events(4)
    windows = attrkit.attribute(data["interactions"], MA, items=data["items"]).windows
    dg = DG.replace("/dg", "/retry")  # a series of its own
    sent = aws.publish_cloudwatch(windows, namespace="Attrkit/Retry", dataset_group_arn=dg)
    assert failures["n"] == 3 and sent == windows.height
    back = aws.read_cloudwatch(attrkit.MetricAttribution.from_dict(MA), namespace="Attrkit/Retry",
                               dataset_group_arn=dg, start=datetime.now(UTC) - timedelta(days=1))
    assert back["value"].sum() == pytest.approx(windows["value"].sum())
    assert back.height == windows.height  # nothing lost, nothing duplicated


def test_permanent_errors_fail_fast_with_a_clear_line(aws_env, monkeypatch, bucket, tmp_path):
    from botocore.awsrequest import AWSResponse

    calls = {"n": 0}

    class Raw:
        def stream(self, **kw):
            yield b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"

    def deny(request, **kw):
        calls["n"] += 1
        return AWSResponse(request.url, 403, {}, Raw())

    real_client = aws.client

    def hooked(service, **kw):
        c = real_client(service, **kw)
        c.meta.events.register("before-send.s3.GetObject", deny)
        c.meta.events.register("before-send.s3.HeadObject", deny)
        return c

    monkeypatch.setattr(aws_session, "client", hooked)
    with pytest.raises(aws.AwsError, match=rf"s3://{bucket}/k.csv: access denied"):
        aws.fetch(f"s3://{bucket}/k.csv")
    assert calls["n"] == 1  # not retried


def test_missing_bucket_key_and_unreachable_endpoint(aws_env, bucket, capsys, monkeypatch,
                                                     tmp_path):
    with pytest.raises(aws.AwsError,
                       match="no-such-bucket-x/a.csv: bucket no-such-bucket-x does not exist"):
        aws.fetch("s3://no-such-bucket-x/a.csv")
    with pytest.raises(aws.AwsError, match=rf"s3://{bucket}/missing.csv: no such object"):
        aws.fetch(f"s3://{bucket}/missing.csv")
    (tmp_path / "ma.json").write_text(json.dumps(MA))
    code = main(["attribute", "--interactions", f"s3://{bucket}/missing.csv",
                 "--metric-attribution", str(tmp_path / "ma.json"), "--out", "r.csv"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.csv" in err
    aws.configure(endpoint_url=f"http://127.0.0.1:{_free_port()}", region="us-east-1")
    monkeypatch.setattr(aws_session, "RETRY", {"max_attempts": 1, "mode": "standard"})
    with pytest.raises(aws.AwsError, match="cannot reach the endpoint"):
        aws.fetch(f"s3://{bucket}/a.csv")


def test_expired_credentials_are_named(aws_env, monkeypatch, bucket):
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **kw):
            yield b"<Error><Code>ExpiredToken</Code><Message>expired</Message></Error>"

    real_client = aws.client

    def hooked(service, **kw):
        c = real_client(service, **kw)
        c.meta.events.register("before-send.s3.*",
                               lambda request, **k: AWSResponse(request.url, 400, {}, Raw()))
        return c

    monkeypatch.setattr(aws_session, "client", hooked)
    with pytest.raises(aws.AwsError, match="credentials have expired"):
        aws.fetch(f"s3://{bucket}/a.csv")


def test_report_publish_gives_a_working_presigned_url(aws_env, bucket, tmp_path):
    env = {**__import__("os").environ}
    done = subprocess.run(
        [sys.executable, "-m", "attrkit", "--endpoint-url", aws_env, "report", "--out",
         str(tmp_path), "-p", "sample_days", "1", "--publish", f"s3://{bucket}/shared/",
         "--expires", "600"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("share"))
    url = line.split(": ", 1)[1]
    assert url.startswith(aws_env)
    with urllib.request.urlopen(url, timeout=30) as resp:
        body = resp.read()
    assert body == (tmp_path / "attribution_report.html").read_bytes()
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=bucket,
                                                                Prefix="shared/")["Contents"]]
    assert sorted(keys) == ["shared/attribution_report.html", "shared/attribution_report.json"]


def test_describe_metric_attribution_with_stubber():
    arn = "arn:aws:personalize:us-east-1:111122223333:metric-attribution/ma"
    client = boto3.client("personalize", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("describe_metric_attribution", {"metricAttribution": {
            "name": "ma", "metricAttributionArn": arn, "datasetGroupArn": DG,
            "metricsOutputConfig": {"roleArn": "arn:aws:iam::111122223333:role/R",
                                    "s3DataDestination": {"path": "s3://b/out/"}},
            "status": "ACTIVE"}}, {"metricAttributionArn": arn})
        stub.add_response("list_metric_attribution_metrics", {"metrics": [
            {"eventType": "click", "metricName": "CLICKS", "expression": "SAMPLECOUNT()"}],
            "nextToken": "t1"}, {"metricAttributionArn": arn, "maxResults": 100})
        stub.add_response("list_metric_attribution_metrics", {"metrics": [
            {"eventType": "watch", "metricName": "MINUTES", "expression": "SUM(Items.LENGTH)"}]},
            {"metricAttributionArn": arn, "maxResults": 100, "nextToken": "t1"})
        ma = aws.describe_metric_attribution(arn, personalize=client)
        stub.assert_no_pending_responses()
    assert [m.name for m in ma.metrics] == ["CLICKS", "MINUTES"]
    assert ma.dataset_group_arn == DG and ma.s3_path == "s3://b/out/"


def test_offline_use_never_imports_boto3(tmp_path):
    # Nor numpy, scipy or statsmodels: attribution starts in about the time polars takes to
    # import; the statistics and the sample generator load on first use.
    code = ("import sys, polars as pl, attrkit\n"
            "ev = pl.DataFrame({'USER_ID': ['u'], 'ITEM_ID': ['i'], 'TIMESTAMP': [1],"
            " 'EVENT_TYPE': ['click']})\n"
            "ma = {'name': 'x', 'metrics': [{'eventType': 'click', 'metricName': 'c',"
            " 'expression': 'SAMPLECOUNT()'}]}\n"
            "attrkit.attribute(ev, ma).write_report(sys.argv[1])\n"
            "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules\n"
            "loaded = {'numpy', 'scipy', 'statsmodels'} & set(sys.modules)\n"
            "assert not loaded, loaded\n"
            "assert callable(attrkit.generate_sample) and 'numpy' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "r.csv")], check=True)
