"""Reading published codegen artifacts (never listing or writing another service's prefix)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from snapinfra_shared.catalog import Artifact


@dataclass(frozen=True)
class Download:
    chunks: Iterator[bytes]
    content_length: int
    filename: str


class ArtifactReader:
    def __init__(self, s3: Any):
        self._s3 = s3

    def presigned_url(self, artifact: Artifact, expires_in: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": artifact.bucket,
                    "Key": artifact.key,
                    "ResponseContentDisposition": f'attachment; filename="{filename(artifact)}"',
                },
                ExpiresIn=expires_in,
            )
        )

    def open(self, artifact: Artifact, chunk_size: int = 64 * 1024) -> Download:
        response = self._s3.get_object(Bucket=artifact.bucket, Key=artifact.key)
        body = response["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()

        return Download(chunks(), int(response["ContentLength"]), filename(artifact))


def filename(artifact: Artifact) -> str:
    return artifact.key.rsplit("/", 1)[-1]
