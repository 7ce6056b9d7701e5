"""The use cases of deployments, apart from HTTP: request, read, list, read the step log, destroy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import uuid6

from snapinfra_api.adapters.outbox import publish_now
from snapinfra_api.deployments.model import Deployment
from snapinfra_api.deployments.store import DeploymentPage, DeploymentRepository, StepPage
from snapinfra_shared.catalog import DeploymentDestroyRequested, DeploymentRequested, Environment
from snapinfra_shared.events import new_event

if TYPE_CHECKING:
    from snapinfra_api.ports import EventPublisher, JobStore, Outbox

# The project types whose code generation carries infrastructure (a fast answer before the artifact is read).
DEPLOYABLE_TYPES = frozenset({"infra", "full-stack"})


class DeploymentNotFound(LookupError):
    pass


class CodeGenerationNotFound(LookupError):
    pass


class DeploymentConflict(RuntimeError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def stack_name(environment: str, deployment_id: str) -> str:
    """`snapinfra-<environment>-<short id>`: the random tail of the UUIDv7 (its head is a timestamp)."""
    return f"snapinfra-{environment}-{deployment_id.replace('-', '')[-12:]}"


@dataclass(frozen=True)
class Deployments:
    repository: DeploymentRepository
    jobs: JobStore
    publisher: EventPublisher
    outbox: Outbox

    def request(
        self,
        *,
        user_id: str,
        code_gen_id: str,
        environment: Environment,
        parameters: dict[str, str],
        region: str | None,
        role_arn: str | None,
        correlation_id: str,
    ) -> Deployment:
        job = self.jobs.get(user_id, code_gen_id)
        if job is None:
            raise CodeGenerationNotFound(code_gen_id)
        if job.type not in DEPLOYABLE_TYPES:
            raise DeploymentConflict(
                "no_infrastructure",
                f"code generation {job.id} is of type {job.type}, which has no infrastructure to deploy "
                "(generate type infra or full-stack)",
            )
        if job.status != "completed" or job.artifact is None:
            raise DeploymentConflict(
                "not_completed", f"code generation {job.id} is {job.status}; it can be deployed once it is completed"
            )
        # Where the template is inside the ZIP is codegen's to say (the artifact of its Completed event).
        template_path = job.artifact.template_path
        if template_path is None:
            raise DeploymentConflict(
                "no_infrastructure", f"code generation {job.id} has no CloudFormation template to deploy"
            )
        now = datetime.now(UTC)
        deployment_id = str(uuid6.uuid7())
        deployment = Deployment(
            id=deployment_id,
            user_id=user_id,
            code_gen_id=job.id,
            project_id=job.project_id,
            environment=environment,
            status="queued",
            stack_name=stack_name(environment, deployment_id),
            region=region,
            created_at=now,
            updated_at=now,
        )
        event = new_event(
            "DeploymentRequested",
            source="api",
            user_id=user_id,
            correlation_id=correlation_id,
            occurred_at=now,
            data=DeploymentRequested(
                deployment_id=deployment_id,
                code_gen_id=job.id,
                project_id=job.project_id,
                environment=environment,
                stack_name=deployment.stack_name,
                artifact=job.artifact,
                template_path=template_path,
                parameters=parameters,
                region=region,
                role_arn=role_arn,
            ),
        )
        self.repository.add(deployment, event)
        publish_now(self.publisher, event)  # settled by the deployer's first answer
        return deployment

    def get(self, user_id: str, deployment_id: str) -> Deployment:
        found = self.repository.get(user_id, deployment_id)
        if found is None:
            raise DeploymentNotFound(deployment_id)
        return found

    def list(
        self,
        user_id: str,
        *,
        limit: int,
        cursor: str | None,
        project_id: str | None,
        status: str | None,
        environment: str | None,
    ) -> DeploymentPage:
        return self.repository.list(
            user_id, limit=limit, cursor=cursor, project_id=project_id, status=status, environment=environment
        )

    def events(self, user_id: str, deployment_id: str, *, limit: int, cursor: str | None) -> StepPage:
        self.get(user_id, deployment_id)  # another user's deployment is not found
        return self.repository.steps(deployment_id, limit=limit, cursor=cursor)

    def destroy(self, user_id: str, deployment_id: str, correlation_id: str) -> Deployment:
        """Ask the deployer to delete the stack; the record stays, as history."""
        deployment = self.get(user_id, deployment_id)
        if deployment.status == "destroying":
            return deployment  # already asked: the same answer, no second request
        self._refuse(deployment)
        attempt = deployment.destroy_attempt + 1
        now = datetime.now(UTC)
        event = new_event(
            "DeploymentDestroyRequested",
            source="api",
            user_id=user_id,
            correlation_id=correlation_id,
            occurred_at=now,
            data=DeploymentDestroyRequested(
                deployment_id=deployment.id, stack_name=deployment.stack_name, attempt=attempt
            ),
        )
        if not self.repository.request_destroy(deployment, event, attempt, now):
            moved = self.get(user_id, deployment_id)
            if moved.status == "destroying":
                return moved
            self._refuse(moved)
            raise DeploymentConflict("changed", f"deployment {deployment.id} changed meanwhile; try again")
        publish_now(self.publisher, event)
        return self.get(user_id, deployment_id)

    @staticmethod
    def _refuse(deployment: Deployment) -> None:
        if deployment.status in ("queued", "deploying"):
            raise DeploymentConflict(
                "still_deploying",
                f"deployment {deployment.id} is {deployment.status}; destroy it once it is deployed or failed",
            )
        if deployment.status == "destroyed":
            raise DeploymentConflict("already_destroyed", f"deployment {deployment.id} is already destroyed")
