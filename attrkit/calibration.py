"""Calibration by simulation: do the default methods keep their promises?

A/A data (no true difference) should give false positives at about α; the always-valid
monitor, looked at after every window, at most α; intervals on A/B data with a planted lift
should cover it at their stated level. Data come from :func:`attrkit.sample.simulate_windows`
(daily cycle, autocorrelated shocks). ``make calibrate`` runs the full study; the test suite a
smaller one.
"""

from __future__ import annotations

from dataclasses import dataclass

from attrkit.comparison import compare, monitor
from attrkit.sample import RECOMMENDER_A, RECOMMENDER_B, simulate_windows


@dataclass(frozen=True)
class Calibration:
    """Rates over ``runs`` simulations, each of ``days`` days of 15-minute windows."""

    runs: int
    days: int
    alpha: float
    fpr_rate: float
    """A/A false-positive rate: clicks per recommendation served (rate test by window)."""
    fpr_paired: float
    """A/A false-positive rate: per-window clicks without exposure (paired, Newey–West)."""
    fpr_monitor: float
    """A/A: share of runs where the always-valid monitor was ever significant."""
    coverage_rate: float
    """A/B with ``lift``: share of rate-test intervals that contain it."""
    coverage_paired: float
    lift: float


def calibrate(runs: int = 1000, *, days: int = 7, alpha: float = 0.05, lift: float = 0.08,
              seed: int = 0, progress: bool = False) -> Calibration:
    """Run the simulation study.

    Example:
        >>> c = calibrate(runs=5, days=1)
        >>> 0 <= c.fpr_rate <= 1
        True
    """
    a, b = RECOMMENDER_A, RECOMMENDER_B
    fp_rate = fp_paired = fp_mon = cov_rate = cov_paired = 0
    it = range(runs)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="calibrating", unit="run")
    for i in it:
        aa = simulate_windows(seed=seed + i, days=days)
        fp_rate += compare(aa["windows"], exposure=aa["exposure"], baseline=a, alpha=alpha
                           ).row("CLICKS", a, b)["p_value"] < alpha
        fp_paired += compare(aa["windows"], baseline=a, alpha=alpha
                             ).row("CLICKS", a, b)["p_value"] < alpha
        fp_mon += bool(monitor(aa["windows"], metric="CLICKS", control=a, treatment=b,
                               exposure=aa["exposure"], alpha=alpha)["significant"].any())
        ab = simulate_windows(seed=seed + 1_000_000 + i, days=days, lift=lift)
        r = compare(ab["windows"], exposure=ab["exposure"], baseline=a, alpha=alpha
                    ).row("CLICKS", a, b)
        cov_rate += r["lift_ci_low"] <= lift <= r["lift_ci_high"]
        # Without exposure the paired test compares totals: B's lift plus the traffic split.
        r = compare(ab["windows"], baseline=a, alpha=alpha).row("CLICKS", a, b)
        served = dict(ab["exposure"].group_by("source").sum().select("source", "exposure")
                      .iter_rows())
        target = (1 + lift) * served[b] / served[a] - 1
        cov_paired += r["lift_ci_low"] <= target <= r["lift_ci_high"]
    n = float(runs)
    return Calibration(runs, days, alpha, fp_rate / n, fp_paired / n, fp_mon / n, cov_rate / n,
                       cov_paired / n, lift)


if __name__ == "__main__":  # python -m attrkit.calibration RUNS
    import sys

    result = calibrate(int(sys.argv[1]) if len(sys.argv) > 1 else 1000, progress=True)
    print(f"{result.runs} runs of {result.days} days of 15-minute windows, alpha {result.alpha}")
    print(f"A/A false-positive rate, rate per exposure (stratified Poisson): {result.fpr_rate:.3f}")
    print(f"A/A false-positive rate, per-window totals (paired, Newey-West): {result.fpr_paired:.3f}")
    print(f"A/A always-valid monitor ever significant over all windows:    {result.fpr_monitor:.3f}")
    print(f"A/B {result.lift:.0%} lift, 95% interval coverage, rate test:        "
          f"{result.coverage_rate:.3f}")
    print(f"A/B {result.lift:.0%} lift, 95% interval coverage, paired test:      "
          f"{result.coverage_paired:.3f}")
