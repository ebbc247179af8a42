"""The one place attrkit makes boto3 clients: endpoint, region, retries, and one-line errors.

boto3 is imported only when a client is made, so everything offline works without it or without
credentials. Credentials and region come from boto3's standard chain; ``endpoint_url`` (or the
``AWS_ENDPOINT_URL`` variables boto3 reads itself) points at an S3-compatible store or a local
endpoint. Throttling and server errors are retried by botocore's ``standard`` retry mode.
Tests inject faults here: :func:`client` is the seam every AWS call goes through.
"""

from __future__ import annotations

import os
from typing import Any

from attrkit.errors import AwsError

RETRY = {"max_attempts": 8, "mode": "standard"}

_settings: dict[str, Any] = {"endpoint_url": None, "region": None}


def configure(*, endpoint_url: str | None = None, region: str | None = None) -> None:
    """Set the endpoint URL and region every later AWS call uses (None: boto3's defaults)."""
    _settings.update(endpoint_url=endpoint_url, region=region)


def client(service: str, *, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """A boto3 client with attrkit's retry configuration."""
    import boto3
    from botocore.config import Config

    region = region or _settings["region"] or os.environ.get("AWS_REGION") or os.environ.get(
        "AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint_url or _settings["endpoint_url"],
        config=Config(retries=dict(RETRY), connect_timeout=5, read_timeout=30))


def explain(exc: BaseException, what: str) -> AwsError:
    """One clear line for a botocore failure on ``what`` (a URL or a service)."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsError(f"{what}: no usable AWS credentials; set them up (environment, "
                        "~/.aws/credentials or a role) or check AWS_PROFILE")
    if isinstance(exc, EndpointConnectionError):
        return AwsError(f"{what}: cannot reach the endpoint {exc.kwargs.get('endpoint_url')}; "
                        "check the network, the region and --endpoint-url")
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired",
                    "InvalidClientTokenId", "TokenRefreshRequired"):
            return AwsError(f"{what}: the AWS credentials have expired or are invalid ({code}); "
                            "refresh them")
        if code in ("AccessDenied", "AccessDeniedException", "403", "Forbidden") or status == 403:
            return AwsError(f"{what}: access denied ({code or status}); check the IAM policy "
                            "of these credentials")
        if code == "NoSuchBucket":
            return AwsError(f"{what}: bucket does not exist; check the bucket name and region")
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            return AwsError(f"{what}: no such object; check the key")
        if code in ("Throttling", "ThrottlingException", "RequestLimitExceeded",
                    "SlowDown") or (status and status >= 500):
            return AwsError(f"{what}: still failing after {RETRY['max_attempts']} attempts "
                            f"({code or status}); try again later")
        return AwsError(f"{what}: {code or status}: {err.get('Message', '')}".rstrip(": "))
    return AwsError(f"{what}: {type(exc).__name__}: {exc}")


def botocore_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


