from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import replace

import pytest

from snapinfra_deployer.bootstrap import build_dependencies, build_handlers
from snapinfra_deployer.handlers import Dependencies, Policy
from snapinfra_deployer.settings import DeployerSettings
from snapinfra_shared.catalog import Artifact, DeploymentDestroyRequested, DeploymentRequested
from snapinfra_shared.consumer import Delivery, parse_body
from snapinfra_shared.events import Envelope, new_event
from snapinfra_shared.runtime import Dispatcher, resolve_resources

# The shape of the generated `infra` template: a parameter, a table named after the stack, outputs.
TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Environment:
    Type: String
    Default: dev
Resources:
  UsersTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-users"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
      KeySchema:
        - AttributeName: id
          KeyType: HASH
      Tags:
        - Key: Environment
          Value: !Ref Environment
Outputs:
  UserTableName:
    Value: !Ref UsersTable
"""


def deployer_settings(stack, **overrides) -> DeployerSettings:
    return DeployerSettings(prefix=stack.prefix, s3_addressing_style="path", startup_timeout_seconds=5, **overrides)


def deployer(stack, **policy) -> Dependencies:
    settings = deployer_settings(stack)
    deps = build_dependencies(settings, stack.clients, resolve_resources(stack.clients, settings, "deployer"))
    return replace(deps, policy=Policy(**policy)) if policy else deps


def put_artifact(stack, files: dict[str, str], user: str = "alice") -> Artifact:
    """A code generation's ZIP under codegen's prefix, as codegen publishes it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    key = f"codegen/{user}/{uuid.uuid4()}/shop.zip"
    stack.clients.s3.put_object(Bucket=stack.topology.bucket, Key=key, Body=buffer.getvalue())
    return Artifact(
        bucket=stack.topology.bucket,
        key=key,
        manifest_key=key.rsplit("/", 1)[0] + "/manifest.json",
        size_bytes=len(buffer.getvalue()),
        file_count=len(files),
        sha256="0" * 64,
    )


def requested(artifact: Artifact, user: str = "alice", **overrides) -> Envelope:
    deployment_id = str(uuid.uuid4())
    data = {
        "deployment_id": deployment_id,
        "code_gen_id": str(uuid.uuid4()),
        "project_id": "shop",
        "environment": "dev",
        "stack_name": f"snapinfra-dev-{deployment_id.replace('-', '')[-12:]}",
        "artifact": artifact,
        "template_path": "shop/template.yaml",
        **overrides,
    }
    return new_event(
        "DeploymentRequested", source="api", user_id=user, correlation_id="c-1", data=DeploymentRequested(**data)
    )


def destroy_requested(request: Envelope, attempt: int = 1) -> Envelope:
    return new_event(
        "DeploymentDestroyRequested",
        source="api",
        user_id=request.user_id,
        correlation_id="c-2",
        data=DeploymentDestroyRequested(
            deployment_id=request.data["deployment_id"], stack_name=request.data["stack_name"], attempt=attempt
        ),
    )


def handle(deps: Dependencies, event: Envelope, receive_count: int = 1) -> None:
    Dispatcher(build_handlers(deps))(event, Delivery("m", receive_count, 5))


def published(stack) -> list[Envelope]:
    """What the deployer published, as the api's queue received it, in publishing order."""
    return [parse_body(m["Body"]) for m in stack.drain("api")]


@pytest.fixture
def cloudformation(stack):
    return stack.clients.client("cloudformation")
