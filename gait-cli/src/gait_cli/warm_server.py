"""The warm process of `gait_cli.warm`: imports what hook-called commands need, then forks a child
per connection that becomes the caller (its argv, folder, environment, umask and streams) and runs
the ordinary `gait` code.

Started by `gait_cli.warm.start_server` (`main`, with the arguments DIRECTORY KEY SYS_PATH_HEX).
One per key: a lock file in DIRECTORY keeps a second one from starting. It exits when idle for
GAIT_WARM_IDLE_SECONDS (default 300), on SIGTERM, or as soon as an installed file it depends on
has changed.
"""

from __future__ import annotations

import gc
import marshal
import os
import socket
import sys

from gait_cli import warm

DEFAULT_IDLE_SECONDS = 300.0
MIN_IDLE_SECONDS = 0.1
ACCEPT_POLL_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 10.0

# Imported before the first fork: what `gait gate eval`, `gait mcp proxy` and the Gas Town hook
# would import cold (gait_cli.main.run_here imports the rest of a command's module on demand).
# The plugins GAIT_PLUGINS selects are imported too, with their fast commands (see _preload); a
# child still registers only those its caller selects (`--no-plugins` registers none).
PRELOAD = (
    "gait_cli.app",
    "gait_cli.main",
    "gait_cli.commands.gate",
    "gait_cli.commands.mcp",
    "gait.gate",
    "gait.keys",
    "gait.hookspecs",
    "gait.exports",
    "gait.builtin_plugins",
    "gait.plugins",
    "gait.mcp.boundary",
    "pluggy",
    "yaml",
    "locale",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    "cryptography.hazmat.primitives.serialization",
)


def main() -> int:
    directory, key, path_hex = sys.argv[1:4]
    # Descriptors the first caller inherited (a pipe its parent waits on, a jobserver) must
    # not live as long as this process.
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    os.chdir("/")
    os.umask(0o077)
    sys.path[:] = marshal.loads(bytes.fromhex(path_hex))
    if warm.server_key() != key:
        return 0  # started by a caller whose interpreter or environment this one cannot mirror
    lock_path = warm.lock_path(directory, key)
    lock = _lock(lock_path)
    if lock is None:
        return 0  # another warm process serves this key
    server = os.getpid()
    try:
        _preload()
        os.write(lock, str(server).encode())
        outdated = _serve(warm.socket_path(directory, key), lock)
    finally:
        # Still locked: a process that opened this file fails its lock (or finds it unlinked)
        # and leaves. Never in a child that got here by mistake: the file is the server's.
        if os.getpid() == server:
            _unlink_if_same(lock_path, os.fstat(lock).st_ino)
    if outdated is not None:
        # Closed only now, with socket and lock gone: its caller runs the command itself and
        # starts a warm process for the next call, which must not meet this one.
        outdated.close()
    return 0


def _preload() -> None:
    collecting = gc.isenabled()
    gc.disable()
    try:
        for module in PRELOAD:
            __import__(module)
        from gait.plugin_discovery import FAST_GROUP, gait_entry_points, selected

        plugins = selected(gait_entry_points(), os.environ.get("GAIT_PLUGINS"))
        dists = {plugin.dist for plugin in plugins}
        fast = [entry for entry in gait_entry_points(group=FAST_GROUP) if entry.dist in dists]
        for entry in [*plugins, *fast]:
            try:
                entry.load()
            except Exception:  # the child reports it as a cold run would
                continue
    finally:
        # Objects built by imports live as long as the process: keep them out of every
        # collection, which also keeps their pages shared with the children.
        gc.freeze()
        if collecting:
            gc.enable()


def _lock(path: str) -> int | None:
    """The descriptor of `path`, locked; None when another process holds it, or unlinked it
    (a server leaving) between our open and our lock."""
    import fcntl

    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(descriptor).st_ino != os.stat(path).st_ino:
            raise FileNotFoundError(path)
    except OSError:
        os.close(descriptor)
        return None
    os.ftruncate(descriptor, 0)
    return descriptor


def _unlink_if_same(path: str, inode: int) -> None:
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        pass


def installation_fingerprint() -> list[tuple[str, int]]:
    """Modification times of the folders on sys.path (installing or removing a distribution
    changes them) and of gait's own loaded modules (an editable install's edits)."""
    files = [path for path in sys.path if path]
    for name, module in list(sys.modules.items()):
        source = getattr(module, "__file__", None)
        if name.startswith("gait") and isinstance(source, str):
            files.append(source)
    stamps = []
    for path in files:
        try:
            stamps.append((path, os.stat(path).st_mtime_ns))
        except OSError:
            stamps.append((path, -1))
    return stamps


