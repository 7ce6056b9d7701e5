"""Wires the deployer service: adapters from settings, handlers bound to them."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from snapinfra_deployer.adapters.rechecks import Rechecks
from snapinfra_deployer.adapters.records import DeploymentRecords
from snapinfra_deployer.adapters.stacks import StackTargets
from snapinfra_deployer.adapters.templates import TemplateStore
from snapinfra_deployer.handlers import Dependencies, Policy, deploy, destroy
from snapinfra_deployer.settings import DeployerSettings
from snapinfra_shared.aws import AwsClients
from snapinfra_shared.publisher import Publisher
from snapinfra_shared.runtime import EventHandler, Resources


def build_dependencies(settings: DeployerSettings, clients: AwsClients, resources: Resources) -> Dependencies:
    assert resources.topic_arn is not None and resources.queue_url is not None
    return Dependencies(
        records=DeploymentRecords(clients.dynamodb, resources.table),
        templates=TemplateStore(clients.s3, resources.bucket, resources.prefix),
        targets=StackTargets(
            default_region=settings.default_region or clients.region,
            external_id_prefix=settings.external_id_prefix,
            session_seconds=settings.role_session_seconds,
            max_attempts=settings.aws_max_attempts,
            cloudformation_role_arn=settings.cloudformation_role_arn,
        ),
        publisher=Publisher(clients.sns, resources.topic_arn),
        rechecks=Rechecks(clients.sqs, resources.queue_url),
        policy=Policy(
            deploy_timeout_seconds=settings.deploy_timeout_seconds,
            destroy_timeout_seconds=settings.destroy_timeout_seconds,
            recheck_base_seconds=settings.recheck_base_seconds,
            recheck_max_seconds=settings.recheck_max_seconds,
        ),
    )


def build_handlers(deps: Dependencies) -> Mapping[str, EventHandler]:
    return {
        "DeploymentRequested": functools.partial(deploy, deps=deps),
        "DeploymentDestroyRequested": functools.partial(destroy, deps=deps),
    }
