"""`attrkit compare`: the same numbers as attrkit.compare, alarms as exit codes, relative dates."""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attrkit
from attrkit.cli import main
from attrkit.comparison import alarms
from attrkit.frames import RESULT_SCHEMA, TODAY_VARIABLE, when
from attrkit.reports.sections import between
from attrkit.simulate.sample import RECOMMENDER_A, RECOMMENDER_B


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """A week of the sample with enough users for clear verdicts (two arms: the holdout's
    command line is tests/comparison/test_incrementality.py's)."""
    return attrkit.generate_sample(tmp_path_factory.mktemp("week"), seed=3, days=7, users=12_000,
                                   holdout=0)


@pytest.fixture(scope="module")
def attributed(week):
    return attrkit.attribute(week.interactions, week.metric_attribution, items=week.items,
                             recommendations=week.recommendations)


def _raw(s):
    return ["--interactions", str(s.interactions), "--items", str(s.items),
            "--recommendations", str(s.recommendations),
            "--metric-attribution", str(s.metric_attribution)]


def _cli(capsys, *argv):
    code = main(["compare", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _csv(text: str) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(text), schema=RESULT_SCHEMA)


def test_csv_on_raw_inputs_is_compare_frame_exactly(capsys, week, attributed):
    code, out, err = _cli(capsys, *_raw(week), "--baseline", "top-picks", "--format", "csv")
    assert code == 0, err
    api = attrkit.compare(attributed, baseline=RECOMMENDER_A).frame
    assert out.splitlines()[0].split(",") == list(RESULT_SCHEMA)
    assert_frame_equal(_csv(out), api, check_exact=True)
    assert api.filter(pl.col("tested")).height == 9  # per user, per recommendation, total x 3


def test_json_has_exactly_the_frames_columns_and_values(capsys, week, attributed):
    code, out, _ = _cli(capsys, *_raw(week), "--baseline", "top-picks", "--format", "json",
                        "--metrics", "clicks", "--alpha", "0.1", "--correction", "bonferroni")
    assert code == 0
    api = attrkit.compare(attributed, baseline=RECOMMENDER_A, metrics=["CLICKS"], alpha=0.1,
                          correction="bonferroni").frame
    rows = json.loads(out)
    assert [list(r) for r in rows] == [list(RESULT_SCHEMA)] * api.height
    for got, want in zip(rows, api.to_dicts(), strict=True):
        for k, v in want.items():
            if isinstance(v, float) and not math.isfinite(v):
                assert got[k] is None  # JSON has no NaN or infinity
            else:
                assert got[k] == v, k


def test_a_service_report_csv_gives_the_apis_numbers(capsys, tmp_path, attributed):
    # The service's file: windows 24 s past the quarter hour, rows in its own order.
    report = attributed.write_report(tmp_path / "ours.csv")
    service = pl.read_csv(report).with_columns(pl.col("TIMESTAMP") + 24).sort(
        "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP", descending=True)
    path = tmp_path / "AggregatedAttributionMetrics - INCREMENTAL - 1764460800.csv"
    service.write_csv(path)
    for design in ([], ["--design", "requests"]):
        code, out, err = _cli(capsys, "--report", str(path), "--format", "csv",
                              "--baseline", "top-picks", *design)
        assert code == 0, err
        api = attrkit.compare(attrkit.read_report(path), baseline=RECOMMENDER_A,
                              design=design[1] if design else None).frame
        assert_frame_equal(_csv(out), api, check_exact=True)
        assert api.height >= 3 and api["windows"].min() > 600


def test_the_terminal_table_names_pairs_verdicts_design_and_warnings(capsys, week):
    code, out, _ = _cli(capsys, *_raw(week), "--baseline", "top-picks")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("| metric") and "verdict" in lines[0]
    assert "| CLICKS" in out and "because-you-watched vs top-picks" in out
    assert "▲ higher" in out
    assert "design: users randomised" in out
    assert "warning: " in out  # the sample's organic traffic is mostly unattributed


def test_alarms_exit_with_the_code_of_the_first_named_that_fired(capsys, week):
    base = [*_raw(week), "--baseline", "top-picks", "--format", "csv"]
    code, _, err = _cli(capsys, *base, "--fail-on", "srm,bad-rows,regression")
    assert code == 0
    assert err.splitlines() == [
        line for line in err.splitlines() if line.startswith("attrkit: alarm ")]
    assert "srm: clear: p = " in err and "bad-rows: clear: 0 rows set aside" in err
    # the sample has duplicates and unknown recommendation IDs
    code, _, err = _cli(capsys, *base, "--fail-on", "unresolved,duplicates")
    assert code == alarms.ALARMS["unresolved"][0] == 7
    assert "unresolved: fired: " in err and "duplicates: fired: " in err
    code, _, _ = _cli(capsys, *base, "--fail-on", "duplicates,unresolved")
    assert code == 6
    # the unattributed threshold is a parameter; its default is the comparison warning's
    code, _, err = _cli(capsys, *base, "--fail-on", "unattributed", "--max-unattributed", "0.9")
    assert code == 0 and "(threshold 90.0%)" in err
    code, _, err = _cli(capsys, *base, "--fail-on", "unattributed")
    assert code == 4 and "(threshold 50.0%)" in err


def test_a_regression_fires_when_the_baseline_is_the_better_arm(capsys, week):
    code, _, err = _cli(capsys, *_raw(week), "--baseline", "because-you-watched",
                        "--format", "csv", "--fail-on", "regression")
    assert code == 8
    assert "regression: fired: CLICKS per user: top-picks -" in err


def test_a_sample_ratio_mismatch_fires(capsys, tmp_path, week):
    # A third of the treatment's users lost from the log: the arms are no longer 50/50.
    log = pl.read_csv(week.recommendations)
    gone = (log.filter(pl.col("SOURCE") == RECOMMENDER_B)["USER_ID"].unique().sort()
            .gather_every(3))
    log.filter(~pl.col("USER_ID").is_in(gone.implode())).write_csv(tmp_path / "log.csv")
    code, _, err = _cli(capsys, "--interactions", str(week.interactions), "--items",
                        str(week.items), "--recommendations", str(tmp_path / "log.csv"),
                        "--metric-attribution", str(week.metric_attribution),
                        "--format", "csv", "--fail-on", "srm")
    assert code == 3
    assert "srm: fired: p = " in err


def test_alarms_that_a_report_cannot_compute_do_not_fire(capsys, tmp_path, attributed):
    path = attributed.write_report(tmp_path / "r.csv")
    code, _, err = _cli(capsys, "--report", str(path), "--format", "csv",
                        "--fail-on", "srm,duplicates,unresolved,bad-rows,regression")
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 5 and all(": not computable: " in line for line in lines)
    assert lines[0].startswith("attrkit: alarm srm: not computable: no users")


def test_relative_dates_at_a_pinned_clock(capsys, monkeypatch, week, attributed):
    monkeypatch.setenv(TODAY_VARIABLE, "2026-01-09")
    assert when("today") == int(datetime(2026, 1, 9, tzinfo=UTC).timestamp())
    assert when("-3d") == when("2026-01-06") == when("yesterday") - 2 * 86_400
    assert when("-1w") == when("2026-01-02") and when("+1d") == when("2026-01-10")
    code, out, err = _cli(capsys, *_raw(week), "--baseline", "top-picks", "--format", "csv",
                          "--start", "-3d", "--end", "today")
    assert code == 0, err
    w, e, u = between(attributed.windows, attributed.exposure, attributed.users,
                      "2026-01-06T00:00Z", "2026-01-09T00:00Z")
    api = attrkit.compare(w, exposure=e, users=u, traffic=attributed.traffic,
                          baseline=RECOMMENDER_A).frame
    assert_frame_equal(_csv(out), api, check_exact=True)
    # the API's own date range, in the same words
    in_range = attributed.between("-3d", "today")
    assert in_range.health is attributed.health
    assert_frame_equal(attrkit.compare(in_range, baseline=RECOMMENDER_A).frame, api,
                       check_exact=True)
    assert w["timestamp"].min() == when("2026-01-06") and w["timestamp"].max() < when("today")
    # the report's parameters take the same dates
    from attrkit.reports.checks import check_attribution_report

    check_attribution_report({"start": "-7d", "end": "today"})


def test_today_is_the_utc_date_when_not_pinned(monkeypatch):
    monkeypatch.delenv(TODAY_VARIABLE, raising=False)
    before = datetime.now(UTC).date()
    got = datetime.fromtimestamp(when("today"), tz=UTC)
    assert got.date() in (before, datetime.now(UTC).date())
    assert (got.hour, got.minute, got.second) == (0, 0, 0)


@pytest.mark.parametrize("text", ["last week", "-7", "7d", "-7h", "today-7d", "", "-999999d"])
def test_dates_that_are_not_dates_are_refused(text):
    with pytest.raises(ValueError, match="not a date"):
        when(text)


def test_a_bad_pinned_today_is_named(monkeypatch):
    monkeypatch.setenv(TODAY_VARIABLE, "monday")
    with pytest.raises(ValueError, match="ATTRKIT_TODAY='monday': not a date"):
        when("-7d")


@pytest.mark.parametrize(("args", "message"), [
    ([], "give --report (a report CSV, folder or S3 prefix) or --interactions with "
         "--metric-attribution\n"),
    (["--report", "x.csv", "--interactions", "e.csv"], "not both"),
    (["--interactions", "e.csv"], "--metric-attribution: required with --interactions"),
    (["--report", "{r}", "--dedupe"], "--dedupe: applies to --interactions"),
    (["--report", "{r}", "--fail-on", "srm,nope"], "unknown alarm 'nope'"),
    (["--report", "{r}", "--start", "last monday"], "start='last monday': not a date"),
    (["--report", "{r}", "--start", "2030-01-01"], "start=2030-01-01: no data in this date range; "
     "the data's windows run from 2026-01-05 00:00 UTC to"),
    (["--report", "{r}", "--start", "-1d", "--end", "-3d"], "start must be before end"),
    (["--report", "{r}", "--baseline", "nobody"], "--baseline='nobody': no such source"),
    (["--report", "{r}", "--metrics", "likes"], "'LIKES' is not in the windows"),
    (["--report", "{r}", "--alpha", "0"], "argument --alpha: '0' must be between 0 and 1"),
    (["--report", "{r}", "--alpha", "nan"], "argument --alpha: 'nan' must be between 0 and 1"),
    (["--report", "{r}", "--correction", "bogus"], "argument --correction: invalid choice"),
    (["--report", "{r}", "--sources", "top-picks,top-picks"], "need at least two sources"),
    (["--report", "{r}", "--baseline", "top-picks,partner-carousel"], "name one control source"),
])
def test_usage_errors_are_one_line_and_exit_2(capsys, tmp_path, attributed, args, message):
    report = attributed.write_report(tmp_path / "r.csv")
    argv = [a.replace("{r}", str(report)) for a in args]
    try:
        code, out, err = _cli(capsys, *argv)
    except SystemExit as exc:  # the parser's own usage errors
        code, (out, err) = exc.code, capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and message in err, err
    assert err.startswith("attrkit: error: ")
    assert out == ""


def test_repeated_metrics_and_sources_are_compared_once(capsys, tmp_path, attributed):
    report = attributed.write_report(tmp_path / "r.csv")
    args = ["--report", str(report), "--format", "csv", "--design", "requests"]
    _, once, _ = _cli(capsys, *args, "--metrics", "clicks", "--sources",
                      "top-picks,because-you-watched")
    _, twice, _ = _cli(capsys, *args, "--metrics", "clicks,CLICKS , clicks", "--sources",
                       "top-picks,because-you-watched,top-picks")
    assert once == twice and _csv(once).height == 1


def test_regression_needs_a_baseline_and_fail_on_may_repeat(capsys, week):
    code, _, err = _cli(capsys, *_raw(week), "--format", "csv", "--fail-on", "regression",
                        "--fail-on", "duplicates")
    assert code == 6  # duplicates fired; regression is not computable without a control
    assert "regression: not computable: no baseline" in err and "duplicates: fired" in err


def test_an_input_with_nothing_but_unattributed_events_fires_the_alarm(capsys, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,"
                    "TIMESTAMP\nCLICKS,CLICK,9.0,samplecount,SOURCE_NAME_UNDEFINED,900\n"
                    "CLICKS,CLICK,1.0,samplecount,top-picks,900\n")
    code, out, err = _cli(capsys, "--report", str(path), "--fail-on", "srm,unattributed")
    assert code == 4 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("attrkit: error: need at least two sources")
    assert lines[1].startswith("attrkit: alarm srm: not computable: no comparison: need")
    assert lines[2] == ("attrkit: alarm unattributed: fired: 90.0% of CLICKS has no source "
                        "(threshold 50.0%)")
    code, _, err = _cli(capsys, "--report", str(path), "--fail-on", "srm")
    assert code == 2  # nothing fired: the error alone
    assert err.startswith("attrkit: error: need at least two sources") and err.count("\n") == 1


def test_sources_that_look_alike_are_shown_by_their_full_names(capsys, tmp_path):
    a = "arn:aws:personalize:us-east-1:1:campaign/top-picks"
    b = "arn:aws:personalize:us-east-1:1:recommender/top-picks"
    rows = "".join(f"CLICKS,CLICK,{v}.0,samplecount,{s},{t}\n" for t in range(0, 900 * 40, 900)
                   for s, v in ((a, 10), (b, 12)))
    path = tmp_path / "r.csv"
    path.write_text("METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,"
                    "TIMESTAMP\n" + rows)
    code, out, _ = _cli(capsys, "--report", str(path), "--baseline", a)
    assert code == 0 and f"{b} vs {a}" in out
