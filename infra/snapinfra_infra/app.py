"""Building the CDK app: context (cdk.json, -c) to config, the stack, and cdk-nag's AwsSolutions checks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from snapinfra_infra.config import InfraConfig
from snapinfra_infra.stack import SnapinfraStack

INFRA_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = INFRA_DIR.parent


def cdk_json_context() -> dict[str, Any]:
    """The context in infra/cdk.json (the CDK CLI passes it itself; `python app.py` does not have it)."""
    path = INFRA_DIR / "cdk.json"
    return dict(json.loads(path.read_text()).get("context", {})) if path.exists() else {}


def build_app(*, context: dict[str, Any] | None = None, outdir: str | None = None) -> tuple[cdk.App, SnapinfraStack]:
    app = cdk.App(context=context, outdir=outdir)
    config = InfraConfig.from_context(app.node)
    stack = SnapinfraStack(
        app,
        app.node.try_get_context("stackName") or "Snapinfra",
        config=config,
        repo_root=REPO_ROOT,
        description="Snapinfra: four event-driven services (api, codegen, deployer, notifier) on ECS Fargate, "
        "SNS/SQS, DynamoDB and S3",
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    cdk.Tags.of(stack).add("project", config.prefix)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def nag_errors(assembly: cdk.cx_api.CloudAssembly) -> list[str]:
    """cdk-nag's unsuppressed findings (errors), as 'path: message'."""
    found = []
    for artifact in assembly.stacks:
        for message in artifact.messages:
            if message.level == cdk.cx_api.SynthesisMessageLevel.ERROR:
                found.append(f"{message.id}: {message.entry.data}")
    return found
