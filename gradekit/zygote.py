"""A pre-loaded kernel server (a "zygote"): sandboxed kernels that start without importing torch again.

Each graded notebook gets a fresh kernel, and a fresh Python kernel of this course spends most of its
life importing: on the 2-core reference machine ``import torch`` takes about 2 s of CPU time and
``ipykernel`` 0.3 s more, while the cells of a whole exercise notebook run in well under a second. So
the kernel manager (:class:`gradekit.kernel_manager.SandboxKernelManager`) starts one server per
grading process, which imports ``ipykernel`` and the ``preload`` modules once, and every kernel is a
``fork`` of it:

1. jupyter_client starts the *client*, ``python -m gradekit.zygote SOCKET [launcher args] -- KERNEL
   ARGV`` (it stands where the launcher ``python -m gradekit.sandbox`` would). The client connects to
   the server's unix socket and sends its arguments, working directory, the allow-listed environment
   (:func:`launcher_env`: the server, started with the same allow-list, holds nothing else of the
   grader's environment, so neither do its forks) and its stdin/stdout/stderr.
2. The server forks; the child runs the unchanged launcher (:func:`gradekit.sandbox.main`): namespaces,
   private root, cgroup, PID-namespace init, unprivileged uid, resource limits, ``no_new_privs``. Only
   the last step differs: instead of ``exec``-ing ``python -m ipykernel_launcher`` the unprivileged
   process closes every inherited file descriptor but 0-2, reseeds NumPy's global generator (a fork
   copies it) and runs the kernel in process.
3. The client forwards interrupts and terminations to that child (the launcher forwards them on, as
   before) and exits with its exit code. When the client dies (jupyter_client killed it), the child sees
   its socket close and kills the namespace.

Where the server cannot be reached (it failed to start, the OS allows no sandbox), the client runs the
launcher itself, so a kernel always starts. Security: the socket lives in a 0700 folder of the grader
(root), the server serves only its own uid (``SO_PEERCRED``), and the kernel runs in a chroot and a
network namespace of its own where neither that folder nor an abstract socket of the host is reachable.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import select
import signal
import socket
import struct
import sys
import time

from gradekit import runtime, sandbox

SOCKET_NAME = "zygote.sock"
DEFAULT_PRELOAD = ("numpy", "torch")
SHARED_ENV = "GRADEKIT_ZYGOTE"  # a server a grading worker shares between its nbgrader runs (JSON)
TIMEOUT_ENV = "GRADEKIT_ZYGOTE_TIMEOUT"  # seconds a client waits for its fork (default 30), then starts alone
DEFAULT_TIMEOUT = 30.0
_HEADER = struct.Struct("!I")
_unread: dict[int, bytes] = {}  # per socket: bytes received after the last message
_KERNEL_PATH: list[str] = []  # the server's sys.path without its own folder and PYTHONPATH


def launcher_env(env: dict[str, str]) -> dict[str, str]:
    """What of ``env`` reaches the server and its forks: the kernel's allow-list
    (:data:`gradekit.sandbox.ENV_KEEP`, ``LC_*``), the launcher's own ``GRADEKIT_*`` switches and
    ``PYTHONPATH``. A fork keeps its parent's memory, the original environment block included (a kernel
    can read it in ``/proc/self/environ``), so nothing else of the grader's environment may get there."""
    return {k: v for k, v in env.items()
            if k in sandbox.ENV_KEEP or k.startswith(("LC_", "GRADEKIT_")) or k == "PYTHONPATH"}


# --------------------------------------------------------------------------------------------- wire
def _send(sock: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    payload = _HEADER.pack(len(data)) + data
    sent = socket.send_fds(sock, [payload], fds) if fds else sock.send(payload)
    sock.sendall(payload[sent:])


def _receive(sock: socket.socket, maxfds: int = 0) -> tuple[dict, list[int]]:
    """The next message on ``sock`` (and the file descriptors sent with it)."""
    data, fds = _unread.pop(sock.fileno(), b""), []
    while len(data) < _HEADER.size or len(data) < _HEADER.size + _HEADER.unpack_from(data)[0]:
        if maxfds and not fds:
            more, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, maxfds)
        else:
            more = sock.recv(1 << 16)
        if not more:
            raise ConnectionError("the peer closed the connection")
        data += more
    end = _HEADER.size + _HEADER.unpack_from(data)[0]
    if data[end:]:  # the start of the next message
        _unread[sock.fileno()] = data[end:]
    return json.loads(data[_HEADER.size:end]), fds


