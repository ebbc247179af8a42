"""Alias kept for earlier versions: CloudWatch and the Personalize API live in
:mod:`attrkit.personalize.service`, boto3 clients in :mod:`attrkit.aws_session`."""

from attrkit.personalize.service import *  # noqa: F403
from attrkit.personalize.service import __all__  # noqa: F401
