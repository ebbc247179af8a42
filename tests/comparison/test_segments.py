"""compare(..., segments=): the rows of each segment against an independent per-user path, the
correction across segments against statsmodels, Cochran's Q against its formula, the inputs a
segment comes from, their errors, and the error rates under A/A by simulation."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from conftest import run_attrkit
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

import attrkit
from attrkit.attribution.users import UserData
from attrkit.comparison import compare_users
from attrkit.comparison.segments import NONE, from_interactions, segmentation
from attrkit.errors import ConfigError, InputError
from attrkit.simulate.sample import RECOMMENDER_A as A
from attrkit.simulate.sample import RECOMMENDER_B as B


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    paths = attrkit.generate_sample(tmp_path_factory.mktemp("seg"), seed=11, days=3, users=3000,
                                    holdout=0)  # two arms: one pair per metric
    result = attrkit.attribute(paths.interactions, paths.metric_attribution, items=paths.items,
                               recommendations=paths.recommendations)
    return paths, result


def test_each_segments_row_is_the_per_user_comparison_of_its_users(sample):
    paths, result = sample
    table = attrkit.compare(result, baseline=A, segments="DEVICE", user_metadata=paths.users)
    seg = table.segments
    devices = pl.read_csv(paths.users)
    assert set(seg.frame["segment"]) == {"mobile", "tv", "web"}
    assert set(seg.frame["kind"]) == {"per_user"}
    assigned = devices.join(result.users.assignment.select("USER_ID"), on="USER_ID")
    assert seg.users == dict(assigned.group_by("DEVICE").len().sort("DEVICE").iter_rows())
    for device in ("mobile", "tv", "web"):
        ids = devices.filter(DEVICE=device)["USER_ID"].implode()
        per_user = result.users.per_user("CLICKS", [A, B]).filter(pl.col("USER_ID").is_in(ids))
        want = compare_users(per_user, arm="arm", metrics=["value"], baseline=A).row(0, named=True)
        got = seg.frame.filter(segment=device, metric="CLICKS").row(0, named=True)
        assert got["control_n"] == want["control_users"]
        assert got["treatment_n"] == want["treatment_users"]
        for g, w in (("lift", "lift"), ("lift_ci_low", "lift_ci_low"),
                     ("lift_ci_high", "lift_ci_high"), ("p_value", "p_value"),
                     ("chance_to_win", "chance_to_win")):
            assert got[g] == pytest.approx(want[w], rel=1e-9), g
    # the correction runs across every segment, metric and pair at once
    tested = seg.frame.filter("tested")
    holm = multipletests(tested["p_value"].to_numpy(), method="holm")[1]
    assert tested["p_adjusted"].to_numpy() == pytest.approx(holm, rel=1e-12)
    # the overall table is unchanged by asking for segments
    plain = attrkit.compare(result, baseline=A)
    assert plain.frame.equals(table.frame)


def test_heterogeneity_is_cochrans_q_on_the_segment_lifts(sample):
    paths, result = sample
    seg = attrkit.compare(result, baseline=A, segments="PLAN", user_metadata=paths.users,
                          correction="bh").segments
    for metric in ("CLICKS", "WATCHES"):
        rows = seg.frame.filter(metric=metric)
        lift, se = rows["lift"].to_numpy(), rows["lift_se"].to_numpy()
        w = 1 / se**2
        pooled = (w * lift).sum() / w.sum()
        q = float((w * (lift - pooled) ** 2).sum())
        h = seg.heterogeneity.filter(metric=metric).row(0, named=True)
        assert h["segments"] == 2 and h["df"] == 1
        assert h["q"] == pytest.approx(q, rel=1e-9)
        assert h["p_value"] == pytest.approx(sps.chi2.sf(q, 1), rel=1e-9)
        text = seg.sentence(metric, A, B)
        # the sample plants the same lift on every plan: no segment is called a winner
        assert h["p_value"] > 0.05 and "does not differ detectably" in text
        assert "Cochran's Q" in text
    bh = multipletests(seg.frame["p_value"].to_numpy(), method="fdr_bh")[1]
    assert seg.frame["p_adjusted"].to_numpy() == pytest.approx(bh, rel=1e-12)


def test_a_difference_between_segments_is_found_and_named():
    """Two segments whose planted lifts differ (+30 % and −10 %): Q says so, and the sentence
    names the lowest and highest."""
    rng = np.random.default_rng(5)
    n = 4000
    ids = [f"u{i:05d}" for i in range(n)]
    arm = np.where(np.arange(n) % 2 == 0, "A", "B")
    group = np.where(np.arange(n) < n // 2, "g1", "g2")
    lift = np.where(group == "g1", 0.3, -0.1)
    value = rng.poisson(5.0 * np.where(arm == "B", 1 + lift, 1.0)).astype(float)
    users = _user_data(ids, arm, value)
    meta = pl.DataFrame({"USER_ID": ids, "G": group})
    table = attrkit.compare(_windows(arm, value), users=users, baseline="A", segments="G",
                            user_metadata=meta)
    seg = table.segments
    h = seg.heterogeneity.row(0, named=True)
    assert h["p_value"] < 1e-6
    text = seg.sentence("M", "A", "B")
    assert "differs between segments" in text and "(g1)" in text and "(g2)" in text


def test_segments_from_the_interactions_take_the_first_events_value(tmp_path):
    events = pl.DataFrame({
        "USER_ID": ["u1", "u1", "u2", "u2", "u3"],
        "ITEM_ID": ["i"] * 5,
        "TIMESTAMP": [200, 100, 50, 60, 70],
        "EVENT_TYPE": ["click"] * 5,
        "DEVICE": ["web", "tv", "tv", "tv", None],
    })
    path = tmp_path / "events.csv"
    events.write_csv(path)
    seg = from_interactions(path, "DEVICE")
    got = dict(seg.of_user.sort("USER_ID").select("USER_ID", "segment").iter_rows())
    assert got == {"u1": "tv", "u2": "tv", "u3": NONE}  # u1's first event is at 100
    assert seg.changed == 1 and "first event" in seg.source


def test_a_value_that_changes_and_users_without_one_are_warned(sample, tmp_path):
    paths, result = sample
    users = pl.read_csv(paths.users)
    # a users dataset without a tenth of the users: they form the segment "(none)"
    users.filter(pl.col("USER_ID").str.ends_with("7").not_()).write_csv(tmp_path / "u.csv")
    seg = attrkit.compare(result, baseline=A, segments="DEVICE",
                          user_metadata=tmp_path / "u.csv").segments
    assert NONE in seg.users and any("no value of DEVICE" in w for w in seg.warnings)
    # a segment from an interactions column whose value changes
    ev = pl.read_csv(paths.interactions).with_columns(
        pl.when(pl.col("TIMESTAMP") % 5 == 0).then(pl.lit("tv")).otherwise(pl.lit("web"))
        .alias("DEVICE"))
    ev.write_csv(tmp_path / "ev.csv")
    r = attrkit.attribute(tmp_path / "ev.csv", paths.metric_attribution, items=paths.items,
                          recommendations=paths.recommendations)
    table = attrkit.compare(r, baseline=A, segments="DEVICE")
    assert any("changed during the data" in w for w in table.segments.warnings)
    assert any("changed during the data" in w for w in table.warnings)


def test_small_segments_get_no_verdict():
    n = 700
    ids = [f"u{i:04d}" for i in range(n)]
    arm = np.where(np.arange(n) % 2 == 0, "A", "B")
    value = np.random.default_rng(1).poisson(3.0, n).astype(float)
    meta = pl.DataFrame({"USER_ID": ids, "G": ["big"] * 600 + ["small"] * 100})
    seg = attrkit.compare(_windows(arm, value), users=_user_data(ids, arm, value),
                          baseline="A", segments="G", user_metadata=meta).segments
    small = seg.frame.filter(segment="small").row(0, named=True)
    assert small["significant"] is None and "no verdict below" in small["warnings"]
    assert seg.heterogeneity["segments"][0] == 1  # too few to test
    assert "Too few segments" in seg.sentence("M", "A", "B")


def test_input_errors_are_one_line(sample, tmp_path):
    paths, result = sample
    with pytest.raises(ConfigError, match="not a column of the users dataset"):
        attrkit.compare(result, segments="AGE", user_metadata=paths.users)
    with pytest.raises(ConfigError, match="not a column of the interactions"):
        attrkit.compare(result, segments="AGE")
    bad = tmp_path / "users.csv"
    bad.write_text("USER_ID,DEVICE\nuser-1,tv\nuser-2,web\nuser-1,web\n")
    with pytest.raises(InputError) as err:
        attrkit.compare(result, segments="DEVICE", user_metadata=bad)
    text = str(err.value)
    assert "users.csv" in text and "line 4" in text and "USER_ID" in text and "duplicate" in text
    assert "\n" not in text
    with pytest.raises(ConfigError, match="needs the 'users' design"):
        attrkit.compare(result, segments="DEVICE", user_metadata=paths.users,
                        design="requests")
    many = tmp_path / "many.csv"
    pl.read_csv(paths.users).with_columns(pl.col("USER_ID").alias("ID")).write_csv(many)
    with pytest.raises(ConfigError, match="distinct values"):
        attrkit.compare(result, segments="ID", user_metadata=many)
    with pytest.raises(ConfigError, match="users dataset with that column"):
        segmentation("DEVICE")


def test_the_command_line_prints_segments(sample, tmp_path):
    paths, _ = sample
    base = ["compare", "--interactions", str(paths.interactions), "--items", str(paths.items),
            "--recommendations", str(paths.recommendations), "--metric-attribution",
            str(paths.metric_attribution), "--baseline", "top-picks", "--segments", "DEVICE",
            "--user-metadata", str(paths.users)]
    done = run_attrkit(*base)
    assert done.returncode == 0, done.stderr
    assert "by segment (column DEVICE of the users dataset" in done.stdout
    assert "Cochran's Q" in done.stdout
    done = run_attrkit(*base, "--format", "json")
    rows = json.loads(done.stdout)
    assert {r["segment"] for r in rows} == {"mobile", "tv", "web"}
    assert all("chance_to_win" in r for r in rows)
    done = run_attrkit(*base[:-4], "--segments", "NOPE")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "segments='NOPE'" in done.stderr and "not a column of the interactions" in done.stderr
    done = run_attrkit(*base[:-4], "--user-metadata", str(paths.users))  # without --segments
    assert done.returncode == 2 and "--user-metadata: used by --segments" in done.stderr


@pytest.mark.slow  # a study: make studies
def test_segment_rows_and_heterogeneity_hold_their_error_rate_under_aa():
    """A/A with heavy-tailed users and three segments that mean nothing: each segment row
    rejects at about α, and so does the heterogeneity test (binomial tolerances, 3 SE)."""
    from attrkit.simulate.calibration import segments_aa, tolerance

    r = segments_aa(150, seed=20261204)
    assert abs(r["fpr_segment_rows"] - 0.05) <= tolerance(0.05, r["segment_rows"]), r
    assert abs(r["fpr_heterogeneity"] - 0.05) <= tolerance(0.05, r["runs"]), r


def _user_data(ids, arm, value) -> UserData:
    return UserData.from_arrays(ids, arm, value)

def _windows(arm, value) -> pl.DataFrame:
    """One window's totals per arm (what compare describes beside the per-user rows)."""
    frame = pl.DataFrame({"source": arm, "value": value})
    return frame.group_by("source").agg(pl.col("value").sum()).with_columns(
        pl.lit(0).alias("timestamp"), pl.lit("M").alias("metric_name")).sort("source")
