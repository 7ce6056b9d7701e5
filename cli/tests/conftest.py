"""A real api on loopback for the client's tests, and the projection of events into it (as its queue would)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import ApiDependencies, build_dependencies
from snapinfra_api.codegen.projection import build_handlers
from snapinfra_api.settings import ApiSettings
from snapinfra_shared import catalog
from snapinfra_shared.consumer import Delivery
from snapinfra_shared.events import new_event
from snapinfra_shared.runtime import Dispatcher


@dataclass
class LiveApi:
    url: str
    deps: ApiDependencies

    def deliver(self, source: str, type_: str, user: str, **data: Any) -> None:
        """Project an event into the api's read model, as its queue would deliver it."""
        event = new_event(type_, source=source, user_id=user, correlation_id="c", data=getattr(catalog, type_)(**data))
        handlers = build_handlers(self.deps.repository, self.deps.deployments.repository)
        Dispatcher(handlers)(event, Delivery("m", 1, 5))

    def complete(self, user: str, job: dict[str, Any]) -> None:
        """Mark a code generation completed, with a ZIP of one file (and, for a type that deploys, the template's
        path inside it, which codegen announces and the api forwards to the deployer)."""
        key = f"codegen/{user}/{job['id']}/{job['projectId']}.zip"
        template = {"infra": "template.yaml", "full-stack": "infra/template.yaml"}.get(job["type"])
        artifact = catalog.Artifact(
            bucket="b",
            key=key,
            manifest_key="m",
            size_bytes=1,
            file_count=1,
            sha256="0" * 64,
            template_path=f"{job['projectId']}/{template}" if template else None,
        )
        completed = catalog.CodeGenerationCompleted(
            job_id=job["id"],
            project_id=job["projectId"],
            project_type=job["type"],
            generator="templated",
            artifact=artifact,
            completed_at=datetime.now(UTC),
        )
        self.deliver("codegen", "CodeGenerationCompleted", user, **completed.model_dump())


@pytest.fixture
def live_api(stack: Any, serve: Any) -> Iterator[LiveApi]:
    settings = ApiSettings(auth_mode="dev", prefix=stack.prefix, s3_addressing_style="path", startup_timeout_seconds=5)
    deps = build_dependencies(settings)
    with serve(create_app(ports=deps)) as url:
        yield LiveApi(url, deps)
