"""Calibration by simulation: do the default methods keep their promises on realistic data?

Each replicate simulates *events* the way a user-randomised experiment produces them
(:func:`simulate_experiment`): users assigned to recommender A or B once, users who differ in
activity and propensity (gamma-distributed, so a few users make much of the traffic), sessions
of several lists, a daily cycle, shared traffic spikes, sparse windows, heavy-tailed values,
an optional novelty effect, a labelled carousel and organic events nobody randomised. The
replicate then goes through :func:`attrkit.attribute` and :func:`attrkit.compare` with their
defaults, as a user would.

A replicate of a few thousand users takes about a tenth of a second to attribute, so every
replicate goes through the whole path; no shortcut needs checking against it.

Judged with binomial tolerances: a rate is fine within ``nominal ± 3`` standard errors of a
binomial proportion over the replicates (:func:`tolerance`). ``make calibrate`` runs every
scenario with 1,000 replicates; the test suite a few hundred of two.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from attrkit import defaults as D
from attrkit.attribution.engine import attribute
from attrkit.comparison import compare, monitor
from attrkit.stats._core import mean_se, proportion_se

A, B, CAROUSEL = "recommender-a", "recommender-b", "partner-carousel"
START = 1_767_571_200  # 2026-01-05 00:00 UTC, a Monday
METRIC_ATTRIBUTION = {"name": "calibration", "metrics": [
    {"eventType": "click", "metricName": "CLICKS", "expression": "SAMPLECOUNT()"},
    {"eventType": "purchase", "metricName": "REVENUE",
     "expression": "SUM(Interactions.EVENT_VALUE)"},
]}


@dataclass(frozen=True)
class Scenario:
    """One simulated world. ``shape`` is the gamma shape of users' activity and propensity
    (``inf``: identical users; smaller: more different)."""

    name: str
    users: int = 3000
    days: int = 14
    share_b: float = 0.5
    shape: float = math.inf
    lists_per_user_day: float = 0.6
    clicks_per_list: float = 0.4
    purchase_per_click: float = 0.05
    value_sigma: float = 1.0
    """log-normal sigma of purchase values (2.0 is very heavy-tailed)."""
    spikes: bool = False
    pre_days: int = 0
    """days at the start with organic and carousel events only, before any list is served: a
    pre-period for CUPED."""
    novelty: float = 0.0
    """B's lift on day one is ``lift × (1 + novelty)``, the extra fading with a one-day
    half-life (nothing without a lift)."""


SCENARIOS = (
    Scenario("identical users"),
    Scenario("mildly different users", shape=2.0),
    Scenario("heavily different users", shape=0.1),
    Scenario("90/10 split, different users", share_b=0.1, shape=1.0, users=6000),
    Scenario("sparse: 400 users, 1 week", users=400, days=7, shape=1.0),
    Scenario("heavy-tailed revenue, spikes", shape=1.0, value_sigma=2.0, spikes=True),
    Scenario("novelty effect, different users", shape=1.0, novelty=1.0),
    Scenario("heavily different users, CUPED on a week before", shape=0.1, days=14,
             pre_days=7),
)


def simulate_experiment(scenario: Scenario, *, lift: float = 0.0, seed: int = D.SEED) -> dict:
    """Events of one user-randomised experiment: frames ``interactions`` and
    ``recommendations`` (with ``USER_ID``), the ``metric_attribution`` dict, and
    ``planted``: the expected relative lift in clicks per list (and per user) over the whole
    experiment. B's clicks per list are ``1 + lift`` times A's, plus any novelty.

    Example:
        >>> sim = simulate_experiment(Scenario("tiny", users=50, days=2), seed=1)
        >>> sorted(sim["recommendations"]["SOURCE"].unique().to_list())
        ['recommender-a', 'recommender-b']
    """
    s, rng = scenario, np.random.default_rng(seed)
    in_b = rng.random(s.users) < s.share_b

    def heterogeneity() -> np.ndarray:
        if math.isinf(s.shape):
            return np.ones(s.users)
        return rng.gamma(s.shape, 1 / s.shape, s.users)

    activity, propensity = heterogeneity(), heterogeneity()
    # Sessions: a user's visits on a day, each serving one to three lists close together.
    day_weight = np.where(np.arange(s.days) % 7 >= 5, 1.25, 1.0) * (np.arange(s.days) >= s.pre_days)
    if s.spikes:  # shared by both arms: a launch day, an outage
        day_weight = day_weight * rng.choice([0.5, 1.0, 2.5], s.days, p=[0.1, 0.8, 0.1])
    sessions = rng.poisson(np.outer(activity, day_weight) * s.lists_per_user_day / 2)
    user, day = np.nonzero(sessions)
    user, day = np.repeat(user, sessions[user, day]), np.repeat(day, sessions[user, day])
    minute = (rng.normal(20 * 60, 4 * 60, user.size) % 1440).astype(np.int64)
    session_t = START + day * 86_400 + minute * 60 + rng.integers(0, 60, user.size)
    per_session = rng.integers(1, 4, user.size)
    l_user = np.repeat(user, per_session)
    l_time = np.repeat(session_t, per_session) + rng.integers(0, 600, per_session.sum())
    l_b = in_b[l_user]
    age_days = (l_time - START) / 86_400 - s.pre_days
    boost = np.where(l_b, 1 + lift * (1 + s.novelty * 0.5 ** age_days), 1.0)
    clicks = rng.poisson(s.clicks_per_list * propensity[l_user] * boost)
    c_list = np.repeat(np.arange(l_user.size), clicks)
    c_time = l_time[c_list] + rng.integers(1, 300, c_list.size)
    bought = rng.random(c_list.size) < s.purchase_per_click
    value = np.round(np.exp(rng.normal(2.0, s.value_sigma, int(bought.sum()))), 2)
    # Sources nobody randomised: a partner carousel (labelled) and organic clicks.
    n_other = rng.poisson(0.3 * activity.sum() * s.days)
    o_user = rng.choice(s.users, n_other, p=activity / activity.sum())
    o_time = START + rng.integers(0, s.days * 86_400, n_other)
    o_label = pl.Series(np.where(rng.random(n_other) < 0.4, CAROUSEL, "")).replace("", None)

    def events(users, times, etype, lists, label, values=None) -> pl.DataFrame:
        n = len(users)
        return pl.DataFrame({
            "USER_ID": _named("u", users),
            "ITEM_ID": "item", "TIMESTAMP": np.asarray(times, dtype=np.int64),
            "EVENT_TYPE": etype,
            "EVENT_VALUE": values if values is not None else np.full(n, None),
            "RECOMMENDATION_ID": _named("rid-", lists) if lists is not None else np.full(n, None),
            "EVENT_ATTRIBUTION_SOURCE": label if label is not None else np.full(n, None),
        }, schema_overrides={"EVENT_VALUE": pl.Float64, "RECOMMENDATION_ID": pl.String,
                             "EVENT_ATTRIBUTION_SOURCE": pl.String})

    interactions = pl.concat([
        events(l_user[c_list], c_time, "click", c_list, None),
        events(l_user[c_list][bought], c_time[bought] + 60, "purchase", c_list[bought], None,
               value),
        events(o_user, o_time, "click", None, o_label),
    ])
    recommendations = pl.DataFrame({
        "RECOMMENDATION_ID": _named("rid-", np.arange(l_user.size)),
        "SOURCE": np.where(l_b, B, A), "TIMESTAMP": l_time, "USER_ID": _named("u", l_user),
    })
    planted = float(boost[l_b].mean() - 1) if l_b.any() else lift
    return {"interactions": interactions, "recommendations": recommendations,
            "metric_attribution": METRIC_ATTRIBUTION, "planted": planted}


HOLDOUT = "popular-items"
"""The holdout arm's source in :func:`simulate_holdout`: a non-personalised list."""


