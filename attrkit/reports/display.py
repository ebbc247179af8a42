"""How result objects show themselves: a table in JupyterLab and in a report's HTML, and the
frame behind it for polars and pandas users. Compute modules subclass :class:`Display`; the
rendering stays here, in :mod:`attrkit.reports`, so frames and statistics know nothing of HTML."""

from __future__ import annotations

from typing import Any

import polars as pl

from attrkit.reports import render


class Display:
    """What every result object shows: ``to_polars()``, ``to_pandas()`` and ``_repr_html_()``
    (through the one renderer, :mod:`attrkit.reports.render`). A subclass names its main frame
    in :meth:`to_polars` and may add notes under the table in :meth:`_notes`."""

    def to_polars(self) -> pl.DataFrame:
        raise NotImplementedError

    def to_pandas(self) -> Any:
        return self.to_polars().to_pandas()

    def _notes(self) -> list[str]:
        return []

    def _repr_html_(self) -> str:
        return render.result_html(self.to_polars(), notes=self._notes())
