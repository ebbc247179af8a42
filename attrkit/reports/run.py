"""Parameterized notebook reports: check parameters, run with papermill, render HTML.

``attrkit report`` and :func:`run_report` write, for a run named ``NAME`` in ``DIR``:

- ``DIR/NAME.ipynb`` — the executed notebook;
- ``DIR/NAME.html`` — code hidden, plots embedded, nothing fetched from the network;
- ``DIR/NAME.json`` — parameters, key results, attrkit version, data window, status;
- ``DIR/NAME.comparison.csv`` and ``.parquet`` — the comparison table, with the columns of
  ``compare(...).frame`` (:data:`~attrkit.frames.RESULT_SCHEMA`);
- ``DIR/index.html`` — every run in ``DIR``, newest first.

A failing cell still produces the notebook, the HTML (each error in words, one line) and the JSON
(status ``failed``), named ``NAME.failed.*`` so that the last good run's report stays; the index
marks the run failed. Parameters are checked before anything runs (:mod:`attrkit.reports.checks`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from attrkit.errors import (
    AttrkitError,
    ConfigError,
    ReportError,
    explain,
    first_line,
    one_line,
    os_errors_named,
)
from attrkit.frames import is_relative, iso_day, when
from attrkit.reports import render
from attrkit.reports.checks import CHECKS
from attrkit.reports.record import RESULTS_MIMETYPE, jsonable
from attrkit.storage import atomic_write_text, remove_later, together, write_frame

DEFAULT_TEMPLATE = "attribution_report"
DATE_PARAMETERS = ("start", "end")
"""Parameters that take a date: a date relative to today (``-7d``, ``today``) is resolved once,
before the run, so the notebook, its HTML and its JSON show the dates the run used."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of a template: name, type name, default and help (its comment)."""

    name: str
    type: str
    default: Any
    help: str


@dataclass(frozen=True)
class ReportRun:
    """Where a run's files are, and how it ended."""

    notebook: Path
    html: Path
    json: Path
    index: Path
    ok: bool
    error: str | None = None
    exports: tuple[Path, ...] = ()
    """The comparison table as ``NAME.comparison.csv`` and ``NAME.comparison.parquet``."""


SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}", re.ASCII)
"""A run's name: a plain file name, safe as a link in the index and on any file system."""


def templates_dir() -> Path:
    """The folder of bundled templates (``attrkit/reports/templates``; ``notebooks/`` links to it)."""
    return Path(str(resources.files("attrkit.reports") / "templates"))


def template_path(template: str | os.PathLike[str] | None = None) -> Path:
    """Resolve a template name (``attribution_report``) or a path to an ``.ipynb`` file."""
    name = str(template or DEFAULT_TEMPLATE)
    path = Path(name)
    if path.suffix == ".ipynb" or path.exists():
        if not path.is_file():
            raise ConfigError(f"template {name}: file not found")
        return path
    bundled = templates_dir() / f"{name}.ipynb"
    if not bundled.is_file():
        names = sorted(p.stem for p in templates_dir().glob("*.ipynb"))
        raise ConfigError(f"template {name!r}: not found; bundled templates: {', '.join(names)}")
    return bundled


