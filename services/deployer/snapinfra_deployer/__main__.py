"""`snapinfra-deployer`: the deployer worker."""

from __future__ import annotations

from snapinfra_deployer.bootstrap import build_dependencies, build_handlers
from snapinfra_deployer.settings import DeployerSettings
from snapinfra_shared.runtime import run_worker


def main() -> None:
    settings = DeployerSettings()
    run_worker(
        "deployer",
        settings,
        lambda clients, resources: build_handlers(build_dependencies(settings, clients, resources)),
    )


if __name__ == "__main__":
    main()
