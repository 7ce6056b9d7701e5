"""`snapinfra-notifier`: the notifier worker."""

from __future__ import annotations

from snapinfra_notifier.bootstrap import build_handlers
from snapinfra_notifier.settings import NotifierSettings
from snapinfra_shared.runtime import run_worker


def main() -> None:
    run_worker("notifier", NotifierSettings(), lambda _clients, _resources: build_handlers())


if __name__ == "__main__":
    main()
