"""The embedded AWS: a moto server that the project starts itself, as a child process, on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from ipaddress import ip_address
from types import TracebackType
from urllib.parse import urlsplit

import boto3
import botocore.session

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def is_loopback(url: str) -> bool:
    """True when `url` names this machine (localhost, 127.0.0.0/8, ::1): the embedded AWS or a local emulator."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def session_for(endpoint: str | None) -> boto3.session.Session:
    """A boto3 session for `endpoint` (AWS_ENDPOINT_URL): the caller's own credentials and region where they
    are set; for a loopback endpoint, the embedded AWS's (LOCAL_CREDENTIALS) for whichever is missing, and
    never a request to the instance metadata service to look for them."""
    core = botocore.session.Session()
    if endpoint and is_loopback(endpoint):
        core.set_config_variable("metadata_service_num_attempts", 0)
        core.set_config_variable("ec2_metadata_disabled", True)
        if core.get_credentials() is None:
            core.set_credentials(LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"], LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        if core.get_config_variable("region") is None:  # boto3 reads AWS_DEFAULT_REGION; the services AWS_REGION
            core.set_config_variable("region", os.environ.get("AWS_REGION") or LOCAL_CREDENTIALS["AWS_REGION"])
    return boto3.session.Session(botocore_session=core)


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
