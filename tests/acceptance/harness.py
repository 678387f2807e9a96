"""The acceptance harness: client venvs, a real ``crmapi serve`` process, client subprocesses.

Everything talks to 127.0.0.1 only. Client subprocesses get an environment whose HTTPS proxy
is a dead local port, so a client that ignored its base-URL override would fail here instead
of reaching api.close.com.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ACCEPT_DIR = Path(os.environ.get("CRMAPI_ACCEPT_DIR", "/tmp/crmapi-accept"))
CLIENTS = ("closeio", "tap", "airbyte", "cli")
INSTALL_TIMEOUT = 420


def must_run() -> bool:
    """In CI (and under ``make test``) a client that cannot be installed is a failure."""
    return os.environ.get("CRMAPI_REQUIRE_POSTGRES") == "1" or os.environ.get("CI") == "true"


def python_of(client: str) -> Path:
    return ACCEPT_DIR / client / "bin" / "python"


def ensure_clients() -> None:
    """Run the (idempotent, cached) setup script; fail or skip when it cannot install."""
    try:
        done = subprocess.run(
            ["bash", str(HERE / "setup_clients.sh")],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        problem = None if done.returncode == 0 else f"{done.stdout}\n{done.stderr}"
    except subprocess.TimeoutExpired:
        problem = f"setup_clients.sh took longer than {INSTALL_TIMEOUT} s"
    if problem is None:
        return
    message = f"could not install the Close clients into {ACCEPT_DIR}:\n{problem[-4000:]}"
    if must_run():
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        # Anything not aimed at 127.0.0.1 dies on a closed local port.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra)
    return env


def run(
    argv: list[str], env: dict[str, str], timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )
    assert done.returncode == 0, (
        f"{' '.join(argv[:4])}... exited {done.returncode}\n"
        f"stdout: {done.stdout[-3000:]}\nstderr: {done.stderr[-6000:]}"
    )
    return done


@dataclass
class Server:
    """``crmapi serve`` on a free local port with its own fresh SQLite database."""

    workdir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["CRMAPI_DATABASE_URL"] = f"sqlite:///{self.workdir / 'crmapi.db'}"
        env.update(self.env_extra)
        return env

    def create_org(self, name: str) -> dict[str, Any]:
        email = f"owner@{name.lower().replace(' ', '-')}.example"
        return self.cli("org", "create", "--name", name, "--email", email)

    def cli(self, *args: str) -> dict[str, Any]:
        """``crmapi <args>`` on this server's database; the JSON object it prints last."""
        done = subprocess.run(
            [sys.executable, "-m", "crmapi", *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        printed: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return printed

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        probe = self.create_org("Probe Org")  # also migrates the fresh database
        self.port = free_port()
        log = open(self.workdir / "server.log", "wb")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crmapi",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"crmapi serve exited: {self.log_tail()}")
            try:
                self.get("me/", probe["api_key"])
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"crmapi serve did not answer /api/v1/me/ in 30 s: {self.log_tail()}")

    def get(self, path: str, key: str) -> Any:
        return self.request("GET", path, key)

    def request(self, method: str, path: str, key: str, body: Any = None) -> Any:
        """A plain HTTP call (for seeding and cross-checks outside any client)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", "Basic " + b64encode(f"{key}:".encode()).decode())
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def log_tail(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # by PID: only the process this harness started
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
