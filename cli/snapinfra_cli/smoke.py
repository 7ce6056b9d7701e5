"""`snapinfra smoke`: the guide's test-aws-services check (S3 upload and download, SQS send and receive,
SNS publish) against the AWS that the standard variables name (AWS_ENDPOINT_URL, region, credentials).
On a loopback endpoint (the embedded AWS of `make dev`, LocalStack) the embedded AWS's credentials and
region stand in for any the caller has not set. Each check works on resources of its own, made for the
check and removed afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ConnectionError as BotoConnectionError

from snapinfra_shared.local.embedded import session_for


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    unreachable: bool = False  # failed because the endpoint could not be reached at all


def _s3(session: Any, run: str) -> str:
    s3 = session.client("s3", config=Config(s3={"addressing_style": "path"}))
    bucket, key, body = f"snapinfra-smoke-{run}", "smoke/hello.txt", f"snapinfra smoke {run}".encode()
    region = session.region_name or "us-east-1"
    s3.create_bucket(
        Bucket=bucket,
        **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}),
    )
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        read = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if read != body:
            raise AssertionError(f"downloaded {len(read)} bytes that differ from the {len(body)} uploaded")
        return f"uploaded and downloaded {len(body)} bytes (s3://{bucket}/{key})"
    finally:
        s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)


def _sqs(session: Any, run: str) -> str:
    sqs = session.client("sqs")
    url = sqs.create_queue(QueueName=f"snapinfra-smoke-{run}")["QueueUrl"]
    try:
        sqs.send_message(QueueUrl=url, MessageBody=f"smoke {run}")
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, MaxNumberOfMessages=1).get("Messages", [])
        if not messages or messages[0]["Body"] != f"smoke {run}":
            raise AssertionError("the message sent was not received within 5 s")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
        return f"sent and received one message ({url.rsplit('/', 1)[-1]})"
    finally:
        sqs.delete_queue(QueueUrl=url)


def _sns(session: Any, run: str) -> str:
    sns = session.client("sns")
    arn = sns.create_topic(Name=f"snapinfra-smoke-{run}")["TopicArn"]
    try:
        message_id = sns.publish(TopicArn=arn, Message=f"smoke {run}", Subject="snapinfra smoke")["MessageId"]
        return f"published message {message_id} to {arn.rsplit(':', 1)[-1]}"
    finally:
        sns.delete_topic(TopicArn=arn)


CHECKS: tuple[tuple[str, Callable[[Any, str], str]], ...] = (
    ("S3 upload and download", _s3),
    ("SQS send and receive", _sqs),
    ("SNS publish", _sns),
)


def run_checks(session: Any | None = None) -> list[Check]:
    session = session or session_for(os.environ.get("AWS_ENDPOINT_URL"))
    run = uuid.uuid4().hex[:12]
    results = []
    for name, check in CHECKS:
        try:
            results.append(Check(name, True, check(session, run)))
        except Exception as exc:  # every failure is reported on its line, with its reason
            unreachable = isinstance(exc, BotoConnectionError)
            results.append(Check(name, False, f"{type(exc).__name__}: {exc}", unreachable))
    return results
