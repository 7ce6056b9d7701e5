"""One synthesis of the CDK app per test session (it takes ~15 s); every infra test reads its output."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Node 20 runs jsii fine but prints a banner on every start; the README recommends Node 22+.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

CONTEXT: dict[str, Any] = {
    "prefix": "snapinfra",
    "alarmEmail": "ops@example.com",
    "emailSender": "notifications@mail.example.com",
    "bedrockModelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "natGateways": 1,
    "maxTasks": 4,
}


@dataclass
class Synthesized:
    directory: Path
    template: dict[str, Any]
    nag_errors: list[str]
    topology: Any
    config: Any

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template["Resources"])

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}


def synthesize(outdir: Path, context: dict[str, Any]) -> Synthesized:
    from snapinfra_infra.app import build_app, cdk_json_context, nag_errors

    app, stack = build_app(context=cdk_json_context() | context, outdir=str(outdir))  # cdk.json's flags too
    assembly = app.synth()
    artifact = assembly.get_stack_by_name(stack.stack_name)
    return Synthesized(
        directory=Path(assembly.directory),
        template=dict(artifact.template),
        nag_errors=nag_errors(assembly),
        topology=stack.topology,
        config=stack.config,
    )


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield synthesize(tmp_path_factory.mktemp("cdk.out"), CONTEXT)


@pytest.fixture(scope="session")
def synthesized_with_tracing(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app with the `tracing` context flag: an ADOT collector beside every service."""
    return synthesize(tmp_path_factory.mktemp("cdk.out.tracing"), CONTEXT | {"tracing": True})


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(synthesized.template)
