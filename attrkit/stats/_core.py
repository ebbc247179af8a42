"""Sufficient statistics and the result record every test returns."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES = ("two-sided", "greater", "less")


def proportion_se(rate: float, n: int) -> float:
    """The binomial standard error of a proportion ``rate`` observed over ``n`` trials (e.g. a
    simulated false-positive rate over ``n`` replicates)."""
    return math.sqrt(rate * (1 - rate) / n)


def mean_se(values: Any) -> float:
    """The standard error of the mean of ``values`` (population standard deviation over
    √n, as a simulation's summary uses it)."""
    x = np.asarray(values, dtype=float)
    return float(x.std() / math.sqrt(x.size)) if x.size else math.nan


def check_alpha(alpha: float) -> float:
    """Raise ``ValueError`` unless 0 < alpha < 1."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha!r}: must be a number strictly between 0 and 1")
    return float(alpha)


def check_alternative(alternative: str) -> Alternative:
    """Raise ``ValueError`` unless ``alternative`` is two-sided, greater or less."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative={alternative!r}: must be one of {', '.join(ALTERNATIVES)}")
    return alternative  # type: ignore[return-value]


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    """Raise ``ValueError`` naming the parameter unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}={value!r}: must be one of {', '.join(map(repr, choices))}")
    return value


@dataclass(frozen=True)
class SampleStats:
    """Sufficient statistics of one arm's per-unit values: count, sum, sum of squares.

    ``m2``, the centred sum of squares ``Σ(x − mean)²``, is filled by :meth:`from_array` and
    used for the variance when present: ``sum_sq − sum²/n`` loses every digit when the values
    are large next to their spread (1e8 ± 1 leaves nothing of the variance in a float).
    Statistics known only as sums (reports, the golden vectors) leave it ``None``.

    Example:
        >>> s = SampleStats.from_array([1.0, 2.0, 3.0])
        >>> s.mean, s.var
        (2.0, 1.0)
        >>> s.combine(SampleStats.from_array([4.0, 5.0])).var
        2.5
    """

    n: float
    sum: float
    sum_sq: float
    m2: float | None = None

    def __post_init__(self) -> None:
        if not self.n >= 0:
            raise ValueError(f"n={self.n!r}: must be a count of at least 0")

    @classmethod
    def from_array(cls, values: Any) -> SampleStats:
        """From a sequence or array of per-unit values (NaN is not allowed)."""
        x = np.asarray(values, dtype=float)
        if np.isnan(x).any():
            raise ValueError("values: contain NaN; drop or fill them first")
        d = x - x.mean() if x.size else x
        return cls(float(x.size), float(x.sum()), float((x * x).sum()), float((d * d).sum()))

    @classmethod
    def from_frame(cls, frame: Any, column: str) -> SampleStats:
        """From one column of a polars or pandas frame."""
        return cls.from_array(_column(frame, column))

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else math.nan

    @property
    def centred_sq(self) -> float:
        """``Σ(x − mean)²``: ``m2`` when known, else from the sums."""
        if self.m2 is not None:
            return self.m2
        return self.sum_sq - self.sum**2 / self.n if self.n else 0.0

    @property
    def var(self) -> float:
        """Sample variance (n − 1)."""
        if self.n <= 1:
            return math.nan
        return self.centred_sq / (self.n - 1)

    def combine(self, other: SampleStats) -> SampleStats:
        """Both samples as one, keeping ``m2`` exact (Chan et al.'s parallel update)."""
        if not other.n or not self.n:
            return self if not other.n else other
        n = self.n + other.n
        m2 = None
        if self.m2 is not None and other.m2 is not None:
            delta = other.mean - self.mean
            m2 = self.m2 + other.m2 + delta**2 * self.n * other.n / n
        return SampleStats(n, self.sum + other.sum, self.sum_sq + other.sum_sq, m2)


@dataclass(frozen=True)
class RatioStats:
    """Sufficient statistics of one arm's per-unit numerator and denominator.

    The metric is ``num_sum / den_sum`` (for example minutes watched per click). As in
    :class:`SampleStats`, :meth:`from_arrays` also keeps the centred moments (``num_m2``,
    ``den_m2`` and the co-moment ``num_den_m2 = Σ(a − ā)(b − b̄)``) for a variance that does
    not cancel; without them the sums are used.

    Example:
        >>> r = RatioStats.from_arrays([2.0, 4.0], [1.0, 3.0])
        >>> r.ratio, r.cov
        (1.5, 2.0)
    """

    n: float
    num_sum: float
    num_sum_sq: float
    den_sum: float
    den_sum_sq: float
    num_den_sum: float
    num_m2: float | None = None
    den_m2: float | None = None
    num_den_m2: float | None = None

    @classmethod
    def from_arrays(cls, numerator: Any, denominator: Any) -> RatioStats:
        """From per-unit numerator and denominator values of equal length."""
        a = np.asarray(numerator, dtype=float)
        b = np.asarray(denominator, dtype=float)
        if a.shape != b.shape:
            raise ValueError(f"numerator and denominator: lengths {a.size} and {b.size} differ")
        da, db = (a - a.mean(), b - b.mean()) if a.size else (a, b)
        return cls(float(a.size), float(a.sum()), float((a * a).sum()), float(b.sum()),
                   float((b * b).sum()), float((a * b).sum()), float((da * da).sum()),
                   float((db * db).sum()), float((da * db).sum()))

    @classmethod
    def from_frame(cls, frame: Any, numerator: str, denominator: str) -> RatioStats:
        """From two columns of a polars or pandas frame."""
        return cls.from_arrays(_column(frame, numerator), _column(frame, denominator))

    @property
    def num(self) -> SampleStats:
        return SampleStats(self.n, self.num_sum, self.num_sum_sq, self.num_m2)

    @property
    def den(self) -> SampleStats:
        return SampleStats(self.n, self.den_sum, self.den_sum_sq, self.den_m2)

    @property
    def cov(self) -> float:
        """Sample covariance of numerator and denominator (n − 1)."""
        if self.n <= 1:
            return math.nan
        if self.num_den_m2 is not None:
            return self.num_den_m2 / (self.n - 1)
        return (self.num_den_sum - self.num_sum * self.den_sum / self.n) / (self.n - 1)

    @property
    def ratio(self) -> float:
        return self.num_sum / self.den_sum if self.den_sum else math.nan

    @property
    def mean(self) -> float:
        return self.ratio

    @property
    def unit_var(self) -> float:
        """Per-unit variance of the ratio by the delta method (divide by n for its variance)."""
        mn, md = self.num.mean, self.den.mean
        return (self.num.var / md**2 - 2 * self.cov * mn / md**3
                + self.den.var * mn**2 / md**4)


def _column(frame: Any, column: str) -> np.ndarray:
    if column not in frame.columns:
        raise ValueError(f"column {column!r}: not in the frame (columns: {list(frame.columns)})")
    return np.asarray(frame[column], dtype=float)


@dataclass(frozen=True)
class Comparison:
    """The result of comparing a treatment arm with a control arm.

    Attributes:
        control: the control arm's mean, rate or proportion.
        treatment: the treatment arm's.
        effect: ``treatment − control``, or ``(treatment − control) / control`` when ``relative``.
        ci_low: the confidence interval's lower end of ``effect``; an open one-sided end is
            -inf; NaN where the method gives no interval (exact tests).
        ci_high: its upper end (+inf when open).
        p_value: the p-value for ``alternative``.
        statistic: the test statistic (t, z, chi-square, ...), NaN where there is none.
        method: a readable name of the method, its options and interval.
        alpha: the significance level used.
        alternative: the alternative used.
        relative: whether the effect is relative.
        se: standard error of ``effect`` where the method has one.
        details: method-specific extras (degrees of freedom, theta, chance to win, ...).
    """

    control: float
    treatment: float
    effect: float
    ci_low: float
    ci_high: float
    p_value: float
    statistic: float
    method: str
    alpha: float
    alternative: Alternative
    relative: bool
    se: float = math.nan
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("control", "treatment", "effect", "ci_low", "ci_high", "p_value",
                     "statistic", "alpha", "se"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values, ready for JSON (``inf`` stays a float)."""
        out = asdict(self)
        out["details"] = dict(self.details)
        return out

    @property
    def significant(self) -> bool:
        """Whether ``p_value < alpha``."""
        return bool(self.p_value < self.alpha)

    def _repr_html_(self) -> str:
        pct = self.relative
        def fmt(x: float) -> str:
            if math.isinf(x):
                return "∞" if x > 0 else "−∞"
            if math.isnan(x):
                return "–"
            return f"{x:.2%}" if pct else f"{x:.4g}"
        rows = [
            ("control", f"{self.control:.4g}"), ("treatment", f"{self.treatment:.4g}"),
            ("effect" + (" (relative)" if pct else ""), fmt(self.effect)),
            (f"{1 - self.alpha:.0%} CI", f"[{fmt(self.ci_low)}, {fmt(self.ci_high)}]"),
            ("p-value", f"{self.p_value:.4g}"), ("method", self.method),
            ("alternative", self.alternative),
        ]
        from attrkit.reports import render

        return render.key_values(rows, css_class="attrkit-comparison")


def interval_and_p(
    effect: float, se: float, alpha: float, alternative: Alternative, dof: float | None = None,
) -> tuple[float, float, float, float]:
    """``(ci_low, ci_high, p_value, statistic)`` for a normal or t pivot ``effect / se``."""
    dist = sps.norm if dof is None or not math.isfinite(dof) else sps.t(dof)
    if not se > 0 or not math.isfinite(se):
        return math.nan, math.nan, math.nan, math.nan
    stat = effect / se
    if alternative == "two-sided":
        q = dist.ppf(1 - alpha / 2)
        return effect - q * se, effect + q * se, float(2 * dist.sf(abs(stat))), stat
    q = dist.ppf(1 - alpha)
    if alternative == "greater":
        return effect - q * se, math.inf, float(dist.sf(stat)), stat
    return -math.inf, effect + q * se, float(dist.cdf(stat)), stat


def welch_dof(var_c: float, n_c: float, var_t: float, n_t: float) -> float:
    """Welch–Satterthwaite degrees of freedom from per-unit variances and counts."""
    a, b = var_c / n_c, var_t / n_t
    den = a**2 / (n_c - 1) + b**2 / (n_t - 1)
    return (a + b) ** 2 / den if den > 0 else math.inf
