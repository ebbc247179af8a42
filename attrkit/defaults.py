"""Every default in one place, so the CLI, the API and the docs agree."""

from __future__ import annotations

from typing import Literal

WINDOW_SECONDS = 900
"""The service aggregates in 15-minute windows."""
WINDOW_ORIGIN = 0
"""Window starts are ``origin + k * WINDOW_SECONDS`` in Unix seconds."""
MAX_SOURCES = 100
"""The service allows at most 100 distinct attribution sources."""
UNDEFINED_SOURCE = "SOURCE_NAME_UNDEFINED"
"""The source the service reports for events with neither a label nor a recommendation ID."""
MAX_ID_LENGTH = 256
MAX_PUT_EVENTS_RECOMMENDATION_ID_LENGTH = 40
MAX_ATTRIBUTION_SOURCE_LENGTH = 1024
MAX_PLAUSIBLE_SECONDS = 100_000_000_000
MAX_CONFIG_BYTES = 1 << 20
"""A metric attribution or parameters file larger than this (1 MiB) is refused unread."""
MAX_SUMMED_VALUE = 1e18
"""A value a SUM reads must be at most this in magnitude (read as a double, where
999999999999999999 is 1e18): sums are exact, to 9 decimals in 38 digits (below 1e29), so ten
billion such values still fit in one total, and the value's whole part fits a 64-bit
integer."""
CHUNK_ROWS = 10_000_000
"""Events aggregated at a time: more events are aggregated a chunk at a time and the partial
results added up, so memory holds one chunk's work (see the documentation's Performance page)."""
MAX_CSV_FILES = 1_000
"""The most CSV files read as one input (polars' reader stalls on thousands; Parquet has no
such limit)."""
MAX_HEADER_BYTES = 1 << 20
"""A CSV header line longer than this (1 MiB, tens of thousands of columns) is refused."""
"""|TIMESTAMP| beyond this (year 5138) is not epoch seconds; it usually means milliseconds."""
IMPORT_MODE = "FULL"
SEED = 0

OnBadRows = Literal["error", "quarantine"]
TimestampUnit = Literal["s", "ms"]
ImportMode = Literal["FULL", "INCREMENTAL"]
ALPHA = 0.05
"""Significance level of every test."""
CORRECTION = "holm"
"""Multiple-comparison correction across the tested rows of one comparison."""
CORRECTIONS = ("holm", "hochberg", "bonferroni", "sidak", "holm-sidak", "hochberg-sidak", "bh",
               "by", "none")
"""The p-value adjustments across tested rows (:func:`attrkit.stats.adjust_pvalues`)."""
DESIGNS = ("users", "requests", "observational")
"""What was randomised (:func:`attrkit.compare`'s ``design``)."""
ALARMS = {
    "srm": (3, "sample ratio mismatch: the arms' sizes are not the planned split"),
    "unattributed": (4, "the share of the first metric with no source is above the threshold"),
    "bad-rows": (5, "input rows broke a rule and were set aside (--on-bad-rows quarantine)"),
    "duplicates": (6, "exact duplicate events in the interactions"),
    "unresolved": (7, "events carry recommendation IDs the log does not know"),
    "regression": (8, "a tested comparison is significantly below its control"),
}
"""``attrkit compare --fail-on``: each alarm's exit code and what it means
(:mod:`attrkit.comparison.alarms`). Here, beside the other options, so that the command line
starts without importing the statistics."""
DECISION_PRIOR_SD = 0.3
"""The decision numbers' prior on the relative lift: Normal(0, 0.3²), weak (a lift beyond ±60 %
is a priori unlikely, anything within it about equally so), as GrowthBook's proper prior. With the
standard errors of a real experiment (a few per cent) it moves the posterior by well under a
tenth of a standard error."""
SKEWNESS_BOUND_SHARE = 0.9
"""A per-user row whose difference of means is more skewed than this share of the skewness
beyond which the corrected test's short side rejects only past its turning point
(:func:`attrkit.stats.max_skewness`: 0.49 at α = 0.05, so the bound is 0.44) gets no p-value and
no verdict: a small arm of heavy-tailed users, too skewed for any test here. The skewness is
under the null (the arms' pooled third moment and their split,
:func:`attrkit.stats.difference_skewness`; a ratio per recommendation also by its numerator's and
denominator's); below the bound the test is corrected (:func:`attrkit.stats.skewness_corrected`).
The heavy-tail calibration grid (``make calibrate``) holds at bounds of 0.3 to 0.75 (its A/A rate
and coverage among the rows kept); beyond 0.49 the corrected interval is all but open on one
side. The
skewness is about g/√n for a small arm of n users whose values have skewness g, so 0.44 asks
n > 5·g²; equal arms never reach it."""
SKEWNESS_CORRECTED_FROM = 0.05
"""From this skewness of the difference (in size) a per-user row's test and interval are
corrected for it (:func:`attrkit.stats.skewness_corrected`), and the row's warnings say so and
how many users in the smaller arm would make the correction small. Below it the correction
would move a p-value near 0.05 by less than 0.01 and Welch's t is used as it is: balanced
experiments, whose skewness is near 0, get exactly Welch's numbers."""
CUPED_MIN_DAYS = 7
"""CUPED is used by default only when the data holds at least this many days before the
experiment's start: a week, so that every weekday is in the covariate alike."""
MAX_SEGMENTS = 50
"""A segment column with more distinct values than this is refused: each segment is a
comparison of its own, and a column of IDs or timestamps would make thousands."""
N_STAR = 5000
"""The sample size an always-valid sequence is tuned for, when none is known (units)."""
POWER = 0.8
"""Target power of the detectable-effect and sample-size calculations."""
MAX_UNATTRIBUTED_SHARE = 0.5
"""A comparison warns when more than this share of its first metric has no source
(``SOURCE_NAME_UNDEFINED``); ``attrkit compare --fail-on unattributed`` alarms on the same."""
SRM_THRESHOLD = 0.001
"""A sample-ratio check's p-value below this is a mismatch."""
MIN_USERS = 100
"""Fewer users than this in an arm and no verdict: Welch's t leans on the central limit theorem,
and per-user sums are skewed (most users zero, a few heavy)."""
MIN_WINDOWS = 30
"""Fewer windows than this and no verdict: the Newey–West standard error is too uncertain (with 12
windows the paired test's A/A false-positive rate is about 0.12, heavy-tailed sums over one day
0.12–0.13)."""