def parameters(template: str | os.PathLike[str] | None = None) -> dict[str, Parameter]:
    """The template's parameters, read from its cell tagged ``parameters`` (papermill)."""
    import papermill

    path = template_path(template)
    try:
        found = papermill.inspect_notebook(str(path))
    except Exception as exc:  # noqa: BLE001 - whatever nbformat meets in a file that is no notebook
        raise ConfigError(f"template {path}: not a Jupyter notebook ({first_line(exc)})") from None
    if not found:
        raise ConfigError(f"template {path}: has no cell tagged 'parameters'")
    out = {}
    for name, p in found.items():
        default = p.get("default")
        try:
            value = json.loads(default) if default not in (None, "None") else None
        except (TypeError, json.JSONDecodeError):
            value = default.strip("'\"") if isinstance(default, str) else default
        if default in ("True", "False"):
            value = default == "True"
        out[name] = Parameter(name, p.get("inferred_type_name") or "None", value,
                              (p.get("help") or "").strip())
    return out


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def coerce_parameter(param: Parameter, value: Any) -> Any:
    """Turn a command-line string (or a YAML value) into the parameter's type.

    Raises:
        ConfigError: naming the parameter, the value and the type expected.
    """
    kind = param.type
    bad = ConfigError(f"parameter {param.name}={value!r}: expected {kind} "
                      f"(default {param.default!r})")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise bad
    if kind == "int":
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        try:
            return int(str(value), 10)
        except ValueError:
            raise bad from None
    if kind == "float":
        if isinstance(value, bool):
            raise bad
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad from None
    if kind == "str":
        if isinstance(value, datetime | date):  # YAML reads an unquoted 2026-11-02 as a date
            return value.isoformat()
        if isinstance(value, bool | int | float) and not isinstance(value, str):
            return str(value)
        if not isinstance(value, str):
            raise bad
        return value
    return value


def resolve_parameters(template: Path, given: dict[str, Any]) -> dict[str, Any]:
    """Check names and types against the template; return the values to inject."""
    params = parameters(template)
    out = {}
    for name, value in given.items():
        if name not in params:
            raise ConfigError(f"unknown parameter {name!r} for template {template.stem}; valid "
                              f"parameters: {', '.join(params)}")
        out[name] = coerce_parameter(params[name], value)
    return out


def render_html(notebook: Any) -> str:
    """The executed notebook as self-contained HTML: no code, no scripts from elsewhere."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(Path(__file__).parent / "html" / "attrkit_report")],
        template_file="attrkit_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(notebook)
    return body


def _in_words(notebook: Any) -> Any:
    """The notebook with each error as one line (``InputError: ...``), for the shared HTML; the
    executed ``.ipynb`` keeps the whole traceback."""
    import copy

    notebook = copy.deepcopy(notebook)
    notebook.cells = [c for c in notebook.cells
                      if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
    return notebook


def _results(notebook: Any) -> dict[str, Any]:
    """The results the notebook published (:func:`~attrkit.reports.record.results_bundle`),
    and the comparison table it carried, decoded.

    Raises:
        ReportError: the results are there but damaged (a notebook edited by hand).
    """
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if isinstance(data, dict) and RESULTS_MIMETYPE in data:
                found = data[RESULTS_MIMETYPE]
                if not isinstance(found, dict):
                    raise ReportError(f"its results ({RESULTS_MIMETYPE}) are not a mapping")
                return dict(found) | {"comparison_ipc": _frame(found.get("comparison_ipc"))}
    return {}


def _frame(payload: Any) -> Any:
    """The comparison table from its base64 Arrow IPC, or None when there is none."""
    import base64
    import binascii
    import io

    import polars as pl

    if not payload:
        return None
    try:
        return pl.read_ipc(io.BytesIO(base64.b64decode(str(payload), validate=True)))
    except (binascii.Error, ValueError, OSError, pl.exceptions.PolarsError) as exc:
        raise ReportError(f"its comparison table is damaged ({first_line(exc)})") from None


def run_report(
    template: str | os.PathLike[str] | None,
    params: dict[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    name: str | None = None,
    kernel: str | None = None,
    progress: bool = True,
) -> ReportRun:
    """Run a template with papermill and write the notebook, HTML, JSON and index.

    Raises:
        ConfigError: unknown parameter or wrong type (nothing is run or written).
        ReportError: a cell failed; the files were written and the HTML shows the error.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    path = template_path(template)
    values = resolve_parameters(path, params)
    effective = {n: p.default for n, p in parameters(path).items()} | values
    CHECKS.get(path.stem, lambda _: None)(effective)
    relative = {k: v for k, v in values.items() if k in DATE_PARAMETERS and is_relative(v)}
    values |= {k: iso_day(when(v)) for k, v in relative.items()}
    effective |= values
    stem = name or path.stem
    if not SAFE_NAME.fullmatch(stem) or stem.lower() in ("index", "index.html"):
        raise ConfigError(f"name={stem!r}: must be a plain file name of letters, digits, '.', "
                          "'-' and '_', starting with a letter or digit, and not 'index'")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file; a report run writes into a folder")
    kernel = check_kernel(path, kernel)
    out.mkdir(parents=True, exist_ok=True)
    error, bad_input = None, False
    with tempfile.TemporaryDirectory(prefix=".attrkit-run-", dir=out) as scratch:
        tmp_nb = Path(scratch) / f"{stem}.ipynb"
        try:
            # papermill writes the executing notebook into out: a full disk names the folder
            with os_errors_named(out):
                papermill.execute_notebook(
                    str(path), str(tmp_nb), parameters=values, kernel_name=kernel,
                    progress_bar=progress, language="python",
                    # The kernel's own log (its warning that local TCP is unencrypted, the
                    # interrupt it logs when stopped after a failed cell) is not the user's
                    # business; errors in cells reach the notebook, a dead kernel papermill.
                    extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                )
        except PapermillExecutionError as exc:
            error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
            bad_input = exc.ename in ("ConfigError", "InputError")
        notebook = nbformat.read(str(tmp_nb), as_version=4)
    # A failed run is kept beside the last good one, never over it.
    if error is not None:
        stem = f"{stem}.failed"
    nb_path = out / f"{stem}.ipynb"
    with together():  # the notebook, HTML, JSON and exports appear together or not at all
        atomic_write_text(nb_path, nbformat.writes(notebook))
        html_path, json_path, exports = _record(out, stem, notebook, path.stem, effective,
                                                error, relative)
    index = write_index(out)
    run = ReportRun(nb_path, html_path, json_path, index, error is None, error, exports)
    if error is not None:
        raise ReportError(f"{path.stem}: {error}; the report with the error is at {html_path}",
                          bad_input=bad_input)
    return run


