"""Reading published codegen artifacts (never listing or writing another service's prefix)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from snapinfra_shared.catalog import Artifact

log = logging.getLogger(__name__)

# S3's answers for an object that is not there. Without s3:ListBucket on the prefix (the api may only read
# codegen's objects, never list them) S3 answers a missing key with 403 AccessDenied instead of 404.
_MISSING = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion", "AccessDenied", "403"})


class ArtifactMissing(LookupError):
    """The artifact a completed job names is not (or no longer) in the bucket."""


def _missing(exc: ClientError, artifact: Artifact) -> ArtifactMissing | None:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code not in _MISSING:
        return None
    if code in ("AccessDenied", "403"):
        log.warning("reading an artifact was denied; taken as missing", extra={"key": artifact.key})
    return ArtifactMissing(artifact.key)


@dataclass(frozen=True)
class Download:
    chunks: Iterator[bytes]
    content_length: int
    filename: str


class ArtifactReader:
    def __init__(self, s3: Any):
        self._s3 = s3

    def presigned_url(self, artifact: Artifact, expires_in: int, *, key: str | None = None) -> str:
        """A URL of the artifact (or of another object it names, such as its diagram), once S3 says it is
        there (a URL of a missing object only fails later)."""
        key = key or artifact.key
        try:
            self._s3.head_object(Bucket=artifact.bucket, Key=key)
        except ClientError as exc:
            raise _missing(exc, artifact) or exc from exc
        disposition = "inline" if key.endswith(".svg") else "attachment"
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": artifact.bucket,
                    "Key": key,
                    "ResponseContentDisposition": f'{disposition}; filename="{filename(artifact, key)}"',
                },
                ExpiresIn=expires_in,
            )
        )

    def open(self, artifact: Artifact, chunk_size: int = 64 * 1024, *, key: str | None = None) -> Download:
        key = key or artifact.key
        try:
            response = self._s3.get_object(Bucket=artifact.bucket, Key=key)
        except ClientError as exc:
            raise _missing(exc, artifact) or exc from exc
        body = response["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()

        return Download(chunks(), int(response["ContentLength"]), filename(artifact, key))


def filename(artifact: Artifact, key: str | None = None) -> str:
    """The ZIP's own name; the diagram's, after the ZIP (<project>-architecture.svg)."""
    name = artifact.key.rsplit("/", 1)[-1]
    if key is None or key == artifact.key:
        return name
    return f"{name.removesuffix('.zip')}-{key.rsplit('/', 1)[-1]}"
