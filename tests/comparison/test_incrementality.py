"""compare(..., holdout=): each arm's total per assigned user against the holdout, checked
against scipy's Welch test on the per-user frame, the sample's planted truth, and the
interval's coverage by simulation with attribution that over-credits."""

from __future__ import annotations

import pytest
from conftest import run_attrkit
from scipy import stats as sps

import attrkit
from attrkit.errors import ConfigError
from attrkit.simulate.sample import HOLDOUT
from attrkit.simulate.sample import RECOMMENDER_A as A
from attrkit.simulate.sample import RECOMMENDER_B as B


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    paths = attrkit.generate_sample(tmp_path_factory.mktemp("hold"), seed=4, days=7,
                                    users=12_000)
    result = attrkit.attribute(paths.interactions, paths.metric_attribution, items=paths.items,
                               recommendations=paths.recommendations)
    return paths, result


def test_incremental_rows_are_welch_on_user_totals(sample):
    _, result = sample
    table = attrkit.compare(result, baseline=A, holdout=HOLDOUT)
    inc = table.incrementality
    assert set(inc.frame["arm"]) == {A, B}
    for metric in ("CLICKS", "WATCH_MINUTES"):
        for arm in (A, B):
            got = inc.frame.filter(metric=metric, arm=arm).row(0, named=True)
            pu = result.users.per_user(metric, [HOLDOUT, arm])
            x, h = (pu.filter(arm=a) for a in (arm, HOLDOUT))
            ref = sps.ttest_ind(x["total"].to_numpy(), h["total"].to_numpy(), equal_var=False)
            ci = ref.confidence_interval(0.95)
            assert got["arm_users"] == x.height and got["holdout_users"] == h.height
            assert got["incremental_per_user"] == pytest.approx(
                x["total"].mean() - h["total"].mean(), rel=1e-9)
            assert got["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)
            assert (got["incremental_ci_low"], got["incremental_ci_high"]) == pytest.approx(
                (ci.low, ci.high), rel=1e-6)
            assert got["attributed_per_user"] == pytest.approx(x["value"].mean(), rel=1e-9)
            assert got["attributed_over_incremental"] == pytest.approx(
                x["value"].mean() / (x["total"].mean() - h["total"].mean()), rel=1e-9)
    # the holdout is compared for what it adds, not in the table, nor described as unrandomised
    assert HOLDOUT not in set(table.frame["control"]) | set(table.frame["treatment"])
    assert HOLDOUT not in set(table.described["source"])


def test_the_sample_shows_attribution_over_crediting(sample):
    paths, result = sample
    truth = attrkit.simulate.sample.generate_frames(seed=4, days=7, users=12_000)["truth"]
    planted = truth["planted"]["holdout"]
    inc = attrkit.compare(result, baseline=A, holdout=HOLDOUT).incrementality
    for key, arm in (("A", A), ("B", B)):
        r = inc.frame.filter(metric="CLICKS", arm=arm).row(0, named=True)
        added = planted["incremental_clicks_per_user_day"][key] * 7
        credited = planted["attributed_clicks_per_user_day"][key] * 7
        assert r["incremental_ci_low"] <= added <= r["incremental_ci_high"]
        assert r["attributed_per_user"] == pytest.approx(credited, rel=0.05)
        assert r["attributed_over_incremental"] > 3  # attribution credits far more than is added
    text = inc.sentence("CLICKS", B)
    assert text.startswith("Against the holdout (most-popular), because-you-watched adds +")
    assert "× what it adds" in text


@pytest.mark.slow  # a study: make studies
def test_the_interval_covers_the_incremental_effect_at_the_nominal_rate():
    """Attribution that over-credits (60 % of list clicks would have happened anyway), users who
    differ: the incremental effect's 95 % interval covers the planted one at 0.95 ± 3 SE, and
    the attributed mean is what was planted."""
    from attrkit.simulate.calibration import holdout_coverage, tolerance

    r = holdout_coverage(200, seed=9_000, users=1500, days=5)
    assert abs(r["coverage"] - 0.95) <= tolerance(0.95, r["runs"]), r
    assert abs(r["credited_mean"] - r["attributed_per_user"]) < 3 * r["credited_se"], r
    assert r["attributed_over_incremental"] > 10  # what the simulation plants: over-credit


def test_holdout_errors_are_one_line(sample):
    paths, result = sample
    with pytest.raises(ConfigError, match="no user was assigned to it"):
        attrkit.compare(result, holdout="partner-carousel")
    with pytest.raises(ConfigError, match="also the baseline"):
        attrkit.compare(result, baseline=HOLDOUT, holdout=HOLDOUT)
    with pytest.raises(ConfigError, match="needs the 'users' design"):
        attrkit.compare(result, holdout=HOLDOUT, design="requests")
    base = ["compare", "--interactions", str(paths.interactions), "--items", str(paths.items),
            "--recommendations", str(paths.recommendations), "--metric-attribution",
            str(paths.metric_attribution), "--baseline", "top-picks"]
    done = run_attrkit(*base, "--holdout", "most-popular")
    assert done.returncode == 0, done.stderr
    assert "against the holdout (" in done.stdout and "× what it adds" in done.stdout
    done = run_attrkit(*base, "--holdout", "partner-carousel")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "no user was assigned to it" in done.stderr
