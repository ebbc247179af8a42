"""Amazon Personalize's side: the service's S3 report CSV, its CloudWatch series and its API.

- :mod:`~attrkit.personalize.report_csv` — :func:`write_report` and :func:`read_report`,
  byte-compatible with the CSV the service writes to S3.
- :mod:`~attrkit.personalize.service` — CloudWatch (read and publish the 15-minute series) and
  DescribeMetricAttribution. Clients come from :mod:`attrkit.aws_session`.
"""

from attrkit.personalize.report_csv import WINDOW_SCHEMA, read_report, write_report

__all__ = ["WINDOW_SCHEMA", "read_report", "write_report"]
