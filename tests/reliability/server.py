"""A real ``crmapi serve`` process on a free loopback port, for tests that need one.

Fuzzing, crash and log tests talk to the server over TCP exactly as a client would, so they
see what uvicorn does with odd bytes and what survives a SIGKILL.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO, Any

import requests

from crmapi.resources import accounts
from crmapi.storage import migrate
from crmapi.storage.db import Database

CRMAPI = str(Path(sys.executable).with_name("crmapi"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_postgres_database(server_url: str) -> str:
    """A fresh, empty database on the test PostgreSQL server (isolated from other tests)."""
    name = f"rel_{uuid.uuid4().hex[:12]}"
    admin = Database(server_url)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def create_org(database_url: str, name: str, email: str) -> dict[str, str]:
    """Migrate if needed and create an organization; returns its ids and API key."""
    db = Database(database_url)
    migrate.upgrade(db)
    with db.write() as conn:
        created = accounts.create_organization(conn, name, email)
    db.dispose()
    return created


class Server:
    """``crmapi serve`` as a subprocess; ``kill()`` is a SIGKILL (no cleanup at all)."""

    def __init__(
        self,
        database_url: str,
        log: IO[Any] | None = None,
        args: tuple[str, ...] = (),
        **env: str,
    ) -> None:
        self.args = args
        self.database_url = database_url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CRMAPI_DATABASE_URL": database_url,
            "CRMAPI_AUTH_FAILURES_PER_MINUTE": "0",
            **env,
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> "Server":
        self.proc = subprocess.Popen(
            [CRMAPI, "serve", "--port", str(self.port), *self.args],
            env=self.env,
            stdout=self.log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self.log else subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"crmapi serve exited with {self.proc.returncode}")
            try:
                if requests.get(self.base + "/api/v1/openapi.json", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("crmapi serve did not come up")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
