"""Exact sufficient statistics of per-user values, computed where the data is.

Every per-user test of :func:`attrkit.compare` (Welch on means, the delta method on a ratio of
per-user sums, CUPED) needs, per arm, only the count of users and sums of values and of their
products. An engine computes these as integers: each per-user value is a whole number of
billionths (``round(value × 1e9)``: the nine places of attrkit's exact sums; recommendations
served are counted as they are), and a product of two such numbers is summed in three 21-bit
limbs of each, so that no partial sum overflows (Int128 in polars, DECIMAL(38, 0) on Spark).
The driver receives a few dozen integers per arm, whatever the number of users, and derives
means, centred sums of squares and co-moments exactly (fractions), rounding once at the end:
no cancellation (a metric whose mean is near 1e8 keeps its variance), and the same numbers
whatever the order the engine added them in, so that both engines give the same bytes.

Per-user values must stay below 9.2e9 in magnitude (the nine places in 63 bits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # (the statistics, and scipy under them, load only when a test runs)
    from attrkit.stats._core import RatioStats, SampleStats

SCALE = {"value": 10**9, "total": 10**9, "pre": 10**9, "served": 1}
"""Each per-user quantity's unit: billionths of the metric; recommendations as counted."""
PRODUCTS = (("value", "value"), ("total", "total"), ("served", "served"),
            ("value", "served"), ("pre", "pre"), ("value", "pre"), ("total", "pre"))
"""The products a comparison reads (the last three only with a pre-period)."""
TRIPLES = (("value", "value", "value"), ("total", "total", "total"),
           ("value", "value", "served"), ("value", "served", "served"),
           ("served", "served", "served"), ("value", "value", "pre"), ("value", "pre", "pre"),
           ("pre", "pre", "pre"), ("total", "total", "pre"), ("total", "pre", "pre"))
"""The sums of triple products a comparison reads: the third moments of what it tests (a
metric, the linearised ratio per recommendation, a CUPED-adjusted metric), from which it
corrects Welch's t for skewness and judges whether a small arm can be tested at all (see
:func:`attrkit.stats.skewness_corrected`); those with ``pre`` only with a pre-period."""
LIMB = 21
SHIFTS = (84, 63, 42, 21, 0)
CUBE_SHIFTS = (126, 105, 84, 63, 42, 21, 0)
LIMIT = 2**63 - 1
"""The largest scaled per-user value."""


def limb_terms(a: tuple[Any, Any, Any], b: tuple[Any, Any, Any]) -> list[Any]:
    """The product of two limb triples ``(hi, mid, lo)`` (value = hi·2⁴² + mid·2²¹ + lo), as
    the five sums of limb products of :data:`SHIFTS`: each below 2⁴⁴ in magnitude. Works on
    numbers and on polars or Spark expressions alike."""
    (a2, a1, a0), (b2, b1, b0) = a, b
    return [a2 * b2, a2 * b1 + a1 * b2, a2 * b0 + a1 * b1 + a0 * b2, a1 * b0 + a0 * b1, a0 * b0]


def triple_terms(a: tuple[Any, ...], b: tuple[Any, ...], c: tuple[Any, ...]) -> list[Any]:
    """The product of three numbers given as limbs, most significant first (value =
    Σ limbᵢ·2^(w·(L−1−i)) for L limbs of w bits), as the sums of limb products of each total
    exponent, the highest first: ``3L − 2`` terms, the k-th from the end to be shifted by
    ``w·k`` bits. Works on numbers and on polars or Spark expressions alike; the caller widens
    the limbs so that no term overflows (:data:`CUBE_SHIFTS`: three 21-bit limbs, terms below
    2⁶⁶, 128-bit in polars; Spark's two 32-bit limbs as decimals, terms below 2⁹⁸)."""
    n = len(a) - 1
    return [sum(a[n - i] * b[n - j] * c[n - (k - i - j)]
                for i in range(n + 1) for j in range(n + 1) if 0 <= k - i - j <= n)
            for k in range(3 * n, -1, -1)]


