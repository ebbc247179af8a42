"""explore.ipynb, the notebook a new user copies: their files at the top, the sample as the
fallback, the project's kernel."""

from __future__ import annotations

import nbformat
import papermill
import pytest

import attrkit
from attrkit.reports.run import templates_dir

NOTEBOOK = templates_dir() / "explore.ipynb"


def _run(tmp_path, **params):
    out = tmp_path / "explore.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), parameters=params, kernel_name="python3",
                               progress_bar=False,
                               extra_arguments=["--IPKernelApp.log_level=ERROR"])
    nb = nbformat.read(str(out), as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")
    kinds = [k for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             for k in o.get("data", {})]
    return text, kinds


def test_it_uses_the_projects_kernel_and_takes_paths_at_the_top():
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    assert nb.metadata.kernelspec.name == "attrkit"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])
    for name in ("INTERACTIONS", "METRIC_ATTRIBUTION", "ITEMS", "RECOMMENDATIONS", "BASELINE"):
        assert f'{name} = ""' in first_code.source


def test_it_loads_the_users_own_files(tmp_path, small_sample):
    text, kinds = _run(tmp_path, INTERACTIONS=str(small_sample.interactions),
                       METRIC_ATTRIBUTION=str(small_sample.metric_attribution),
                       ITEMS=str(small_sample.items),
                       RECOMMENDATIONS=str(small_sample.recommendations), BASELINE="top-picks")
    result = attrkit.attribute(small_sample.interactions, small_sample.metric_attribution,
                               items=small_sample.items,
                               recommendations=small_sample.recommendations)
    assert f"Your files: {small_sample.interactions}" in text
    assert result.health.summary() in text  # the health of *their* data
    assert "image/png" in kinds and "text/html" in kinds  # the plot, the comparison table
    assert "smallest lifts these data detect with 80% power" in text
    assert "The sample plants" not in text  # their data plant nothing


def test_the_sample_fallback_explains_a_planted_effect_with_the_power_table(tmp_path):
    text, _ = _run(tmp_path)
    assert "No INTERACTIONS path set: the bundled sample" in text
    assert "The sample plants a +8.0% lift per recommendation served" in text
    assert "Here, per recommendation served: CLICKS " in text
    assert "Answer: because-you-watched drove" in text or "Answer: No " in text


def test_a_wrong_path_fails_with_the_files_name(tmp_path, small_sample):
    with pytest.raises(papermill.PapermillExecutionError, match="nope.csv: interactions file not found"):
        _run(tmp_path, INTERACTIONS=str(tmp_path / "nope.csv"),
             METRIC_ATTRIBUTION=str(small_sample.metric_attribution))
