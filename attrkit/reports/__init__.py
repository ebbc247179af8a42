"""Reports: parameterized notebooks run with papermill and rendered to one self-contained HTML.

- :mod:`~attrkit.reports.run` — the templates' parameters, :func:`run_report` (papermill, then
  nbconvert); :mod:`~attrkit.reports.checks` — the parameters' rules.
- :mod:`~attrkit.reports.sections` — the report's sections as plain tested functions the
  notebook calls, one module per question: :mod:`~attrkit.reports.data` (what was analysed),
  :mod:`~attrkit.reports.data_health`, :mod:`~attrkit.reports.answer` (the conclusion's
  wording), :mod:`~attrkit.reports.over_time` (monitoring), :mod:`~attrkit.reports.power`,
  :mod:`~attrkit.reports.record` (what a run records).
- :mod:`~attrkit.reports.history` — runs read back from their JSON, for the ``index.html`` of
  a folder of runs (drawn by the renderer); :mod:`~attrkit.reports.verdict` — a comparison's
  verdict in words.
- :mod:`~attrkit.reports.render` — the one HTML renderer (tables through pandas' Styler):
  every table and note attrkit shows in a notebook or a report is built here;
  :mod:`~attrkit.reports.display` — how result objects show themselves through it.
- ``templates/`` — the notebooks (``attribution_report``, ``explore``); ``html/`` — the
  nbconvert template of the shared HTML.
"""
