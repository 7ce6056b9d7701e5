"""Wires the codegen service: adapters from settings, handlers bound to them."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from botocore.config import Config

from snapinfra_codegen.adapters.artifacts import ArtifactStore
from snapinfra_codegen.adapters.jobs import JobRepository
from snapinfra_codegen.adapters.leases import LeaseKeeper
from snapinfra_codegen.generators.base import Generator
from snapinfra_codegen.generators.validation import ProjectLimits
from snapinfra_codegen.handlers import Dependencies, delete_artifacts, generate_code
from snapinfra_codegen.settings import CodegenSettings
from snapinfra_shared.aws import AwsClients
from snapinfra_shared.publisher import Publisher
from snapinfra_shared.runtime import EventHandler, Handlers, Resources


def build_generator(settings: CodegenSettings, clients: AwsClients) -> Generator:
    if settings.generator == "openai":
        from snapinfra_codegen.generators.llm import OpenAICompatibleGenerator

        assert settings.llm_base_url is not None  # checked by the settings validator
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return OpenAICompatibleGenerator(
            settings.llm_base_url, settings.llm_model, api_key=key, timeout=settings.llm_timeout_seconds
        )
    if settings.generator == "bedrock":
        import boto3

        from snapinfra_codegen.generators.llm import BedrockConverseGenerator

        client = boto3.client(
            "bedrock-runtime",
            region_name=clients.region,
            config=Config(read_timeout=int(settings.llm_timeout_seconds), retries={"mode": "standard"}),
        )
        return BedrockConverseGenerator(client, settings.bedrock_model_id)
    from snapinfra_codegen.generators.templated import TemplatedGenerator

    return TemplatedGenerator()


def build_dependencies(settings: CodegenSettings, clients: AwsClients, resources: Resources) -> Dependencies:
    assert resources.topic_arn is not None
    jobs = JobRepository(clients.dynamodb, resources.table)
    return Dependencies(
        jobs=jobs,
        artifacts=ArtifactStore(clients.s3, resources.bucket, resources.prefix),
        publisher=Publisher(clients.sns, resources.topic_arn),
        generator=build_generator(settings, clients),
        limits=ProjectLimits(settings.max_files, settings.max_total_bytes, settings.max_file_bytes),
        leases=LeaseKeeper(jobs, settings.lease_seconds),
    )


def build_handlers(deps: Dependencies) -> Mapping[str, EventHandler]:
    return {
        "CodeGenerationRequested": functools.partial(generate_code, deps=deps),
        "CodeGenerationDeleted": functools.partial(delete_artifacts, deps=deps),
    }


def build_worker(deps: Dependencies) -> Handlers:
    """The handlers, and on shutdown the leases of unfinished attempts given back."""
    return Handlers(build_handlers(deps), on_shutdown=deps.leases.release_all)
