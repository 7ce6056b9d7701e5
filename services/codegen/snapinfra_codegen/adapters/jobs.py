"""The codegen service's own record of each job, in its own table. The record is also the job's
idempotency key: one CodeGenerationRequested makes one job, and a redelivery finds the record."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from snapinfra_shared.catalog import Artifact

DELETED_RETENTION_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    user_id: str
    project_id: str
    status: Literal["generating", "completed", "failed", "deleted"]
    attempts: int
    artifact: Artifact | None = None
    reason: str | None = None
    completed_at: str | None = None
    owner: str | None = None  # the attempt that holds the lease while `generating`
    lease_until: float = 0.0


@dataclass(frozen=True)
class Lease:
    """One attempt's hold on a job: every write of the attempt is conditional on `owner`."""

    job_id: str
    owner: str
    attempt: int


@dataclass(frozen=True)
class Claim:
    """`claimed`: this attempt owns the job (`lease`); otherwise the record as another attempt left it."""

    outcome: Literal["claimed", "busy", "done"]
    record: JobRecord
    lease: Lease | None = None


class JobRepository:
    def __init__(self, dynamodb: Any, table: str, clock: Callable[[], float] = time.time):
        self._ddb = dynamodb
        self._table = table
        self.clock = clock

    @staticmethod
    def _key(job_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}

    def claim(self, job_id: str, user_id: str, project_id: str, lease_seconds: float, message_id: str) -> Claim:
        """Take the job for a new attempt: when it is new, when its lease ran out (its holder died), or when
        the message is the holder's own one come back (a live holder keeps its message invisible)."""
        now = self.clock()
        owner = str(uuid.uuid4())
        try:
            response = self._ddb.update_item(
                TableName=self._table,
                Key=self._key(job_id),
                UpdateExpression=(
                    "SET #s = :generating, lease_until = :until, lease_owner = :owner, lease_message = :message, "
                    "user_id = :user, project_id = :project, "
                    "attempts = if_not_exists(attempts, :zero) + :one, updated_at = :now"
                ),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR "
                    "(#s = :generating AND (lease_until < :now OR lease_message = :message))"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":generating": {"S": "generating"},
                    ":until": {"N": _number(now + lease_seconds)},
                    ":owner": {"S": owner},
                    ":message": {"S": message_id},
                    ":user": {"S": user_id},
                    ":project": {"S": project_id},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":now": {"N": _number(now)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            record = _record(response["Attributes"])
            return Claim("claimed", record, Lease(job_id, owner, record.attempts))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item: dict[str, Any] = exc.response.get("Item") or self.get_item(job_id)  # type: ignore[assignment]
            record = _record(item)
            return Claim("busy" if record.status == "generating" else "done", record)

    def get_item(self, job_id: str) -> dict[str, Any]:
        return dict(self._ddb.get_item(TableName=self._table, Key=self._key(job_id), ConsistentRead=True)["Item"])

    def get(self, job_id: str) -> JobRecord | None:
        item = self._ddb.get_item(TableName=self._table, Key=self._key(job_id), ConsistentRead=True).get("Item")
        return _record(item) if item else None

    def renew(self, lease: Lease, lease_seconds: float) -> bool:
        """Extend the lease; False when this attempt no longer holds it (taken over, settled or deleted)."""
        return self._held_update(
            lease, "SET lease_until = :until", {":until": {"N": _number(self.clock() + lease_seconds)}}
        )

    def release(self, lease: Lease) -> bool:
        """Give the job back (a transient failure, a shutdown), so the next attempt may claim it at once."""
        return self._held_update(lease, "SET lease_until = :zero REMOVE lease_owner", {":zero": {"N": "0"}})

    def complete(self, lease: Lease, artifact: Artifact, completed_at: str) -> bool:
        """False when this attempt no longer holds the job (deleted, settled or taken over meanwhile)."""
        return self._held_update(
            lease,
            "SET #s = :completed, artifact = :artifact, completed_at = :at, updated_at = :now "
            "REMOVE lease_until, lease_owner, lease_message",
            {
                ":completed": {"S": "completed"},
                ":artifact": {"S": artifact.model_dump_json()},
                ":at": {"S": completed_at},
            },
        )

    def fail(self, lease: Lease, reason: str) -> bool:
        return self._held_update(
            lease,
            "SET #s = :failed, reason = :reason, updated_at = :now REMOVE lease_until, lease_owner, lease_message",
            {":failed": {"S": "failed"}, ":reason": {"S": reason}},
        )

    def mark_deleted(self, job_id: str, user_id: str, project_id: str) -> None:
        """A tombstone: a late or redelivered request for this job must not generate it again."""
        now = int(self.clock())
        self._ddb.update_item(
            TableName=self._table,
            Key=self._key(job_id),
            UpdateExpression=(
                "SET #s = :deleted, user_id = if_not_exists(user_id, :user), "
                "project_id = if_not_exists(project_id, :project), attempts = if_not_exists(attempts, :zero), "
                "updated_at = :now, expires_at = :expires REMOVE lease_until, lease_owner, lease_message"
            ),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":deleted": {"S": "deleted"},
                ":user": {"S": user_id},
                ":project": {"S": project_id},
                ":zero": {"N": "0"},
                ":now": {"N": str(now)},
                ":expires": {"N": str(now + DELETED_RETENTION_SECONDS)},
            },
        )

    def _held_update(self, lease: Lease, expression: str, values: dict[str, Any]) -> bool:
        """An update applied only while `lease` holds the generating job."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(lease.job_id),
                UpdateExpression=expression,
                ConditionExpression="#s = :generating AND lease_owner = :owner",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    **values,
                    ":generating": {"S": "generating"},
                    ":owner": {"S": lease.owner},
                    **({":now": {"N": _number(self.clock())}} if ":now" in expression else {}),
                },
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise


def _number(seconds: float) -> str:
    return f"{seconds:.3f}"


def _record(item: dict[str, Any]) -> JobRecord:
    artifact = item.get("artifact", {}).get("S")
    return JobRecord(
        job_id=item["pk"]["S"].removeprefix("JOB#"),
        user_id=item.get("user_id", {}).get("S", ""),
        project_id=item.get("project_id", {}).get("S", ""),
        status=item["status"]["S"],
        attempts=int(item.get("attempts", {}).get("N", "0")),
        artifact=Artifact.model_validate_json(artifact) if artifact else None,
        reason=item.get("reason", {}).get("S"),
        completed_at=item.get("completed_at", {}).get("S"),
        owner=item.get("lease_owner", {}).get("S"),
        lease_until=float(item.get("lease_until", {}).get("N", "0")),
    )
