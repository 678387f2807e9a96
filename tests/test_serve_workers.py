"""``crmapi serve --workers N``: one listening socket per process, so the kernel spreads
connections (uvicorn's shared socket let one process take every connection of a burst)."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="needs SO_REUSEPORT")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry.name))
    return out


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":  # LISTEN
            inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def _wait_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


@pytest.mark.timeout(120)
def test_each_worker_listens_on_its_own_socket_and_all_stop_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "CRMAPI_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crmapi", "serve", "--port", str(port), "--workers", "2",
         "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_up(port, proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            workers = _children(proc.pid)
            listening = _listening_inodes(port)
            owned = [_socket_inodes(w) & listening for w in workers]
            if len([o for o in owned if o]) == 2:
                break
            time.sleep(0.2)
        assert len(listening) == 2
        assert [len(o) for o in owned if o] == [1, 1]
        assert set.union(*owned) == listening  # two sockets, one per worker
        assert not _socket_inodes(proc.pid) & listening  # the supervisor accepts nothing
        serving = [w for w, o in zip(workers, owned, strict=True) if o]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        gone = time.monotonic() + 10
        while any(Path(f"/proc/{w}").exists() for w in serving) and time.monotonic() < gone:
            time.sleep(0.1)
        assert not any(Path(f"/proc/{w}").exists() for w in serving)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_taken_port_is_an_error_not_a_shared_group(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "CRMAPI_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
        done = subprocess.run(
            [sys.executable, "-m", "crmapi", "serve", "--port", str(port), "--workers", "2"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode != 0
    assert "Address already in use" in done.stderr + done.stdout


def test_worker_sockets_say_tcp_so_asyncio_turns_nagle_off() -> None:
    from crmapi.http.workers import _listener

    sock = _listener("127.0.0.1", 0)
    try:
        # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; without it small
        # responses waited for the client's delayed ACK.
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