def simulate_holdout(*, users: int = 4000, days: int = 7, holdout_share: float = 0.2,
                     shape: float = 1.0, lists_per_user_day: float = 0.8,
                     clicks_per_list: float = 0.3, holdout_clicks_per_list: float = 0.25,
                     organic_per_user_day: float = 1.0, moved: float = 0.6,
                     seed: int = D.SEED) -> dict:
    """A user-randomised experiment with a holdout, where attribution over-credits: users of
    recommender B and of a holdout arm (a popularity list, :data:`HOLDOUT`) click on their lists,
    and a share ``moved`` of each list click is a click the user would have made anyway (an
    organic click that moved onto the list: attributed, not added). Users differ (gamma
    ``shape`` activity).

    Returns:
        The frames ``interactions`` and ``recommendations``, the ``metric_attribution`` dict,
        and ``truth``: per user and day, the expected clicks B attributes and adds over the
        holdout (``attributed_per_user``, ``incremental_per_user``, their ratio).

    Example:
        >>> sim = simulate_holdout(users=200, days=2, seed=1)
        >>> sim["truth"]["attributed_over_incremental"] > 1
        True
    """
    rng = np.random.default_rng(seed)
    in_holdout = rng.random(users) < holdout_share
    activity = rng.gamma(shape, 1 / shape, users) if math.isfinite(shape) else np.ones(users)
    rate = np.where(in_holdout, holdout_clicks_per_list, clicks_per_list)
    # every user is served once at the start (so every user is assigned), then as active
    lists = 1 + rng.poisson(activity * lists_per_user_day * days)
    l_user = np.repeat(np.arange(users), lists)
    l_time = START + rng.integers(0, days * 86_400, l_user.size)
    clicks = rng.poisson(rate[l_user])
    c_list = np.repeat(np.arange(l_user.size), clicks)
    c_time = l_time[c_list] + rng.integers(1, 300, c_list.size)
    # Organic clicks: each user's own, less those that moved onto the lists (in expectation a
    # share `moved` of the list clicks; the rest of the list clicks are added engagement).
    expected_list = (1 + activity * lists_per_user_day * days) * rate
    organic = rng.poisson(np.maximum(activity * organic_per_user_day * days
                                     - moved * expected_list, 0.0))
    o_user = np.repeat(np.arange(users), organic)
    o_time = START + rng.integers(0, days * 86_400, o_user.size)

    def events(who, times, lists_of) -> pl.DataFrame:
        n = len(who)
        return pl.DataFrame({
            "USER_ID": _named("u", who), "ITEM_ID": "item",
            "TIMESTAMP": np.asarray(times, dtype=np.int64), "EVENT_TYPE": "click",
            "EVENT_VALUE": np.full(n, None),
            "RECOMMENDATION_ID": _named("rid-", lists_of) if lists_of is not None
            else np.full(n, None),
            "EVENT_ATTRIBUTION_SOURCE": np.full(n, None),
        }, schema_overrides={"EVENT_VALUE": pl.Float64, "RECOMMENDATION_ID": pl.String,
                             "EVENT_ATTRIBUTION_SOURCE": pl.String})

    interactions = pl.concat([events(l_user[c_list], c_time, c_list),
                              events(o_user, o_time, None)]).sort("TIMESTAMP")
    recommendations = pl.DataFrame({
        "RECOMMENDATION_ID": _named("rid-", np.arange(l_user.size)),
        "SOURCE": np.where(in_holdout[l_user], HOLDOUT, B), "TIMESTAMP": l_time,
        "USER_ID": _named("u", l_user),
    })
    # Per assigned user (activity has mean 1): list clicks, and what they add once the moved
    # share is taken back from the organic clicks.
    per_user = 1 + lists_per_user_day * days
    attributed = per_user * clicks_per_list
    added = (1 - moved) * per_user * (clicks_per_list - holdout_clicks_per_list)
    return {"interactions": interactions, "recommendations": recommendations,
            "metric_attribution": {"name": "holdout", "metrics": [METRIC_ATTRIBUTION[
                "metrics"][0]]},
            "truth": {"attributed_per_user": attributed, "incremental_per_user": added,
                      "attributed_over_incremental": attributed / added}}


