"""Running `gait mcp serve` on uvicorn (why uvicorn: docs/architecture.md).

The listening socket is bound here, before anything is printed, so a port in use is an exit-6
error with the usual error output. With `--workers N` this module's supervisor starts N spawned
processes, each with its own SO_REUSEPORT socket on the address; each builds its own app from
the configuration in `CONFIG_ENV`. A Unix socket (`--listen unix:PATH`) is bound once, created
with `--socket-mode` (0600 by default), and shared by the workers (SO_REUSEPORT does not apply
to Unix sockets); the server removes it when it stops. In token mode the server creates the
nonce ledger (`nonces`) that every worker shares, a file in memory passed by descriptor.

Shutdown (SIGTERM or SIGINT): uvicorn stops accepting, lets requests in flight finish (at most
`graceful_timeout` seconds), runs the app's lifespan shutdown, and the command exits 0. Every
artifact is written atomically (trace, runpack) or appended whole and synced (journal), so no
signal, SIGKILL included, leaves a partial file.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import stat
from typing import Any

from gait.errors import InvalidInputError
from gait_cli.mcp_serve.config import CONFIG_ENV, ServeConfig

APP = "gait_cli.mcp_serve.app:create_app"


BACKLOG = 2048


def bind(config: ServeConfig, *, listen: bool = True) -> socket.socket:
    """The listening socket (or, for TCP workers, a bound socket that holds the address).

    With several workers each binds its own socket to the address with SO_REUSEPORT, so the
    kernel spreads connections evenly over the workers (a single shared socket lets one busy
    worker take most keep-alive connections).
    """
    if config.unix_path:
        return bind_unix(config.unix_path, config.socket_mode)
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
            sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise InvalidInputError(f"listen tcp {config.listen}: {exc.strerror or exc}") from None
    return sock


def bind_unix(path: str, mode: int) -> socket.socket:
    """A listening Unix socket at `path`, created with `mode` (never wider for an instant).

    A file at `path` that is not a socket is refused; a socket there is replaced only when
    nothing answers on it (left by a server that was killed), never while a server listens.
    """

    def fail(reason: str) -> InvalidInputError:
        return InvalidInputError(f"listen unix {path}: {reason}")

    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise fail(exc.strerror or str(exc)) from None
    if existing is not None:
        if not stat.S_ISSOCK(existing.st_mode):
            raise fail("the path exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            pass
        except OSError as exc:
            reason = f"cannot tell whether a server listens there: {exc.strerror or exc}"
            raise fail(reason) from None
        else:
            raise fail("address already in use (a server answers on this socket)")
        finally:
            probe.close()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise fail(f"cannot remove the stale socket: {exc.strerror or exc}") from None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # The socket file gets its mode from the umask, at once: no chmod by path afterwards,
    # which a swap of the path (in a folder others may write) could aim at another file.
    old_umask = os.umask(~mode & 0o777)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise fail(exc.strerror or str(exc)) from None
    finally:
        os.umask(old_umask)
    try:
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        unlink_socket(path, None)
        raise fail(exc.strerror or str(exc)) from None
    return sock


def unlink_socket(path: str, inode: int | None) -> None:
    """Remove the socket file at `path` if it is still ours (`inode`; None: whatever is there)."""
    try:
        if inode is None or os.lstat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        pass


def _uvicorn_config(config: ServeConfig) -> Any:
    import uvicorn

    from gait_cli.mcp_serve.protocol import Limits, protocol_class

    limits = Limits(
        max_header_bytes=config.max_header_bytes,
        header_timeout=config.header_timeout,
        read_timeout=config.read_timeout,
        write_timeout=config.write_timeout,
        max_connections=config.max_connections,
    )
    return uvicorn.Config(
        APP,
        factory=True,
        loop="uvloop" if _has("uvloop") else "asyncio",
        http=protocol_class(limits),
        ws="none",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        # Nothing here reads the client address, so X-Forwarded-* headers are never trusted
        # and their middleware is not run for every request.
        proxy_headers=False,
        timeout_keep_alive=math.ceil(config.idle_timeout),
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


def worker(address: tuple[Any, ...] | socket.socket, ledger: Any = None) -> None:
    """One worker process: its own SO_REUSEPORT socket on the server's address, or the
    server's Unix socket (passed to it); the service's nonce ledger (`nonces.Inherited`)."""
    from gait_cli.mcp_serve import nonces

    config = ServeConfig.from_env()
    if ledger is not None:
        nonces.CURRENT = nonces.NonceLedger(ledger.fd)
    if isinstance(address, socket.socket):
        raise SystemExit(0 if _serve(config, address) else 1)
    family = socket.AF_INET6 if len(address) == 4 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(BACKLOG)
    raise SystemExit(0 if _serve(config, sock) else 1)


def run(config: ServeConfig, sock: socket.socket) -> int:
    """Serve until SIGTERM or SIGINT; 0 after a graceful stop. A Unix socket's file is removed
    at the end (if it is still this server's)."""
    from gait_cli.mcp_serve import nonces

    os.environ[CONFIG_ENV] = config.to_env()
    inode = os.lstat(config.unix_path).st_ino if config.unix_path else None
    ledger = nonces.NonceLedger.create() if config.auth_mode == "token" else None
    nonces.CURRENT = ledger
    try:
        if config.workers == 1:
            return 0 if _serve(config, sock) else 1
        inherited = nonces.Inherited(ledger.fd) if ledger is not None else None
        return _supervise(config, sock if config.unix_path else sock.getsockname(), inherited)
    finally:
        nonces.CURRENT = None
        if ledger is not None:
            ledger.close()
        if config.unix_path:
            unlink_socket(config.unix_path, inode)


def _supervise(
    config: ServeConfig, address: tuple[Any, ...] | socket.socket, ledger: Any = None
) -> int:
    """Start the workers, restart one that dies, and on SIGTERM or SIGINT stop them all
    gracefully (each finishes its requests in flight) before exiting."""
    import multiprocessing
    import threading

    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())

    def start() -> Any:
        process = context.Process(target=worker, args=(address, ledger), name="gait-mcp-serve")
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
