"""Warm start: run the commands hooks call once per tool call in a child of a warm process.

A cold `gait gate eval` spends about 90 ms importing before it decides anything, and the
libraries it cannot do without (cryptography, PyYAML, json) cost more than 4x a bare Python
start on their own. So, like Rails' Spring or dmypy, the first such call starts a per-user fork
server (`gait_cli.warm_server`) in the background and runs cold; later calls connect to it over a
Unix socket, hand over their argv, working directory, environment, umask and standard streams,
and a fresh fork of the warm process runs the very same `gait` code with them. The fork reads
the policy, keys and plugins as a cold process would: the server only holds imported modules.

It is used only when no standard stream is a terminal (hooks, CI, scripts), for the commands in
WARM_COMMANDS and for plugins' fast commands that ask (`hand_over`), and never when
`GAIT_WARM=0`. Any failure before the command starts falls back to running here; a command once
started is never run twice.

This module is loaded on every call: it imports nothing beyond what Python has loaded already.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs milliseconds of start-up; mypy honours this name
if TYPE_CHECKING:
    import signal as _signal  # the C module below has no stubs; its API is the same
    from _socket import socket as Socket
else:
    import _signal

DISABLE_VAR = "GAIT_WARM"
IDLE_VAR = "GAIT_WARM_IDLE_SECONDS"
WARM_COMMANDS = frozenset({("gate", "eval"), ("mcp", "proxy"), ("mcp", "bridge")})

# The environment a process reads while it starts and imports (the loader's preloads and paths,
# interpreter options, stream encodings, OpenSSL's configuration and cryptography's provider
# choice, which plugins to import). A warm process serves only callers that agree with it on
# these, so its imports are what theirs would have been.
STARTUP_VAR_PREFIXES = ("PYTHON", "LC_", "CRYPTOGRAPHY_", "OPENSSL_", "LD_", "DYLD_")
STARTUP_VARS = ("LANG", "GAIT_PLUGINS")
# Passed to the server process besides those: where it lives and how long it idles.
SERVER_VARS = ("PATH", "HOME", "TMPDIR", "XDG_RUNTIME_DIR", "TZ", IDLE_VAR)

MAX_MESSAGE_BYTES = 1 << 20
# A Unix socket's path fits in 104 bytes on macOS and 108 on Linux.
MAX_SOCKET_PATH_BYTES = 103
FRAME_HEADER_BYTES = 4
STREAMS = (0, 1, 2)
FORWARDED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def startup_environment(environ: dict[str, str] | os._Environ[str]) -> list[tuple[str, str]]:
    return sorted(
        (name, value)
        for name, value in environ.items()
        if name.startswith(STARTUP_VAR_PREFIXES) or name in STARTUP_VARS
    )


def server_key() -> str:
    """Names the warm process that matches this interpreter, its path, its start-up environment,
    its user and its confinement."""
    material = repr(
        (
            sys.executable,
            sys.version,
            sys.path,
            tuple(sys.flags),
            startup_environment(os.environ),
            os.getuid(),
            confinement(),
        )
    )
    return _digest(material.encode("utf-8", "surrogateescape"))


CONFINEMENT_STATUS = ("Seccomp:", "NoNewPrivs:", "CapEff:", "CapBnd:")


def confinement() -> tuple[str, ...]:
    """What a Linux sandbox changes about a process: its namespaces, cgroup, seccomp mode, the
    no-new-privileges bit and capabilities. A caller gets its command run only by a warm process
    it started itself or that is confined alike (a process it starts inherits them)."""
    found = []
    for namespace in ("mnt", "pid", "net", "user", "ipc", "uts", "cgroup"):
        try:
            found.append(os.readlink(f"/proc/self/ns/{namespace}"))
        except OSError:
            found.append("")
    for name in ("status", "cgroup"):
        try:
            with open(f"/proc/self/{name}", encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            text = ""
        if name == "status":
            lines = text.splitlines()
            text = "".join(line for line in lines if line.startswith(CONFINEMENT_STATUS))
        found.append(text)
    return tuple(found)


def _digest(data: bytes) -> str:
    # hashlib loads OpenSSL, a few milliseconds that every warm call would pay; the built-in
    # BLAKE2 module is as good for naming a socket.
    try:
        from _blake2 import blake2b
    except ImportError:
        from hashlib import blake2b
    return blake2b(data, digest_size=8).hexdigest()


def runtime_dir() -> str | None:
    """The user's private folder for warm-process sockets, made if missing; None when it is not
    a folder owned by this user that nobody else can enter."""
    import stat

    base = os.environ.get("XDG_RUNTIME_DIR")
    if base:
        # The base must be the user's own too, or another user could swap the folder.
        try:
            info = os.stat(base)
        except OSError:
            return None
        if info.st_uid != os.getuid() or info.st_mode & 0o022:
            return None
        path = os.path.join(base, "gait")
    else:
        path = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"gait-{os.getuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and not info.st_mode & 0o077
    return path if private and info.st_uid == os.getuid() else None


def socket_path(directory: str, key: str) -> str:
    return os.path.join(directory, f"{key}.sock")


def lock_path(directory: str, key: str) -> str:
    """Held by the warm process serving `key`, and holding its process id."""
    return os.path.join(directory, f"{key}.lock")


def available() -> bool:
    """Warm start is neither turned off (`GAIT_WARM=0`) nor impossible here (no fork)."""
    return os.environ.get(DISABLE_VAR, "").strip() != "0" and hasattr(os, "fork")


def encode_frame(message: tuple[object, ...] | dict[str, object]) -> bytes:
    import marshal

    body = marshal.dumps(message)  # type: ignore[arg-type]  # marshal takes what we send
    return len(body).to_bytes(FRAME_HEADER_BYTES, "big") + body


def read_frame(sock: Socket, start: bytes = b"") -> object:
    """One framed message from a connected socket, `start` being the part of it read already;
    None at end of stream."""
    import marshal

    rest = read_exact(sock, FRAME_HEADER_BYTES - len(start))
    if rest is None:
        return None
    header = start + rest
    size = int.from_bytes(header, "big")
    if size > MAX_MESSAGE_BYTES:
        raise ValueError("warm-start message too large")
    body = read_exact(sock, size)
    if body is None:
        return None
    message: object = marshal.loads(body)
    return message


def read_exact(sock: Socket, size: int) -> bytes | None:
    """`size` bytes, or None when the stream ends first."""
    chunks = []
    while size:
        chunk = sock.recv(min(size, 65536))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def is_warm_command(argv: list[str]) -> bool:
    """A core command that hooks call (a plugin's fast command asks with `hand_over`)."""
    from gait_cli.fast import command_args

    args = command_args(argv)
    return tuple(args[:2]) in WARM_COMMANDS and "--help" not in args


def hand_over() -> int | None:
    """For a plugin's fast command, before it imports gait's core: run this process's command in
    a warm process and return its exit status; None: go on here.

    Call it before reading standard input: the warm process's fork reads it. In that fork this
    answers None, so the command runs there.
    """
    return None if serving else run_warm(list(sys.argv))


# True in a warm process's fork, where the command runs.
serving = False


def run_warm(argv: list[str]) -> int | None:
    """Run `argv` in a warm process and return its exit status; None means: run it here (no
    warm process could take it, and none has started it)."""
    if not available():
        return None
    if not _streams_handed_over_alike() or any(arg.startswith(OWN_FD_PATHS) for arg in argv):
        return None
    directory = runtime_dir()
    if directory is None:
        return None
    import _socket

    key = server_key()
    path = socket_path(directory, key)
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            sock.connect(path)
            _send_request(sock, argv)
            answer = read_frame(sock)
        except (OSError, ValueError):
            answer = None
        if isinstance(answer, tuple) and answer[0] == "running" and isinstance(answer[1], int):
            return _await_exit(sock, child=answer[1])
    finally:
        sock.close()
    # No warm process, an outdated one (it closes the connection and leaves), or one that failed
    # before starting the command: run here, and have one (re)started for the next call. A
    # second server for the same key gives up at once.
    start_server(directory, key)
    return None


# Paths that name this process's own descriptors (`<(...)` in a shell): another process
# would open its own.
OWN_FD_PATHS = ("/dev/fd/", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/proc/self/")


def _streams_handed_over_alike() -> bool:
    """All three standard streams are open (else the socket would take a stream's number) and
    none is a terminal (a fork is not in the terminal's foreground process group)."""
    try:
        for fd in STREAMS:
            os.fstat(fd)
    except OSError:
        return False
    return not any(os.isatty(fd) for fd in STREAMS)


def _send_request(sock: Socket, argv: list[str]) -> None:
    import _socket

    mask = os.umask(0o077)
    os.umask(mask)
    cwd = os.getcwd()
    here = os.stat(cwd)
    request = {
        "argv": argv,
        "cwd": cwd,
        "cwd_id": (here.st_dev, here.st_ino),
        "env": dict(os.environ),
        "umask": mask,
    }
    frame = encode_frame(request)
    streams = b"".join(fd.to_bytes(4, sys.byteorder) for fd in STREAMS)  # C ints
    sent = sock.sendmsg([frame], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, streams)])
    if sent < len(frame):
        sock.sendall(frame[sent:])


