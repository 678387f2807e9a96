"""A real ``crmapi serve`` for a test session, or a server that is already running."""

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from crmapi.testing.client import EmulatorOrg, PlaneError, PlaneSession

BASELINE = "crmapi-pytest-baseline"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmulatorServer:
    """Start (or attach to) a server; make organizations from one baseline snapshot."""

    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str | None = None,
        url: str | None = None,
        admin_token: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.database_url = database_url or f"sqlite:///{workdir / 'crmapi.db'}"
        self.admin_token = (
            admin_token
            or os.environ.get("CRMAPI_ADMIN_TOKEN")
            or ("adm_" + secrets.token_urlsafe(24))
        )
        self.external = url is not None
        self.port = 0 if url is None else int(url.rsplit(":", 1)[1].split("/")[0])
        self.url = (url or "").rstrip("/")
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.admin = PlaneSession(self.url or "http://127.0.0.1", admin_token=self.admin_token)
        self._baselines: dict[str, str] = {}

    def start(self, timeout: float = 60.0) -> "EmulatorServer":
        if not self.external:
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.workdir.mkdir(parents=True, exist_ok=True)
            env = {
                **os.environ,
                "CRMAPI_DATABASE_URL": self.database_url,
                "CRMAPI_ADMIN_TOKEN": self.admin_token,
                "CRMAPI_MODE": "emulator",
                "CRMAPI_SNAPSHOT_DIR": str(self.workdir / "snapshots"),
                # Due work of organizations on wall time is noticed within a fifth of a second.
                "CRMAPI_WORKER_POLL_SECONDS": "0.2",
                **self.extra_env,
            }
            log = (self.workdir / "server.log").open("wb")
            self.process = subprocess.Popen(
                [sys.executable, "-m", "crmapi", "serve", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.admin = PlaneSession(self.url, admin_token=self.admin_token)
        self._wait(timeout)
        return self

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.admin.get("/info")
                return
            except (OSError, PlaneError):
                pass
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"crmapi serve exited; see {self.workdir / 'server.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"crmapi did not answer on {self.url} in {timeout} s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def create_org(self, **body: Any) -> EmulatorOrg:
        """``POST /_crmapi/orgs`` (``seed_pack``, ``clock``, ``seed``, ``name``...)."""
        made = self.admin.post("/orgs", body)
        return EmulatorOrg(self.url, made["organization_id"], made["api_key"], made["user_id"])

    def baseline(self, seed_pack: Any = "empty", clock: dict[str, Any] | None = None) -> str:
        """The name of a snapshot of one organization built once with this pack and clock."""
        key = repr((seed_pack, sorted((clock or {}).items())))
        if key not in self._baselines:
            body: dict[str, Any] = {"seed_pack": seed_pack, "name": "baseline"}
            if clock:
                body["clock"] = clock
            org = self.create_org(**body)
            name = f"{BASELINE}-{len(self._baselines) + 1}"
            self.admin.post("/snapshots", {"name": name, "orgs": [org.org_id]})
            self.admin.delete(f"/orgs/{org.org_id}")
            self._baselines[key] = name
        return self._baselines[key]

    def org_from(self, snapshot: str) -> EmulatorOrg:
        """A new organization with new ids, restored from a snapshot of one organization."""
        made = self.admin.post(f"/snapshots/{snapshot}/restore", {"as_new_org": True})
        org = made["organizations"][0]
        return EmulatorOrg(self.url, org["organization_id"], org["api_key"], org["user_id"])
