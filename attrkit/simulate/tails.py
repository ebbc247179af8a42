"""Calibration of the per-user rows on small arms and heavy tails (``make calibrate``).

A grid of splits (50/50, 90/10, 95/5, 99/1) × user activity (lognormal σ 1, 1.5, 2, and Pareto
with index 1.3, whose variance is infinite) × metric (a count: clicks, Poisson on the activity;
a sum: watch minutes, each click a lognormal number of minutes). Each cell runs A/A and A/B
replicates of 6,000 users through :func:`attrkit.compare` (per-user data built directly, the
engines' moments as in any run) and reports, per cell: the share of rows withheld for a skewed
difference (:data:`~attrkit.defaults.MAX_DIFFERENCE_SKEWNESS`), the A/A rate among the rows that
keep a p-value, the coverage of a planted lift among them, and Welch's A/A rate on the same data
with nothing withheld (the problem the rule answers).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from attrkit import defaults as D
from attrkit.stats._core import proportion_se

SPLITS = (0.5, 0.1, 0.05, 0.01)
"""The treatment arm's share of users."""
TAILS = (("lognormal σ 1", 1.0), ("lognormal σ 1.5", 1.5), ("lognormal σ 2", 2.0),
         ("Pareto 1.3", None))
METRICS = ("count", "sum")


@dataclass(frozen=True)
class Cell:
    split: float
    tail: str
    metric: str
    runs: int
    withheld: float
    aa_rate: float
    aa_kept: int
    coverage: float
    ab_kept: int
    welch_aa_rate: float

    def to_dict(self) -> dict:
        return asdict(self)


def _activity(rng: np.random.Generator, n: int, sigma: float | None) -> np.ndarray:
    if sigma is None:  # Pareto, index 1.3, mean 1
        x = rng.pareto(1.3, n) + 1.0
        return x / (1.3 / 0.3)
    return rng.lognormal(-sigma**2 / 2, sigma, n)


def _values(rng: np.random.Generator, activity: np.ndarray, metric: str, lift: np.ndarray
            ) -> np.ndarray:
    clicks = rng.poisson(2.0 * activity * lift)
    if metric == "count":
        return clicks.astype(float)
    # each click a lognormal number of minutes (median 20): the sum of a user's clicks
    total = np.zeros(len(clicks))
    has = clicks > 0
    idx = np.repeat(np.flatnonzero(has), clicks[has])
    np.add.at(total, idx, rng.lognormal(3.0, 1.0, idx.size))
    return np.round(total, 3)


def run_cell(split: float, tail: tuple[str, float | None], metric: str, runs: int, *,
             users: int = 6000, lift: float = 0.1, alpha: float = D.ALPHA, seed: int = 0
             ) -> Cell:
    from attrkit.attribution.users import UserData
    from attrkit.comparison import compare
    from attrkit.stats import mean_test

    rng = np.random.default_rng(seed)
    arm = np.where(np.arange(users) < round(users * split), "B", "A")
    ids = [f"u{i:05d}" for i in range(users)]

    def row(values: np.ndarray) -> dict:
        data = UserData.from_arrays(ids, arm, values)
        w = pl.DataFrame({"timestamp": [0, 0], "metric_name": "M", "source": ["A", "B"],
                          "value": [float(values[arm == "A"].sum()),
                                    float(values[arm == "B"].sum())]})
        return compare(w, users=data, baseline="A", correction="none",
                       alpha=alpha).frame.row(0, named=True)

    held = kept = rejected = welch = ab_kept = covered = 0
    for _ in range(runs):
        activity = _activity(rng, users, tail[1])
        aa = _values(rng, activity, metric, np.ones(users))
        welch += mean_test(aa[arm == "A"], aa[arm == "B"]).p_value < alpha
        r = row(aa)
        if math.isnan(r["p_value"]):
            held += 1
        else:
            kept += 1
            rejected += r["p_value"] < alpha
        ab = _values(rng, activity, metric, np.where(arm == "B", 1 + lift, 1.0))
        r = row(ab)
        if not math.isnan(r["p_value"]):
            ab_kept += 1
            covered += r["lift_ci_low"] <= lift <= r["lift_ci_high"]
    return Cell(split, tail[0], metric, runs, held / runs, rejected / kept if kept else math.nan,
                kept, covered / ab_kept if ab_kept else math.nan, ab_kept, welch / runs)


def grid(runs: int, *, seed: int = 0) -> list[Cell]:
    """Every cell of the grid (about a second per ten replicates of a cell)."""
    return [run_cell(split, tail, metric, runs, seed=seed + k)
            for k, (split, tail, metric) in enumerate(
                (s, t, m) for s in SPLITS for t in TAILS for m in METRICS)]


def markdown(cells: list[Cell]) -> str:
    def rate(x: float, n: int) -> str:
        return "—" if not n or math.isnan(x) else f"{x:.3f} ± {proportion_se(x, n):.3f}"

    lines = ["| split | activity | metric | withheld | A/A, rows kept | coverage, rows kept | "
             "Welch alone, A/A |", "|---|---|---|---|---|---|---|"]
    for c in cells:
        lines.append(f"| {1 - c.split:.0%}/{c.split:.0%} | {c.tail} | {c.metric} | "
                     f"{c.withheld:.2f} | {rate(c.aa_rate, c.aa_kept)} | "
                     f"{rate(c.coverage, c.ab_kept)} | {rate(c.welch_aa_rate, c.runs)} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m attrkit.simulate.tails RUNS
    import sys

    print(markdown(grid(int(sys.argv[1]) if len(sys.argv) > 1 else 200)))