def _named(prefix: str, numbers: np.ndarray) -> pl.Series:
    """``prefix`` and each number as text (``u17``, ``rid-4``)."""
    return pl.select(pl.concat_str(pl.lit(prefix), pl.Series(np.asarray(numbers, dtype=np.int64))
                                   .cast(pl.String))).to_series()


def attribute_simulation(sim: dict):
    """:func:`attrkit.attribute` on a simulation, as a user would call it."""
    return attribute(sim["interactions"], sim["metric_attribution"],
                     recommendations=sim["recommendations"])


def tolerance(rate: float, runs: int) -> float:
    """Three binomial standard errors of a proportion ``rate`` over ``runs`` replicates."""
    return 3 * proportion_se(rate, runs)


@dataclass(frozen=True)
class Result:
    """Rates over ``runs`` replicates of one scenario (A/A and A/B with ``lift``)."""

    scenario: str
    runs: int
    alpha: float
    lift: float
    top1_share: float
    """share of clicks made by the top 1 % of users (how different users are)."""
    fpr_per_user: float
    fpr_per_recommendation: float
    fpr_revenue_per_user: float
    fpr_monitor: float
    """share of A/A runs where the always-valid monitor was ever significant (daily looks)."""
    fpr_windows: float
    """for contrast: window-level test of the same A/A data, as if requests were randomised."""
    coverage_per_user: float
    coverage_per_recommendation: float
    """coverage among the A/B rows that keep an interval."""
    withheld: float = 0.0
    """share of A/A per-user rows (clicks) given no p-value: the difference too skewed
    (:data:`~attrkit.defaults.SKEWNESS_BOUND_SHARE`)."""

    def to_dict(self) -> dict:
        return asdict(self)


