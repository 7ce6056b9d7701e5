"""Starting the whole system the way `make dev` does, for end-to-end tests and the benchmark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO

import requests

from snapinfra_shared.local.embedded import free_port


class RunningSystem:
    """`snapinfra-dev up` as a child process group on free loopback ports."""

    def __init__(
        self, log_path: Path, *, env: dict[str, str] | None = None, embedded: bool = True, metrics_port: int = 0
    ):
        self.metrics_port = metrics_port
        self.aws_port, self.api_port = free_port(), free_port()
        self.prefix = f"e{uuid.uuid4().hex[:10]}"
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.aws = f"http://127.0.0.1:{self.aws_port}"
        self.log_path = log_path
        self._env = env or {}
        self._embedded = embedded
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> RunningSystem:
        """Start and wait until the api is ready; on any failure, stop what was started."""
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> RunningSystem:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SNAPINFRA_", "AWS_"))} | self._env
        env.setdefault("SNAPINFRA_LOG_FORMAT", "json")  # the tests read the services' lines as JSON
        if not self._embedded:
            self.aws = env["AWS_ENDPOINT_URL"]
        runner = str(Path(sys.executable).parent / "snapinfra-dev")
        command = [
            runner,
            "up",
            "--aws-port",
            str(self.aws_port),
            "--api-port",
            str(self.api_port),
            "--metrics-port",
            str(self.metrics_port),
            "--prefix",
            self.prefix,
        ]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the system exited early ({self.process.returncode}):\n{self.logs()}")
            try:
                if requests.get(f"{self.api}/readyz", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass  # not up yet, or slow on a loaded machine: ask again until the deadline
            time.sleep(0.3)
        raise TimeoutError(f"the api was not ready within {timeout} s:\n{self.logs()}")

    def interrupt(self, timeout: float = 30.0) -> int:
        """Ctrl-C, as a person at the terminal would; returns the exit code."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            try:
                self.interrupt(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log:
            self._log.close()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> RunningSystem:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
