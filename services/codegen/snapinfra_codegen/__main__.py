"""`snapinfra-codegen`: the code generation worker."""

from __future__ import annotations

from snapinfra_codegen.bootstrap import build_dependencies, build_worker
from snapinfra_codegen.settings import CodegenSettings
from snapinfra_shared.runtime import run_worker


def main() -> None:
    settings = CodegenSettings()
    run_worker(
        "codegen",
        settings,
        lambda clients, resources: build_worker(build_dependencies(settings, clients, resources)),
    )


if __name__ == "__main__":
    main()
