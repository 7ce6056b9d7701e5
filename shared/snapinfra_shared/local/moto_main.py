"""`python -m snapinfra_shared.local.moto_main`: moto's server without its access log, whose line per
AWS call would drown the services' logs under `make dev`."""

from __future__ import annotations

import logging
import sys

from moto.server import main

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    main(sys.argv[1:])