def idle_seconds() -> float:
    try:
        seconds = float(os.environ.get(warm.IDLE_VAR) or DEFAULT_IDLE_SECONDS)
    except ValueError:
        return DEFAULT_IDLE_SECONDS
    return seconds if seconds >= MIN_IDLE_SECONDS else MIN_IDLE_SECONDS  # NaN too


def _serve(path: str, lock: int) -> socket.socket | None:
    """Fork a child per connection until idle, stopped, or outdated; then the connection that
    found the installation changed, still open."""
    import signal
    import time

    idle = idle_seconds()
    server = os.getpid()
    fingerprint = installation_fingerprint()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.lexists(path):
        os.unlink(path)  # left by a warm process that did not exit cleanly; we hold the lock
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    listener.settimeout(min(idle, ACCEPT_POLL_SECONDS))
    bound = os.stat(path).st_ino

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    last_request = time.monotonic()
    try:
        while True:
            _reap_children()
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if time.monotonic() - last_request >= idle:
                    return None
                continue
            last_request = time.monotonic()
            if not _same_user(conn):
                conn.close()
                continue
            if installation_fingerprint() != fingerprint:
                return conn
            with conn:
                if os.fork() == 0:
                    try:
                        _become_caller(conn, listener, lock)
                    finally:
                        os._exit(1)  # whatever happened, the child never runs server code
    finally:
        if os.getpid() == server:
            _unlink_if_same(path, bound)


def _reap_children() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _same_user(conn: socket.socket) -> bool:
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return True  # the socket's folder is private to this user already
    import struct

    credentials = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return bool(uid == os.getuid())


def _become_caller(conn: socket.socket, listener: socket.socket, lock: int) -> None:
    """In the forked child: take on the caller's streams, folder, environment and umask, run
    its command, report the exit status and exit. Nothing here returns to the server loop."""
    import signal

    try:
        warm.serving = True
        listener.close()
        os.close(lock)  # a new server may lock it while this child runs
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        conn.settimeout(REQUEST_TIMEOUT_SECONDS)
        argv = _take_on_request(conn)
        conn.settimeout(None)
    except BaseException:  # the caller, told nothing, runs the command itself
        os._exit(0)
    status = 1
    try:
        conn.sendall(warm.encode_frame(("running", os.getpid())))
        status = _exit_status(argv)
    finally:
        try:
            status = _finish_like_python(status)
            conn.sendall(warm.encode_frame(("exit", status)))
        finally:
            os._exit(status)


def _take_on_request(conn: socket.socket) -> list[str]:
    """Read the caller's request and become the caller; its argv."""
    import time

    start, streams, flags, _address = socket.recv_fds(conn, warm.FRAME_HEADER_BYTES, 3)
    if len(streams) != len(warm.STREAMS) or flags & socket.MSG_CTRUNC:
        raise ValueError("a warm-start request carries the caller's three standard streams")
    request = warm.read_frame(conn, start)
    if not isinstance(request, dict):
        raise ValueError("malformed warm-start request")
    argv, cwd, cwd_id, env, umask = (
        request["argv"],
        request["cwd"],
        request["cwd_id"],
        request["env"],
        request["umask"],
    )
    if not (
        isinstance(argv, list)
        and all(isinstance(arg, str) for arg in argv)
        and isinstance(cwd, str)
        and isinstance(env, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
        and isinstance(umask, int)
    ):
        raise ValueError("malformed warm-start request")
    os.chdir(cwd)
    here = os.stat(".")
    if [here.st_dev, here.st_ino] != list(cwd_id):
        raise ValueError("the caller's folder is not this process's folder of that name")
    for target, stream in zip(warm.STREAMS, streams, strict=True):
        os.dup2(stream, target)
        os.close(stream)
    os.umask(umask)
    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    sys.argv = list(argv)
    return sys.argv


def _exit_status(argv: list[str]) -> int:
    """What a `gait` process running `argv` would exit with, tracebacks printed as Python does."""
    from gait_cli.main import run_here

    code: object
    try:
        code = run_here(argv)
    except SystemExit as exit_:
        code = exit_.code
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        return 130
    except BaseException:  # reported as an uncaught exception would be
        sys.excepthook(*sys.exc_info())
        return 1
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write(f"{code}\n")
    return 1


def _finish_like_python(status: int) -> int:
    """Interpreter shutdown as far as the caller can tell: wait for non-daemon threads, run atexit
    handlers, flush the streams (a failed flush exits 120)."""
    import atexit

    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = 120
    return status


if __name__ == "__main__":
    raise SystemExit(main())