def run_scenario(scenario: Scenario, runs: int, *, alpha: float = D.ALPHA, lift: float = 0.08,
                 seed: int = 0, progress: bool = False) -> Result:
    """A/A and A/B replicates of one scenario through :func:`compare` and :func:`monitor`."""
    counts = dict.fromkeys(("pu", "pr", "rev", "mon", "win", "cov_pu", "cov_pr", "held",
                            "kept_pu", "kept_pr"), 0)
    top1 = []
    it = range(runs)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=scenario.name, unit="run", leave=False)
    # a scenario with days before any list is served starts there: CUPED where valid
    on = {"start": START + scenario.pre_days * 86_400} if scenario.pre_days else {}
    for i in it:
        aa = attribute_simulation(simulate_experiment(scenario, seed=seed + 2 * i))
        t = compare(aa, baseline=A, alpha=alpha, **on)
        p = {(r["metric"], r["kind"]): r["p_value"] for r in t.frame.iter_rows(named=True)}
        counts["pu"] += p[("CLICKS", "per_user")] < alpha
        counts["held"] += math.isnan(p[("CLICKS", "per_user")])
        counts["pr"] += p[("CLICKS", "per_recommendation")] < alpha
        counts["rev"] += p[("REVENUE", "per_user")] < alpha
        m = monitor(aa, metric="CLICKS", control=A, treatment=B, alpha=alpha)
        counts["mon"] += bool(m["significant"].any())
        counts["win"] += compare(aa, baseline=A, sources=[A, B], metrics=["CLICKS"],
                                 design="requests", alpha=alpha).row("CLICKS", A, B)["p_value"] < alpha
        clicks = (aa.users.values.filter(metric_name="CLICKS").group_by("USER_ID")
                  .agg(pl.col("value").sum()))
        v = np.sort(clicks["value"].to_numpy())[::-1]
        top1.append(v[: max(1, scenario.users // 100)].sum() / v.sum() if v.sum() else 0.0)
        sim = simulate_experiment(scenario, lift=lift, seed=seed + 2 * i + 1)
        t = compare(attribute_simulation(sim), baseline=A, metrics=["CLICKS"], alpha=alpha,
                    **on)
        for kind, key in (("per_user", "pu"), ("per_recommendation", "pr")):
            r = t.frame.filter(kind=kind).row(0, named=True)
            if not math.isnan(r["lift_ci_low"]):  # withheld rows have no interval
                counts[f"kept_{key}"] += 1
                counts[f"cov_{key}"] += r["lift_ci_low"] <= sim["planted"] <= r["lift_ci_high"]
    n = float(runs)

    def share(k: str) -> float:
        return counts[f"cov_{k}"] / counts[f"kept_{k}"] if counts[f"kept_{k}"] else math.nan

    return Result(scenario.name, runs, alpha, lift, float(np.mean(top1)), counts["pu"] / n,
                  counts["pr"] / n, counts["rev"] / n, counts["mon"] / n, counts["win"] / n,
                  share("pu"), share("pr"), counts["held"] / n)


def markdown_table(results: list[Result]) -> str:
    """The calibration table of the documentation (concepts/calibration.md): each rate with its
    binomial standard error."""
    def cell(rate: float, runs: int) -> str:
        return f"{rate:.3f} ± {proportion_se(rate, runs):.3f}"

    lines = ["| scenario | runs | top 1 % users' share of clicks | A/A per user | A/A per "
             "recommendation | A/A revenue per user | A/A monitor ever | A/A windows (wrong unit) "
             "| coverage per user | coverage per recommendation |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r.scenario} | {r.runs} | {r.top1_share:.1%} | {cell(r.fpr_per_user, r.runs)} | "
            f"{cell(r.fpr_per_recommendation, r.runs)} | {cell(r.fpr_revenue_per_user, r.runs)} | "
            f"{cell(r.fpr_monitor, r.runs)} | {cell(r.fpr_windows, r.runs)} | "
            f"{cell(r.coverage_per_user, r.runs)} | {cell(r.coverage_per_recommendation, r.runs)} |")
    return "\n".join(lines)


def study(runs: int, *, scenarios: tuple[Scenario, ...] = SCENARIOS, jobs: int | None = None
          ) -> list[Result]:
    """Every scenario, one process each (at most ``jobs`` at once); seeds fixed per scenario."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_scenario, s, runs, seed=1000 * k)
                   for k, s in enumerate(scenarios)]
        return [f.result() for f in futures]


def segments_aa(runs: int, *, users: int = 3000, alpha: float = D.ALPHA, seed: int = 0
                ) -> dict[str, float]:
    """A/A with heavy-tailed users (lognormal activity, σ 1) and three segments that mean
    nothing, through ``compare(segments=)``: the share of segment rows, and of heterogeneity
    tests (Cochran's Q), that reject."""
    from attrkit.attribution.users import UserData

    rng = np.random.default_rng(seed)
    ids = [f"u{i:05d}" for i in range(users)]
    arm = np.where(np.arange(users) % 2 == 0, A, B)
    rows = het = n_rows = 0
    for _ in range(runs):
        value = rng.poisson(2.0 * rng.lognormal(0.0, 1.0, users)).astype(float)
        data = UserData.from_arrays(ids, arm, value, "CLICKS")
        windows = pl.DataFrame({"timestamp": [0, 0], "metric_name": "CLICKS", "source": [A, B],
                                "value": [float(value[arm == A].sum()), float(value[arm == B].sum())]})
        meta = pl.DataFrame({"USER_ID": ids, "G": rng.choice(["x", "y", "z"], users)})
        seg = compare(windows, users=data, baseline=A, segments="G", user_metadata=meta,
                      correction="none", alpha=alpha).segments
        rows += int((seg.frame["p_value"] < alpha).sum())
        n_rows += seg.frame.height
        het += int(seg.heterogeneity["p_value"][0] < alpha)
    return {"runs": runs, "segment_rows": n_rows, "fpr_segment_rows": rows / n_rows,
            "fpr_heterogeneity": het / runs}


def holdout_coverage(runs: int, *, alpha: float = D.ALPHA, seed: int = 0, **kw) -> dict:
    """Experiments with a holdout where attribution over-credits (:func:`simulate_holdout`):
    how often the incremental effect's interval covers the planted one, and the mean of what
    attribution credits against what was planted."""
    from attrkit.comparison.incrementality import incrementality

    covered, credited, truth = 0, [], {}
    for i in range(runs):
        sim = simulate_holdout(seed=seed + i, **kw)
        truth = sim["truth"]
        r = incrementality(attribute_simulation(sim).users, HOLDOUT, ["CLICKS"], alpha,
                           "holm").frame.row(0, named=True)
        covered += r["incremental_ci_low"] <= truth["incremental_per_user"] <= \
            r["incremental_ci_high"]
        credited.append(r["attributed_per_user"])
    return {"runs": runs, "coverage": covered / runs, "credited_mean": float(np.mean(credited)),
            "credited_se": mean_se(credited), **truth}


def decision_calibration(runs: int, *, prior_sd: float = 0.02, n: int = 2000,
                         seed: int = 0) -> dict:
    """Worlds drawn from the decision numbers' prior, users' data in each: within bins of the
    chance to win, the share of worlds whose treatment is better (it should be the chance),
    and the mean expected loss against the mean realised loss."""
    from attrkit.stats import bayes_test

    rng = np.random.default_rng(seed)
    true = rng.normal(0.0, prior_sd, runs)
    ctw, loss = np.empty(runs), np.empty(runs)
    for i, lift in enumerate(true):
        r = bayes_test(rng.normal(10.0, 5.0, n), rng.normal(10.0 * (1 + lift), 5.0, n),
                       prior_sd=prior_sd)
        ctw[i], loss[i] = r.details["chance_to_win"], r.details["expected_loss_treatment"]
    bins = np.digitize(ctw, [0.1, 0.3, 0.5, 0.7, 0.9])
    return {"runs": runs, "bins": [
        {"chance": float(ctw[bins == b].mean()), "won": float((true[bins == b] > 0).mean()),
         "runs": int((bins == b).sum())} for b in range(6) if (bins == b).any()],
        "expected_loss": float(loss.mean()), "realised_loss": float(np.maximum(0, -true).mean()),
        "realised_loss_se": mean_se(np.maximum(0, -true)),
        "true": true, "ctw": ctw}


if __name__ == "__main__":  # python -m attrkit.simulate.calibration RUNS
    import json
    import sys

    n_runs = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    results = study(n_runs)
    print(markdown_table(results))
    print(json.dumps([r.to_dict() for r in results], indent=2))
    print("segments, A/A:", json.dumps(segments_aa(n_runs, seed=1)))
    print("holdout:", json.dumps(holdout_coverage(n_runs, seed=2, users=1500, days=5)))
    d = decision_calibration(n_runs * 5, seed=3)
    print("decision numbers:", json.dumps({k: v for k, v in d.items()
                                           if k not in ("true", "ctw")}))
