from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from snapinfra_shared.settings import WorkerSettings, comma_separated


class ApiSettings(WorkerSettings):
    """The api serves HTTP and also consumes the events its read model is projected from."""

    auth_mode: Literal["dev", "jwt"] = Field(
        default="jwt", description="dev: trust the x-dev-user-id header (local only); jwt: Bearer tokens"
    )
    dev_admin_users: list[str] = Field(
        default_factory=lambda: ["admin"], description="dev mode: the x-dev-user-id values with admin rights"
    )
    jwt_jwks_url: str | None = Field(default=None, description="jwt mode: where the signing keys are published")
    jwt_issuer: str | None = Field(default=None, description="jwt mode: the required `iss` claim")
    jwt_audience: str | None = Field(default=None, description="jwt mode: the required `aud` claim")
    jwt_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256"], description="jwt mode: the signature algorithms accepted"
    )
    jwt_admin_claim: str = Field(
        default="groups",
        description="the claim that grants admin rights: a list or a space-separated string (groups, scope, "
        "cognito:groups, or a dotted path such as realm_access.roles)",
    )
    jwt_admin_value: str = Field(default="snapinfra-admin", min_length=1, description="the value that means admin")
    presign_expiry_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600, description="lifetime of a download URL")
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="the largest request body; larger gets 413")
    max_json_depth: int = Field(
        default=32,
        ge=1,
        le=200,  # far below the interpreter's recursion limit, which the parser and validation must not reach
        description="the deepest a JSON body may nest arrays and objects; deeper bodies get 400 (json_too_deep)",
    )
    outbox_grace_seconds: float = Field(
        default=60.0, ge=0, description="how long an event may go unconfirmed before the relay republishes it"
    )
    outbox_interval_seconds: float = Field(default=5.0, gt=0, description="how often the outbox relay looks")
    http_threads: int = Field(default=16, ge=1, le=256, description="requests served at once")
    job_rate_per_minute: float = Field(
        default=30.0, ge=0, description="tokens a user's job-creation bucket gains per minute; 0 turns limits off"
    )
    job_rate_burst: int = Field(default=10, ge=1, description="the bucket's size: jobs a user may create at once")
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60, description="how long an Idempotency-Key is kept")
    sse_max_streams: int = Field(
        default=8, ge=1, description="event streams served at once (each holds one of the http_threads)"
    )
    sse_max_seconds: float = Field(default=300.0, gt=0, description="a stream ends after this long; clients reconnect")
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0, description="a comment line this often keeps proxies open")
    sse_poll_seconds: float = Field(default=0.5, gt=0, description="how often a stream reads the job's status")
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="hosts a webhook may use plain http to (make dev: loopback)"
    )
    confirmation_ttl_seconds: int = Field(default=3 * 24 * 3600, ge=60, description="life of a confirmation link")
    sms_code_ttl_seconds: int = Field(default=600, ge=60, le=3600, description="life of an SMS confirmation code")
    sms_code_max_attempts: int = Field(
        default=5, ge=1, le=20, description="wrong codes allowed before the code is void and a new one is needed"
    )
    subscription_rate_per_minute: float = Field(
        default=2.0,
        ge=0,
        description="tokens a user's bucket for the subscribe, confirm and resend routes gains per minute; 0: off",
    )
    subscription_rate_burst: int = Field(
        default=10, ge=1, description="that bucket's size: subscribe, confirm and resend calls a user may make at once"
    )
    confirmations_per_target: int = Field(
        default=3,
        ge=1,
        description="confirmation messages (emails, SMS codes) one address or number may receive per "
        "confirmation_window_seconds, whoever asks",
    )
    confirmation_window_seconds: int = Field(
        default=24 * 3600, ge=60, description="the sliding window of confirmations_per_target"
    )
    max_subscriptions_per_user: int = Field(default=25, ge=1, description="subscriptions one user may hold at once")

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        return comma_separated(value)

    @model_validator(mode="after")
    def _jwt_needs(self) -> ApiSettings:
        if self.auth_mode == "jwt":
            missing = [
                f"SNAPINFRA_{name.upper()}"
                for name in ("jwt_jwks_url", "jwt_issuer", "jwt_audience")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"auth_mode jwt needs {', '.join(missing)} (or SNAPINFRA_AUTH_MODE=dev for local use)")
        return self
