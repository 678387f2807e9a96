"""Processes the bench drives: datasets, PostgreSQL, crmapi servers, Datasette, load."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmapi.storage import migrate

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WRK_LUA = Path(__file__).resolve().parent / "wrk.lua"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


# --- process accounting (/proc) -------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return out


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICK


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of the process tree: ``VmRSS`` (all), or ``RssAnon`` (private heap).

    SQLite maps the database file (``PRAGMA mmap_size``) in every pooled connection, and each
    mapping of the same cached file pages counts again in VmRSS: it measures the page cache,
    not the server. RssAnon is what the server itself allocates.
    """
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


# --- PostgreSQL (a cluster kept under the bench directory between runs) ---------------------


class Postgres:
    def __init__(self, base: Path) -> None:
        sys.path.insert(0, str(ROOT))
        from tests.pg import find_bindir

        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found")
        self.bindir = bindir
        self.base = base
        self.data = base / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *args] if self.as_root else list(args)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                      "-A", "trust", "-E", "UTF8", "--no-sync")  # fmt: skip
        if (self.data / "postmaster.pid").exists():  # left running by an interrupted run
            subprocess.run(
                [*(["runuser", "-u", "postgres", "--"] if self.as_root else []),
                 str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"],
                capture_output=True,
            )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
            "-c shared_buffers=256MB -c work_mem=16MB"
        )
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.base / "log"), "-w", "start")  # fmt: skip
        wait_port(self.port)

    def pid(self) -> int:
        """The postmaster's pid (its process tree holds every backend)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def recreate(self, db: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
            conn.execute(f'CREATE DATABASE "{db}"')

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")


# --- datasets --------------------------------------------------------------------------------


@dataclass
class Dataset:
    backend: str
    size: int
    url: str
    info: dict[str, Any]
    path: Path | None = None  # the SQLite file
    db_pid: int | None = None  # the PostgreSQL server (its CPU is part of a request's cost)

    @property
    def org(self) -> dict[str, Any]:
        first: dict[str, Any] = self.info["organizations"][0]
        return first

    @property
    def auth(self) -> str:
        return "Basic " + base64.b64encode(f"{self.org['api_key']}:".encode()).decode()


def schema_id() -> str:
    """A fingerprint of the migrations: datasets seeded under another schema are re-seeded."""
    versions = Path(migrate.MIGRATIONS) / "versions"
    digest = hashlib.sha256()
    for path in sorted(versions.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_dataset(backend: str, size: int, base: Path, pg: Postgres | None) -> Dataset:
    """Seed once (``crmapi seed``), then reuse: the seed output is kept next to the data."""
    marker = base / f"{backend}-{size}.json"
    if marker.exists() and json.loads(marker.read_text()).get("schema") != schema_id():
        marker.unlink()  # seeded by an older schema: seed again
    if backend == "sqlite":
        path = base / f"sqlite-{size}.db"
        url = f"sqlite:///{path}"
    else:
        assert pg is not None
        path, url = None, pg.url(f"crmapi_{size}")
    if not marker.exists():
        if path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            assert pg is not None
            pg.recreate(f"crmapi_{size}")
        print(f"  seeding {backend} with {size:,} activities ...", flush=True)
        out = subprocess.run(
            [str(BIN / "crmapi"), "seed", "--leads", str(max(size // 50, 10)),
             "--activities", str(size), "--orgs", "2", "--seed", "1", "--quiet"],
            env={**os.environ, "CRMAPI_DATABASE_URL": url},
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        marker.write_text(json.dumps({**json.loads(out.stdout), "schema": schema_id()}))
    info = json.loads(marker.read_text())
    return Dataset(backend, size, url, info, path)


# --- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_crmapi(ds: Dataset, workers: int, logdir: Path) -> Server:
    port = free_port()
    log = logdir / f"crmapi-{ds.backend}-{workers}w.log"
    env = {**os.environ, "CRMAPI_DATABASE_URL": ds.url, "CRMAPI_RATE_LIMIT_PER_KEY": "0"}
    proc = subprocess.Popen(
        [str(BIN / "crmapi"), "serve", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = Server(f"crmapi {workers}w", proc, port, log)
    _wait_http(server, "/api/v1/me/", ds.auth)
    return server


def start_datasette(ds: Dataset, venv: Path, logdir: Path) -> Server:
    assert ds.path is not None
    port = free_port()
    log = logdir / "datasette.log"
    proc = subprocess.Popen(
        [str(venv / "bin" / "datasette"), "serve", str(ds.path), "--port", str(port),
         "--setting", "sql_time_limit_ms", "20000", "--setting", "max_returned_rows", "1000"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = Server("datasette", proc, port, log)
    _wait_http(server, "/-/versions.json", None)
    return server


def ensure_datasette(venv: Path) -> Path | None:
    if not (venv / "bin" / "datasette").exists():
        print("  installing datasette into", venv, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "datasette"], check=True)
    return venv


def _wait_http(server: Server, path: str, auth: str | None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited; see {server.log}")
        try:
            req = urllib.request.Request(server.base() + path)
            if auth:
                req.add_header("Authorization", auth)
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer {path}")


# --- load generation -------------------------------------------------------------------------


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def load(
    url: str,
    seconds: float,
    connections: int,
    auth: str | None = None,
    write_lead: str | None = None,
    pid: int | None = None,
    db_pid: int | None = None,
) -> dict[str, Any]:
    """Drive ``url`` for ``seconds``; requests/s, latency percentiles, errors, server CPU
    (and the database server's, for PostgreSQL)."""
    cpu0 = cpu_seconds(pid) if pid else 0.0
    db0 = cpu_seconds(db_pid) if db_pid else 0.0
    if have_wrk():
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = _wrk(url, seconds, connections, auth, write_lead)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    else:
        result = _python_load(url, seconds, connections, auth, write_lead)
        client = 0.0
    cpu = (cpu_seconds(pid) - cpu0) if pid else 0.0
    db = (cpu_seconds(db_pid) - db0) if db_pid else 0.0
    n = max(1, result["requests"])
    result["db_cpu_ms_per_req"] = 1000 * db / n
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["cpu_ms_per_req"] = 1000 * cpu / n
    # The load generator shares the machine: its CPU per request bounds what 2 workers can do.
    result["client_cpu_ms_per_req"] = 1000 * client / n
    result["errors"] = sum(
        result[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return result


def _wrk(
    url: str, seconds: float, connections: int, auth: str | None, write_lead: str | None
) -> dict[str, Any]:
    env = {**os.environ, "AUTH": auth or "", "WRITE": "1" if write_lead else "0",
           "LEAD": write_lead or ""}  # fmt: skip
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
         "--timeout", "30s", "-s", str(WRK_LUA), url],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = [x for x in out.stdout.splitlines() if x.startswith("{")][-1]
    result: dict[str, Any] = json.loads(line)
    return result


def _python_load(
    url: str, seconds: float, connections: int, auth: str | None, write_lead: str | None
) -> dict[str, Any]:
    """Fallback when wrk is not installed (the smoke test): threads with keep-alive."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        headers = {"Authorization": auth} if auth else {}
        i = 0
        mine: list[float] = []
        while time.monotonic() < stop:
            i += 1
            started = time.perf_counter()
            try:
                if write_lead:
                    kind = "note" if i % 2 else "call"
                    body = json.dumps({"lead_id": write_lead, "note": "bench"})
                    conn.request("POST", f"/api/v1/activity/{kind}/", body,
                                 {**headers, "Content-Type": "application/json"})  # fmt: skip
                else:
                    conn.request("GET", target, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400:
                    with lock:
                        errors[0] += 1
            except OSError:
                with lock:
                    errors[0] += 1
                conn.close()
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(connections)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(p: float) -> int:
        return int(1e6 * latencies[min(len(latencies) - 1, int(p * len(latencies)))])

    return {
        "requests": len(latencies),
        "duration_us": int(elapsed * 1e6),
        "connect_errors": 0,
        "read_errors": 0,
        "write_errors": 0,
        "status_errors": errors[0],
        "timeouts": 0,
        "p50_us": pct(0.5) if latencies else 0,
        "p90_us": pct(0.9) if latencies else 0,
        "p99_us": pct(0.99) if latencies else 0,
        "mean_us": 0.0,
    }