def shifted_sum(row: Mapping[str, Any], prefix: str) -> int:
    """The whole number an engine's row gives as limb sums named ``prefix@shift`` (whatever
    limbs the engine used)."""
    return sum(int(v or 0) << int(k.rsplit("@", 1)[1]) for k, v in row.items()
               if k.rsplit("@", 1)[0] == prefix)


def triple_name(t: tuple[str, str, str], shift: int) -> str:
    return f"{'*'.join(t)}@{shift}"


def triples(quantities: Any) -> list[tuple[str, str, str]]:
    """The triples of :data:`TRIPLES` that ``quantities`` make."""
    return [t for t in TRIPLES if all(q in quantities for q in t)]


def product_name(a: str, b: str, shift: int) -> str:
    return f"{a}*{b}@{shift}"


def pairs(quantities: Any) -> list[tuple[str, str]]:
    """The products of :data:`PRODUCTS` that ``quantities`` make."""
    return [(a, b) for a, b in PRODUCTS if a in quantities and b in quantities]


def in_units(whole: int, q: str) -> float:
    """A sum in :data:`SCALE`'s whole units back in the metric's units: the nearest float."""
    return float(Fraction(whole, SCALE[q]))


def too_large(metric: str, big: int) -> ValueError:
    """The error of a per-user value beyond :data:`LIMIT` (either engine's)."""
    return ValueError(f"metric {metric}: a user's value reaches {big / 1e9:.3g}; per-user "
                      f"values above {LIMIT / 1e9:.3g} in magnitude cannot be added exactly")


