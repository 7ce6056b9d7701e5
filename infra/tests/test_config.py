"""Deploy-time choices are validated before anything is synthesized."""

from __future__ import annotations

import pytest

from snapinfra_infra.config import InfraConfig


def test_defaults_deploy_a_working_system() -> None:
    config = InfraConfig()
    assert (config.prefix, config.nat_gateways, config.retain_data) == ("snapinfra", 1, True)
    assert config.sender_identity is None


@pytest.mark.parametrize(
    "options",
    [
        {"jwt_issuer": "https://issuer.example.com"},  # an issuer without its audience
        {"jwt_audience": ("client",)},
        {"ses_identity": "example.com"},  # an identity without a sender
        {"nat_gateways": 0},  # no route to AWS
        {"max_tasks": 0},
        {"log_retention_days": 31},
    ],
)
def test_inconsistent_choices_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        InfraConfig(**options)  # type: ignore[arg-type]


def test_the_sender_identity_defaults_to_its_domain() -> None:
    assert InfraConfig(email_sender="bot@mail.example.com").sender_identity == "mail.example.com"
    assert (
        InfraConfig(email_sender="bot@example.com", ses_identity="bot@example.com").sender_identity == "bot@example.com"
    )