# ------------------------------------------------------------------------------------------- server
def is_ipykernel(argv: list[str], python: str = sys.executable) -> bool:
    """Whether ``argv`` starts an IPython kernel with this very interpreter (so a fork of it can run it)."""
    return (len(argv) >= 3 and argv[1:3] == ["-m", "ipykernel_launcher"]
            and os.path.realpath(argv[0]) == os.path.realpath(python))


def preload(modules: list[str]) -> list[str]:
    """Import ipykernel's kernel app and ``modules``; the ones that failed, as ``"name: error"``."""
    failed = []
    for name in ["ipykernel.kernelapp", *modules]:
        try:
            __import__(name)
        except Exception as exc:  # noqa: BLE001 -- a module that does not import is simply not preloaded
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    return failed


def _close_fds_except(*keep: int) -> None:
    """Close every file descriptor of this process but 0-2 and ``keep``."""
    top = os.sysconf("SC_OPEN_MAX")
    top = top if top > 0 else 65536
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, top)


def _start_in_process(argv: list[str], env: dict[str, str]) -> None:
    """The sandboxed process's last step: run the kernel ``argv`` describes here, then exit (any other
    command is exec-ed, as the launcher does)."""
    for sig in (*sandbox.FORWARDED_SIGNALS, signal.SIGCHLD, signal.SIGIO):  # as a fresh process has them
        signal.signal(sig, signal.SIG_DFL)
    if not is_ipykernel(argv):
        sandbox.exec_kernel(argv, env)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _close_fds_except()
    os.environ.clear()
    os.environ.update(env)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()  # a fork copied the server's global generator: every kernel would draw the same
    for name in [m for m in sys.modules if m == "gradekit" or m.startswith("gradekit.")]:
        del sys.modules[name]  # a fresh kernel has not imported the grader's code
    # what `python -m ipykernel_launcher` has (it drops the working directory), after the kernel's PYTHONPATH
    sys.path[:] = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p] + _KERNEL_PATH
    launcher = importlib.util.find_spec("ipykernel_launcher")
    sys.argv = [launcher.origin if launcher and launcher.origin else "ipykernel_launcher", *argv[3:]]
    code = 0
    try:
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=argv[3:])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        code = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _watch(conn: socket.socket):
    """``Hooks.launched``: kill the namespace's init as soon as the client's end of ``conn`` closes.

    No thread can do it (a process cannot start threads after ``unshare(CLONE_NEWPID)``): the socket
    raises ``SIGIO`` when its state changes, and the handler checks for end-of-file.
    """
    import fcntl

    def launched(init: int) -> None:
        def check(_signum=None, _frame=None) -> None:
            try:
                closed = conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                closed = False
            except OSError:
                closed = True
            if closed:
                with contextlib.suppress(OSError):
                    os.kill(init, signal.SIGKILL)
        signal.signal(signal.SIGIO, check)
        fcntl.fcntl(conn.fileno(), fcntl.F_SETOWN, os.getpid())
        fcntl.fcntl(conn.fileno(), fcntl.F_SETFL, fcntl.fcntl(conn.fileno(), fcntl.F_GETFL) | os.O_ASYNC)
        check()  # the client may be gone already
    return launched


