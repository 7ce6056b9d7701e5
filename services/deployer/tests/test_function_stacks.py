"""A template that deploys a function: the deployer copies its code package and fills the code parameters."""

from __future__ import annotations

import io
import uuid
import zipfile

from snapinfra_shared.catalog import CodePackage

from .conftest import TEMPLATE, deployer, destroy_requested, handle, published, put_artifact, requested

# The shape of a full-stack template's function part (the generated one is tested end to end in tests/).
FUNCTION_TEMPLATE = (
    TEMPLATE.replace(
        "Resources:\n",
        """\
  CodeBucket:
    Type: String
  CodeKey:
    Type: String
  CodeRuntime:
    Type: String
    Default: python3.11
  CodeArchitecture:
    Type: String
    Default: x86_64
Resources:
  ApiFunctionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: lambda.amazonaws.com
            Action: sts:AssumeRole
  ApiFunction:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-api"
      Runtime: !Ref CodeRuntime
      Architectures:
        - !Ref CodeArchitecture
      Handler: app.lambda_handler.handler
      Code:
        S3Bucket: !Ref CodeBucket
        S3Key: !Ref CodeKey
      Role: !GetAtt ApiFunctionRole.Arn
  HttpApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: !Sub "${AWS::StackName}-api"
      ProtocolType: HTTP
""",
    )
    + """\
  ApiUrl:
    Value: !GetAtt HttpApi.ApiEndpoint
"""
)


def _code_package(stack, user: str = "alice") -> CodePackage:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app/__init__.py", "")
    key = f"codegen/{user}/{uuid.uuid4()}/attempt-1/function/shop-function.zip"
    stack.clients.s3.put_object(Bucket=stack.topology.bucket, Key=key, Body=buffer.getvalue())
    return CodePackage(
        key=key,
        size_bytes=len(buffer.getvalue()),
        sha256="1" * 64,
        runtime="python3.12",
        architecture="arm64",
        handler="app.lambda_handler.handler",
    )


def test_the_code_package_is_copied_and_its_location_and_target_fill_the_parameters(stack, cloudformation):
    deps = deployer(stack)
    artifact = put_artifact(stack, {"shop/infra/template.yaml": FUNCTION_TEMPLATE})
    artifact = artifact.model_copy(update={"code_package": _code_package(stack)})
    request = requested(artifact, template_path="shop/infra/template.yaml")
    handle(deps, request)

    found = {e.type: e for e in published(stack)}
    completed = found["DeploymentCompleted"]
    name = request.data["stack_name"]
    assert completed.data["outputs"]["ApiUrl"].startswith("https://")
    assert completed.data["outputs"]["UserTableName"] == f"{name}-users"
    parameters = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cloudformation.describe_stacks(StackName=name)["Stacks"][0]["Parameters"]
    }
    copy = f"deployments/alice/{request.data['deployment_id']}/function.zip"
    assert parameters == {
        "CodeBucket": stack.topology.bucket,
        "CodeKey": copy,
        "CodeRuntime": "python3.12",
        "CodeArchitecture": "arm64",
        "Environment": "dev",
    }
    copied = stack.clients.s3.get_object(Bucket=stack.topology.bucket, Key=copy)
    assert zipfile.ZipFile(io.BytesIO(copied["Body"].read())).namelist() == ["app/__init__.py"]
    assert copied["Metadata"]["sha256"] == "1" * 64
    function = stack.clients.client("lambda").get_function(FunctionName=f"{name}-api")["Configuration"]
    assert function["Runtime"] == "python3.12" and function["Handler"] == "app.lambda_handler.handler"
    api_id = completed.data["outputs"]["ApiUrl"].removeprefix("https://").split(".", 1)[0]
    apis = stack.clients.client("apigatewayv2")
    assert apis.get_api(ApiId=api_id)["Name"] == f"{name}-api"

    handle(deps, destroy_requested(request))  # the stack goes, and its function and API with it
    assert "DeploymentDestroyed" in {e.type for e in published(stack)}
    assert api_id not in {a["ApiId"] for a in apis.get_apis()["Items"]}
    functions = stack.clients.client("lambda").list_functions()["Functions"]
    assert f"{name}-api" not in {f["FunctionName"] for f in functions}


def test_a_function_template_without_a_code_package_fails_with_the_reason(stack, cloudformation):
    deps = deployer(stack)
    request = requested(put_artifact(stack, {"shop/template.yaml": FUNCTION_TEMPLATE}))
    handle(deps, request)
    failed = {e.type: e for e in published(stack)}["DeploymentFailed"]
    assert failed.data["reason"].startswith("the template deploys a function, and the code generation has no code")
    names = [s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"]]
    assert request.data["stack_name"] not in names
