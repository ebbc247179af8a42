"""How attrkit names a source to people: an ARN's last segment, cut to fit a label.

A leaf that every layer may use (attribution's messages, the comparison's warnings, the
renderer's tables and the plots' legends) without importing one another.
"""

from __future__ import annotations

from collections.abc import Iterable

from attrkit.errors import ConfigError


def short_name(source: str) -> str:
    """How reports name a source: an ARN's last segment (``top-picks``), other names as they are.

    Example:
        >>> short_name("arn:aws:personalize:us-east-1:111122223333:recommender/top-picks")
        'top-picks'
    """
    return source.rsplit("/", 1)[-1] if source.startswith("arn:") else source


def short_label(source: str, width: int = 40) -> str:
    """A readable source label: the part of an ARN after the last ``/``, cut to ``width``.

    Example:
        >>> short_label("arn:aws:personalize:us-east-1:111122223333:recommender/top-picks")
        'top-picks'
    """
    text = short_name(source)
    return text if len(text) <= width else text[: width - 1] + "…"


def resolve_source(name: str, known: Iterable[str], parameter: str = "baseline", *,
                   strict: bool = True) -> str:
    """A source named as the report shows it: the full name, or exactly the last segment of an
    ARN (after the last ``/``), never a part of one. A name that is no source is an error, or
    with ``strict=False`` returned as it is (for the caller to refuse in its own words).

    Example:
        >>> arns = ["arn:aws:personalize:us-east-1:1:recommender/top-picks", "carousel"]
        >>> resolve_source("top-picks", arns)
        'arn:aws:personalize:us-east-1:1:recommender/top-picks'
    """
    known = sorted(set(known))
    if name in known:
        return name
    hits = [s for s in known if s.startswith("arn:") and s.rsplit("/", 1)[-1] == name]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise ConfigError(f"parameter {parameter}={name!r}: names {len(hits)} sources "
                          f"({', '.join(hits)}); give the full name")
    if not strict:
        return name
    raise ConfigError(f"parameter {parameter}={name!r}: no such source; sources are "
                      f"{', '.join(short_name(s) for s in known)}")