@dataclass(frozen=True)
class Moments:
    """One arm's exact sums: ``n`` users, ``sums[q]`` = Σ q and ``products[(a, b)]`` = Σ a·b,
    in the units of :data:`SCALE` (whole numbers).

    Example:
        >>> m = Moments.from_values({"value": [1.0, 2.0, 3.0]})
        >>> m.sample("value").mean, m.sample("value").var
        (2.0, 1.0)
    """

    n: int
    sums: Mapping[str, int]
    products: Mapping[tuple[str, str], int] = field(default_factory=dict)
    triples: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    """Σ a·b·c of the :data:`TRIPLES` the engine was asked for."""

    @classmethod
    def from_row(cls, row: Mapping[str, Any], quantities: tuple[str, ...]) -> Moments:
        """From an engine's aggregate row: ``n``, ``sum:q`` and the limb sums of each product
        (:func:`product_name`); missing sums (no user) are zero."""
        sums = {q: int(row.get(f"sum:{q}") or 0) for q in quantities}
        products = {(a, b): sum(int(row.get(product_name(a, b, s)) or 0) << s for s in SHIFTS)
                    for a, b in pairs(quantities)}
        third = {t: shifted_sum(row, "*".join(t)) for t in triples(quantities)
                 if triple_name(t, 0) in row}
        return cls(int(row.get("n") or 0), sums, products, third)

    @classmethod
    def from_values(cls, columns: Mapping[str, Any]) -> Moments:
        """From per-user values (plain Python; for tests and examples)."""
        scaled = {q: [round(float(v) * SCALE[q]) for v in vs] for q, vs in columns.items()}
        n = len(next(iter(scaled.values()), []))
        return cls(n, {q: sum(v) for q, v in scaled.items()},
                   {(a, b): sum(x * y for x, y in zip(scaled[a], scaled[b], strict=True))
                    for a, b in pairs(scaled)},
                   {t: sum(x * y * z for x, y, z in zip(*(scaled[q] for q in t), strict=True))
                    for t in triples(scaled)})

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.n + other.n, {q: v + other.sums[q] for q, v in self.sums.items()},
                       {k: v + other.products[k] for k, v in self.products.items()},
                       {t: v + other.triples[t] for t, v in self.triples.items()
                        if t in other.triples})

    def central(self, combo: Mapping[str, Fraction | int]) -> tuple[int, float, float]:
        """``(n, m2, m3)`` of the linear combination ``Σ combo[q]·q`` of the quantities: the
        users and the exact sums of squared and cubed deviations from its mean, in the
        metrics' units (NaN m3 without the :data:`TRIPLES` it needs). A metric is ``{q: 1}``;
        the ratio per recommendation linearised at ``r`` is ``{"value": 1, "served": −r}``;
        CUPED is ``{q: 1, "pre": −θ}``.

        Example:
            >>> m = Moments.from_values({"value": [1.0, 2.0, 6.0], "served": [1, 1, 2]})
            >>> m.central({"value": 1})
            (3, 14.0, 18.0)
            >>> m.central({"value": 1, "served": -3})[1:]
            (2.0, 0.0)
        """
        n, terms = self.n, list(combo.items())
        if not n:
            return 0, 0.0, 0.0
        m2 = sum((Fraction(ca) * Fraction(cb) * self.comoment(a, b)
                  for a, ca in terms for b, cb in terms), Fraction(0))
        try:
            m3 = sum((Fraction(ca) * Fraction(cb) * Fraction(cc) * self._comoment3(a, b, c)
                      for a, ca in terms for b, cb in terms for c, cc in terms), Fraction(0))
        except KeyError:
            return n, float(m2), float("nan")
        return n, float(m2), float(m3)

    def linearised(self, num: str, den: str) -> tuple[int, float, float]:
        """``(n, m2, m3)`` of the ratio ``Σnum / Σden`` linearised at its value ``r``: the
        per-user ``(num − r·den) / mean den``, whose mean's variance is the delta method's."""
        if not self.n or not self.sums[den]:
            return self.n, float("nan"), float("nan")
        r = Fraction(self.sums[num], SCALE[num]) / Fraction(self.sums[den], SCALE[den])
        mean = float(Fraction(self.sums[den], SCALE[den] * self.n))
        n, m2, m3 = self.central({num: 1, den: -r})
        return n, m2 / mean**2, m3 / mean**3

    def _comoment3(self, a: str, b: str, c: str) -> Fraction:
        """Σ (a − ā)(b − b̄)(c − c̄), exact, in the metrics' units."""
        key = next(t for t in TRIPLES if sorted(t) == sorted((a, b, c)))
        n, sa, sb, sc = self.n, self.sums[a], self.sums[b], self.sums[c]
        sab, sac, sbc = (self._product(a, b), self._product(a, c), self._product(b, c))
        whole = (n * n * self.triples[key] - n * (sab * sc + sac * sb + sbc * sa)
                 + 2 * sa * sb * sc)
        return Fraction(whole, n * n * SCALE[a] * SCALE[b] * SCALE[c])

    def _product(self, a: str, b: str) -> int:
        return self.products[(a, b)] if (a, b) in self.products else self.products[(b, a)]

    def total(self, q: str) -> float:
        """Σ q in the metric's units."""
        return in_units(self.sums[q], q)

    def comoment(self, a: str, b: str) -> Fraction:
        """Σ (a − ā)(b − b̄), exact, in the metric's units."""
        n, sa, sb = self.n, self.sums[a], self.sums[b]
        p = self._product(a, b)
        if not n:
            return Fraction(0)
        return Fraction(n * p - sa * sb, n * SCALE[a] * SCALE[b])

    def sample(self, q: str) -> SampleStats:
        """The arm's :class:`SampleStats` of ``q``, its centred sum of squares exact."""
        from attrkit.stats._core import SampleStats

        s2 = self.products[(q, q)]
        return SampleStats(float(self.n), self.total(q), float(Fraction(s2, SCALE[q] ** 2)),
                           float(self.comoment(q, q)))

    def ratio(self, num: str, den: str) -> RatioStats:
        """The arm's :class:`RatioStats` of ``num`` over ``den``, co-moments exact."""
        from attrkit.stats._core import RatioStats

        a, b = self.sample(num), self.sample(den)
        cross = self.products[(num, den)]
        return RatioStats(a.n, a.sum, a.sum_sq, b.sum, b.sum_sq,
                          float(Fraction(cross, SCALE[num] * SCALE[den])), a.m2, b.m2,
                          float(self.comoment(num, den)))

    def cuped(self, q: str, theta: Fraction, pre_mean: Fraction) -> SampleStats:
        """The :class:`SampleStats` of ``q − θ (pre − pre_mean)`` (CUPED), exact until the
        final rounding; ``θ`` and ``pre_mean`` come from both arms (:func:`cuped_theta`)."""
        from attrkit.stats._core import SampleStats

        if not self.n:
            return SampleStats(0.0, 0.0, 0.0, 0.0)
        n = self.n
        sy = Fraction(self.sums[q], SCALE[q])
        sx = Fraction(self.sums["pre"], SCALE["pre"])
        total = sy - theta * (sx - n * pre_mean)
        m2 = (self.comoment(q, q) - 2 * theta * self.comoment(q, "pre")
              + theta * theta * self.comoment("pre", "pre"))
        mean = total / n
        return SampleStats(float(n), float(total), float(m2 + n * mean * mean), float(m2))


