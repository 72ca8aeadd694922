"""A pre-loaded trusted evaluator server: the trust boundary without importing torch for every notebook.

Each graded notebook gets its own trusted evaluator (:mod:`gradekit.trusted`), a process on the grader's
side that runs the hidden tests. Started fresh, it spends about 2 s of CPU importing torch, the
course's test helpers (:mod:`gradekit.testkit`) and IPython's input transformer before its first cell
-- more than the cells of a whole exercise notebook take. So, as the kernels fork from a pre-loaded
kernel server (:mod:`gradekit.zygote`), the evaluators fork from this server:

1. ``python -m gradekit.boundary_server serve SOCKET PARENT`` binds a unix socket in a private (0700)
   folder of the grader, imports torch, numpy, testkit and IPython once, and waits. It ends when its
   parent (a grading worker, or the ``nbgrader`` process itself) is gone.
2. For a notebook, :class:`gradekit.boundary.TrustedExecute` connects (:func:`connect`) and sends a
   *hello*: the nbgrader flags the tests may read (``NBGRADER_EXECUTION``...) and its own memory limit.
3. The server forks; the child takes the hello, gets a fresh working folder, reseeds Python's and
   NumPy's global generators (a fork copies them), and serves that notebook's cells on the connection
   (:func:`gradekit.trusted.serve_cells`) until the client closes it or dies.

The trust model is unchanged: the server and its forks are grader-side processes that never run
student code (the student's code runs only in the sandboxed kernel) and the hidden tests never leave
them. The socket's folder is the grader's own (0700), the server serves only its own uid
(``SO_PEERCRED``), and the sandboxed kernel, in a chroot and a network namespace of its own, can reach
neither that folder nor an abstract socket. Where no server can be reached, the client starts a fresh
evaluator process, as before.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from gradekit import trusted
from gradekit.runtime import alive, make_socket_dir, prefer_this_gradekit

SERVER_ENV = "GRADEKIT_EVALUATOR"  # JSON [socket path, server pid]: a grading worker's server, shared by its runs
SOCKET_NAME = "evaluator.sock"
PASSED_ENV = ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING")  # nbgrader's flags, which test cells may read
KEEP_ENV = ("PATH", "LANG", "LC_ALL", "HOME", "VIRTUAL_ENV", "PYTHONPATH")
PRELOAD = ("numpy", "torch")
HELLO_TIMEOUT = 30.0  # seconds a fork waits for its client's hello
PEER_POLL = 0.5  # seconds between a fork's checks that its client still runs

SUPPORTED = sys.platform.startswith("linux") and hasattr(socket, "SO_PEERCRED") and hasattr(os, "pidfd_open")
_servers: dict[int, tuple[subprocess.Popen, str]] = {}  # owner pid -> (its server, the socket's folder)


def evaluator_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an evaluator (and of this server): :data:`KEEP_ENV` and :data:`PASSED_ENV` of
    ``environ`` (default ``os.environ``), one thread for OpenMP/MKL, no bytecode files, this gradekit first
    on ``PYTHONPATH``. Nothing else of the grader's environment."""
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if k in KEEP_ENV or k in PASSED_ENV}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    prefer_this_gradekit(env)
    return env


def preload() -> list[str]:
    """Import what every evaluator needs before its first cell; the modules that failed (with why)."""
    failed = []
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception as exc:  # noqa: BLE001 -- an evaluator then imports it itself
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    with contextlib.suppress(Exception):
        from gradekit import testkit  # noqa: F401
        from IPython.core.inputtransformer2 import TransformerManager

        TransformerManager().transform_cell("x = 1\n")
    return failed


# --------------------------------------------------------------------------------------------- server
def serve(path: str, parent: int, poll: float = 1.0) -> None:
    """Listen on ``path``, preload (:func:`preload`), and fork one evaluator per client of this uid;
    return when the process that started the server (pid ``parent``) is gone."""
    if os.getppid() != parent:
        return
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener.bind(path)  # before the imports: a client connects at once and waits for its fork's "ready"
    listener.listen(64)
    try:
        for failure in preload():
            print(f"gradekit evaluator server: not preloaded: {failure}", file=sys.stderr, flush=True)
        import gc

        gc.collect()
        gc.freeze()  # the forks share these pages instead of copying them on the next collection
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forks are reaped by the kernel
        me = os.geteuid()
        base = os.path.join(os.path.dirname(path), "evaluators")  # in the socket's private folder: the client
        os.makedirs(base, mode=0o700, exist_ok=True)  # that started the server removes it even after a SIGKILL
        folders: dict[int, str] = {}  # fork pid -> its working folder, removed here whatever way the fork ended
        while os.getppid() == parent:
            for pid in [pid for pid in folders if not alive(pid)]:  # killed forks cannot remove their own
                shutil.rmtree(folders.pop(pid), ignore_errors=True)
            if not select.select([listener], [], [], poll)[0]:
                continue
            conn, _ = listener.accept()
            peer, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            if uid != me:
                conn.close()
                continue
            folder = tempfile.mkdtemp(prefix="gk-trusted-", dir=base)
            pid = os.fork()
            if pid == 0:  # pragma: no cover -- the forked evaluator (tested through its client)
                code = 1
                try:
                    listener.close()
                    code = _evaluate_for(conn, peer, folder)
                finally:
                    os._exit(code)
            folders[pid] = folder
            conn.close()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        with contextlib.suppress(NameError):
            shutil.rmtree(base, ignore_errors=True)


