"""Templates: read out of a code generation's ZIP (a published output, read by the key an event gave)
and copied under the deployer's own prefix, so a later deletion of the code generation breaks nothing."""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from snapinfra_shared.catalog import Artifact, CodePackage

# CloudFormation takes at most this much as a TemplateBody.
MAX_TEMPLATE_BYTES = 51_200
MAX_ARTIFACT_BYTES = 50 * 1024 * 1024


class TemplateUnavailable(Exception):
    """The template cannot be had (artifact gone, no template in it, too large): a permanent failure."""


@dataclass(frozen=True)
class Template:
    bucket: str
    key: str
    path: str  # where it was inside the ZIP
    body: str


class TemplateStore:
    def __init__(self, s3: Any, bucket: str, prefix: str):
        self._s3 = s3
        self.bucket = bucket
        self.prefix = prefix

    def key(self, user_id: str, deployment_id: str) -> str:
        return f"{self.prefix}{user_id}/{deployment_id}/template.yaml"

    def copy(self, artifact: Artifact, template_path: str, user_id: str, deployment_id: str) -> Template:
        """The deployment's own copy; made from the artifact the first time, read back after that."""
        key = self.key(user_id, deployment_id)
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"].read().decode()
            return Template(self.bucket, key, response.get("Metadata", {}).get("template-path", template_path), body)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                raise
        path, body = self._extract(artifact, template_path)
        self._s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body.encode(),
            ContentType="text/yaml",
            Metadata={"deployment-id": deployment_id, "template-path": path, "artifact-sha256": artifact.sha256},
        )
        return Template(self.bucket, key, path, body)

    def _extract(self, artifact: Artifact, template_path: str) -> tuple[str, str]:
        if artifact.size_bytes > MAX_ARTIFACT_BYTES:
            raise TemplateUnavailable(f"the code generation's ZIP is larger than {MAX_ARTIFACT_BYTES} bytes")
        try:
            blob = self._s3.get_object(Bucket=artifact.bucket, Key=artifact.key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NoSuchBucket"):
                gone = "the code generation's ZIP is gone (was the code generation deleted?)"
                raise TemplateUnavailable(gone) from exc
            raise
        try:
            archive = zipfile.ZipFile(io.BytesIO(blob))
        except zipfile.BadZipFile as exc:
            raise TemplateUnavailable("the code generation's artifact is not a ZIP") from exc
        # The path codegen announced (the artifact's template_path, forwarded by the api): nowhere else.
        path = posixpath.normpath(template_path)
        if path not in set(archive.namelist()):
            raise TemplateUnavailable(f"the code generation has no CloudFormation template at {template_path}")
        info = archive.getinfo(path)
        if info.file_size > MAX_TEMPLATE_BYTES:
            raise TemplateUnavailable(
                f"{path} has {info.file_size} bytes; CloudFormation takes at most {MAX_TEMPLATE_BYTES}"
            )
        try:
            return path, archive.read(path).decode()
        except UnicodeDecodeError as exc:
            raise TemplateUnavailable(f"{path} is not UTF-8 text") from exc

    def code_package_key(self, user_id: str, deployment_id: str) -> str:
        return f"{self.prefix}{user_id}/{deployment_id}/function.zip"

    def copy_code_package(self, artifact: Artifact, user_id: str, deployment_id: str) -> tuple[str, CodePackage]:
        """The deployment's own copy of the function's code package (read by the key codegen announced, copied
        inside S3): the stack reads it there, so deleting the code generation never breaks the function."""
        package = artifact.code_package
        if package is None:
            raise TemplateUnavailable(
                "the template deploys a function, and the code generation has no code package for it "
                "(see code_package in its manifest.json for why)"
            )
        key = self.code_package_key(user_id, deployment_id)
        try:
            self._s3.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": artifact.bucket, "Key": package.key},
                MetadataDirective="REPLACE",
                ContentType="application/zip",
                Metadata={"deployment-id": deployment_id, "sha256": package.sha256},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NoSuchBucket"):
                gone = "the function's code package is gone (was the code generation deleted?)"
                raise TemplateUnavailable(gone) from exc
            raise
        return key, package
