"""How attrkit names a source to people: an ARN's last segment, cut to fit a label.

A leaf that every layer may use (attribution's messages, the comparison's warnings, the
renderer's tables and the plots' legends) without importing one another.
"""

from __future__ import annotations


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