def _evaluate_for(conn: socket.socket, peer: int, folder: str) -> int:  # pragma: no cover -- runs in a fork
    """In a fork: take the client's hello, then serve its notebook's cells (:func:`trusted.serve_cells`) in the
    working folder ``folder`` (made by the server, which removes it if this fork is killed)."""
    import random

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    channel = trusted.Channel(conn.fileno(), conn.fileno())
    try:
        hello = channel.recv(HELLO_TIMEOUT)
    except (TimeoutError, ValueError, OSError):
        return 1
    if not hello or hello.get("op") != "hello":
        return 1
    env = hello.get("env") if type(hello.get("env")) is dict else {}
    for key in PASSED_ENV:  # as a fresh evaluator would have inherited them from the client
        if type(env.get(key)) is str:
            os.environ[key] = env[key]
        else:
            os.environ.pop(key, None)
    memory = hello.get("memory")
    if type(memory) is int and memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()

    def watch() -> None:  # the client was killed (nbgrader's time limit): its evaluator goes too
        while alive(peer):
            time.sleep(PEER_POLL)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    os.chdir(folder)
    try:
        trusted.serve_cells(channel)
    finally:
        os.chdir("/")
        shutil.rmtree(folder, ignore_errors=True)
    return 0


# --------------------------------------------------------------------------------------------- client
def server() -> tuple[str, int]:
    """The socket path and pid of an evaluator server: the one ``$GRADEKIT_EVALUATOR`` names if it runs,
    else this process's own, started now if there is none (it ends with this process)."""
    with contextlib.suppress(ValueError, TypeError):
        path, pid = json.loads(os.environ.get(SERVER_ENV) or "null")
        if type(path) is str and type(pid) is int and alive(pid):
            return path, pid
    mine = _servers.get(os.getpid())
    if mine is None or mine[0].poll() is not None:
        folder = make_socket_dir()
        proc = subprocess.Popen([sys.executable, "-m", "gradekit.boundary_server", "serve",
                                 os.path.join(folder, SOCKET_NAME), str(os.getpid())],
                                cwd="/", env=evaluator_env({k: v for k, v in os.environ.items() if k not in PASSED_ENV}),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        _servers[os.getpid()] = mine = (proc, folder)
    return os.path.join(mine[1], SOCKET_NAME), mine[0].pid


def shared_server(config) -> str | None:
    """For a grading worker that runs nbgrader again and again: the ``$GRADEKIT_EVALUATOR`` value naming
    this process's evaluator server, if the course ``config`` (a traitlets ``Config``) grades with
    :class:`gradekit.boundary.TrustedExecute` and leaves its ``evaluator_server`` on; else None."""
    if not SUPPORTED or "TrustedExecute" not in str(config.Autograde.get("autograde_preprocessors", "")):
        return None
    if config.TrustedExecute.get("evaluator_server", True) is False:
        return None
    path, pid = server()
    if os.getpid() not in _finalizers:  # a pool worker ends without atexit; multiprocessing runs its finalizers
        import multiprocessing.util

        _finalizers[os.getpid()] = multiprocessing.util.Finalize(None, stop_servers, exitpriority=10)
    return json.dumps([path, pid])


_finalizers: dict[int, object] = {}


def connect(timeout: float = 10.0) -> socket.socket | None:
    """A connection to an evaluator server (:func:`server`) that has been sent its hello; None if no
    server answers within ``timeout`` s or the OS lacks what it needs (:data:`SUPPORTED`: Linux, peer
    credentials, pidfds); the caller then starts a fresh evaluator process."""
    if not SUPPORTED:
        return None
    try:
        path, pid = server()
    except OSError:
        return None
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline or not alive(pid):
                return None
            time.sleep(0.02)
    memory = resource.getrlimit(resource.RLIMIT_AS)[0]
    hello = {"op": "hello", "env": {k: os.environ[k] for k in PASSED_ENV if k in os.environ},
             "memory": memory if memory != resource.RLIM_INFINITY else None}
    try:
        trusted.Channel(sock.fileno(), sock.fileno()).send(hello)
    except OSError:
        sock.close()
        return None
    return sock


@atexit.register
def stop_servers() -> None:
    """Stop the evaluator server this process started (if any) and remove its socket folder."""
    mine = _servers.pop(os.getpid(), None)
    if mine is None:
        return
    proc, folder = mine
    with contextlib.suppress(OSError):
        proc.kill()
        proc.wait(5)
    shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m gradekit.boundary_server serve SOCKET PARENT_PID``: run a server (see module doc)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] != "serve" or not argv[2].isdigit():
        print(main.__doc__, file=sys.stderr)
        return 2
    serve(argv[1], int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
