"""Real services the scale-out tests start from Debian packages: Redis and HAProxy.

Like PostgreSQL (tests/conftest.py), a missing binary skips the test loudly on a developer's
machine and fails it in CI (``CRMAPI_REQUIRE_POSTGRES=1``, set by ``make test``), where
``.ci/run`` installs the packages.
"""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def require(binary: str, package: str) -> str:
    """The binary's path, or a skip (a failure in CI) naming the package to install."""
    found = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if Path(p).exists()), None
    )
    if found:
        return found
    message = f"{binary} not found: apt-get install -y {package}"
    if os.environ.get("CRMAPI_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{message} (required in CI: CRMAPI_REQUIRE_POSTGRES=1)")
    pytest.skip(message)


def wait_for_port(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on 127.0.0.1:{port}")


@contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """A throwaway Redis on 127.0.0.1 without persistence; yields its URL."""
    binary = require("redis-server", "redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
