"""attrkit.stats: comparisons on sufficient statistics.

Conventions: *control* is the baseline, *treatment* the compared arm; ``effect = treatment −
control``, relative ``(treatment − control) / control``; sample variances use n − 1;
``alternative`` is ``two-sided``, ``greater`` (treatment > control) or ``less``; open ends of
one-sided intervals are ±inf. Every test returns a :class:`Comparison` that names its method.

- records: :class:`SampleStats`, :class:`RatioStats`, :class:`CupedStats`, :class:`Comparison`
- per-unit values: :func:`mean_test` (Welch), :func:`ratio_test` (delta method),
  :func:`cuped_test` (:func:`cuped_adjusted` for per-unit adjusted values),
  :func:`bootstrap_test`, :func:`bayes_test` (:func:`decision`: chance to win, expected loss);
  :func:`fieller_interval` for a relative lift whose interval agrees with the test of the
  difference, :func:`lift_test` for both at once; :func:`difference_skewness` and
  :func:`skewness_corrected` (Hall's transformation; :func:`max_skewness`, how far it goes) for
  small, heavy-tailed arms
- counts: :func:`proportion_test`, :func:`rate_test` (Poisson, quasi-Poisson)
- 15-minute aggregates: :func:`paired_window_test`, :func:`paired_rate_ratio_test`
  (Newey–West)
- monitoring: :func:`sequential_test` (always-valid); :func:`confidence_sequence` over looks,
  :func:`always_valid_p`,
  :func:`cumulative_mean_effect` and :func:`cumulative_ratio_effect` for a sequence of looks
- checks and planning: :func:`srm_test`, :func:`adjust_pvalues`, :func:`heterogeneity_test`,
  :func:`power`, :func:`mde`, :func:`sample_size`

Example:
    >>> from attrkit import stats
    >>> r = stats.mean_test(stats.SampleStats(n=10, sum=100.0, sum_sq=1002.25),
    ...                     stats.SampleStats(n=10, sum=105.0, sum_sq=1111.5), relative=True)
    >>> round(r.effect, 4), r.method.split(";")[0]
    (0.05, 'Welch t')
"""

from attrkit.stats._core import Comparison, RatioStats, SampleStats
from attrkit.stats.bayes import Decision, bayes_test, decision
from attrkit.stats.counts import estimate_dispersion, proportion_test, rate_test
from attrkit.stats.fieller import fieller_interval, lift_test
from attrkit.stats.means import (
    CupedStats,
    cuped_adjusted,
    cuped_test,
    difference_skewness,
    max_skewness,
    mean_test,
    ratio_test,
    skewness_corrected,
)
from attrkit.stats.multiple import (
    AdjustedPValues,
    HeterogeneityResult,
    adjust_pvalues,
    heterogeneity_test,
)
from attrkit.stats.paired import newey_west_lags, paired_rate_ratio_test, paired_window_test
from attrkit.stats.power import mde, power, sample_size
from attrkit.stats.resample import bootstrap_test
from attrkit.stats.sequential import (
    always_valid_p,
    confidence_sequence,
    cumulative_mean_effect,
    cumulative_ratio_effect,
    sequential_test,
)
from attrkit.stats.traffic import SRMResult, srm_test

__all__ = [
    "AdjustedPValues", "Comparison", "CupedStats", "Decision", "HeterogeneityResult", "RatioStats",
    "SRMResult", "SampleStats", "adjust_pvalues", "always_valid_p", "bayes_test", "bootstrap_test",
    "confidence_sequence", "cumulative_mean_effect", "cumulative_ratio_effect", "cuped_adjusted",
    "cuped_test", "decision", "difference_skewness", "estimate_dispersion", "fieller_interval",
    "heterogeneity_test", "lift_test", "max_skewness", "mde", "mean_test", "newey_west_lags",
    "paired_rate_ratio_test", "paired_window_test", "power", "proportion_test", "rate_test",
    "ratio_test", "sample_size", "sequential_test", "skewness_corrected", "srm_test",
]
