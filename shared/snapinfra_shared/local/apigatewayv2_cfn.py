"""CloudFormation support for API Gateway v2 (HTTP APIs) in the embedded AWS.

moto's CloudFormation knows AWS::ApiGateway::* (REST APIs) but not AWS::ApiGatewayV2::*: a template with
an HTTP API fails there (a `!GetAtt` of the API) or, without one, creates nothing for it. moto's API Gateway v2
service itself is complete enough (APIs, integrations, routes, stages), so these resource types create and
delete exactly those, through that backend: what a stack declares is there to describe
(`aws apigatewayv2 get-apis`), and its `ApiEndpoint` is the API's. The embedded AWS cannot run the Lambda
function behind it (moto runs functions in Docker): calling the URL is for LocalStack or a real account.

Imported by the embedded AWS's server (`moto_main`) before it serves: moto finds CloudFormation resource types
among `CloudFormationModel`'s subclasses.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from typing import Any

from moto.apigatewayv2.exceptions import ApiNotFound
from moto.apigatewayv2.models import ApiGatewayV2Backend, apigatewayv2_backends
from moto.core.common_models import CloudFormationModel


def _backend(account_id: str, region_name: str) -> ApiGatewayV2Backend:
    return apigatewayv2_backends[account_id][region_name]


class _Child(CloudFormationModel):
    """A resource of one API: deleting it once its API is gone is done already."""

    def __init__(self, account_id: str, region_name: str, api_id: str, physical_id: str):
        self.account_id, self.region_name, self.api_id, self.physical_id = account_id, region_name, api_id, physical_id

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        with contextlib.suppress(ApiNotFound):
            self._delete(_backend(account_id, region_name))

    @abstractmethod
    def _delete(self, backend: ApiGatewayV2Backend) -> None:
        """Remove this child of its API (each resource type names its own backend call)."""


class HttpApi(CloudFormationModel):
    def __init__(self, account_id: str, region_name: str, api_id: str, endpoint: str):
        self.account_id, self.region_name, self.api_id, self.endpoint = account_id, region_name, api_id, endpoint

    @property
    def physical_resource_id(self) -> str:
        return self.api_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Api"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("ApiEndpoint", "ApiId")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.endpoint if attribute_name == "ApiEndpoint" else self.api_id

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> HttpApi:
        p = cloudformation_json["Properties"]
        api = _backend(account_id, region_name).create_api(
            api_key_selection_expression=p.get("ApiKeySelectionExpression"),
            cors_configuration=p.get("CorsConfiguration"),
            description=p.get("Description"),
            disable_schema_validation=p.get("DisableSchemaValidation"),
            disable_execute_api_endpoint=p.get("DisableExecuteApiEndpoint"),
            name=p.get("Name", resource_name),
            protocol_type=p.get("ProtocolType", "HTTP"),
            route_selection_expression=p.get("RouteSelectionExpression"),
            tags=p.get("Tags") or {},
            version=p.get("Version"),
        )
        return cls(account_id, region_name, api.api_id, api.api_endpoint)

    def delete(self, account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).delete_api(self.api_id)


class HttpApiIntegration(_Child):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Integration"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> HttpApiIntegration:
        p = cloudformation_json["Properties"]
        integration = _backend(account_id, region_name).create_integration(
            api_id=p["ApiId"],
            connection_id=p.get("ConnectionId"),
            connection_type=p.get("ConnectionType"),
            content_handling_strategy=p.get("ContentHandlingStrategy"),
            credentials_arn=p.get("CredentialsArn"),
            description=p.get("Description"),
            integration_method=p.get("IntegrationMethod"),
            integration_subtype=p.get("IntegrationSubtype"),
            integration_type=p["IntegrationType"],
            integration_uri=p.get("IntegrationUri"),
            passthrough_behavior=p.get("PassthroughBehavior"),
            payload_format_version=p.get("PayloadFormatVersion"),
            request_parameters=p.get("RequestParameters"),
            request_templates=p.get("RequestTemplates"),
            response_parameters=p.get("ResponseParameters"),
            template_selection_expression=p.get("TemplateSelectionExpression"),
            timeout_in_millis=p.get("TimeoutInMillis"),
            tls_config=p.get("TlsConfig"),
        )
        return cls(account_id, region_name, p["ApiId"], integration.id)

    def _delete(self, backend: ApiGatewayV2Backend) -> None:
        backend.delete_integration(self.api_id, self.physical_id)


class HttpApiRoute(_Child):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Route"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> HttpApiRoute:
        p = cloudformation_json["Properties"]
        route = _backend(account_id, region_name).create_route(
            api_id=p["ApiId"],
            api_key_required=p.get("ApiKeyRequired", False),
            authorization_scopes=p.get("AuthorizationScopes") or [],
            authorization_type=p.get("AuthorizationType"),
            authorizer_id=p.get("AuthorizerId"),
            model_selection_expression=p.get("ModelSelectionExpression"),
            operation_name=p.get("OperationName"),
            request_models=p.get("RequestModels"),
            request_parameters=p.get("RequestParameters"),
            route_key=p["RouteKey"],
            route_response_selection_expression=p.get("RouteResponseSelectionExpression"),
            target=p.get("Target"),
        )
        return cls(account_id, region_name, p["ApiId"], route.route_id)

    def _delete(self, backend: ApiGatewayV2Backend) -> None:
        backend.delete_route(self.api_id, self.physical_id)


class HttpApiStage(_Child):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Stage"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> HttpApiStage:
        p = cloudformation_json["Properties"]
        config = {
            "stageName": p["StageName"],
            "autoDeploy": p.get("AutoDeploy"),
            "description": p.get("Description"),
            "accessLogSettings": p.get("AccessLogSettings"),
            "stageVariables": p.get("StageVariables") or {},
        }
        stage = _backend(account_id, region_name).create_stage(p["ApiId"], config)
        return cls(account_id, region_name, p["ApiId"], stage.name)

    def _delete(self, backend: ApiGatewayV2Backend) -> None:
        backend.delete_stage(self.api_id, self.physical_id)


RESOURCE_TYPES = (HttpApi, HttpApiIntegration, HttpApiRoute, HttpApiStage)
