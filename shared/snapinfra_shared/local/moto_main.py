"""`python -m snapinfra_shared.local.moto_main [PORT]`: moto's server on loopback for `make dev`,
without its access log (a line per AWS call would drown the services' logs).

Stopped along with the services (honcho signals every process at once), it lingers two seconds so
that they can settle their last messages and outbox items against it before it goes.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

from moto.server import ThreadedMotoServer

LINGER_SECONDS = 2.0


def main(port: int) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Take SIGINT/SIGTERM synchronously: blocked before the server's threads start (they inherit
    # the mask), then awaited with sigwait. A Python handler that set an Event could deadlock if the
    # signal landed while this thread was inside Event.wait holding the Event's lock.
    stopping = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stopping)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(f"embedded AWS (moto) listening on http://127.0.0.1:{port}", flush=True)
    signal.sigwait(stopping)
    time.sleep(LINGER_SECONDS)
    # Its state is in memory, with nothing to flush: exit at once rather than wait on the server's
    # threads, which on a loaded machine can outlast the supervisor's grace.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4566)
