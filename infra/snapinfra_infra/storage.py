"""The one bucket: every service writes only under its own prefix."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from snapinfra_shared.topology import Topology

# The guide: generated code moves to Intelligent-Tiering after 30 days and is gone after 90.
CODEGEN_TIERING_DAYS = 30
CODEGEN_EXPIRY_DAYS = 90
NONCURRENT_EXPIRY_DAYS = 30
ABORT_MULTIPART_DAYS = 7
ACCESS_LOG_EXPIRY_DAYS = 90


class Storage(Construct):
    """The bucket (versioned, encrypted, private, TLS only, no ACLs, a lifecycle per prefix) and the
    bucket that receives its access logs."""

    def __init__(self, scope: Construct, construct_id: str, *, topology: Topology, retain: bool) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(ACCESS_LOG_EXPIRY_DAYS))
            ],
            removal_policy=removal,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=topology.bucket,
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="storage/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="codegen-tiering-then-expiry",
                    prefix=topology.prefixes["codegen"],
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                            transition_after=Duration.days(CODEGEN_TIERING_DAYS),
                        )
                    ],
                    expiration=Duration.days(CODEGEN_EXPIRY_DAYS),
                ),
                s3.LifecycleRule(
                    id="noncurrent-versions-and-incomplete-uploads",
                    noncurrent_version_expiration=Duration.days(NONCURRENT_EXPIRY_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(ABORT_MULTIPART_DAYS),
                    expired_object_delete_marker=True,
                ),
            ],
            removal_policy=removal,
        )
