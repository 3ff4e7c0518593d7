"""``S3Backend``: a repository in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...), via boto3.

Objects are stored under ``<prefix>/<name>`` (``prefix`` optional). Why this meets the Backend protocol:

* **Atomic puts.** An S3 PUT (and a multipart upload's CompleteMultipartUpload) makes the whole new
  object visible at once or not at all, so there is no temp-and-rename. Objects of at least
  ``multipart_threshold`` bytes (64 MiB) are uploaded in parts, each part retried on its own, and an
  upload that fails is aborted so no parts are left billed.
* **Create-only-if-absent.** The protocol's only check-then-create is ``Repository.init``'s
  ``config`` (everything else is named by content hash or a random id, so two writers of one name
  write the same bytes, or never meet). :meth:`S3Backend.create` offers a real conditional create
  with ``If-None-Match: *`` for servers that honour it (AWS since 2024, MinIO, moto); on one that
  ignores the header the race remains only between two ``init``s of one empty bucket at the same time.
* **Retries.** botocore's ``standard`` retry mode retries throttling (``SlowDown``, 429/503) and 5xx
  answers and dropped connections with capped exponential backoff and jitter, ``max_attempts`` times.
* **Reads.** ``get_range`` is a ranged GET; ``list`` pages through ListObjectsV2 (up to 1,000 names a page).

The credentials are parameters (or boto3's usual chain when omitted); they are never logged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ..errors import ObjectNotFound
from . import check_name

MULTIPART_THRESHOLD = 64 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Backend:
    """Objects in ``bucket`` under ``prefix``. The bucket must exist (see :meth:`create_bucket`)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        max_attempts: int = 8,
        verify: bool | str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
        max_pool_connections: int = 16,
        list_page_size: int = 1000,
    ) -> None:
        if prefix:
            check_name(prefix.strip("/"))  # the prefix obeys the object-name rules too
        if part_size < 5 * 1024 * 1024 or multipart_threshold < part_size:
            raise ValueError("S3 parts are at least 5 MiB and the multipart threshold at least one part")
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix else ""
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.list_page_size = list_page_size
        config = Config(
            retries={"total_max_attempts": max_attempts, "mode": "standard"},  # attempts, first included
            max_pool_connections=max_pool_connections,  # the writer uploads and restore reads from threads
            connect_timeout=10,
            read_timeout=120,
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            config=config,
            verify=verify,
        )

    def __repr__(self) -> str:
        return f"S3Backend(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _key(self, name: str) -> str:
        return self.prefix + check_name(name)

    def create_bucket(self) -> None:
        """Create the bucket if it does not exist yet (idempotent)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in _NOT_FOUND and _code(exc) != "NoSuchBucket":
                raise
            region = self.client.meta.region_name
            extra = (
                {} if region in (None, "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            )
            self.client.create_bucket(Bucket=self.bucket, **extra)

    def put(self, name: str, data: bytes | bytearray | memoryview) -> None:
        """Store ``data`` under ``name`` (one PUT, or a multipart upload from ``multipart_threshold``); see Backend."""
        key = self._key(name)
        view = memoryview(data).cast("B")
        if len(view) >= self.multipart_threshold:
            self._put_multipart(key, view)
        else:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(view))

    def create(self, name: str, data: bytes | bytearray | memoryview) -> bool:
        """Store ``data`` only if ``name`` is absent (``If-None-Match: *``); return False if it already existed."""
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(name), Body=bytes(data), IfNoneMatch="*")
        except ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def _put_multipart(self, key: str, view: memoryview) -> None:
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, len(view), self.part_size), start=1):
                body = bytes(view[start : start + self.part_size])
                etag = self.client.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number, Body=body
                )["ETag"]
                parts.append({"PartNumber": number, "ETag": etag})
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            # Best effort: an upload never completed is invisible to readers; aborting frees its parts.
            with contextlib.suppress(ClientError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            raise

    def get(self, name: str) -> bytes:
        """Return the object's bytes; raise ObjectNotFound."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read()
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise ObjectNotFound(name) from None
            raise

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes from ``offset`` with a ranged GET; raise ObjectNotFound."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be >= 0")
        if length == 0:
            if not self.exists(name):
                raise ObjectNotFound(name)
            return b""
        try:
            answer = self.client.get_object(
                Bucket=self.bucket, Key=self._key(name), Range=f"bytes={offset}-{offset + length - 1}"
            )
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise ObjectNotFound(name) from None
            if _code(exc) in ("InvalidRange", "416"):
                return b""  # the object exists and ends before ``offset``
            raise
        return answer["Body"].read()

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the names starting with ``prefix``, one ListObjectsV2 page at a time."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix, PaginationConfig={"PageSize": self.list_page_size}
        )
        for page in pages:
            for item in page.get("Contents", ()):
                yield item["Key"][len(self.prefix) :]

    def delete(self, name: str) -> None:
        """Remove ``name`` (S3 deletes are idempotent)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name))

    def exists(self, name: str) -> bool:
        """Return whether ``name`` is stored (HEAD)."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(name))
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return False
            raise
        return True

    def close(self) -> None:
        """Close the client's connection pool."""
        self.client.close()
