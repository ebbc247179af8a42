"""Calibration of the per-user rows on small arms and heavy tails (``make calibrate``).

A grid of splits (50/50, 90/10, 95/5, 99/1) × user activity (lognormal σ 1, 1.5, 2, and Pareto
with index 1.3, whose variance is infinite) × metric (a count: clicks; a sum: watch minutes,
each click a lognormal number of minutes) × row (per user, and per recommendation: the ratio of
the metric to the recommendations served). Each user is served a Poisson number of lists of
mean 10 × their activity and clicks a Poisson share of them (0.2 a list). Each cell runs A/A
and A/B (+10 %) replicates of 6,000 users through :func:`attrkit.compare` (per-user data built
directly, the engines' moments as in any run) and reports, per cell and row: the share of A/A
rows withheld for a skewed difference (:data:`~attrkit.defaults.SKEWNESS_BOUND_SHARE`), the
A/A rate among the rows that keep a p-value, the coverage of the planted lift and the power
among them, and, on the same data with nothing corrected or withheld, Welch's A/A rate and
power (the problem the rule answers, and the power it is compared with).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from attrkit import defaults as D
from attrkit.stats._core import proportion_se

SPLITS = (0.5, 0.1, 0.05, 0.01)
"""The treatment arm's share of users."""
TAILS = (("lognormal σ 1", 1.0), ("lognormal σ 1.5", 1.5), ("lognormal σ 2", 2.0),
         ("Pareto 1.3", None))
METRICS = ("count", "sum")
KINDS = ("per_user", "per_recommendation")


@dataclass(frozen=True)
class Cell:
    split: float
    tail: str
    metric: str
    kind: str
    runs: int
    withheld: float
    aa_rate: float
    aa_kept: int
    coverage: float
    power: float
    ab_kept: int
    welch_aa_rate: float
    welch_power: float

    def to_dict(self) -> dict:
        return asdict(self)


def _activity(rng: np.random.Generator, n: int, sigma: float | None) -> np.ndarray:
    if sigma is None:  # Pareto, index 1.3, mean 1
        x = rng.pareto(1.3, n) + 1.0
        return x / (1.3 / 0.3)
    return rng.lognormal(-sigma**2 / 2, sigma, n)


