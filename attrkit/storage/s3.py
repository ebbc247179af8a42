"""S3 as a place for attrkit's files: objects and prefixes fetched to local scratch files,
finished local files uploaded (with SSE-KMS when a key is given), presigned links."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from attrkit import aws_session as session
from attrkit.errors import AwsError
from attrkit.storage import listed as storage_listed
from attrkit.storage.local import scratch_dir


def parse_s3(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``.

    Example:
        >>> parse_s3("s3://my-bucket/reports/a.csv")
        ('my-bucket', 'reports/a.csv')
    """
    if not (isinstance(url, str) and url.startswith("s3://")):
        raise AwsError(f"{url}: not an s3:// URL")
    bucket, _, key = url[5:].partition("/")
    if not bucket:
        raise AwsError(f"{url}: no bucket in the URL")
    return bucket, key


def download(url: str, *, suffix_filter: tuple[str, ...] = ()) -> list[Path]:
    """Download an object, or every object under a prefix ending in ``/``, to a scratch folder
    kept until the process ends. Returns the local paths, in key order."""
    return [local for _, local in download_named(url, suffix_filter=suffix_filter)]


def download_named(url: str, *, suffix_filter: tuple[str, ...] = ()) -> list[tuple[str, Path]]:
    """As :func:`download`, with each object's URL: one key; every key under a prefix ending
    in ``/``; or every key a pattern matches (``s3://b/events/2026-11-*.parquet``; ``*`` does
    not cross ``/``, ``**`` does). Hidden, temporary and marker objects are skipped."""
    bucket, key = parse_s3(url)
    s3 = session.client("s3")
    errors = session.botocore_errors()
    pattern = any(c in key for c in "*?[")
    try:
        if pattern or key == "" or key.endswith("/"):
            prefix = re.split(r"[*?\[]", key, maxsplit=1)[0] if pattern else key
            keys = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
            keys = [k for k in sorted(keys)
                    if (not suffix_filter or k.lower().endswith(suffix_filter))
                    and (not pattern or _matches(k, key))
                    and all(storage_listed(part) for part in k[len(prefix):].split("/") if part)]
            if not keys:
                raise AwsError(f"{url}: no matching objects")
        else:
            keys = [key]
        dest = scratch_dir("attrkit-s3-")
        out = []
        for i, k in enumerate(keys):
            local = dest / f"{i:05d}-{Path(k).name}"
            s3.download_file(bucket, k, str(local))
            out.append((f"s3://{bucket}/{k}", local))
        return out
    except errors as exc:
        raise _s3_error(s3, exc, bucket, url) from None


def _matches(key: str, pattern: str) -> bool:
    """Glob matching of a whole key: ``*`` and ``?`` stay within one ``/`` level, ``**`` spans
    levels (as :func:`glob.glob` with ``recursive=True``)."""
    return re.fullmatch(_glob_regex(pattern), key) is not None


def _glob_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def _s3_error(s3: Any, exc: BaseException, bucket: str, url: str) -> AwsError:
    """A HEAD on a missing object says only 404; ask whether the bucket itself exists."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError) and exc.response.get("ResponseMetadata", {}).get(
            "HTTPStatusCode") == 404:
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as inner:
            if inner.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return AwsError(f"{url}: bucket {bucket} does not exist; check the bucket name "
                                "and region")
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass
    return session.explain(exc, url)


def fetch(url: str) -> Path:
    """One S3 object as a local file (an error for a prefix)."""
    if url.endswith("/"):
        raise AwsError(f"{url}: a prefix; this input takes one object")
    return download(url)[0]


def upload(local: str | os.PathLike[str], url: str, *, kms_key_arn: str | None = None,
           content_type: str | None = None) -> str:
    """Upload a file to ``url`` (a key, or a prefix ending in ``/`` to keep the file's name),
    with SSE-KMS when a key is given. Returns the object's URL."""
    bucket, key = parse_s3(url)
    if key == "" or key.endswith("/"):
        key += Path(local).name
    extra: dict[str, str] = {}
    if kms_key_arn:
        extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_arn)
    if content_type:
        extra["ContentType"] = content_type
    try:
        session.client("s3").upload_file(str(local), bucket, key, ExtraArgs=extra or None)
    except session.botocore_errors() as exc:
        raise session.explain(exc, f"s3://{bucket}/{key}") from None
    return f"s3://{bucket}/{key}"


def presign(url: str, *, expires: int = 3600) -> str:
    """A presigned GET URL for an object."""
    bucket, key = parse_s3(url)
    try:
        return session.client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(expires))
    except session.botocore_errors() as exc:
        raise session.explain(exc, url) from None


