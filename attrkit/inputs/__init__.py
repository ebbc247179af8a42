"""Inputs: the datasets' columns and row rules, and the readers that apply them.

- :mod:`attrkit.inputs.schema` — the interactions, items and recommendations columns, their
  types and the rule each row must meet (:func:`~attrkit.inputs.schema.coerce`).
- :mod:`attrkit.inputs.readers` — :func:`load` a path (CSV, Parquet, PutEvents JSON Lines, local
  or a storage URL) or a frame into a :class:`Dataset`.
"""

from attrkit.inputs.readers import Dataset, load

__all__ = ["Dataset", "load"]
