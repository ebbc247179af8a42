import json

import pytest

from attrkit import ConfigError, Metric, MetricAttribution, parse_expression


@pytest.mark.parametrize("text, parsed", [
    ("SAMPLECOUNT()", ("samplecount", None, None)),
    ("samplecount()", ("samplecount", None, None)),
    (" SAMPLECOUNT( ) ", ("samplecount", None, None)),
    ("SUM(Items.LENGTH)", ("sum", "items", "LENGTH")),
    ("SUM(ITEMS.LENGTH)", ("sum", "items", "LENGTH")),
    ("SUM( Interactions.EVENT_VALUE )", ("sum", "interactions", "EVENT_VALUE")),
    ("sum(interactions.price_usd)", ("sum", "interactions", "price_usd")),
])
def test_expression_grammar_accepts(text, parsed):
    assert parse_expression(text) == parsed


@pytest.mark.parametrize("text", [
    "", "SAMPLECOUNT", "SAMPLECOUNT(x)", "AVG(Items.LENGTH)", "SUM(Items.LENGTH) + 1",
    "SUM(Users.AGE)", "SUM(Items.LENGTH, Items.PRICE)", "SUM(SUM(Items.LENGTH))",
    "SUM(Items. LENGTH)", "SUM(Items .LENGTH)", "SUM(Items.LEN GTH)", "SUM(Items.)",
    "SUM(Items.1LENGTH)", "__import__('os').system('true')", "SUM(Items.LENGTH)--",
    "SAMPLE COUNT()", "SUM(Items.LENGTH" , "SUM(Items.LENGTH))", "S" * 300,
])
def test_expression_grammar_rejects(text):
    with pytest.raises(ConfigError, match="expression"):
        parse_expression(text)


def _body(**over):
    body = {
        "name": "my-attribution_1",
        "datasetGroupArn": "arn:aws:personalize:us-east-1:111122223333:dataset-group/dg",
        "metrics": [{"eventType": "click", "metricName": "clicks", "expression": "SAMPLECOUNT()"}],
        "metricsOutputConfig": {
            "roleArn": "arn:aws:iam::111122223333:role/PersonalizeRole",
            "s3DataDestination": {"path": "s3://bucket/prefix/",
                                  "kmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/abc"},
        },
    }
    body.update(over)
    return body


def test_full_request_round_trips():
    ma = MetricAttribution.from_dict(_body())
    assert ma.name == "my-attribution_1"
    assert ma.kms_key_arn.endswith("key/abc")
    assert MetricAttribution.from_dict(ma.to_dict()) == ma


def test_console_keys_are_accepted(tmp_path):
    path = tmp_path / "ma.json"
    path.write_text(json.dumps({"name": "x", "metrics": [
        {"EventType": "watch", "MetricName": "minutes", "MetricMathExpression": "SUM(ITEMS.LENGTH)"}
    ]}))
    m = MetricAttribution.from_json(path).metrics[0]
    assert (m.name, m.event_type, m.function, m.dataset, m.column) == (
        "minutes", "watch", "sum", "items", "LENGTH")


@pytest.mark.parametrize("over, match", [
    ({"name": ""}, "name"),
    ({"name": "-starts-with-dash"}, "name"),
    ({"name": "has space"}, "name"),
    ({"name": "a" * 64}, "name"),
    ({"datasetGroupArn": "arn:aws:s3:::bucket"}, "datasetGroupArn"),
    ({"datasetGroupArn": "arn:aws:personalize:" + "x" * 250}, "datasetGroupArn"),
    ({"metrics": []}, "1 to 10"),
    ({"metrics": [{"eventType": "e", "metricName": f"m{i}", "expression": "SAMPLECOUNT()"}
                  for i in range(11)]}, "1 to 10"),
    ({"metrics": [{"eventType": "e", "metricName": "m", "expression": "SAMPLECOUNT()"},
                  {"eventType": "f", "metricName": "M", "expression": "SAMPLECOUNT()"}]}, "twice"),
    ({"metrics": [{"eventType": "", "metricName": "m", "expression": "SAMPLECOUNT()"}]},
     "eventType"),
    ({"metrics": [{"eventType": "e" * 257, "metricName": "m", "expression": "SAMPLECOUNT()"}]},
     "eventType"),
    ({"metrics": [{"eventType": "e", "metricName": "m" * 257, "expression": "SAMPLECOUNT()"}]},
     "metric name"),
    ({"metrics": [{"eventType": "e", "metricName": "m"}]}, "expression"),
    ({"metrics": [{"eventType": "e", "metricName": "m", "expression": "SAMPLECOUNT()",
                   "extra": 1}]}, "unknown key"),
    ({"metricsOutputConfig": {"roleArn": "arn:aws:iam::12345:role/x"}}, "roleArn"),
    ({"metricsOutputConfig": {"roleArn": "arn:aws:iam::111122223333:role/R",
                              "s3DataDestination": {"path": "ftp://x"}}}, "path"),
    ({"metricsOutputConfig": {"roleArn": "arn:aws:iam::111122223333:role/R",
                              "s3DataDestination": {"path": "s3://b/",
                                                    "kmsKeyArn": "arn:aws:kms:us-east-1:1:key/x"}}},
     "kmsKeyArn"),
    ({"nmae": "typo"}, "unknown key"),
])
def test_every_limit_is_checked(over, match):
    with pytest.raises(ConfigError, match=match):
        MetricAttribution.from_dict(_body(**over))


def test_built_in_python_checks_too():
    with pytest.raises(ConfigError, match="expression"):
        Metric("m", "click", "COUNT()")
    ma = MetricAttribution("ok", [Metric("m", "click", "SAMPLECOUNT()")])
    assert ma.metrics[0].math_function == "samplecount"


def test_from_json_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json"):
        MetricAttribution.from_json(bad)
    with pytest.raises(ConfigError, match="not found"):
        MetricAttribution.from_json(tmp_path / "missing.json")


def test_a_file_saved_by_a_windows_editor_reads(tmp_path):
    """Notepad and PowerShell 5 write UTF-8 with a byte-order mark and CRLF line endings: the
    JSON reads (it had been refused as not valid JSON); bytes that are not UTF-8 still are."""
    body = {"name": "m", "metrics": [{"eventType": "click", "metricName": "clicks",
                                      "expression": "SAMPLECOUNT()"}]}
    path = tmp_path / "ma.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(body, indent=2).replace("\n", "\r\n").encode())
    assert MetricAttribution.from_json(path) == MetricAttribution.from_dict(body)
    path.write_bytes(b"\xff\xfe" + json.dumps(body).encode("utf-16-le"))
    with pytest.raises(ConfigError, match="not valid UTF-8 JSON"):
        MetricAttribution.from_json(path)
