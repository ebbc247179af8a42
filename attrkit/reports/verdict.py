"""A comparison's verdict in words, as the report, the index and the run's record say it.

A leaf: the renderer shows it and :mod:`attrkit.reports.history` writes it for runs recorded
before verdicts were, without either importing the other.
"""

from __future__ import annotations


def verdict(significant: bool | None, lift: float | None, tested: bool | None = True,
            method: str | None = None) -> str:
    """A comparison's verdict in words."""
    if method == "not computed":
        return "not computed"
    if tested is False:
        return "described, not tested"
    if significant is None:
        return "no verdict"
    if not significant:
        return "not significant"
    return "▲ higher" if (lift or 0) > 0 else "▼ lower"