def _await_exit(sock: Socket, *, child: int) -> int:
    """Forward signals to the child until it reports its exit status."""
    forwarded: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        forwarded.append(signum)
        try:  # noqa: SIM105 - contextlib is not loaded yet: this runs on every call
            os.kill(child, signum)
        except OSError:
            pass

    for name in FORWARDED_SIGNALS:
        number = getattr(_signal, name)
        if _signal.getsignal(number) == _signal.SIG_IGN:
            continue  # ignored here, as it would be by this command run cold
        try:
            _signal.signal(number, forward)
        except ValueError:  # not the main thread: signals stay this process's own
            break
    try:
        answer = read_frame(sock)
    except (OSError, ValueError):
        answer = None
    if isinstance(answer, tuple) and answer[0] == "exit" and isinstance(answer[1], int):
        return answer[1]
    if forwarded:
        # The child died of the signal it was sent: so does this process, as a cold one would.
        _signal.signal(forwarded[-1], _signal.SIG_DFL)
        os.kill(os.getpid(), forwarded[-1])
    sys.stderr.write("gait: the warm process running this command ended without an exit status\n")
    return 1


def start_server(directory: str, key: str) -> None:
    """Start the warm process in the background, in a session of its own; it gives up quietly
    when another one already serves `key`."""
    import marshal

    environ = dict(startup_environment(os.environ))
    environ.update({name: os.environ[name] for name in SERVER_VARS if name in os.environ})
    # Not `-m`: it would put this folder first on sys.path, and a file here named like a module
    # would run in the server. `-c` puts "" there; it goes before anything is imported.
    argv = [sys.executable, "-c", SERVER_MAIN, directory, key, marshal.dumps(sys.path).hex()]
    null_streams = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in STREAMS]
    relayed = [getattr(_signal, name) for name in FORWARDED_SIGNALS]
    try:  # noqa: SIM105 - contextlib is not loaded yet: this runs on every call
        os.posix_spawn(
            sys.executable,
            argv,
            environ,
            file_actions=null_streams,
            setsid=True,
            setsigdef=relayed,  # its forks must die of what callers relay, whatever we ignore
            setsigmask=(),
        )
    except OSError:
        pass


SERVER_MAIN = (
    "import sys; del sys.path[0]; from gait_cli.warm_server import main; raise SystemExit(main())"
)
