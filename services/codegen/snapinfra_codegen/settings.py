from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from snapinfra_shared.settings import WorkerSettings


class CodegenSettings(WorkerSettings):
    generator: Literal["templated", "openai", "bedrock"] = Field(
        default="templated", description="templated: deterministic and offline; openai/bedrock: an LLM"
    )
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint, e.g. http://host/v1")
    llm_api_key: SecretStr | None = Field(default=None, description="openai: the API key (never logged)")
    llm_model: str = Field(default="gpt-4o-mini", description="openai: the model asked")
    llm_timeout_seconds: float = Field(default=120.0, gt=0, description="openai and bedrock: one call's time limit")
    bedrock_model_id: str = Field(
        default="anthropic.claude-3-5-sonnet-20240620-v1:0", description="bedrock: the model asked"
    )
    max_files: int = Field(default=200, ge=1, description="a generated project with more files fails")
    max_total_bytes: int = Field(default=5_000_000, ge=1, description="a generated project larger than this fails")
    max_file_bytes: int = Field(default=1_000_000, ge=1, description="a generated file larger than this fails")
    lease_seconds: int = Field(
        default=60,
        ge=10,
        description=(
            "an attempt's lease on its job, renewed every third of it while it generates; below the codegen "
            "queue's visibility timeout, so the job of a worker that died is free when its message comes back"
        ),
    )

    @model_validator(mode="after")
    def _generator_needs(self) -> CodegenSettings:
        if self.generator == "openai" and not self.llm_base_url:
            raise ValueError("SNAPINFRA_LLM_BASE_URL is required when SNAPINFRA_GENERATOR=openai")
        visibility = self.visibility_timeout_seconds or self.topology().queues["codegen"].visibility_timeout
        if self.lease_seconds >= visibility:
            raise ValueError(
                f"SNAPINFRA_LEASE_SECONDS ({self.lease_seconds}) must be below the codegen queue's visibility "
                f"timeout ({visibility} s), or a dead worker's message comes back to a job still leased"
            )
        return self