def cuped_theta(both: Moments, q: str) -> tuple[Fraction, Fraction]:
    """CUPED's θ = cov(q, pre) / var(pre) pooled over both arms (0 when pre does not vary),
    and the pooled mean of pre."""
    var = both.comoment("pre", "pre")
    theta = both.comoment(q, "pre") / var if var > 0 else Fraction(0)
    mean = Fraction(both.sums["pre"], SCALE["pre"] * both.n) if both.n else Fraction(0)
    return theta, mean


@dataclass(frozen=True)
class ArmMoments:
    """What an engine gives :func:`attrkit.compare` for one metric and pair of arms: per arm,
    the moments of the per-user values as they are (``raw``) and as tested (``tested``: capped
    when a cap was asked, else the same), and each capped quantity's limit."""

    raw: dict[str, Moments]
    tested: dict[str, Moments]
    limits: dict[str, float] = field(default_factory=dict)


def polars_aggregates(quantities: tuple[str, ...], third: bool = False) -> list[Any]:
    """The aggregates of :meth:`Moments.from_row` in polars, over Int64 columns of scaled
    per-user values (one row per user); the :data:`TRIPLES` only when ``third`` (the
    comparisons' moments ask for them; the monitor's looks need none)."""
    import polars as pl

    def limbs(q: str) -> tuple[Any, Any, Any]:
        x = pl.col(q)
        return x // 2**(2 * LIMB), (x // 2**LIMB) % 2**LIMB, x % 2**LIMB

    out = [pl.len().cast(pl.Int64).alias("n")]
    out += [pl.col(q).cast(pl.Int128).sum().alias(f"sum:{q}") for q in quantities]
    for a, b in pairs(quantities):
        for shift, term in zip(SHIFTS, limb_terms(limbs(a), limbs(b)), strict=True):
            out.append(term.cast(pl.Int128).sum().alias(product_name(a, b, shift)))
    for t in triples(quantities) if third else ():
        wide = [tuple(x.cast(pl.Int128) for x in limbs(q)) for q in t]
        for shift, term in zip(CUBE_SHIFTS, triple_terms(*wide), strict=True):
            out.append(term.sum().alias(triple_name(t, shift)))
    return out


def scaled(value: Any, q: str) -> Any:
    """A polars Float64 expression of per-user-day values in :data:`SCALE`'s whole units
    (Int128: a sum is checked against :data:`LIMIT` before the moments)."""
    import polars as pl

    return ((value * SCALE[q]).round().cast(pl.Int128) if SCALE[q] != 1
            else value.cast(pl.Int128))


__all__ = ["PRODUCTS", "SCALE", "TRIPLES", "ArmMoments", "Moments", "cuped_theta", "in_units",
           "limb_terms", "pairs", "polars_aggregates", "scaled", "shifted_sum", "too_large",
           "triple_terms",
           "triples"]
