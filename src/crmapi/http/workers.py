"""Several server processes on one port, each with its own listening socket (SO_REUSEPORT).

uvicorn's own ``--workers`` shares one listening socket between its processes, and the first
process to wake accepts every waiting connection: a client opening 32 keep-alive
connections at once had all 32 served by one worker while the other idled. With one socket
per process in a SO_REUSEPORT group the kernel spreads new connections across the processes.
"""

import logging
import multiprocessing
import signal
import socket
import time
from typing import Any

import uvicorn

log = logging.getLogger("crmapi")


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
    # so, and with Nagle on a small response waited for the client's delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _check_free(host: str, port: int) -> None:
    """Fail like a single server would when the port is taken (not join someone's group)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    sock = _listener(host, port)
    config = uvicorn.Config(**options, host=host, port=port, workers=1)
    uvicorn.Server(config).run(sockets=[sock])


def serve(host: str, port: int, workers: int, options: dict[str, Any]) -> int:
    """Run ``workers`` server processes until SIGINT/SIGTERM; a worker that dies is replaced.
    Returns the exit status: 0, or 1 when the workers kept failing at startup."""
    _check_free(host, port)
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> multiprocessing.process.BaseProcess:
        process = context.Process(target=_worker, args=(host, port, options), daemon=False)
        process.start()
        return process

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    processes = [start() for _ in range(workers)]
    started = [time.monotonic()] * workers
    early_exits = 0
    while not stopping:
        time.sleep(0.5)
        for i, process in enumerate(processes):
            if process.is_alive() or stopping:
                continue
            # A worker that cannot even start (database unreachable, bad settings) would be
            # restarted forever: give up after a few exits right after starting.
            early_exits = early_exits + 1 if time.monotonic() - started[i] < 10 else 0
            if early_exits >= 3:
                log.error("workers keep exiting at startup; stopping")
                stopping = True
                break
            log.warning("worker %s exited (%s); starting another", process.pid, process.exitcode)
            processes[i], started[i] = start(), time.monotonic()
    for process in processes:
        if process.is_alive() and process.pid is not None:
            process.terminate()  # SIGTERM: uvicorn finishes in-flight requests, then exits
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    return 1 if early_exits >= 3 else 0
