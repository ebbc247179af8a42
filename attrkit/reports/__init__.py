"""Reports: parameterized notebooks run with papermill and rendered to one self-contained HTML.

- :mod:`~attrkit.reports.run` — the templates' parameters, :func:`run_report` (papermill, then
  nbconvert), the index of a folder of reports.
- :mod:`~attrkit.reports.sections` — the report's sections as plain tested functions the
  notebook calls: the date range, the health summary, the conclusion's wording, the monitored
  comparison, the power table.
- :mod:`~attrkit.reports.render` — the one HTML renderer (tables through pandas' Styler):
  every table and note attrkit shows in a notebook or a report is built here.
- ``templates/`` — the notebooks (``attribution_report``, ``explore``); ``html/`` — the
  nbconvert template of the shared HTML.
"""
