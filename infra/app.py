"""The CDK app's entry point: `make synth` (python app.py) or `npx aws-cdk@2 deploy` (reads cdk.json)."""

from __future__ import annotations

import os
import sys

from snapinfra_infra.app import INFRA_DIR, build_app, cdk_json_context, nag_errors


def main() -> int:
    # The CDK CLI hands over context and outdir itself; run directly, read cdk.json and write cdk.out.
    from_cli = "CDK_CONTEXT_JSON" in os.environ or "CDK_OUTDIR" in os.environ
    app, _stack = build_app(
        context=None if from_cli else cdk_json_context(),
        outdir=None if from_cli else str(INFRA_DIR / "cdk.out"),
    )
    assembly = app.synth()
    errors = nag_errors(assembly)
    for error in errors:
        print(f"cdk-nag: {error}", file=sys.stderr)
    if not from_cli:
        print(f"templates written to {assembly.directory}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
