"""Running `gait mcp serve` on uvicorn (why uvicorn: docs/architecture.md).

The listening socket is bound here, before anything is printed, so a port in use is an exit-6
error with the usual error output. With `--workers N` this module's supervisor starts N spawned
processes, each with its own SO_REUSEPORT socket on the address; each builds its own app from
the configuration in `CONFIG_ENV`.

Shutdown (SIGTERM or SIGINT): uvicorn stops accepting, lets requests in flight finish (at most
`graceful_timeout` seconds), runs the app's lifespan shutdown, and the command exits 0. Every
artifact is written atomically (trace, runpack) or appended whole and synced (journal), so no
signal, SIGKILL included, leaves a partial file.
"""

from __future__ import annotations

import os
import signal
import socket
from typing import Any

from gait.errors import InvalidInputError
from gait_cli.mcp_serve.config import CONFIG_ENV, ServeConfig

APP = "gait_cli.mcp_serve.app:create_app"


def bind(config: ServeConfig, *, listen: bool = True) -> socket.socket:
    """The listening socket (or, for workers, a bound socket that holds the address).

    With several workers each binds its own socket to the address with SO_REUSEPORT, so the
    kernel spreads connections evenly over the workers (a single shared socket lets one busy
    worker take most keep-alive connections).
    """
    host, port = config.host_port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        infos = socket.getaddrinfo(host or None, port, family, socket.SOCK_STREAM)
        address = infos[0][4]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise InvalidInputError(f"listen tcp {config.listen}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if config.workers > 1:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        if listen:
            sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InvalidInputError(f"listen tcp {config.listen}: {exc.strerror or exc}") from None
    return sock


def _uvicorn_config(config: ServeConfig) -> Any:
    import uvicorn

    return uvicorn.Config(
        APP,
        factory=True,
        loop="uvloop" if _has("uvloop") else "asyncio",
        http="httptools" if _has("httptools") else "h11",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        # Nothing here reads the client address, so X-Forwarded-* headers are never trusted
        # and their middleware is not run for every request.
        proxy_headers=False,
        timeout_keep_alive=60,
        timeout_graceful_shutdown=config.graceful_timeout,
    )


def _ignore(signum: int, frame: Any) -> None:
    """uvicorn re-raises the signal it shut down on; once it has, there is nothing left to do."""


def _serve(config: ServeConfig, sock: socket.socket) -> bool:
    import uvicorn

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _ignore)
    server = uvicorn.Server(_uvicorn_config(config))
    server.run(sockets=[sock])
    return bool(server.started)


def worker(address: tuple[Any, ...]) -> None:
    """One worker process: its own SO_REUSEPORT socket on the server's address."""
    config = ServeConfig.from_env()
    family = socket.AF_INET6 if len(address) == 4 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    raise SystemExit(0 if _serve(config, sock) else 1)


def run(config: ServeConfig, sock: socket.socket) -> int:
    """Serve until SIGTERM or SIGINT; 0 after a graceful stop."""
    os.environ[CONFIG_ENV] = config.to_env()
    if config.workers == 1:
        return 0 if _serve(config, sock) else 1
    return _supervise(config, sock.getsockname())


def _supervise(config: ServeConfig, address: tuple[Any, ...]) -> int:
    """Start the workers, restart one that dies, and on SIGTERM or SIGINT stop them all
    gracefully (each finishes its requests in flight) before exiting."""
    import multiprocessing
    import threading

    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())

    def start() -> Any:
        process = context.Process(target=worker, args=(address,), name="gait-mcp-serve")
        process.start()
        return process

    processes = [start() for _ in range(config.workers)]
    failures = 0
    while not stopping.wait(0.2):
        for index, process in enumerate(processes):
            if not process.is_alive() and not stopping.is_set():
                failures += 1
                if failures > 10 * config.workers:
                    stopping.set()
                    break
                processes[index] = start()
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        process.join(config.graceful_timeout + 5)
        if process.is_alive():
            process.kill()
    return 0 if failures <= 10 * config.workers else 1


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
