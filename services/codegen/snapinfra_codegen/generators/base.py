"""What every generator takes and returns. Generators are pure: no AWS, no clock, no randomness
beyond what they are given; the codegen handler validates, zips and stores what they return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from snapinfra_shared.spec import ProjectSpec, ProjectType


class GenerationError(Exception):
    """A permanent failure whose message a person can act on (it is shown to the user as the reason).

    Raise it for bad output or input that retrying will not fix. Transient trouble (a timeout, a
    throttled endpoint) should raise anything else, so the message is retried with backoff.
    """


@dataclass(frozen=True)
class GenerationRequest:
    project_type: ProjectType
    prompt: str
    spec: ProjectSpec
    project_name: str  # a slug, safe as a directory and package name: [a-z][a-z0-9-]*


@dataclass(frozen=True)
class FunctionSource:
    """What of a project runs as an AWS Lambda function (see `function_package.build_code_package`)."""

    root: str  # the project folder, with its slash: "shop/"
    packages: tuple[str, ...]  # the folders under it that are the function's code, e.g. ("app",)
    handler: str  # e.g. "app.lambda_handler.handler"
    requirements: tuple[str, ...]  # pinned "name==version", vendored with their dependencies


@dataclass(frozen=True)
class GeneratedProject:
    """The files of a project, by relative POSIX path (e.g. "app/main.py").

    `template_path` is where its CloudFormation template is (None: it has none); the generator that wrote the
    template is the one place that says so, and the api and the deployer read it from the artifact."""

    files: dict[str, bytes] = field(default_factory=dict)
    template_path: str | None = None
    function: FunctionSource | None = None

    @property
    def total_bytes(self) -> int:
        return sum(len(content) for content in self.files.values())


class Generator(Protocol):
    name: str

    def generate(self, request: GenerationRequest) -> GeneratedProject: ...
