"""The api's public face: an API Gateway HTTP API with a JWT authorizer, to the api's tasks through a
VPC link (Cloud Map SRV records, no load balancer)."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from snapinfra_infra.compute import API_PORT, FargateServiceUnit, Network

ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","time":"$context.requestTime",'
    '"method":"$context.httpMethod","path":"$context.path","status":"$context.status",'
    '"latency":"$context.responseLatency","integrationError":"$context.integrationErrorMessage",'
    '"user":"$context.authorizer.claims.sub"}'
)


class Identity(Construct):
    """Who may call the api: a Cognito user pool and app client, unless an external issuer is given."""

    def __init__(
        self, scope: Construct, construct_id: str, *, prefix: str, issuer: str | None, audience: tuple[str, ...]
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool: cognito.UserPool | None = None
        self.client: cognito.UserPoolClient | None = None
        if issuer:
            self.issuer, self.audience = issuer.rstrip("/"), list(audience)
        else:
            self.user_pool = cognito.UserPool(
                self,
                "Users",
                user_pool_name=f"{prefix}-users",
                self_sign_up_enabled=False,
                sign_in_aliases=cognito.SignInAliases(email=True),
                password_policy=cognito.PasswordPolicy(
                    min_length=12,
                    require_digits=True,
                    require_lowercase=True,
                    require_uppercase=True,
                    require_symbols=True,
                ),
                mfa=cognito.Mfa.REQUIRED,
                mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
                account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
                removal_policy=RemovalPolicy.RETAIN,
            )
            self.client = self.user_pool.add_client(
                "ApiClient",
                auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),  # the README signs in with the CLI
                generate_secret=False,
                id_token_validity=Duration.hours(1),
                access_token_validity=Duration.hours(1),
            )
            self.issuer = f"https://cognito-idp.{Aws.REGION}.amazonaws.com/{self.user_pool.user_pool_id}"
            self.audience = [self.client.user_pool_client_id]
            NagSuppressions.add_resource_suppressions(
                self.user_pool,
                [
                    NagPackSuppression(
                        id="AwsSolutions-COG8",
                        reason="Threat protection (the Plus feature plan) is billed per active user; an operator "
                        "enables it on the pool when the user base warrants it.",
                    )
                ],
            )

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"


class PublicApi(Construct):
    """Every route needs a valid JWT (issuer and audience checked at the edge, and again by the api)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        network: Network,
        api: FargateServiceUnit,
        identity: Identity,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        link_group = ec2.SecurityGroup(
            self,
            "VpcLinkSecurityGroup",
            vpc=network.vpc,
            description="API Gateway VPC link to the api",
            allow_all_outbound=False,
        )
        link_group.add_egress_rule(api.security_group, ec2.Port.tcp(API_PORT), "to the api's tasks")
        api.security_group.add_ingress_rule(link_group, ec2.Port.tcp(API_PORT), "from the API Gateway VPC link")
        self.vpc_link = apigwv2.VpcLink(
            self,
            "VpcLink",
            vpc=network.vpc,
            subnets=ec2.SubnetSelection(subnet_group_name="private"),
            security_groups=[link_group],
        )
        cloud_map_service = api.service.cloud_map_service
        assert cloud_map_service is not None, "the api registers in Cloud Map"
        authorizer = authorizers.HttpJwtAuthorizer(
            "Jwt",
            jwt_issuer=identity.issuer,
            jwt_audience=identity.audience,
            identity_source=["$request.header.Authorization"],
        )
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=f"{prefix}-api",
            description=f"{prefix}: the public HTTP API",
            default_integration=integrations.HttpServiceDiscoveryIntegration(
                "Api", cloud_map_service, vpc_link=self.vpc_link
            ),
            default_authorizer=authorizer,
        )
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        stage = self.http_api.default_stage
        assert stage is not None
        cfn_stage = stage.node.default_child
        assert isinstance(cfn_stage, apigwv2.CfnStage)
        cfn_stage.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_logs.log_group_arn, format=ACCESS_LOG_FORMAT
        )
        cfn_stage.default_route_settings = apigwv2.CfnStage.RouteSettingsProperty(
            throttling_burst_limit=200, throttling_rate_limit=100, detailed_metrics_enabled=False
        )

    @property
    def url(self) -> str:
        return str(self.http_api.api_endpoint)
