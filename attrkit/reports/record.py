"""What a run records: the results the notebook publishes for ``attrkit report`` (its JSON, the
comparison table, each metric's headline), invisible in the HTML.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from attrkit.reports import render
from attrkit.reports.data import ReportData

RESULTS_MIMETYPE = "application/vnd.attrkit.results+json"
"""Notebooks publish their key results under this mimetype; ``attrkit report`` collects them
into the run's JSON, and the HTML does not show them."""


def results_bundle(data: dict[str, Any]) -> Any:
    """A display object carrying results for ``attrkit report`` (invisible in the HTML)."""
    from IPython.display import display

    display({RESULTS_MIMETYPE: data, "text/plain": ""}, raw=True)


def jsonable(x: Any) -> Any:
    """Floats that JSON can hold (inf and NaN become strings), recursively."""
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    return x


def frame_payload(frame: pl.DataFrame) -> str:
    """A frame as base64 Arrow IPC: carried in the results bundle so that ``attrkit report``
    writes the comparison table beside the JSON exactly as :func:`~attrkit.compare` made it."""
    import base64
    import io

    buf = io.BytesIO()
    frame.write_ipc(buf)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def results(title: str, window: dict[str, Any], table: Any, sentences: list[str], health: Any,
            monitor_note: str, headline: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The run's key results, for its JSON (:func:`results_bundle`): ``headline`` is each
    metric's primary comparison (:func:`headlines`); ``comparison_ipc`` carries the whole
    comparison table, which ``attrkit report`` writes as CSV and Parquet, not into the JSON."""
    return jsonable({
        "title": title, "data_window": window, "comparison_ipc": frame_payload(table.frame),
        "results": {
            "headline": headline, "alpha": table.alpha, "correction": table.correction,
            "conclusion": sentences, "design": table.design,
            "design_check": (table.design_check.to_dict() if table.design_check is not None
                             else None),
            "comparisons": table.frame.select(
                "metric", "kind", "control", "treatment", "lift", "lift_ci_low", "lift_ci_high",
                "p_value", "p_adjusted", "significant", "chance_to_win", "expected_loss", "tested",
                "method", "warnings").to_dicts(),
            "warnings": table.warnings,
            "srm_p_value": table.srm.p_value if table.srm is not None else None,
            "unattributed_share": health.unattributed_share if health is not None else None,
            "monitor": monitor_note,
        },
    })


def headlines(table: Any, data: ReportData, alpha: float) -> list[dict[str, Any]]:
    """Each metric's primary comparison (:func:`monitored`, chosen before any p-value is seen):
    the lift with its fixed-horizon interval and verdict, and where it was tested, the
    always-valid interval at the run's last look (:func:`~attrkit.monitor`), which stays valid
    however many runs look at the same experiment. For the run's JSON and the index."""
    from attrkit.comparison import monitor
    from attrkit.reports.answer import monitored  # the statistics: only when a notebook runs

    out = []
    for metric in data.metrics:
        r = monitored(table, metric)
        if r is None or r["metric"] != metric:
            continue
        low = high = None
        if r["tested"] and table.design in ("users", "requests"):
            watch = monitor(data.windows, metric=metric, control=r["control"],
                            treatment=r["treatment"], exposure=data.exposure, users=data.users,
                            design=table.design, alpha=alpha)
            if watch.height:
                low, high = watch["ci_low"][-1], watch["ci_high"][-1]
        out.append({k: r[k] for k in ("metric", "kind", "control", "treatment", "lift",
                                      "lift_ci_low", "lift_ci_high", "p_adjusted", "significant",
                                      "tested")}
                   | {"verdict": render.verdict(r["significant"], r["lift"], r["tested"],
                                                r["method"]),
                      "always_valid_low": low, "always_valid_high": high})
    return out
