"""A full-stack project's API as an AWS Lambda function behind an API Gateway HTTP API.

The files (the handler module, its test, the requirement on apig-wsgi) and the CloudFormation text (the
function, its role on its own tables only, its log group, the HTTP API, the output `ApiUrl`), written apart
from the tables so that the two change independently. The function's code package is not written here: the
codegen service builds it from the project (`snapinfra_codegen.function_package`), and the deployer fills
the `CodeBucket` and `CodeKey` parameters with its S3 location.
"""

from __future__ import annotations

from snapinfra_codegen.generators.base import FunctionSource
from snapinfra_codegen.generators.templated.naming import EntityNames
from snapinfra_codegen.generators.templated.pysrc import render
from snapinfra_codegen.generators.templated.versions import APIG_WSGI, LAMBDA_REQUIREMENTS

HANDLER = "app.lambda_handler.handler"
LOG_RETENTION_DAYS = 14
# What the generated repository does with a table (app/repository.py): nothing else is granted.
TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)


def function_source(project_name: str) -> FunctionSource:
    return FunctionSource(root=f"{project_name}/", packages=("app",), handler=HANDLER, requirements=LAMBDA_REQUIREMENTS)


def function_files(requirements_txt: str) -> dict[str, str]:
    """The files a full-stack project adds to its API's: the handler, its test, and apig-wsgi in requirements."""
    return {
        "app/lambda_handler.py": render("api/lambda_handler.py.tmpl"),
        "tests/test_lambda_handler.py": render("api/test_lambda_handler.py.tmpl"),
        "requirements.txt": requirements_txt + APIG_WSGI + "\n",
    }


FUNCTION_PARAMETERS = """\
  CodeBucket:
    Type: String
    Description: S3 bucket of the function's code package (the Snapinfra deployer fills it in).
  CodeKey:
    Type: String
    Description: S3 key of the function's code package, a ZIP of the app and its dependencies.
  CodeRuntime:
    Type: String
    Description: The Lambda runtime the code package was built for (its vendored packages are compiled for it).
    Default: python3.11
    AllowedValues: [python3.11, python3.12, python3.13]
  CodeArchitecture:
    Type: String
    Description: The instruction set the code package was built for.
    Default: x86_64
    AllowedValues: [x86_64, arm64]
"""


def _table_policy(entities: list[EntityNames]) -> str:
    actions = "".join(f"                  - {action}\n" for action in TABLE_ACTIONS)
    resources = "".join(
        f'                  - !GetAtt {e.logical_id}.Arn\n                  - !Sub "${{{e.logical_id}.Arn}}/index/*"\n'
        for e in entities
    )
    return f"""\
        - PolicyName: own-tables
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action:
{actions}                Resource:
{resources}"""


def function_resources(project_name: str, entities: list[EntityNames]) -> str:
    """The function and its API, as resources of the template (after the tables, which they reference)."""
    variables = "".join(f"          {e.env_var}: !Ref {e.logical_id}\n" for e in entities)
    return f"""
  ApiFunctionLogGroup:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      LogGroupName: !Sub "/aws/lambda/${{AWS::StackName}}-api"
      RetentionInDays: {LOG_RETENTION_DAYS}

  ApiFunctionRole:
    Type: AWS::IAM::Role
    Properties:
      Description: !Sub "The ${{AWS::StackName}} API's function: its own tables and its own log group, nothing else."
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: lambda.amazonaws.com
            Action: sts:AssumeRole
      Policies:
{_table_policy(entities)}        - PolicyName: own-log-group
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action:
                  - logs:CreateLogStream
                  - logs:PutLogEvents
                Resource: !GetAtt ApiFunctionLogGroup.Arn
      Tags:
        - Key: Project
          Value: {project_name}

  ApiFunction:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub "${{AWS::StackName}}-api"
      Description: The {project_name} API (Flask, through apig-wsgi).
      Runtime: !Ref CodeRuntime
      Architectures:
        - !Ref CodeArchitecture
      Handler: {HANDLER}
      Code:
        S3Bucket: !Ref CodeBucket
        S3Key: !Ref CodeKey
      Role: !GetAtt ApiFunctionRole.Arn
      MemorySize: 512
      Timeout: 15
      LoggingConfig:
        LogGroup: !Ref ApiFunctionLogGroup
      Environment:
        Variables:
{variables}      Tags:
        - Key: Project
          Value: {project_name}
        - Key: Environment
          Value: !Ref Environment

  HttpApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: !Sub "${{AWS::StackName}}-api"
      Description: The {project_name} API.
      ProtocolType: HTTP

  HttpApiIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref HttpApi
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt ApiFunction.Arn
      PayloadFormatVersion: "2.0"

  HttpApiRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref HttpApi
      RouteKey: $default
      Target: !Sub "integrations/${{HttpApiIntegration}}"

  HttpApiStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref HttpApi
      StageName: $default
      AutoDeploy: true

  ApiFunctionInvokedByHttpApi:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref ApiFunction
      Principal: apigateway.amazonaws.com
      SourceArn: !Sub "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{HttpApi}}/*"
"""


FUNCTION_OUTPUTS = """\
  ApiUrl:
    Description: The API's base URL (the HTTP API's default stage).
    Value: !GetAtt HttpApi.ApiEndpoint
  ApiFunctionName:
    Description: The Lambda function that serves the API.
    Value: !Ref ApiFunction
"""


def function_readme(project_name: str) -> str:
    """The infra README's section on the function: what Snapinfra does for you, and how to do it by hand."""
    stack = f"{project_name}-dev"
    return "\n".join(
        [
            "## The API as a Lambda function",
            "",
            "The template also runs the API: a Lambda function (`app.lambda_handler.handler`, through apig-wsgi) "
            "behind an API Gateway HTTP API, with a role on these tables only and a log group kept "
            f"{LOG_RETENTION_DAYS} days. The stack output `ApiUrl` is its address. Deployed by Snapinfra, the code "
            "package is built and passed for you; by hand, from the project folder:",
            "",
            "```sh",
            "pip install -r requirements.txt --target build --platform manylinux2014_x86_64 \\",
            "  --implementation cp --python-version 3.11 --only-binary=:all:",
            "cp -r app build/ && (cd build && zip -qr ../function.zip .)",
            "aws s3 cp function.zip s3://<bucket>/function.zip",
            f"aws cloudformation deploy --stack-name {stack} --template-file infra/template.yaml \\",
            "  --capabilities CAPABILITY_IAM --parameter-overrides Environment=dev \\",
            "  CodeBucket=<bucket> CodeKey=function.zip CodeRuntime=python3.11 CodeArchitecture=x86_64",
            "```",
        ]
    )
