"""The system under faults: the embedded AWS and each service as a separate process on loopback, each
started by the suite and stopped (or killed, or paused) by its pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

from snapinfra_shared.local.cli import dev_defaults
from snapinfra_shared.local.embedded import LOCAL_CREDENTIALS, EmbeddedAws, free_port
from snapinfra_shared.topology import Topology, build_topology

BIN = Path(sys.executable).parent
WORKERS = ("codegen", "deployer", "notifier")


class ServiceProcess:
    """One service, run as `snapinfra-<name>` in a session of its own (so gunicorn's worker goes with it)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        assert not self.alive(), f"{self.name} is running already"
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            log.write(f"\n===== start {self.starts + 1} of {self.name}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.starts += 1

    def signal(self, signum: int) -> None:
        """Signal the process group this service leads (its own pid is the group id)."""
        if self.alive():
            os.killpg(self.pid, signum)

    def kill(self) -> None:
        """kill -9, and reap it."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(30)

    def terminate(self, timeout: float) -> int | None:
        """SIGTERM, then wait up to `timeout`; returns the exit code (None: still running, then killed)."""
        self.signal(signal.SIGTERM)
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def stop(self) -> None:
        if self.alive():
            self.terminate(20)


class System:
    """The embedded AWS, provisioned, and the four services as separate processes."""

    def __init__(
        self,
        workdir: Path,
        *,
        model_url: str,
        env: dict[str, str] | None = None,
        codegen_env: dict[str, str] | None = None,
        prefix: str = "faults",
    ):
        self.workdir = workdir
        self.prefix = prefix
        self.topology: Topology = build_topology(prefix)
        self.api_port = free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.aws = EmbeddedAws(log_path=str(workdir / "aws.log"))
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SNAPINFRA_", "AWS_"))}
        self.env = {
            **base,
            **self.aws.env(),
            **dev_defaults(self.api_port),
            "SNAPINFRA_PREFIX": prefix,
            "SNAPINFRA_METRICS_PORT": "0",
            **(env or {}),
        }
        self.services = {
            "api": ServiceProcess(
                "api",
                [str(BIN / "snapinfra-api"), "serve", "--host", "127.0.0.1", "--port", str(self.api_port)],
                self.env,
                workdir / "api.log",
            )
        }
        worker_env = {
            "codegen": {
                "SNAPINFRA_GENERATOR": "openai",
                "SNAPINFRA_LLM_BASE_URL": model_url,
                "SNAPINFRA_LLM_MODEL": "faults-slow-model",
                **(codegen_env or {}),
            }
        }
        for worker in WORKERS:
            self.services[worker] = ServiceProcess(
                worker,
                [str(BIN / f"snapinfra-{worker}")],
                {**self.env, **worker_env.get(worker, {})},
                workdir / f"{worker}.log",
            )

    # -- life --------------------------------------------------------------------------------

    def start(self, *, without: tuple[str, ...] = (), timeout: float = 120.0) -> System:
        self.aws.start()
        provisioned = subprocess.run(
            [str(BIN / "snapinfra-dev"), "provision", "--prefix", self.prefix],
            env=self.env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if provisioned.returncode != 0:
            raise RuntimeError(f"provisioning failed: {provisioned.stderr.decode(errors='replace')[-2000:]}")
        for name, service in self.services.items():
            if name not in without:
                service.start()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.api}/readyz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass  # not listening yet: ask again until the deadline
            time.sleep(0.2)
        raise TimeoutError(f"the api was not ready within {timeout} s; see {self.workdir}/api.log")

    @property
    def aws_pid(self) -> int:
        process = self.aws._process  # the embedded AWS's own child process, which the suite pauses
        assert process is not None
        return process.pid

    def pause_aws(self) -> None:
        os.kill(self.aws_pid, signal.SIGSTOP)

    def resume_aws(self) -> None:
        os.kill(self.aws_pid, signal.SIGCONT)

    def stop(self) -> None:
        with contextlib.suppress(AssertionError, ProcessLookupError):
            self.resume_aws()  # a stopped moto would never hear SIGTERM
        for service in self.services.values():
            service.stop()
        self.aws.stop()

    def __enter__(self) -> System:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- observing ---------------------------------------------------------------------------

    def client(self, name: str) -> Any:
        """A boto3 client of the embedded AWS, for the suite's own observations."""
        return boto3.client(
            name,  # type: ignore[call-overload]
            endpoint_url=self.aws.url,
            region_name=LOCAL_CREDENTIALS["AWS_REGION"],
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 5}),
        )
