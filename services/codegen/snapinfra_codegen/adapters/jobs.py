"""The codegen service's own record of each job, in its own table. The record is also the job's
idempotency key: one CodeGenerationRequested makes one job, and a redelivery finds the record."""

from __future__ import annotations

import time
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


@dataclass(frozen=True)
class Claim:
    """`claimed`: this attempt owns the job; otherwise the record as another attempt left it."""

    outcome: Literal["claimed", "busy", "done"]
    record: JobRecord


class JobRepository:
    def __init__(self, dynamodb: Any, table: str, clock: Any = time.time):
        self._ddb = dynamodb
        self._table = table
        self._clock = clock

    @staticmethod
    def _key(job_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}

    def claim(self, job_id: str, user_id: str, project_id: str, lease_seconds: int) -> Claim:
        now = int(self._clock())
        try:
            response = self._ddb.update_item(
                TableName=self._table,
                Key=self._key(job_id),
                UpdateExpression=(
                    "SET #s = :generating, lease_until = :until, user_id = :user, project_id = :project, "
                    "attempts = if_not_exists(attempts, :zero) + :one, updated_at = :now"
                ),
                ConditionExpression="attribute_not_exists(pk) OR (#s = :generating AND lease_until < :now)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":generating": {"S": "generating"},
                    ":until": {"N": str(now + lease_seconds)},
                    ":user": {"S": user_id},
                    ":project": {"S": project_id},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return Claim("claimed", _record(response["Attributes"]))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item: dict[str, Any] = exc.response.get("Item") or self.get_item(job_id)  # type: ignore[assignment]
            record = _record(item)
            return Claim("busy" if record.status == "generating" else "done", record)

    def get_item(self, job_id: str) -> dict[str, Any]:
        return dict(self._ddb.get_item(TableName=self._table, Key=self._key(job_id), ConsistentRead=True)["Item"])

    def release(self, job_id: str) -> None:
        """Give the job back after a transient failure, so the retry may claim it at once."""
        self._conditional_update(job_id, "SET lease_until = :zero", {":zero": {"N": "0"}})

    def complete(self, job_id: str, artifact: Artifact, completed_at: str) -> bool:
        """False when the job was deleted meanwhile (the caller removes what it stored)."""
        return self._conditional_update(
            job_id,
            "SET #s = :completed, artifact = :artifact, completed_at = :at, updated_at = :now REMOVE lease_until",
            {
                ":completed": {"S": "completed"},
                ":artifact": {"S": artifact.model_dump_json()},
                ":at": {"S": completed_at},
            },
        )

    def fail(self, job_id: str, reason: str) -> bool:
        return self._conditional_update(
            job_id,
            "SET #s = :failed, reason = :reason, updated_at = :now REMOVE lease_until",
            {":failed": {"S": "failed"}, ":reason": {"S": reason}},
        )

    def mark_deleted(self, job_id: str, user_id: str, project_id: str) -> None:
        """A tombstone: a late or redelivered request for this job must not generate it again."""
        now = int(self._clock())
        self._ddb.update_item(
            TableName=self._table,
            Key=self._key(job_id),
            UpdateExpression=(
                "SET #s = :deleted, user_id = if_not_exists(user_id, :user), "
                "project_id = if_not_exists(project_id, :project), attempts = if_not_exists(attempts, :zero), "
                "updated_at = :now, expires_at = :expires REMOVE lease_until"
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

    def _conditional_update(self, job_id: str, expression: str, values: dict[str, Any]) -> bool:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(job_id),
                UpdateExpression=expression,
                ConditionExpression="#s = :generating",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    **values,
                    ":generating": {"S": "generating"},
                    **({":now": {"N": str(int(self._clock()))}} if ":now" in expression else {}),
                },
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise


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
    )