def _serve_one(listener: socket.socket, conn: socket.socket) -> None:  # pragma: no cover -- forked child
    """In the forked child: become the launcher of one sandboxed kernel; never returns."""
    code = 70
    try:
        for sig in sandbox.FORWARDED_SIGNALS:  # until the launcher forwards them: never die of one
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        listener.close()
        request, fds = _receive(conn, maxfds=3)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        _close_fds_except(conn.fileno())
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _send(conn, {"pid": os.getpid()})
        hooks = sandbox.Hooks(start=_start_in_process, uid_seed=request["client"], private_fds=(conn.fileno(),),
                              launched=_watch(conn))
        code = sandbox.main(request["args"], hooks)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException as exc:  # noqa: BLE001
        with contextlib.suppress(Exception):
            print(f"gradekit zygote: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    with contextlib.suppress(OSError):
        _send(conn, {"exit": code})
    os._exit(code if 0 <= code < 256 else 1)


def serve(path: str, parent: int, modules: list[str], threads: int, poll: float = 1.0) -> None:
    """Listen on ``path``, import ``modules``, and fork one sandbox launcher per client; return when the
    process that started the server (pid ``parent``) is gone."""
    if os.getppid() != parent:
        return
    ours = {os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    _KERNEL_PATH[:] = [p for p in sys.path[1:] if os.path.realpath(p) not in ours]
    if not sandbox.sandbox_support()[0]:
        return  # the clients find no server and run the launcher themselves (its warning path)
    if threads:  # read once, at import: the kernels' value
        os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a server of the same grader that died (the folder is the grader's own)
    listener.bind(path)
    listener.listen(64)
    try:
        _accept_forever(listener, modules, parent, poll)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.basename(folder).startswith(runtime.SOCKET_PREFIX):  # made for this server alone
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


def _accept_forever(listener: socket.socket, modules: list[str], parent: int, poll: float) -> None:
    for failure in preload(modules):
        print(f"gradekit zygote: not preloaded: {failure}", file=sys.stderr, flush=True)
    import gc

    gc.collect()
    gc.freeze()  # the forks share these pages instead of copying them on the next collection
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    me = os.geteuid()
    while os.getppid() == parent:
        ready, _, _ = select.select([listener], [], [], poll)
        if not ready:
            continue
        conn, _ = listener.accept()
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        if uid != me:
            conn.close()
            continue
        if os.fork() == 0:
            _serve_one(listener, conn)
        conn.close()


# ------------------------------------------------------------------------------------------- client
def _connect(path: str, server: int, timeout: float) -> socket.socket | None:
    """A connection to the server at ``path``, or None once it is gone or ``timeout`` s have passed."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline or not runtime.alive(server):
                return None
            time.sleep(0.02)


def client(path: str, server: int, args: list[str], timeout: float | None = None) -> int:
    """Have the server (pid ``server``) at ``path`` run ``python -m gradekit.sandbox ARGS`` in a fork; its exit code.

    Runs the launcher in this process instead where the server is gone or has not forked within ``timeout``
    seconds (default ``$GRADEKIT_ZYGOTE_TIMEOUT`` or 30; a server still importing counts as not answering).
    """
    if timeout is None:
        try:
            timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
        except ValueError:
            timeout = DEFAULT_TIMEOUT
    start = time.monotonic()
    grader = os.getppid()
    sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != grader:
        return 1
    child: list[int] = []
    pending: list[int] = []

    def forward(signum, _frame):
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child[0], signum)
        else:
            pending.append(signum)

    for sig in sandbox.FORWARDED_SIGNALS:
        signal.signal(sig, forward)
    sock = _connect(path, server, timeout)
    reply = None
    if sock is not None:
        try:
            _send(sock, {"args": args, "cwd": os.getcwd(), "env": launcher_env(dict(os.environ)),
                         "client": os.getpid()}, [0, 1, 2])
            sock.settimeout(max(0.1, timeout - (time.monotonic() - start)))
            reply, _ = _receive(sock)
            sock.settimeout(None)
        except (OSError, ConnectionError, ValueError):  # socket.timeout is an OSError
            reply = None
    if reply is None:  # no server: be the launcher
        if sock is not None:
            sock.close()  # a fork made later for this request finds the socket closed and ends
            print(f"gradekit zygote: the kernel server did not answer within {timeout:g} s; starting the kernel "
                  "without it", file=sys.stderr, flush=True)
        for sig in sandbox.FORWARDED_SIGNALS:
            signal.signal(sig, signal.SIG_DFL if sig != signal.SIGINT else signal.default_int_handler)
        for signum in pending:
            os.kill(os.getpid(), signum)
        return sandbox.main(args)
    child.append(reply["pid"])
    for signum in pending:
        forward(signum, None)
    try:
        final, _ = _receive(sock)
        return int(final.get("exit", 1))
    except (OSError, ConnectionError, ValueError):
        return 1


def main(argv: list[str] | None = None) -> int:
    """``python -m gradekit.zygote serve SOCKET PARENT_PID THREADS [MODULE...]`` (the server; it ends with
    PARENT_PID, its parent; THREADS 0: leave the OpenMP/MKL thread count alone) or
    ``python -m gradekit.zygote SOCKET SERVER_PID [launcher args] -- KERNEL ARGV`` (a client)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"] and len(argv) >= 4 and argv[2].isdigit() and argv[3].isdigit():
        serve(argv[1], int(argv[2]), argv[4:], int(argv[3]))
        return 0
    if len(argv) < 3 or not argv[1].isdigit():
        print(main.__doc__, file=sys.stderr)
        return 2
    return client(argv[0], int(argv[1]), argv[2:])


if __name__ == "__main__":
    sys.exit(main())
