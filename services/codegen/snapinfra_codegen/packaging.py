"""A generated project as a ZIP and its manifest (path, size and sha256 of every file)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from typing import Any

from snapinfra_codegen.generators.base import GeneratedProject

_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same project always zips to the same bytes


@dataclass(frozen=True)
class Package:
    zip_bytes: bytes
    manifest: dict[str, Any]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.zip_bytes).hexdigest()


def package(project: GeneratedProject, *, project_name: str, generator: str) -> Package:
    buffer = io.BytesIO()
    files = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(project.files):
            content = project.files[path]
            info = zipfile.ZipInfo(path, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
            files.append({"path": path, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()})
    zip_bytes = buffer.getvalue()
    manifest = {
        "project_name": project_name,
        "generator": generator,
        "file_count": len(files),
        "total_bytes": project.total_bytes,
        "zip_bytes": len(zip_bytes),
        "zip_sha256": hashlib.sha256(zip_bytes).hexdigest(),
        "template_path": project.template_path,
        "files": files,
    }
    return Package(zip_bytes, manifest)