def _record(out: Path, stem: str, notebook: Any, template: str, effective: dict[str, Any],
            error: str | None, relative: dict[str, str]) -> tuple[Path, Path, tuple[Path, ...]]:
    """Beside an executed notebook ``out/stem.ipynb``: its HTML, its JSON record and its
    exported comparison table."""
    from attrkit import __version__

    html_path, json_path = out / f"{stem}.html", out / f"{stem}.json"
    results = _results(notebook)  # first: a damaged notebook leaves nothing written
    page = render_html(_in_words(notebook))
    atomic_write_text(html_path, page)
    exports = _write_exports(out, stem, results.pop("comparison_ipc", None)) if error is None \
        else ()
    record = {
        "name": stem,
        "template": template,
        "title": results.get("title") or effective.get("title") or template,
        "status": "ok" if error is None else "failed",
        "error": error,
        "parameters": jsonable(effective),
        "relative_dates": relative,
        "results": jsonable(results.get("results", {})),
        "data_window": jsonable(results.get("data_window", {})),
        "attrkit_version": __version__,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "html": html_path.name,
        "notebook": f"{stem}.ipynb",
        "exports": [p.name for p in exports],
    }
    atomic_write_text(json_path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return html_path, json_path, exports


def record_notebooks(out_dir: str | os.PathLike[str]) -> tuple[list[Path], list[str]]:
    """Notebooks executed elsewhere (papermill, Airflow's ``PapermillOperator``) into
    ``out_dir`` get what ``attrkit report`` writes beside its own: the HTML, the JSON record
    and the comparison table. A notebook that already has its JSON, or that papermill did not
    execute, is left as it is. Returns the JSON files written, and a line per notebook that
    could not be recorded (one damaged notebook does not stop the others)."""
    out = Path(out_dir)
    written, skipped = [], []
    for nb_path in sorted(out.glob("*.ipynb")):
        stem = nb_path.stem
        if nb_path.name.startswith(".") or (out / f"{stem}.json").exists():
            continue
        if not SAFE_NAME.fullmatch(stem) or stem.lower() == "index":
            skipped.append(f"{nb_path.name}: not a plain file name (letters, digits, '.', '-', "
                           "'_'), so not linked from an index")
            continue
        try:
            done = _record_notebook(out, nb_path)
        except (AttrkitError, OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            skipped.append(f"{nb_path.name}: {explain(exc) or first_line(exc)}")
            continue
        if done is not None:
            written.append(done)
    return written, skipped


def _record_notebook(out: Path, nb_path: Path) -> Path | None:
    import nbformat

    if not nb_path.is_file():
        raise ConfigError("not a regular file")
    try:
        notebook = nbformat.read(str(nb_path), as_version=4)
    except Exception as exc:  # noqa: BLE001 - whatever nbformat meets in a damaged file
        raise ConfigError(f"not a Jupyter notebook ({first_line(exc)})") from None
    meta = notebook.metadata.get("papermill")
    if not isinstance(meta, dict) or not meta:
        return None  # not an executed report: a notebook someone keeps here
    error = next((f"{o.get('ename')}: {o.get('evalue')}" for c in notebook.cells
                  for o in c.get("outputs", []) if o.get("output_type") == "error"), None)
    if error is None and meta.get("exception"):
        error = "the notebook stopped with an error"
    template = Path(str(meta.get("input_path") or nb_path.stem)).stem
    defaults = {}
    with contextlib.suppress(ConfigError):
        defaults = {n: p.default for n, p in parameters(nb_path).items()}
    given = meta.get("parameters")
    effective = defaults | (given if isinstance(given, dict) else {})
    with together():
        return _record(out, nb_path.stem, notebook, template, effective, error, {})[1]


EXPORTS = ("comparison.csv", "comparison.parquet")


def _write_exports(out: Path, stem: str, frame: Any) -> tuple[Path, ...]:
    """The comparison table (the columns of ``compare(...).frame``) as CSV and Parquet beside
    the run's JSON; a run whose notebook published none leaves no earlier run's table behind."""
    paths = tuple(out / f"{stem}.{ext}" for ext in EXPORTS)
    if frame is None:
        for p in paths:
            remove_later(p)
        return ()
    for p in paths:
        write_frame(p, frame)
    return paths


def check_kernel(template: Path, kernel: str | None) -> str:
    """The Jupyter kernel to run ``template`` with (``kernel``, else the notebook's own), checked
    to exist before anything runs."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    name = kernel or nbformat.read(str(template), as_version=4).metadata.get(
        "kernelspec", {}).get("name") or "python3"
    manager = KernelSpecManager()
    try:
        manager.get_kernel_spec(name)
    except NoSuchKernel:
        known = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise ConfigError(f"kernel {name!r}: no such Jupyter kernel; installed kernels: "
                          f"{known}") from None
    return name


def write_index(out_dir: str | os.PathLike[str]) -> Path:
    """``index.html`` of every run recorded in ``out_dir``: the latest answer, each metric's
    headline lift across runs as a chart, and one row per run, newest first
    (:mod:`attrkit.reports.history`)."""
    import polars as pl

    from attrkit import plots
    from attrkit.reports import history

    out = Path(out_dir)
    runs, skipped = history.read_runs(out)
    charts = {}
    for metric, points in history.trends(runs).items():
        rows = [{"run": one_line(_day(run) or run.name, 60).replace("\\n", "\n"),
                 "pair": one_line(f"{plots.short_label(h.treatment)} vs "
                                  f"{plots.short_label(h.control)}", 120),
                 "lift": h.lift, "low": h.interval[0], "high": h.interval[1],
                 "always_valid": h.interval[2]} for run, h in points]
        frame = pl.DataFrame(rows, schema={"run": pl.String, "pair": pl.String,
                                           "lift": pl.Float64, "low": pl.Float64,
                                           "high": pl.Float64, "always_valid": pl.Boolean})
        charts[metric] = plots.png(plots.plot_runs(frame, one_line(metric, 80)))
    page = render.index_page(runs, charts, skipped)
    path = out / "index.html"
    atomic_write_text(path, page)
    return path


def _day(run: Any) -> str | None:
    """A run's label on the trend chart: the last day of its data, and its name."""
    if run.last_window is None:
        return None
    return f"{datetime.fromtimestamp(run.last_window, tz=UTC):%Y-%m-%d}\n{run.name}"
