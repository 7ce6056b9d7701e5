"""The embedded AWS: a moto server that the project starts itself, as a child process, on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import TracebackType

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def endpoint_answers(url: str, timeout: float = 1.0) -> bool:
    """True when an AWS-compatible endpoint answers HTTP at `url` (any status counts)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):  # noqa: S310 - a loopback URL we were given
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def moto_command(port: int) -> list[str]:
    """moto's server on loopback, its per-request access log off (errors are still logged)."""
    return [sys.executable, "-m", "snapinfra_shared.local.moto_main", str(port)]


class EmbeddedAws:
    """A moto server child process; a context manager that stops it on exit."""

    def __init__(self, port: int | None = None, *, log_path: str | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> EmbeddedAws:
        if self._log_path:
            with open(self._log_path, "ab") as out:  # the child keeps its own copy of the descriptor
                self._process = subprocess.Popen(moto_command(self.port), stdout=out, stderr=subprocess.STDOUT)
        else:
            self._process = subprocess.Popen(
                moto_command(self.port), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not endpoint_answers(self.url + "/moto-api/"):
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._process.returncode} (port {self.port} taken?)")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"moto server did not answer on {self.url} within {timeout} s")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.url, **LOCAL_CREDENTIALS}

    def __enter__(self) -> EmbeddedAws:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
