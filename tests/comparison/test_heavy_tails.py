"""Small arms and heavy tails (#25): a per-user row whose difference of means is skewed (under
the null: the pooled skewness and the split) is tested with the skewness-corrected t, and one
too skewed for any test gets no p-value and says why. Checked by simulation: at 95/5 and 90/10
with heavy-tailed users the rows that keep a p-value hold α where Welch's t alone does not; at
50/50 nothing is corrected or withheld and the rows are Welch's."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

import attrkit
from attrkit.attribution.moments import Moments
from attrkit.attribution.users import UserData
from attrkit.stats import difference_skewness


def _users(values: np.ndarray, arm: np.ndarray) -> UserData:
    return UserData.from_arrays([f"u{i:05d}" for i in range(len(values))], arm, values)

def _compare(values, arm):
    w = pl.DataFrame({"timestamp": [0, 0], "metric_name": "M", "source": ["A", "B"],
                      "value": [float(values[arm == "A"].sum()), float(values[arm == "B"].sum())]})
    return attrkit.compare(w, users=_users(values, arm), baseline="A", correction="none")


def test_the_skewness_of_the_difference_from_exact_moments():
    rng = np.random.default_rng(3)
    c, t = rng.lognormal(0, 1.5, 3000).round(3), rng.lognormal(0, 1.5, 150).round(3)
    mc, mt = (Moments.from_values({"value": list(x)}) for x in (c, t))
    g = difference_skewness(mc.central({"value": 1}), mt.central({"value": 1}))
    # the same from numpy's moments, and its small-arm approximation g / √n (Cochran's rule)
    both = np.concatenate([c - c.mean(), t - t.mean()])
    mu3, var = (both**3).mean(), (both**2).sum() / (len(both) - 2)
    want = mu3 * (1 / 150**2 - 1 / 3000**2) / (var * (1 / 150 + 1 / 3000)) ** 1.5
    assert g == pytest.approx(want, rel=1e-9)
    pooled = sps.skew(both)
    assert g == pytest.approx(pooled / math.sqrt(150), rel=0.1)


@pytest.mark.slow  # a study: make studies
def test_small_heavy_tailed_arms_are_corrected_or_withheld_and_hold_alpha():
    """A/A, 6,000 users, lognormal activity. 95/5 with σ 2 (Welch alone rejects about 0.12 of
    these) and 90/10 with σ 1.5: every row is corrected or withheld, and those kept hold α;
    at 50/50 the same data are Welch's test, untouched."""
    from attrkit.stats import mean_test

    rng = np.random.default_rng(20261204)
    n, alpha, runs = 6000, 0.05, 150
    even = np.where(np.arange(n) % 2 == 0, "A", "B")
    kept = rejected = 0
    for small, sigma, least, wrong in ((300, 2.0, 0.0, True), (600, 1.5, 0.4, False)):
        arm = np.where(np.arange(n) < small, "B", "A")
        held = welch = 0
        for _ in range(runs):
            values = rng.poisson(rng.lognormal(-sigma**2 / 2, sigma, n) * 2).astype(float)
            table = _compare(values, arm)
            row = table.frame.row(0, named=True)
            assert any(w.startswith("a small arm of heavy-tailed users: of the per-user rows")
                       for w in table.warnings)
            welch += mean_test(values[arm == "A"], values[arm == "B"]).p_value < alpha
            if math.isnan(row["p_value"]):
                held += 1
                assert row["why"].startswith("no verdict: the difference of the arms' means")
                assert "users in it" in row["warnings"] and row["significant"] is None
            else:
                kept += 1
                rejected += row["p_value"] < alpha
                assert "corrected for skewness" in row["method"]
                assert "corrected for it (Hall)" in row["warnings"]
        assert runs - held >= least * runs and held > 0, (small, held)
        if wrong:  # Welch's t alone on the same data: the problem
            assert welch / runs > alpha + 2 * math.sqrt(alpha * (1 - alpha) / runs), welch
    se = math.sqrt(alpha * (1 - alpha) / kept)
    assert abs(rejected / kept - alpha) <= 3 * se, (rejected / kept, kept)
    for _ in range(20):  # 50/50: Welch's numbers, untouched
        values = rng.poisson(rng.lognormal(-2.0, 2.0, n) * 2).astype(float)
        table = _compare(values, even)
        row = table.frame.row(0, named=True)
        assert not any("heavy-tailed" in w for w in table.warnings)
        ref = sps.ttest_ind(values[even == "B"], values[even == "A"], equal_var=False)
        assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
        assert "skewness" not in row["method"]


