"""Checks every generator's output passes before it is zipped and stored.

The checks are about safety (a ZIP that extracts only below `<project_name>/`, on any OS), size
(bounded storage and download) and obvious brokenness (Python that does not parse, JSON that does
not load). They raise `GenerationError`, whose message is shown to the user as the reason.

YAML is deliberately not parsed: PyYAML is not a dependency of codegen, and CloudFormation
templates use short-form tags (`!Ref`, `!GetAtt`) that a plain YAML loader rejects anyway.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass

from snapinfra_codegen.generators.base import GeneratedProject, GenerationError

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
_MAX_SHOWN_PATH = 120


@dataclass(frozen=True)
class ProjectLimits:
    max_files: int = 200
    max_total_bytes: int = 5_000_000
    max_file_bytes: int = 1_000_000


def validate_project(project: GeneratedProject, project_name: str, limits: ProjectLimits) -> None:
    """Raise `GenerationError` naming the first problem found in `project`, or return None."""
    files = project.files
    if not files:
        raise GenerationError("the generated project is empty: it has no files")
    if len(files) > limits.max_files:
        raise GenerationError(
            f"the generated project has {len(files)} files, more than the limit of {limits.max_files}"
        )

    for path, content in files.items():
        _check_path(path, project_name)
        if not isinstance(content, bytes | bytearray):
            raise GenerationError(f"the generated file {_show(path)} has no byte content")
        if len(content) > limits.max_file_bytes:
            raise GenerationError(
                f"the generated file {_show(path)} is {len(content)} bytes, "
                f"more than the limit of {limits.max_file_bytes} bytes per file"
            )

    total = project.total_bytes
    if total > limits.max_total_bytes:
        raise GenerationError(
            f"the generated project is {total} bytes, more than the limit of {limits.max_total_bytes} bytes"
        )

    _check_collisions(list(files))
    if project.template_path is not None and project.template_path not in files:
        raise GenerationError(
            f"the generated project has no CloudFormation template at {_show(project.template_path)}, "
            "where it was to be"
        )

    for path, content in files.items():
        lowered = path.lower()
        if lowered.endswith(".py"):
            _check_python(path, bytes(content))
        elif lowered.endswith(".json"):
            _check_json(path, bytes(content))


def _show(path: object) -> str:
    """A path as it may appear in a message: quoted, control characters escaped, length bounded."""
    shown = repr(path)
    if len(shown) > _MAX_SHOWN_PATH:
        shown = shown[: _MAX_SHOWN_PATH - 3] + "..."
    return shown


def _check_path(path: object, project_name: str) -> None:
    if not isinstance(path, str):
        raise GenerationError(f"the generated project has a file path that is not text: {_show(path)}")
    problem = _path_problem(path, project_name)
    if problem:
        raise GenerationError(f"the generated file path {_show(path)} is not allowed: {problem}")


def _path_problem(path: str, project_name: str) -> str | None:
    if not path:
        return "it is empty"
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        return "it contains a NUL or control character"
    if "\\" in path:
        return "it contains a backslash (paths must use '/')"
    if path.startswith("/") or _WINDOWS_DRIVE.match(path):
        return "it is absolute"
    segments = path.split("/")
    if ".." in segments:
        return "it contains '..'"
    if any(segment in ("", ".") for segment in segments):
        return "it has an empty or '.' segment"
    if segments[0] != project_name or len(segments) < 2:
        return f"it is not under '{project_name}/'"
    return None


def _check_collisions(paths: list[str]) -> None:
    """Refuse paths that collide on a case-insensitive file system, or a file that is also a directory."""
    seen: dict[str, str] = {}
    for path in sorted(paths):
        key = path.casefold()
        if key in seen:
            raise GenerationError(
                f"the generated files {_show(seen[key])} and {_show(path)} differ only in letter case, "
                "so they would overwrite each other when extracted on macOS or Windows"
            )
        seen[key] = path
    for path in paths:
        segments = path.split("/")
        for end in range(1, len(segments)):
            parent = "/".join(segments[:end]).casefold()
            if parent in seen:
                raise GenerationError(
                    f"the generated file {_show(seen[parent])} is also used as a directory by {_show(path)}"
                )


def _check_python(path: str, content: bytes) -> None:
    try:
        with warnings.catch_warnings():
            # Compile-time warnings (e.g. invalid escape sequences) are not errors in the generated code.
            warnings.simplefilter("ignore")
            ast.parse(content, filename=path)
    except SyntaxError as error:
        where = f"line {error.lineno}" if error.lineno else "an unknown line"
        raise GenerationError(f"the generated file {_show(path)} is not valid Python: {error.msg} at {where}") from None
    except ValueError as error:  # e.g. "source code string cannot contain null bytes" on 3.11
        raise GenerationError(f"the generated file {_show(path)} is not valid Python: {error}") from None


def _check_json(path: str, content: bytes) -> None:
    try:
        json.loads(content)
    except json.JSONDecodeError as error:
        raise GenerationError(
            f"the generated file {_show(path)} is not valid JSON: {error.msg} at line {error.lineno} "
            f"column {error.colno}"
        ) from None
    except ValueError as error:  # not decodable as UTF-8/16/32
        raise GenerationError(f"the generated file {_show(path)} is not valid JSON: {error}") from None
