"""One story: the table, the sentences, the forest plot, the power table and the defaults agree."""

import argparse
import inspect
import math
import re
import tempfile
from pathlib import Path

import matplotlib
import polars as pl
import pytest
from scipy.stats import norm

import attrkit
from attrkit import plots
from attrkit.reports import render
from attrkit.reports import sections as R
from attrkit.reports.run import parameters
from attrkit.simulate.sample import RECOMMENDER_A

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def sample():
    paths = attrkit.generate_sample(Path(tempfile.mkdtemp()), seed=3, days=3, users=4000)
    result = attrkit.attribute(paths.interactions, paths.metric_attribution, items=paths.items,
                               recommendations=paths.recommendations)
    # no baseline: pairs in sort order, so some lifts come out negative
    return result, {"baseline": attrkit.compare(result, baseline=RECOMMENDER_A),
                    "pairs": attrkit.compare(result)}


@pytest.mark.parametrize("which", ["baseline", "pairs"])
def test_table_sentence_and_forest_name_the_same_pair_with_the_same_sign(sample, which):
    result, tables = sample
    table = tables[which]
    rows = table.frame.filter(pl.col("lift").is_not_nan())
    assert rows.height
    # top to bottom: the first comparison on top
    labels = [t.get_text() for t in sorted(plots.plot_forest(table).get_yticklabels(),
                                           key=lambda t: -t.get_position()[1])]
    shown = R.render.comparison_table(table.frame, table.alpha, table.correction,
                                      label=plots.short_label)
    for i, r in enumerate(rows.iter_rows(named=True)):
        treatment, control = plots.short_label(r["treatment"]), plots.short_label(r["control"])
        text = R.sentence(r, table)
        assert text.index(treatment) < text.index(control), text
        if r["significant"]:
            assert ("more" if r["lift"] > 0 else "less") in text
            assert f"{abs(r['lift']):.1%}" in text
        else:
            assert f"{r['lift']:+.1%}" in text
        assert labels[i].endswith(f"{plots.short_label(r['treatment'], 24)} vs "
                                  f"{plots.short_label(r['control'], 24)}")
        assert f"{r['lift']:+.2%}" in shown
    matplotlib.pyplot.close("all")


def test_the_values_beside_a_lift_are_the_lifts_own_estimates(sample):
    for table in sample[1].values():
        for r in table.frame.filter(pl.col("lift").is_not_nan()).iter_rows(named=True):
            assert r["treatment_rate"] / r["control_rate"] - 1 == pytest.approx(r["lift"],
                                                                                 rel=1e-9)


def test_the_power_table_agrees_with_the_tests_interval_widths(sample):
    result, tables = sample
    table = tables["baseline"]
    power = R.power_table(table, result.windows, result.exposure, result.users, table.alpha)
    tested = table.frame.filter(pl.col("tested"))
    assert power.height == tested.height > 0
    z, z_power = norm.ppf(1 - table.alpha / 2), norm.ppf(0.8)
    for r, p in zip(tested.iter_rows(named=True), power.iter_rows(named=True), strict=True):
        half = (r["lift_ci_high"] - r["lift_ci_low"]) / 2
        # the detectable lift is (z + z_power) standard errors; the interval is ±z of them
        assert p["mde_fixed"] == pytest.approx(half * (z + z_power) / z, rel=0.2), r["kind"]


def test_one_dedupe_default_across_api_cli_and_report():
    from attrkit import cli

    api = inspect.signature(attrkit.attribute).parameters["dedupe"].default
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cli_default = sub.choices["attribute"].get_default("dedupe")
    report = parameters()["dedupe"].default
    assert api is cli_default is report is False  # the service counts duplicates


def test_the_summary_leads_with_the_primary_comparison(sample):
    result, tables = sample
    data = R.ReportData(result.windows, result.health, result.exposure, result.traffic,
                        result.users, "sample", {}, ["CLICKS", "WATCHES"], "WATCHES",
                        RECOMMENDER_A, None)
    table = tables["baseline"]
    html = R.summary("Q", data, table, R.data_window(result.windows), {"seed": 3,
                                                                     "sample_days": 3})
    answer = re.search(r"<b>Answer:</b> (.*?)</p>", html).group(1)
    primary = table.row("WATCHES", RECOMMENDER_A, table.frame["treatment"][0], kind="per_user")
    decided = R.decision_sentence(primary, table)
    assert render.esc(R.sentence(primary, table) + " " + decided) == answer
    # the decision numbers agree with the lift: a posterior shrunk towards zero keeps its sign
    assert (primary["chance_to_win"] > 0.5) == (primary["lift"] > 0)
    assert render.chance(primary["chance_to_win"]) in decided
    assert render.loss(primary["expected_loss"]) in decided
    assert html.index("Answer:") < html.index("Design:") < html.index("Data:")
    assert "synthetic" in html


class _Table:
    """The parts of a ComparisonTable that sentences read."""

    def __init__(self, rows, correction="holm"):
        self.frame = pl.DataFrame(rows)
        self.alpha, self.correction = 0.05, correction


def _row(**kw):
    row = {"metric": "CLICKS", "kind": "per_user", "control": "a", "treatment": "b", "lift": 0.38,
           "lift_ci_low": 0.069, "lift_ci_high": 0.789, "p_value": 0.0143, "p_adjusted": 0.057,
           "significant": False, "tested": True, "warnings": None, "why": "x"}
    return row | kw


def test_a_verdict_lost_to_the_correction_says_so_beside_its_interval():
    rows = [_row(), _row(metric="WATCHES", p_value=0.5, p_adjusted=0.5, lift=0.01,
                         lift_ci_low=-0.1, lift_ci_high=0.1)]
    table = _Table(rows)
    text = R.sentence(rows[0], table)
    assert "after correcting for 2 tested comparisons" in text
    assert "95% CI +6.9% to +78.9% before correction, unadjusted p = 0.014" in text
    assert "Holm-adjusted p = 0.057" in text
    plain = R.sentence(rows[1], table)
    assert plain.startswith("No significant difference in WATCHES per assigned user, b vs a")


def test_no_verdict_and_unbounded_intervals_read_as_words():
    table = _Table([_row()])
    few = R.sentence(_row(significant=None, warnings="only 2 windows: no verdict below 30"),
                     table)
    assert few.startswith("No verdict on CLICKS") and "only 2 windows" in few
    unbounded = R.sentence(_row(lift=-1.0, lift_ci_low=-math.inf, lift_ci_high=math.inf,
                                p_value=1.0, p_adjusted=1.0), table)
    assert "CI unbounded" in unbounded and "(," not in unbounded