def test_compare_users_on_a_frame_corrects_and_withholds_as_compare():
    rng = np.random.default_rng(8)
    n = 6000
    arm = np.where(np.arange(n) < 500, "B", "A")
    seen = set()
    for sigma in (1.2, 3.0, 4.0):
        values = rng.poisson(rng.lognormal(0.0, sigma, n)).astype(float)
        served = rng.poisson(5, n) + 1
        row = _compare(values, arm).frame.row(0, named=True)
        frame = pl.DataFrame({"source": arm, "clicks": values, "served": served})
        got = attrkit.compare_users(frame, metrics=["clicks"], baseline="A").row(0, named=True)
        seen.add(math.isnan(row["p_value"]))
        if math.isnan(row["p_value"]):
            assert math.isnan(got["p_value"]) and got["significant"] is None
            assert got["warnings"] == row["warnings"]
        else:
            assert "corrected for skewness" in got["method"]
            assert got["p_value"] == pytest.approx(row["p_value"], rel=1e-9)
            assert got["lift_ci_low"] == pytest.approx(row["lift_ci_low"], rel=1e-9)
    assert seen == {True, False}  # corrected, and too skewed


def test_the_grid_of_make_calibrate_runs_a_cell():
    from attrkit.simulate.tails import TAILS, holds, markdown, run_cell

    heavy = run_cell(0.05, TAILS[2], "sum", 10, seed=1)
    even = run_cell(0.5, TAILS[0], "count", 10, seed=2)
    assert [c.kind for c in heavy] == ["per_user", "per_recommendation"]
    assert all(c.withheld >= 0.5 for c in heavy)
    assert all(c.withheld == 0 and c.aa_kept == 10 and holds(c) for c in even)
    # at 50/50 nothing is corrected: the same power as Welch's
    assert all(c.power == c.welch_power for c in even)
    assert "| 95%/5% | lognormal σ 2 | sum | per recommendation |" in markdown(heavy + even)


def test_one_huge_value_gives_no_chance_to_win_where_the_interval_is_the_whole_line():
    """One control user with a value 10^6 times the others': the test finds nothing (p ≈ 0.3)
    and Fieller's interval of the lift is the whole line; the decision numbers, from the lift's
    delta-method standard error, had said a chance to win of 0 (expected loss ≈ 1). Both
    compare and compare_users give none, and say why."""
    rng = np.random.default_rng(4)
    n = 400
    arm = np.where(np.arange(n) % 2 == 0, "A", "B")
    values = rng.exponential(100.0, n)
    values[0] = 1e8  # (a control user)
    row = _compare(values, arm).frame.row(0, named=True)
    ref = sps.ttest_ind(values[arm == "B"], values[arm == "A"], equal_var=False)
    assert row["p_value"] > 0.05 and ref.pvalue > 0.05
    assert row["lift_ci_low"] == -math.inf and row["lift_ci_high"] == math.inf
    assert row["chance_to_win"] is None and row["expected_loss"] is None
    assert "too uncertain to divide by" in row["warnings"]
    frame = pl.DataFrame({"source": arm, "minutes": values})
    got = attrkit.compare_users(frame, metrics=["minutes"], baseline="A").row(0, named=True)
    assert math.isnan(got["chance_to_win"]) and math.isnan(got["expected_loss"])
    assert got["lift_ci_low"] == -math.inf and got["lift_ci_high"] == math.inf
    # without the huge value, the same data has bounded intervals and decision numbers
    values[0] = 100.0
    row = _compare(values, arm).frame.row(0, named=True)
    assert math.isfinite(row["lift_ci_high"]) and 0 < row["chance_to_win"] < 1


def test_an_arm_of_one_user_is_not_computed_and_says_why():
    """A variance needs two users: compare and compare_users say so (they had said
    'float division by zero', or stopped with it)."""
    values = np.r_[np.arange(50.0), 7.0]
    arm = np.r_[np.full(50, "A"), ["B"]]
    row = _compare(values, arm).frame.row(0, named=True)
    assert row["method"] == "not computed" and math.isnan(row["p_value"])
    assert row["why"] == "only 1 user in an arm: a test needs at least 2 in each"
    frame = pl.DataFrame({"source": arm, "clicks": values, "served": np.ones(51)})
    got = attrkit.compare_users(frame, metrics=["clicks"], ratios={"ctr": ("clicks", "served")},
                                baseline="A")
    assert got["warnings"].to_list() == ["only 1 user in an arm: a test needs at least 2 in each"] * 2
    assert got["control_mean"].to_list() == [24.5, 24.5] and got["significant"].null_count() == 2
