"""The codegen service's artifacts, under its own S3 prefix: codegen/<user>/<job>/attempt-<n>/ holds the
ZIP, its manifest, the architecture diagram (SVG, also inside the ZIP) and a full-stack project's function
code package in its `function/` folder. Each attempt writes under its own folder, so an attempt that loses
the job never overwrites (nor deletes) what the winning attempt stored; the `Artifact` of the winner names
its keys."""

from __future__ import annotations

import json
from typing import Any

from snapinfra_codegen.function_package import BuiltCodePackage
from snapinfra_codegen.packaging import Package
from snapinfra_shared.catalog import Artifact, CodePackage
from snapinfra_shared.grants import CODE_PACKAGE_FOLDER


class ArtifactStore:
    def __init__(self, s3: Any, bucket: str, prefix: str):
        self._s3 = s3
        self.bucket = bucket
        self.prefix = prefix

    def job_prefix(self, user_id: str, job_id: str) -> str:
        return f"{self.prefix}{user_id}/{job_id}/"

    def attempt_prefix(self, user_id: str, job_id: str, attempt: int) -> str:
        return f"{self.job_prefix(user_id, job_id)}attempt-{attempt}/"

    def code_package_key(self, user_id: str, job_id: str, attempt: int, project_name: str) -> str:
        return f"{self.attempt_prefix(user_id, job_id, attempt)}{CODE_PACKAGE_FOLDER}/{project_name}-function.zip"

    def put(
        self,
        user_id: str,
        job_id: str,
        attempt: int,
        project_name: str,
        package: Package,
        code_package: BuiltCodePackage | str | None = None,
        *,
        diagram: bytes | None = None,
    ) -> Artifact:
        """Store the function's code package (when the project has one: a reason when it could not be built
        here), the ZIP, the manifest that names them, and the architecture diagram."""
        base = self.attempt_prefix(user_id, job_id, attempt)
        key, manifest_key = f"{base}{project_name}.zip", f"{base}manifest.json"
        metadata = {"job-id": job_id, "attempt": str(attempt), "sha256": package.sha256}
        manifest = dict(package.manifest)
        function: CodePackage | None = None
        if isinstance(code_package, BuiltCodePackage):
            function_key = self.code_package_key(user_id, job_id, attempt, project_name)
            self._s3.put_object(
                Bucket=self.bucket,
                Key=function_key,
                Body=code_package.zip_bytes,
                ContentType="application/zip",
                Metadata={"job-id": job_id, "attempt": str(attempt), "sha256": code_package.sha256},
            )
            manifest["code_package"] = {"key": function_key, **code_package.describe()}
            function = CodePackage.model_validate(
                {k: v for k, v in manifest["code_package"].items() if k != "vendored"}
            )
        elif isinstance(code_package, str):
            manifest["code_package"] = {"key": None, "not_built": code_package}
        self._s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=package.zip_bytes,
            ContentType="application/zip",
            ContentDisposition=f'attachment; filename="{project_name}.zip"',
            Metadata=metadata,
        )
        self._s3.put_object(
            Bucket=self.bucket,
            Key=manifest_key,
            Body=json.dumps(manifest, indent=2).encode(),
            ContentType="application/json",
            Metadata=metadata,
        )
        diagram_key = None
        if diagram is not None:
            diagram_key = f"{base}architecture.svg"
            self._s3.put_object(
                Bucket=self.bucket,
                Key=diagram_key,
                Body=diagram,
                ContentType="image/svg+xml",
                ContentDisposition=f'inline; filename="{project_name}-architecture.svg"',
                Metadata=metadata,
            )
        return Artifact(
            bucket=self.bucket,
            key=key,
            manifest_key=manifest_key,
            size_bytes=len(package.zip_bytes),
            file_count=package.manifest["file_count"],
            sha256=package.sha256,
            diagram_key=diagram_key,
            template_path=package.manifest.get("template_path"),
            code_package=function,
        )

    def delete_job(self, user_id: str, job_id: str) -> int:
        """Remove every version of every object of the job; returns how many were removed."""
        return self._delete_prefix(self.job_prefix(user_id, job_id))

    def delete_attempt(self, user_id: str, job_id: str, attempt: int) -> int:
        """Remove what one attempt stored (it lost the job), leaving every other attempt's objects."""
        return self._delete_prefix(self.attempt_prefix(user_id, job_id, attempt))

    def _delete_prefix(self, prefix: str) -> int:
        removed = 0
        paginator = self._s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            objects = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(objects), 1000):
                chunk = objects[start : start + 1000]
                response = self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})
                if response.get("Errors"):
                    raise RuntimeError(f"could not delete {len(response['Errors'])} objects: {response['Errors'][0]}")
                removed += len(chunk)
        return removed