def _values(rng: np.random.Generator, activity: np.ndarray, metric: str, lift: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Per user: the metric and the recommendations served."""
    served = rng.poisson(10.0 * activity)
    clicks = rng.poisson(0.2 * served * lift)
    if metric == "count":
        return clicks.astype(float), served
    # each click a lognormal number of minutes (median 20): the sum of a user's clicks
    total = np.zeros(len(clicks))
    has = clicks > 0
    idx = np.repeat(np.flatnonzero(has), clicks[has])
    np.add.at(total, idx, rng.lognormal(3.0, 1.0, idx.size))
    return np.round(total, 3), served


def run_cell(split: float, tail: tuple[str, float | None], metric: str, runs: int, *,
             users: int = 6000, lift: float = 0.1, alpha: float = D.ALPHA, seed: int = 0,
             spark: Any = None) -> list[Cell]:
    """The cell's two rows (:data:`KINDS`), from the same replicates; with a Spark session,
    from the Spark engine's moments (the per-user data as Spark DataFrames)."""
    from attrkit.attribution.users import UserData
    from attrkit.comparison import compare
    from attrkit.stats import RatioStats, mean_test, ratio_test

    rng = np.random.default_rng(seed)
    arm = np.where(np.arange(users) < round(users * split), "B", "A")
    a, b = arm == "A", arm == "B"
    ids = [f"u{i:05d}" for i in range(users)]

    def rows(values: np.ndarray, served: np.ndarray) -> dict[str, dict]:
        data = UserData.from_arrays(ids, arm, values, served=served)
        if spark is not None:
            from attrkit.attribution.spark_users import SparkUserData

            data = SparkUserData(*(spark.createDataFrame(f.to_pandas()) for f in (
                data.assignment, data.values, data.served)), metrics=("M",))
        w = pl.DataFrame({"timestamp": [0, 0], "metric_name": "M", "source": ["A", "B"],
                          "value": [float(values[a].sum()), float(values[b].sum())]})
        frame = compare(w, users=data, baseline="A", correction="none", alpha=alpha).frame
        return {r["kind"]: r for r in frame.iter_rows(named=True)}

    def welch(values: np.ndarray, served: np.ndarray, kind: str) -> bool:
        if kind == "per_user":
            return mean_test(values[a], values[b]).p_value < alpha
        c, t = (RatioStats.from_arrays(values[m], served[m]) for m in (a, b))
        return ratio_test(c, t).p_value < alpha

    count = {k: dict.fromkeys(("held", "kept", "rejected", "ab_kept", "covered", "power",
                               "welch", "welch_power"), 0) for k in KINDS}
    for _ in range(runs):
        activity = _activity(rng, users, tail[1])
        aa = _values(rng, activity, metric, np.ones(users))
        ab = _values(rng, activity, metric, np.where(b, 1 + lift, 1.0))
        got, got_ab = rows(*aa), rows(*ab)
        for k in KINDS:
            c, r, s = count[k], got[k], got_ab[k]
            c["welch"] += welch(*aa, k)
            c["welch_power"] += welch(*ab, k)
            if math.isnan(r["p_value"]):
                c["held"] += 1
            else:
                c["kept"] += 1
                c["rejected"] += r["p_value"] < alpha
            if not math.isnan(s["p_value"]):
                c["ab_kept"] += 1
                c["covered"] += s["lift_ci_low"] <= lift <= s["lift_ci_high"]
                c["power"] += s["p_value"] < alpha

    def share(x: int, n: int) -> float:
        return x / n if n else math.nan

    return [Cell(split, tail[0], metric, k, runs, c["held"] / runs,
                 share(c["rejected"], c["kept"]), c["kept"], share(c["covered"], c["ab_kept"]),
                 share(c["power"], c["ab_kept"]), c["ab_kept"], c["welch"] / runs,
                 c["welch_power"] / runs) for k, c in count.items()]


def grid(runs: int, *, seed: int = 0) -> list[Cell]:
    """Every cell of the grid (about a second per five replicates of a cell)."""
    return [cell for k, (split, tail, metric) in enumerate(
                (s, t, m) for s in SPLITS for t in TAILS for m in METRICS)
            for cell in run_cell(split, tail, metric, runs, seed=seed + k)]


def holds(c: Cell, alpha: float = D.ALPHA) -> bool:
    """Whether a cell holds: every row withheld, or, among the rows kept, the A/A rate within
    α ± 3 SE and the coverage at least 1 − α − 3 SE."""
    if not c.aa_kept:
        return True
    ok = abs(c.aa_rate - alpha) <= 3 * proportion_se(alpha, c.aa_kept)
    return ok and (not c.ab_kept
                   or c.coverage >= 1 - alpha - 3 * proportion_se(1 - alpha, c.ab_kept))


def markdown(cells: list[Cell]) -> str:
    def rate(x: float, n: int) -> str:
        return "—" if not n or math.isnan(x) else f"{x:.3f} ± {proportion_se(x, n):.3f}"

    lines = ["| split | activity | metric | row | withheld | A/A, rows kept | "
             "coverage, rows kept | power, rows kept | Welch alone: A/A | Welch alone: power |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        lines.append(f"| {1 - c.split:.0%}/{c.split:.0%} | {c.tail} | {c.metric} | "
                     f"{c.kind.replace('_', ' ')} | {c.withheld:.2f} | "
                     f"{rate(c.aa_rate, c.aa_kept)} | {rate(c.coverage, c.ab_kept)} | "
                     f"{rate(c.power, c.ab_kept)} | {rate(c.welch_aa_rate, c.runs)} | "
                     f"{rate(c.welch_power, c.runs)} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m attrkit.simulate.tails RUNS
    import sys

    cells = grid(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
    print(markdown(cells))
    print(f"\n{sum(holds(c) for c in cells)} of {len(cells)} rows of the grid hold.")
