"""`snapinfra-deployer`: the deployer worker."""

from __future__ import annotations

from snapinfra_deployer.bootstrap import build_handlers
from snapinfra_deployer.settings import DeployerSettings
from snapinfra_shared.runtime import run_worker


def main() -> None:
    run_worker("deployer", DeployerSettings(), lambda _clients, _resources: build_handlers())


if __name__ == "__main__":
    main()
