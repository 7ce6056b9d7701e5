"""A full-stack project's Lambda code package: the app's own code plus its dependencies, vendored offline.

Nothing is downloaded while a job runs. The dependencies are copied from the distributions installed in this
service's own environment (its image installs exactly the versions the generated requirements pin: see
pyproject.toml), with their dist-info (licences included). A pinned version that is not the installed one is
refused rather than replaced. boto3 is left out: every Lambda Python runtime provides it.

Compiled packages (pydantic-core) are for this interpreter and machine, so the package says which Lambda
runtime and architecture it was built for, and the template takes them as parameters. A codegen running on
another system than Linux (a laptop on macOS) cannot build a package Lambda can load: it builds none, says why
in the manifest, and the deployer refuses a deployment that needs one.
"""

from __future__ import annotations

import hashlib
import io
import logging
import platform
import sys
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from snapinfra_codegen.generators.base import FunctionSource, GeneratedProject, GenerationError

log = logging.getLogger(__name__)

_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same project and environment give the same bytes
_ARCHITECTURES: dict[str, Literal["x86_64", "arm64"]] = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "arm64",
    "arm64": "arm64",
}
_SKIPPED_SUFFIXES = (".pyc",)


@dataclass(frozen=True)
class BuiltCodePackage:
    zip_bytes: bytes
    runtime: str
    architecture: Literal["x86_64", "arm64"]
    handler: str
    vendored: dict[str, str] = field(default_factory=dict)  # distribution name -> version

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.zip_bytes).hexdigest()

    def describe(self) -> dict[str, Any]:
        """What the manifest says of it (its key is added where it is stored)."""
        return {
            "size_bytes": len(self.zip_bytes),
            "sha256": self.sha256,
            "runtime": self.runtime,
            "architecture": self.architecture,
            "handler": self.handler,
            "vendored": dict(sorted(self.vendored.items())),
        }


def target() -> tuple[str, Literal["x86_64", "arm64"]] | str:
    """(runtime, architecture) this environment builds for, or why it cannot build a package Lambda loads."""
    if sys.platform != "linux":
        return f"codegen runs on {sys.platform}; compiled dependencies for Lambda can only be vendored on Linux"
    architecture = _ARCHITECTURES.get(platform.machine().lower())
    if architecture is None:
        return f"Lambda has no {platform.machine()} architecture"
    return f"python{sys.version_info.major}.{sys.version_info.minor}", architecture


def build_code_package(project: GeneratedProject) -> BuiltCodePackage | str | None:
    """The project's code package; None when it has no function, a reason when none can be built here."""
    source = project.function
    if source is None:
        return None
    built_for = target()
    if isinstance(built_for, str):
        log.warning("no code package built", extra={"reason": built_for})
        return built_for
    runtime, architecture = built_for
    entries: dict[str, bytes] = {}
    for path, content in project.files.items():
        relative = path.removeprefix(source.root)
        if relative != path and relative.split("/", 1)[0] in source.packages:
            entries[relative] = content
    vendored = _vendor(source, entries)
    return BuiltCodePackage(_zip(entries), runtime, architecture, source.handler, vendored)


def _vendor(source: FunctionSource, entries: dict[str, bytes]) -> dict[str, str]:
    """Copy each requirement's distribution and its dependencies' into `entries`; their versions by name."""
    wanted = [Requirement(line) for line in source.requirements]
    for requirement in wanted:
        installed = _distribution(requirement.name).version
        if installed not in requirement.specifier:
            raise GenerationError(
                f"codegen cannot vendor {requirement} into the function: its environment has "
                f"{requirement.name} {installed} (install the pinned version)"
            )
    vendored: dict[str, str] = {}
    queue = [requirement.name for requirement in wanted]
    while queue:
        name = canonicalize_name(queue.pop())
        if name in vendored:
            continue
        distribution = _distribution(name)
        vendored[name] = distribution.version
        for path in distribution.files or ():
            relative = str(path)
            if relative.startswith("..") or "__pycache__" in path.parts or relative.endswith(_SKIPPED_SUFFIXES):
                continue  # scripts installed outside site-packages, and byte code (Lambda compiles its own)
            entries[relative] = Path(str(distribution.locate_file(path))).read_bytes()
        for line in distribution.requires or ():
            dependency = Requirement(line)
            if dependency.marker is None or dependency.marker.evaluate({"extra": ""}):
                queue.append(dependency.name)
    return vendored


def _distribution(name: str) -> metadata.Distribution:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError as exc:
        raise GenerationError(f"codegen cannot vendor {name} into the function: it is not installed") from exc


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(entries):
            info = zipfile.ZipInfo(path, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16  # readable by Lambda's user
            archive.writestr(info, entries[path])
    return buffer.getvalue()
