"""The Jupyter kernel manager whose kernels run in the gradekit sandbox (:mod:`gradekit.sandbox`).

nbgrader's ``Execute`` preprocessor uses it (``c.Execute.kernel_manager_class``). It talks to the
kernel over **unix sockets** (ZMQ transport ``ipc``) in a private directory, because the kernel has no
network at all, and it prefixes the kernel command with the launcher ``python -m gradekit.sandbox``.

It lives apart from the launcher because it needs ``jupyter_client`` and ``traitlets``: importing them
costs the launcher about 0.25 s of CPU time, once per graded notebook, for nothing.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Float, Integer, List, Unicode

from gradekit import cgroups, zygote
from gradekit.runtime import alive, make_socket_dir, neutral_path, prefer_this_gradekit
from gradekit.sandbox import (SOCKET_SUBDIR, WARNING, KernelSocketsError, Limits, kernel_env, missing_sockets,
                              sandbox_support, seal_socket_dir)

__all__ = ["KernelSocketsError", "SandboxKernelManager", "SandboxNotInEffect", "require_sandbox"]


class SandboxNotInEffect(RuntimeError):
    """nbgrader was about to run a notebook in a kernel that no :class:`SandboxKernelManager` started."""


def require_sandbox() -> None:
    """Make nbgrader's ``Execute`` (and its subclasses) refuse to run any cell in a kernel that a
    :class:`SandboxKernelManager` did not start (``nbgrader_config.py`` calls it).

    ``Execute.__init__`` passes ``kernel_manager_class=AsyncKernelManager`` as a keyword, which beats
    ``c.Execute.kernel_manager_class``; the sandbox takes effect today only because nbconvert initialises
    the client again, reading the config, in ``preprocess``. Should that change, grading would go on
    without a sandbox and without a word: this check makes it fail instead, before the first cell runs.
    """
    from nbgrader.preprocessors import Execute

    if getattr(Execute, "_gradekit_requires_sandbox", False):
        return
    original = Execute.preprocess_cell

    def preprocess_cell(self, cell, resources, index):
        if not isinstance(getattr(self, "km", None), SandboxKernelManager):
            raise SandboxNotInEffect(
                f"the sandbox was asked for (nbgrader_config.py) but the kernel was started by "
                f"{type(getattr(self, 'km', None)).__name__}, not SandboxKernelManager: refusing to run student "
                f"code unsandboxed")
        return original(self, cell, resources, index)

    Execute.preprocess_cell = preprocess_cell
    Execute._gradekit_requires_sandbox = True


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in the gradekit sandbox, reached over unix sockets.

    Configure it from ``nbgrader_config.py``::

        c.Execute.kernel_manager_class = "gradekit.kernel_manager.SandboxKernelManager"
        c.SandboxKernelManager.memory_limit = 4 * 2**30
    """

    memory_limit = Integer(Limits.memory_bytes, help="RLIMIT_AS of the kernel, bytes").tag(config=True)
    cpu_limit = Integer(Limits.cpu_seconds, help="RLIMIT_CPU of each kernel process, seconds").tag(config=True)
    process_limit = Integer(Limits.max_processes, help="RLIMIT_NPROC and the cgroup's pids.max: processes and "
                            "threads").tag(config=True)
    file_size_limit = Integer(Limits.max_file_bytes, help="RLIMIT_FSIZE, bytes").tag(config=True)
    tmp_size = Integer(Limits.tmp_bytes, help="size of the private /tmp, bytes").tag(config=True)
    cpu_cores = Float(Limits.cpus, help="CPU cap of the whole sandbox (a cgroup), in CPUs; 0: no cap").tag(config=True)
    fallback_process_limit = Integer(Limits.fallback_processes, help="RLIMIT_NPROC where no cgroup is usable "
                                     "(the kernel then also runs at nice 19)").tag(config=True)
    working_folder_size = Integer(Limits.work_bytes, help="size of the kernel's working folder (a tmpfs), "
                                  "bytes").tag(config=True)
    file_limit = Integer(Limits.max_files, help="files and folders the working folder, /tmp and /dev/shm hold "
                         "(each)").tag(config=True)
    readonly_paths = List(Unicode(), help="extra host paths the kernel may read, bound at their own path "
                          "(they show where they live)").tag(config=True)
    library_paths = List(Unicode(), help="package folders the kernel imports (e.g. the course library): copied "
                         "read-only to /opt/gradekit-lib, first on its PYTHONPATH, so the kernel never learns "
                         "where the course lives").tag(config=True)
    scratch_exclude = List(Unicode(), ["*.ipynb"], help="globs of files in the notebook's folder NOT copied "
                           "into the kernel's working folder: the notebooks being graded hold the hidden "
                           "tests").tag(config=True)
    preload = List(Unicode(), list(zygote.DEFAULT_PRELOAD), help="modules the pre-loaded kernel server imports "
                   "once, so that kernels start without importing them (gradekit.zygote)").tag(config=True)
    use_zygote = Bool(True, help="start kernels as forks of a pre-loaded server (gradekit.zygote) where the full "
                      "sandbox is available").tag(config=True)
    socket_timeout = Float(120.0, help="seconds a starting kernel has to make its sockets; then it is stopped and "
                           "the notebook fails with KernelSocketsError").tag(config=True)

    _socket_dir: str | None = None
    _cgroup_name: str | None = None
    _sealed: bool = False  # the kernel's sockets are checked and can no longer change: clients may connect

    def zygote_key(self) -> tuple[tuple[str, ...], str] | None:
        """What the pre-loaded server this manager's kernels fork from must be (:func:`_server`): its
        modules and the kernels' OpenMP thread count ("0": unset); None where it uses none
        (``use_zygote`` off, no full sandbox)."""
        if not (self.use_zygote and sandbox_support()[0]):
            return None
        threads = kernel_env("/", self.cpu_cores).get("OMP_NUM_THREADS", "0")
        return tuple(self.preload), threads if threads.isdigit() else "0"

    def limits(self) -> Limits:
        return Limits(self.memory_limit, self.cpu_limit, self.process_limit, self.file_size_limit, self.tmp_size,
                      self.cpu_cores, self.fallback_process_limit, self.working_folder_size, self.file_limit)

    async def _async_pre_start_kernel(self, **kw):
        ok, why = sandbox_support()
        if not ok:
            self.log.warning("%s: %s -- grading goes on without isolation.", WARNING, why)
        # a fresh socket folder for every start: the kernel could write to the last one (a link planted
        # there would be followed when the connection file is written again on a restart)
        self._sealed = False
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
        self._socket_dir = make_socket_dir()
        os.mkdir(os.path.join(self._socket_dir, SOCKET_SUBDIR), 0o700)
        self._cgroup_name = f"{cgroups.PREFIX}{uuid.uuid4().hex[:16]}"
        self.transport = "ipc"
        self.connection_file = os.path.join(self._socket_dir, "kernel.json")
        # the kernel makes its sockets in a subfolder of its own; the rest of the folder it cannot write
        # (gradekit.sandbox.prepare_socket_dir)
        self.ip = os.path.join(self._socket_dir, SOCKET_SUBDIR, "kernel")
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        # the launcher must be this gradekit, not whichever one `-m gradekit.sandbox` finds from the
        # kernel's working directory (another checkout's editable install, say)
        env = kw.setdefault("env", dict(os.environ))
        prefer_this_gradekit(env)
        return cmd, kw

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if sandbox_support()[0] and cmd:  # the venv's python at its neutral mirror, the one the sandbox shows
            cmd = [neutral_path(cmd[0]), *cmd[1:]]
        prefix = [sys.executable, "-m", "gradekit.sandbox"]
        key = self.zygote_key() if zygote.is_ipykernel(cmd) else None
        if key:
            path, pid = _server(*key)
            prefix = [sys.executable, "-m", "gradekit.zygote", path, str(pid)]
        prefix += [*self.limits().as_args(), f"--sockets={self._socket_dir}"]
        if self._cgroup_name:
            prefix.append(f"--cgroup-name={self._cgroup_name}")
        prefix += [f"--ro={p}" for p in self.readonly_paths]
        prefix += [f"--lib={p}" for p in self.library_paths]
        prefix += [f"--exclude={p}" for p in self.scratch_exclude]
        return prefix + ["--", *cmd]

    # -- no connection before the kernel's sockets are sealed ----------------------------------------------
    # The kernel makes its sockets in a folder it can write (SOCKET_SUBDIR); connect() follows links, and ZMQ
    # reconnects by path whenever a connection drops. So nothing of the grader connects there until the folder
    # is the grader's again and every socket is checked (gradekit.sandbox.seal_socket_dir): the control socket
    # (jupyter_client connects it in post_start_kernel), clients (km.client()), shutdown requests.
    async def _async_post_start_kernel(self, **kw) -> None:
        try:
            await self._seal_kernel_sockets()
        except BaseException:  # stop the kernel and remove its folder and cgroup (nbclient's clean-up, which
            with contextlib.suppress(Exception):  # calls jupyter_client's own cleanup_resources, does not)
                await self._async_kill_kernel()
            with contextlib.suppress(Exception):
                await self._async_cleanup_resources()
            raise
        await super()._async_post_start_kernel(**kw)

    def kernel_socket_names(self) -> list[str]:
        """The names, in the socket folder's :data:`SOCKET_SUBDIR`, of the sockets the kernel binds (``ipc``
        transport: ``<ip>-<port>`` for its five channels)."""
        base = os.path.basename(self.ip)
        return [f"{base}-{port}" for port in self.ports]

    async def _seal_kernel_sockets(self) -> None:
        """Wait until the kernel has made every socket of its connection file, then seal its socket folder
        (:func:`gradekit.sandbox.seal_socket_dir`); :class:`KernelSocketsError` if the kernel exits or
        :attr:`socket_timeout` passes first, or an entry is not the kernel's socket."""
        folder = self._socket_dir
        if folder is None or os.path.dirname(self.ip) != os.path.join(folder, SOCKET_SUBDIR):
            raise KernelSocketsError(f"the kernel's sockets ({self.ip}) are not in its socket folder ({folder})")
        names = self.kernel_socket_names()
        deadline = time.monotonic() + self.socket_timeout
        while True:
            missing = missing_sockets(folder, names)
            if not missing:
                break
            if not await self._async_is_alive():
                raise KernelSocketsError(f"the kernel exited before it made its sockets ({', '.join(missing)} "
                                         f"missing in {os.path.dirname(self.ip)})")
            if time.monotonic() > deadline:
                raise KernelSocketsError(f"the kernel did not make its sockets within {self.socket_timeout:g} s "
                                         f"({', '.join(missing)} missing in {os.path.dirname(self.ip)})")
            await asyncio.sleep(0.02)
        seal_socket_dir(folder, names)
        self._sealed = True

    def _connect_control_socket(self) -> None:
        if not self._sealed:
            raise KernelSocketsError("refusing to connect to the kernel's control socket before its socket folder "
                                     "is sealed")
        super()._connect_control_socket()

    def client(self, **kwargs):
        """A client of the running kernel; only once its sockets are sealed (they can no longer change)."""
        if not self._sealed:
            raise KernelSocketsError("no client before the kernel's sockets exist and its socket folder is sealed "
                                     "(start the kernel first)")
        return super().client(**kwargs)

    async def _async_request_shutdown(self, restart: bool = False) -> None:
        if not self._sealed:  # no control socket to send it over: _async_finish_shutdown then stops the kernel
            return
        await super()._async_request_shutdown(restart=restart)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        self._sealed = False  # the kernel is gone: no new client until the next one's sockets are sealed
        await super()._async_cleanup_resources(restart=restart)
        # The launcher removes its cgroup when it ends; a SIGKILLed launcher (shutdown_kernel(now=True),
        # a kernel that would not stop) cannot, and its namespace died with it: remove what is left.
        if self._cgroup_name and not (self.provisioner and self.provisioner.has_process):
            with contextlib.suppress(OSError):
                group = cgroups.find(self._cgroup_name)
                if group is not None:
                    group.remove()
        if not restart and self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None


