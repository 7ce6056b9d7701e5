"""CloudFormation in the target account and region: create, look at, and delete one deployment's stack.

With a role ARN the target is another account: the deployer assumes the role through STS with an
external id per user. The temporary credentials live only in the client built from them, for the
handling of one message; they are never stored or logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from snapinfra_shared.aws import AWS_CALLS

log = logging.getLogger(__name__)

CREATED = {"CREATE_COMPLETE"}
# Final states of a create that did not succeed (the rollback, if any, is over).
NOT_CREATED = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_COMPLETE", "DELETE_FAILED"}
DELETED = {"DELETE_COMPLETE"}
NOT_DELETED = {"DELETE_FAILED"}
TRANSIENT_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable", "InternalFailure"}


class StackRejected(Exception):
    """CloudFormation (or STS) refused the request for good: a bad template, a role we may not assume."""


@dataclass(frozen=True)
class StackState:
    stack_id: str
    status: str
    reason: str | None
    outputs: dict[str, str]
    tags: dict[str, str]


@dataclass(frozen=True)
class StackEvent:
    event_id: str
    at: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str | None


def permanent(exc: ClientError) -> bool:
    """A 4xx that retrying cannot fix (throttling is retried by botocore and then by the queue)."""
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
    return 400 <= status < 500 and exc.response["Error"]["Code"] not in TRANSIENT_CODES


def _message(exc: ClientError) -> str:
    return str(exc.response["Error"].get("Message") or exc.response["Error"]["Code"])


def _not_found(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ValidationError" and "does not exist" in _message(exc)


class Stacks:
    """One CloudFormation client, in one account and region; with `role_arn`, CloudFormation creates and
    deletes the stacks with that role (a service role), not with the caller's own permissions."""

    def __init__(self, cloudformation: Any, region: str, role_arn: str | None = None):
        self._cf = cloudformation
        self.region = region
        self._role = {"RoleARN": role_arn} if role_arn else {}

    def declared_parameters(self, body: str) -> set[str]:
        try:
            summary = self._cf.get_template_summary(TemplateBody=body)
        except ClientError as exc:
            if permanent(exc):
                raise StackRejected(_message(exc)) from exc
            raise
        return {p["ParameterKey"] for p in summary.get("Parameters", [])}

    def create(
        self,
        *,
        name: str,
        body: str,
        parameters: dict[str, str],
        tags: dict[str, str],
        timeout_minutes: int,
        token: str,
    ) -> str:
        """The new stack's id; the existing one's if an earlier attempt created it (told by its tags)."""
        try:
            response = self._cf.create_stack(
                StackName=name,
                TemplateBody=body,
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                TimeoutInMinutes=timeout_minutes,
                OnFailure="ROLLBACK",
                # A full-stack template declares its function's role (unnamed, so CAPABILITY_IAM suffices); what
                # CloudFormation may create is bounded by the execution role the deployer passes, not by this.
                Capabilities=["CAPABILITY_IAM"],
                ClientRequestToken=token,
                **self._role,
            )
            return str(response["StackId"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "AlreadyExistsException":
                existing = self.describe(name)
                if existing is not None and all(existing.tags.get(k) == v for k, v in tags.items()):
                    return existing.stack_id
                raise StackRejected(f"a stack named {name} already exists and is not this deployment's") from exc
            if permanent(exc):
                raise StackRejected(_message(exc)) from exc
            raise

    def describe(self, stack: str) -> StackState | None:
        """None when there is no such stack (a stack id keeps answering DELETE_COMPLETE for a while)."""
        try:
            found = self._cf.describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise
        return StackState(
            stack_id=found["StackId"],
            status=found["StackStatus"],
            reason=found.get("StackStatusReason"),
            outputs={o["OutputKey"]: str(o.get("OutputValue", "")) for o in found.get("Outputs") or []},
            tags={t["Key"]: t["Value"] for t in found.get("Tags") or []},
        )

    def events_since(self, stack_id: str, last_event_id: str | None, limit: int = 500) -> list[StackEvent]:
        """The stack's events after `last_event_id`, oldest first (CloudFormation lists newest first)."""
        found: list[StackEvent] = []
        paginator = self._cf.get_paginator("describe_stack_events")
        try:
            for page in paginator.paginate(StackName=stack_id):
                for raw in page.get("StackEvents", []):
                    if raw["EventId"] == last_event_id or len(found) >= limit:
                        return found[::-1]
                    found.append(
                        StackEvent(
                            event_id=raw["EventId"],
                            at=raw["Timestamp"],
                            logical_id=raw.get("LogicalResourceId", ""),
                            resource_type=raw.get("ResourceType", ""),
                            status=raw.get("ResourceStatus", ""),
                            reason=raw.get("ResourceStatusReason"),
                        )
                    )
        except ClientError as exc:
            if _not_found(exc):
                return found[::-1]
            raise
        return found[::-1]

    def failure_reason(self, state: StackState) -> str:
        """CloudFormation's reason: the first resource that failed (the root cause), else the stack's own."""
        for event in self.events_since(state.stack_id, None):
            if event.status.endswith("_FAILED") and event.reason and "cancelled" not in event.reason.lower():
                where = f"{event.logical_id} ({event.resource_type})" if event.resource_type else event.logical_id
                return f"{where}: {event.reason}"
        return state.reason or f"the stack ended {state.status}"

    def delete(self, stack_id: str, token: str) -> None:
        try:
            self._cf.delete_stack(StackName=stack_id, ClientRequestToken=token, **self._role)
        except ClientError as exc:
            if _not_found(exc):
                return
            if permanent(exc):
                raise StackRejected(_message(exc)) from exc
            raise


class StackTargets:
    """Builds the CloudFormation client of a deployment's target: this account, or another through a role."""

    def __init__(
        self,
        *,
        default_region: str,
        external_id_prefix: str,
        session_seconds: int,
        max_attempts: int = 5,
        cloudformation_role_arn: str | None = None,
    ):
        self.default_region = default_region
        self._cloudformation_role_arn = cloudformation_role_arn
        self._external_id_prefix = external_id_prefix
        self._session_seconds = session_seconds
        self._config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts}, connect_timeout=5, read_timeout=30
        )
        self._own: dict[str, Any] = {}
        self._session = boto3.session.Session()

    def external_id(self, user_id: str) -> str:
        """Unique per user and never chosen by one ('|' is not allowed in an ExternalId; '/' is never in a user id)."""
        return f"{self._external_id_prefix}{user_id.replace('|', '/')}"

    def region(self, requested: str | None) -> str:
        return requested or self.default_region

    def stacks(self, *, region: str, role_arn: str | None, user_id: str, session_name: str) -> Stacks:
        if role_arn is None:
            if region not in self._own:
                self._own[region] = self._client("cloudformation", region, None)
            # Own account only: the service role lives here; in another account the assumed role acts itself.
            return Stacks(self._own[region], region, self._cloudformation_role_arn)
        sts = self._client("sts", region, None)
        try:
            credentials = sts.assume_role(
                RoleArn=role_arn,
                RoleSessionName=session_name[:64],
                ExternalId=self.external_id(user_id),
                DurationSeconds=self._session_seconds,
            )["Credentials"]
        except ClientError as exc:
            if permanent(exc):
                raise StackRejected(f"could not assume {role_arn}: {_message(exc)}") from exc
            raise
        log.info("assumed the deployment's role", extra={"role_arn": role_arn, "region": region})
        return Stacks(self._client("cloudformation", region, credentials), region)

    def _client(self, service: str, region: str, credentials: dict[str, Any] | None) -> Any:
        keys = (
            {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
            if credentials
            else {}
        )
        client = self._session.client(service, region_name=region, config=self._config, **keys)  # type: ignore[call-overload]
        client.meta.events.register("before-call", _count_call)
        return client


def _count_call(model: Any, **_: Any) -> None:
    AWS_CALLS.labels(model.service_model.service_name, model.name).inc()