ZYGOTE_MAIN = "import sys; from gradekit.zygote import main; sys.exit(main())"
_servers: dict[tuple, tuple[subprocess.Popen, str, int]] = {}  # (modules, threads) -> (server, folder, owner pid)
_finalizers: dict[int, object] = {}  # pid -> its multiprocessing finalizer


def _server(modules: tuple[str, ...], threads: str) -> tuple[str, int]:
    """The socket path and pid of a pre-loaded kernel server for ``modules`` and ``threads`` OpenMP
    threads: the one named by ``$GRADEKIT_ZYGOTE`` (a grading worker's, see :func:`shared_server`) if it
    matches and runs, else this process's own, started now if there is none (it imports in the
    background; the first client waits for it). A server ends with the process that started it."""
    with contextlib.suppress(ValueError, TypeError):
        path, pid, shared_modules, shared_threads = json.loads(os.environ.get(zygote.SHARED_ENV) or "null")
        if (tuple(shared_modules), shared_threads) == (modules, threads) and alive(pid):
            return path, pid
    key = (modules, threads)
    if key in _servers and _servers[key][2] == os.getpid() and _servers[key][0].poll() is None:
        proc, folder, _ = _servers[key]
    else:  # none yet, it died, or it is the server of the process this one was forked from
        folder = make_socket_dir()
        env = zygote.launcher_env(dict(os.environ))  # its forks are kernels: no secrets in their memory
        prefer_this_gradekit(env)
        # the venv's python at its neutral mirror, and no `-m` (its __main__ would be gradekit/zygote.py with
        # its path): the kernels forked from it name no course path
        proc = subprocess.Popen([neutral_path(sys.executable), "-c", ZYGOTE_MAIN, "serve",
                                 os.path.join(folder, zygote.SOCKET_NAME), str(os.getpid()), threads, *modules],
                                cwd="/", env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        _servers[key] = (proc, folder, os.getpid())
    return os.path.join(folder, zygote.SOCKET_NAME), proc.pid


def shared_server(config) -> str | None:
    """For a grading worker that runs nbgrader again and again: the ``$GRADEKIT_ZYGOTE`` value naming a
    pre-loaded server of this process that fits the course ``config`` (a traitlets ``Config``), so that
    the server imports torch once per worker instead of once per nbgrader run; None where the course
    does not use one."""
    if not str(config.Execute.get("kernel_manager_class", "")).endswith("SandboxKernelManager"):
        return None
    key = SandboxKernelManager(config=config).zygote_key()  # the course's options, the manager's defaults
    if key is None:
        return None
    path, pid = _server(*key)
    if os.getpid() not in _finalizers:  # a pool worker ends without atexit; multiprocessing runs its finalizers
        import multiprocessing.util

        _finalizers[os.getpid()] = multiprocessing.util.Finalize(None, _stop_servers, exitpriority=10)
    return json.dumps([path, pid, list(key[0]), key[1]])


@atexit.register
def _stop_servers() -> None:
    for proc, folder, owner in _servers.values():
        if owner != os.getpid():  # a forked copy of the table: the servers are the parent's
            continue
        with contextlib.suppress(OSError):
            proc.kill()
            proc.wait(5)
        shutil.rmtree(folder, ignore_errors=True)
    _servers.clear()
