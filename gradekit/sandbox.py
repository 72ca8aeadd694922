"""Run a Jupyter kernel -- and so the student code nbgrader executes -- inside a Linux sandbox.

Two halves:

* :class:`gradekit.kernel_manager.SandboxKernelManager`, a ``jupyter_client`` kernel manager that
  nbgrader's ``Execute`` preprocessor uses (``c.Execute.kernel_manager_class``; a module of its own, so
  that the launcher, started once per graded notebook, imports no ``jupyter_client``). It talks to the
  kernel over **unix sockets** (ZMQ transport ``ipc``) in a private directory, because the kernel has no
  network at all (a fresh network namespace has no usable TCP path back to the grader), and it prefixes
  the kernel command with the launcher below.
* the launcher, ``python -m gradekit.sandbox [limits] -- KERNEL ARGV``. Where the OS allows it (root,
  Linux namespaces), it

  1. unshares mount, network, PID, IPC and UTS namespaces;
  2. builds a new root on a tmpfs that holds only read-only system paths (``/usr``, ``/etc``, the Python
     installation and venv, the read-only paths it is given), read-only copies of the course's
     libraries at ``/opt/gradekit-lib``, a minimal ``/dev``, a fresh ``/proc``, a size- and file-capped
     ``/tmp``, the socket directory (read-only but for the subfolder :data:`SOCKET_SUBDIR` where the kernel
     makes its sockets, which the grader takes back before it connects: :func:`seal_socket_dir`), and the
     kernel's working folder
     ``/home/student/<name>``: a size- and file-capped tmpfs holding a copy of the regular files of the
     folder the launcher was started in (read without following links, the notebooks being graded left
     out), made before any student code runs. Nothing the kernel writes there reaches the host, and root
     never reads, writes or chmods a folder the kernel can write to. The gradebook, the hidden tests,
     other students' files and the instructor's home are simply not there, and no mount names the
     course's folder (the Python environment is a mirror at a neutral path,
     :func:`gradekit.runtime.neutral_prefix`);
  3. runs as PID 1 of the new PID namespace (when it dies, every process the student started dies too)
     and forks the kernel, which drops to an unprivileged uid of its own (so ``RLIMIT_NPROC`` counts only
     this kernel's processes: no fork explosion), with ``no_new_privs`` and the resource limits
     ``RLIMIT_AS`` (memory), ``RLIMIT_CPU``, ``RLIMIT_NPROC``, ``RLIMIT_FSIZE``, ``RLIMIT_CORE = 0``.

  4. before it forks anything, moves itself -- and so the whole sandbox -- into a cgroup of its own
     (:mod:`gradekit.cgroups`, v1 or v2) capped at ``--cpus`` CPUs (default 1) and ``--nproc`` tasks; a
     fork bomb then burns one CPU, not the machine. When the sandbox ends, every task left in the group
     is killed and the group removed. Where no cgroup is usable the kernel runs at ``nice 19`` with at
     most ``--fallback-nproc`` processes, and the launcher says so on stderr
     (``GRADEKIT CPU CAP UNAVAILABLE``).
  5. an interrupt (``SIGINT``: nbclient's cell timeout, ``interrupt_on_timeout``) stops the world in the
     namespace, SIGKILLs every process the student started and interrupts the kernel, so the next
     cells run on an idle sandbox; a kill or a shutdown kills the launcher and with it the namespace.

  Where it does not (not root, no namespaces: e.g. a laptop), grading goes on: the launcher prints a
  clear ``GRADEKIT SANDBOX UNAVAILABLE`` warning on stderr and runs the kernel with the resource limits
  and ``nice 19`` only.

Set ``GRADEKIT_NO_SANDBOX=1`` to force the warning path (used to measure stock behaviour).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import functools
import os
import re
import resource
import shutil
import signal
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gradekit import cgroups, safe_files
from gradekit.runtime import neutral_path, neutral_prefix
from gradekit.runtime import prefer_this_gradekit  # noqa: F401 -- part of the launcher's interface

DISABLE_ENV = "GRADEKIT_NO_SANDBOX"
WARNING = "GRADEKIT SANDBOX UNAVAILABLE"
CPU_WARNING = "GRADEKIT CPU CAP UNAVAILABLE"
MEMORY_WARNING = "GRADEKIT MEMORY CAP UNAVAILABLE"
ROOT_DIR = "/tmp/.gradekit-sandbox-root"  # mount point of each sandbox's private tmpfs root
HOME_DIR = "/home/student"  # the kernel's working folder is HOME_DIR/<name of the host folder>, a tmpfs
LIB_DIR = "/opt/gradekit-lib"  # read-only copies of the course's libraries (first on the kernel's PYTHONPATH)
LIB_BYTES, LIB_FILES = 64 * 2**20, 4000  # at most this much of them is copied
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
ENV_KEEP = ("PATH", "LANG", "LANGUAGE", "TERM", "TZ", "MPLBACKEND", "PYTHONHASHSEED", "PYTHONWARNINGS",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NBGRADER_EXECUTION", "PYDEVD_DISABLE_FILE_VALIDATION")
SOCKET_SUBDIR = "ipc"  # the only part of the socket folder the kernel may write: its sockets
UID_BASE, UID_SPAN = 40000, 20000  # sandbox uids: UID_BASE + (launcher pid mod UID_SPAN)

# linux/sched.h, sys/mount.h, linux/prctl.h
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x4000000, 0x8000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
# what the launcher and the namespace's init pass on (and the launcher ignores while it cleans up)
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class SandboxError(RuntimeError):
    """A sandbox could not be set up (the launcher then falls back to the warning path)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed kernel.

    ``memory_bytes`` is ``RLIMIT_AS`` (virtual address space; importing torch alone maps ~0.8 GB),
    ``cpu_seconds`` is ``RLIMIT_CPU`` per process (soft; the kernel gets ``SIGXCPU``, then ``SIGKILL``
    5 s later), ``max_processes`` is ``RLIMIT_NPROC`` (processes *and threads* of the sandbox uid),
    ``max_file_bytes`` is ``RLIMIT_FSIZE``, ``tmp_bytes`` the size of the private ``/tmp``.
    ``cpus`` is the CPU cap of the whole sandbox (its cgroup; 0: no cap), ``fallback_processes`` the
    ``RLIMIT_NPROC`` used instead of ``max_processes`` (if lower) where no cgroup is usable.
    ``work_bytes`` is the size of the kernel's working folder (a tmpfs), ``max_files`` the number of files
    and folders each of the sandbox's writable file systems (working folder, ``/tmp``, ``/dev/shm``) holds.
    """

    memory_bytes: int = 4 * 2**30
    cpu_seconds: int = 900
    max_processes: int = 256
    max_file_bytes: int = 256 * 2**20
    tmp_bytes: int = 256 * 2**20
    cpus: float = 1.0
    fallback_processes: int = 64
    work_bytes: int = 256 * 2**20
    max_files: int = 10000

    def __post_init__(self) -> None:
        for name in ("memory_bytes", "cpu_seconds", "max_processes", "max_file_bytes", "tmp_bytes",
                     "fallback_processes", "work_bytes", "max_files"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")
        if isinstance(self.cpus, bool) or not isinstance(self.cpus, (int, float)) or not self.cpus >= 0:
            raise ValueError(f"Limits.cpus must be a number >= 0 (0: no CPU cap), got {self.cpus!r}")

    def as_args(self) -> list[str]:
        return [f"--memory={self.memory_bytes}", f"--cpu={self.cpu_seconds}", f"--nproc={self.max_processes}",
                f"--fsize={self.max_file_bytes}", f"--tmp={self.tmp_bytes}", f"--cpus={self.cpus:g}",
                f"--fallback-nproc={self.fallback_processes}", f"--work={self.work_bytes}",
                f"--files={self.max_files}"]


@dataclass(frozen=True)
class Plan:
    """What the sandbox shows the kernel.

    ``readonly`` host paths are bound read-only at their own path, ``writable`` host folders read-write.
    ``sockets`` is the kernel's socket folder (see :func:`prepare_socket_dir`): bound read-only, but for its
    subfolder :data:`SOCKET_SUBDIR`, where the kernel makes its sockets. The kernel works in ``workdir`` (a path inside the sandbox, under
    :data:`HOME_DIR`): a fresh tmpfs holding a copy of the regular files of the host folder ``source``
    (``exclude``: glob patterns left out, e.g. the notebooks being graded), made before any student code
    runs; nothing written there reaches the host. ``libraries`` (package folders) are copied, read-only,
    to :data:`LIB_DIR`, so the kernel imports them without learning where the course lives.
    """

    readonly: tuple[str, ...]
    writable: tuple[str, ...]
    workdir: str
    limits: Limits = field(default_factory=Limits)
    source: str | None = None
    exclude: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    sockets: str | None = None


# ----------------------------------------------------------------------------------------------- libc
@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise SandboxError(f"{what}: {os.strerror(err)} (errno {err})")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {source} -> {target}")


def prctl(option: int, arg: int) -> None:
    """``prctl(option, arg)``; raises :class:`SandboxError` if it fails."""
    _check(_libc().prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


# ------------------------------------------------------------------------------------------- support
@functools.lru_cache(maxsize=1)
def sandbox_support() -> tuple[bool, str]:
    """``(True, "")`` if this process can build the full sandbox, else ``(False, why not)``.

    Probes by forking a child that unshares the namespaces and mounts a tmpfs (nothing leaks out).
    """
    if os.environ.get(DISABLE_ENV):
        return False, f"{DISABLE_ENV} is set"
    if not sys.platform.startswith("linux"):
        return False, f"Linux namespaces are not available on {sys.platform}"
    if os.geteuid() != 0:
        return False, "the grader does not run as root (needed to unshare namespaces and drop to a sandbox uid)"
    pid = os.fork()
    if pid == 0:  # pragma: no cover -- child
        code = 1
        try:
            _check(_libc().unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC), "unshare")
            _mount(None, "/", None, MS_REC | MS_PRIVATE)
            os.makedirs(ROOT_DIR, exist_ok=True)
            _mount("tmpfs", ROOT_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m")
            code = 0
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return False, "unshare(mount, net, pid, ipc) or mounting a tmpfs is not permitted here (container without CAP_SYS_ADMIN?)"
    return True, ""


def default_readonly_paths() -> list[str]:
    """System paths, the Python installation and the venv (its neutral mirror,
    :func:`gradekit.runtime.neutral_prefix`: the course's own path is not shown), and the directories
    they link to."""
    paths = [p for p in SYSTEM_PATHS if os.path.lexists(p)]
    for prefix in {sys.base_prefix, neutral_prefix(), os.path.dirname(os.path.realpath(sys.executable))}:
        paths.append(os.path.realpath(prefix))
    return paths


# --------------------------------------------------------------------------------------- building
def _bind(host: str, root: str, readonly: bool) -> None:
    """Bind ``host`` at the same path under ``root`` (symlinks are recreated, not followed)."""
    target = root + host
    if os.path.islink(host):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(host), target)
        real = os.path.realpath(host)
        if not os.path.exists(root + real):
            _bind(real, root, readonly)
        return
    if not os.path.exists(host):
        return
    if os.path.isdir(host):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            Path(target).touch()
    _mount(host, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (MS_RDONLY if readonly else 0)
    _mount(None, target, None, flags)


def build_root(plan: Plan, root: str = ROOT_DIR, uid: int | None = None) -> None:
    """Assemble the sandbox's filesystem under ``root`` (call inside a fresh mount namespace, as root);
    ``uid``: the sandbox uid that owns the working folder."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    os.makedirs(root, exist_ok=True)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    # The private /tmp first: a venv or course under /tmp (a CI clone, a mktemp folder) is then bound on
    # top of it instead of being hidden by it -- the kernel could not start when .venv lived under /tmp.
    os.makedirs(root + "/tmp", exist_ok=True)
    capped = f"size={plan.limits.tmp_bytes},nr_inodes={plan.limits.max_files}"
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"{capped},mode=1777")
    for path in sorted(set(plan.readonly), key=len):
        _bind(path, root, readonly=True)
    dev = root + "/dev"
    os.makedirs(dev, exist_ok=True)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=1m,mode=0755")
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            Path(dev, name).touch()
            _mount("/dev/" + name, f"{dev}/{name}", None, MS_BIND)
    os.makedirs(dev + "/shm", exist_ok=True)
    _mount("tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"{capped},mode=1777")
    for name, to in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                     ("stderr", "/proc/self/fd/2")):
        os.symlink(to, f"{dev}/{name}")
    os.makedirs(root + "/proc", exist_ok=True)
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path in plan.writable:
        _bind(path, root, readonly=False)
    if plan.sockets:
        _bind(plan.sockets, root, readonly=True)
        _bind(os.path.join(plan.sockets, SOCKET_SUBDIR), root, readonly=False)
    if plan.libraries:
        _copy_libraries(plan.libraries, root + LIB_DIR)
    _make_workdir(plan, root, uid)


def _make_workdir(plan: Plan, root: str, uid: int | None) -> None:
    """The kernel's working folder: a size- and file-capped tmpfs at :data:`HOME_DIR`, holding a copy of
    the regular files of ``plan.source`` (read without following links; see :mod:`gradekit.safe_files`)."""
    home = root + HOME_DIR
    os.makedirs(home, exist_ok=True)
    _mount("tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={plan.limits.work_bytes},nr_inodes={plan.limits.max_files},mode=0755")
    work = root + plan.workdir
    os.makedirs(work, exist_ok=True)
    if uid is not None:
        os.chown(work, uid, uid)
    if plan.source is None:
        return
    tree = safe_files.read_tree(plan.source, max_files=plan.limits.max_files // 2,
                                max_bytes=plan.limits.work_bytes // 2, exclude=plan.exclude)
    safe_files.write_tree(work, tree.files, uid)
    if tree.refused:
        print("gradekit sandbox: not copied into the working folder: " + "; ".join(tree.refused[:5])
              + (f" (and {len(tree.refused) - 5} more)" if len(tree.refused) > 5 else ""), file=sys.stderr, flush=True)


def _copy_libraries(paths: tuple[str, ...], lib: str) -> None:
    """Copy each package folder (or module file) in ``paths`` to ``lib``, then make ``lib`` read-only."""
    os.makedirs(lib, exist_ok=True)
    _mount("tmpfs", lib, "tmpfs", MS_NOSUID | MS_NODEV, f"size={LIB_BYTES},mode=0755")
    for path in paths:
        name = os.path.basename(os.path.normpath(path))
        if os.path.isdir(path):
            tree = safe_files.read_tree(path, max_files=LIB_FILES, max_bytes=LIB_BYTES // 2,
                                        exclude=("*.pyc",), skip={"__pycache__"})
            os.makedirs(os.path.join(lib, name), exist_ok=True)
            safe_files.write_tree(os.path.join(lib, name), tree.files)
        elif os.path.isfile(path):
            safe_files.write_tree(lib, {name: Path(path).read_bytes()})
    _mount(None, lib, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def workdir_name(source: str) -> str:
    """The kernel's working folder for the host folder ``source``: :data:`HOME_DIR`/<its name, made safe>."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(os.path.normpath(source)))[:64].lstrip(".")
    return f"{HOME_DIR}/{name or 'work'}"


def prepare_socket_dir(path: str, uid: int) -> None:
    """Make the socket folder ``path`` (root's own, 0700: :func:`gradekit.runtime.make_socket_dir`) usable by
    the kernel of uid ``uid`` without letting it write there (call as root, before the kernel exists).

    Root writes the connection file and ``owner.pid`` in it, reads ``owner.pid`` back (the sweep of stale
    folders) and removes it: a kernel that could write there could plant links root follows. So the folder
    stays root's (0711: the kernel may pass through, not list or write), the connection file becomes the
    kernel's to read (0400), and the kernel makes its sockets in the subfolder :data:`SOCKET_SUBDIR`, the
    only part it may write (the sandbox binds the folder read-only and that subfolder read-write) until the
    grader takes it back, before connecting to any socket there (:func:`seal_socket_dir`).
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if st.st_uid != 0 or st.st_mode & 0o022:
            raise SandboxError(f"the socket folder {path} must be root's and writable by root only")
        with contextlib.suppress(FileExistsError):
            os.mkdir(SOCKET_SUBDIR, 0o700, dir_fd=fd)
        for entry in os.listdir(fd):
            est = os.stat(entry, dir_fd=fd, follow_symlinks=False)
            if entry == SOCKET_SUBDIR and stat.S_ISDIR(est.st_mode):
                os.chown(entry, uid, uid, dir_fd=fd, follow_symlinks=False)
            elif entry.endswith(".json") and stat.S_ISREG(est.st_mode):  # the connection file
                os.chown(entry, uid, uid, dir_fd=fd, follow_symlinks=False)
                os.chmod(entry, 0o400, dir_fd=fd)
        os.fchmod(fd, 0o711)
    finally:
        os.close(fd)


class KernelSocketsError(RuntimeError):
    """The kernel's sockets are not what the grader may connect to: they never appeared, or an entry is not a
    socket of the kernel's own (a link, a file, another user's socket). The notebook is not graded."""


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_socket_subdir(path: str) -> tuple[int, int]:
    """``(fd of the socket folder, fd of its SOCKET_SUBDIR)``, neither opened through a link; the folder must be
    the caller's and writable by it alone (its entry ``SOCKET_SUBDIR`` then cannot be swapped by the kernel)."""
    parent = os.open(path, _DIR_FLAGS)
    try:
        st = os.fstat(parent)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise KernelSocketsError(f"the socket folder {path} must be the grader's and writable by it alone")
        return parent, os.open(SOCKET_SUBDIR, _DIR_FLAGS, dir_fd=parent)
    except BaseException:
        os.close(parent)
        raise


def missing_sockets(path: str, names: list[str]) -> list[str]:
    """The ``names`` that no entry of the socket folder ``path``'s :data:`SOCKET_SUBDIR` has yet (``lstat`` only:
    nothing is opened or followed there; an entry of the wrong kind counts as present, :func:`seal_socket_dir`
    refuses it)."""
    parent, sub = _open_socket_subdir(path)
    try:
        missing = []
        for name in names:
            try:
                os.stat(name, dir_fd=sub, follow_symlinks=False)
            except FileNotFoundError:
                missing.append(name)
        return missing
    finally:
        os.close(sub)
        os.close(parent)


def seal_socket_dir(path: str, names: list[str]) -> None:
    """Take the kernel's socket subfolder back before anything connects to it (call once every socket in
    ``names`` exists, see :func:`missing_sockets`).

    ``connect()`` follows links: while the kernel owns ``path/SOCKET_SUBDIR`` it can replace a socket there by a
    link to any other unix socket of the host (another kernel's, a root daemon's) or swap sockets around, and
    the grader's client connects (and reconnects) there. So the subfolder, opened without following a link
    relative to the grader's own folder ``path``, is made the grader's (``fchown``, ``fchmod 0755``, any ACL
    removed): the kernel can no longer add, remove or rename an entry. Then each name is checked with
    ``lstat``: a socket, one link to it, owned by the uid that owned the subfolder (the kernel's). Raises
    :class:`KernelSocketsError` naming the entry otherwise; the client may connect only after this returned.
    """
    for name in names:
        if not name or "/" in name or name in (".", ".."):
            raise KernelSocketsError(f"not a socket name: {name!r}")
    parent, sub = _open_socket_subdir(path)
    try:
        kernel_uid = os.fstat(sub).st_uid  # only root can chown: the kernel cannot have given it to another uid
        if kernel_uid != os.geteuid():
            os.fchown(sub, os.geteuid(), os.getegid())
        for attr in ("system.posix_acl_access", "system.posix_acl_default"):
            with contextlib.suppress(OSError):
                os.removexattr(sub, attr)
        os.fchmod(sub, 0o755)
        where = os.path.join(path, SOCKET_SUBDIR)
        for name in names:
            try:
                st = os.stat(name, dir_fd=sub, follow_symlinks=False)
            except FileNotFoundError:
                raise KernelSocketsError(f"the kernel's socket {where}/{name} is gone") from None
            kind = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode)
                    else "a regular file" if stat.S_ISREG(st.st_mode) else "not a socket")
            if not stat.S_ISSOCK(st.st_mode):
                raise KernelSocketsError(f"the kernel's socket {where}/{name} is {kind}, not a socket: refusing to "
                                         "connect")
            if st.st_uid != kernel_uid or st.st_nlink != 1:
                raise KernelSocketsError(f"the kernel's socket {where}/{name} is not the kernel's own (owner uid "
                                         f"{st.st_uid}, {st.st_nlink} links; the kernel is uid {kernel_uid}): "
                                         "refusing to connect")
    finally:
        os.close(sub)
        os.close(parent)


def _chown_tree(path: str, uid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(path):
        os.lchown(dirpath, uid, uid)
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, uid)


def apply_limits(limits: Limits, nproc: int | None = None) -> None:
    """Set the resource limits of the calling process (inherited by everything it starts);
    ``RLIMIT_NPROC`` only if ``nproc`` is given."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def kernel_env(workdir: str, cpus: float = 0, libraries: bool = False) -> dict[str, str]:
    """The kernel's environment: a short allow-list (no instructor secrets), ``HOME`` in the private /tmp,
    under a CPU cap at most that many OpenMP/MKL threads (more only spin against the quota), and with
    ``libraries`` the copied libraries (:data:`LIB_DIR`) first on ``PYTHONPATH``."""
    env = {k: v for k, v in os.environ.items() if k in ENV_KEEP or k.startswith("LC_")}
    # PATH: the Python environment's bin/ (its neutral mirror) and the system's; nothing else is in the sandbox,
    # and the rest would name the host's folders (the venv inside the course)
    python_bin = os.path.dirname(neutral_path(sys.executable))
    system = [p for p in env.get("PATH", "").split(os.pathsep)
              if p.startswith(tuple(d + "/" for d in SYSTEM_PATHS)) or p in SYSTEM_PATHS]
    env["PATH"] = os.pathsep.join(dict.fromkeys([python_bin, *system]))
    if libraries:
        env["PYTHONPATH"] = LIB_DIR
    if cpus > 0:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, str(max(1, int(cpus + 0.999))))
    env.update(HOME="/tmp", USER="student", LOGNAME="student", MPLCONFIGDIR="/tmp/.matplotlib",
               IPYTHONDIR="/tmp/.ipython", JUPYTER_RUNTIME_DIR="/tmp/.jupyter", PYTHONNOUSERSITE="1",
               PWD=workdir)
    return env


def _forward(child: int):
    def handler(signum, _frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass
    return handler


def _wait_for(child: int) -> int:
    """Reap every child; return ``child``'s exit code (as a shell would report it)."""
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1
        except InterruptedError:  # pragma: no cover -- PEP 475 retries, kept for clarity
            continue
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code


def cpu_cap(limits: Limits, name: str | None = None) -> tuple[cgroups.Cgroup | None, str]:
    """Make this sandbox's cgroup and move the calling process into it: ``(group, "")``, or
    ``(None, why not)`` where no cgroup is usable (or ``limits.cpus`` is 0)."""
    if not limits.cpus:
        return None, "the CPU cap is disabled (--cpus=0)"
    try:
        group = cgroups.create(name or f"{cgroups.PREFIX}{os.getpid()}", limits.cpus, limits.max_processes + 2,
                               memory=limits.memory_bytes)
    except cgroups.CgroupUnavailable as exc:
        return None, str(exc)
    try:
        group.add(0)
    except OSError as exc:
        group.remove(1.0)
        return None, f"cannot join the cgroup: {exc.strerror}"
    return group, ""


def cpu_cap_warning(why: str, limits: Limits) -> str:
    return (f"WARNING: {CPU_WARNING}: {why}. Student processes are not confined to {limits.cpus:g} CPU: the "
            f"kernel runs at nice 19 with at most {min(limits.fallback_processes, limits.max_processes)} "
            f"processes (RLIMIT_NPROC) instead.")


def memory_cap_warning(limits: Limits, nproc: int) -> str:
    return (f"WARNING: {MEMORY_WARNING}: no memory cgroup here, so the sandbox's processes are not held to "
            f"{limits.memory_bytes} bytes together; each process is (RLIMIT_AS), and at most {nproc} processes "
            f"may run (RLIMIT_NPROC).")


def _kill_all_but(kernel: int) -> int:
    """In the namespace's init: stop every other process at once, then SIGKILL all but the kernel.

    ``kill(-1, SIGSTOP)`` from init stops every other process of the namespace at once (the kernel holds
    the task list lock, so no fork slips through); stopped processes cannot fork, so one pass over
    ``/proc`` kills them all. The kernel is left stopped. Returns how many were killed.
    """
    with contextlib.suppress(OSError):
        os.kill(-1, signal.SIGSTOP)
    killed = 0
    for _ in range(3):
        found = 0
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in (1, kernel):
                with contextlib.suppress(OSError):
                    os.kill(int(entry), signal.SIGKILL)
                    found += 1
        killed += found
        if not found:
            break
    return killed


def _stop_the_world(kernel: int, settle: float = 2.0) -> int:
    """In the namespace's init: SIGKILL every process but init and the kernel, then interrupt the kernel.

    A kernel that is itself forking in a loop (a fork bomb's first process) can fork once more between
    ``SIGCONT`` and the moment Python acts on the interrupt. So after the interrupt the sweep repeats,
    every 20 ms, until three sweeps in a row find nothing (or ``settle`` seconds have passed). A zombie
    counts as found (the kernel never reaps the bomb's children), so after a fork bomb the sweep runs for
    the whole ``settle``; leaving zombies out made the fork-bomb test need 8 interrupts, not 3 (one run each).
    Returns how many processes were killed (zombies included).
    """
    killed = _kill_all_but(kernel)
    with contextlib.suppress(OSError):
        os.kill(kernel, signal.SIGINT)
    with contextlib.suppress(OSError):
        os.kill(kernel, signal.SIGCONT)
    quiet, deadline = 0, time.monotonic() + settle
    while quiet < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
        found = _kill_all_but(kernel)
        with contextlib.suppress(OSError):
            os.kill(kernel, signal.SIGCONT)
        killed += found
        quiet = 0 if found else quiet + 1
    return killed


def _init_handler(kernel: int):
    """init's signal handler: SIGINT stops the world (once per burst: the launcher forwards the same
    interrupt that jupyter_client also sent to the process group); other signals go to the kernel."""
    last = [0.0]

    def handler(signum, _frame):
        if signum == signal.SIGINT:
            now = time.monotonic()
            if now - last[0] > 1.0:
                last[0] = now
                _stop_the_world(kernel)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(kernel, signum)
    return handler


def exec_kernel(argv: list[str], env: dict[str, str]) -> None:
    """Start the kernel the usual way: replace the (sandboxed, unprivileged) process with ``argv``."""
    os.execve(argv[0], argv, env)


@dataclass
class Hooks:
    """How a pre-loaded kernel server (:mod:`gradekit.zygote`) reuses the launcher in a forked process.

    ``start(argv, env)`` starts the kernel in the sandboxed, unprivileged process (default: exec it);
    ``uid_seed`` picks the sandbox uid (default: this process's pid); ``private_fds`` are closed in the
    namespace's init at once; ``launched(init)`` runs in the launcher once init exists.
    """

    start: Callable[[list[str], dict[str, str]], None] = exec_kernel
    uid_seed: int | None = None
    private_fds: tuple[int, ...] = ()
    launched: Callable[[int], None] | None = None


def run_sandboxed(plan: Plan, argv: list[str], cgroup_name: str | None = None, hooks: Hooks | None = None) -> int:
    """Run ``argv`` in the sandbox described by ``plan``; return its exit code (call as root)."""
    hooks = hooks or Hooks()
    # The launcher dies with the grader that started it (a killed nbgrader or pytest, an instructor's
    # Ctrl-C); the namespace's init dies with the launcher, and the kernel and everything it forked
    # with the namespace. Without this an orphaned sandbox (a fork bomb, say) ran on after its grader.
    grader = os.getppid()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != grader:  # the grader died before the signal was armed
        return 1
    group, why = cpu_cap(plan.limits, cgroup_name)
    nproc = plan.limits.max_processes
    if group is None:
        nproc = min(nproc, plan.limits.fallback_processes)
        print(cpu_cap_warning(why, plan.limits), file=sys.stderr, flush=True)
    if group is None or not group.memory_capped:  # the tightest per-process limits instead
        nproc = min(nproc, plan.limits.fallback_processes)
        print(memory_cap_warning(plan.limits, nproc), file=sys.stderr, flush=True)
    try:
        uid = UID_BASE + (os.getpid() if hooks.uid_seed is None else hooks.uid_seed) % UID_SPAN
        for path in plan.writable:
            _chown_tree(path, uid)
        if plan.sockets:
            prepare_socket_dir(plan.sockets, uid)
        env = kernel_env(plan.workdir, plan.limits.cpus, bool(plan.libraries))
        _check(_libc().unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
        init = os.fork()
    except BaseException:
        if group is not None:
            group.remove()
        raise
    if init:  # the launcher: stays outside, forwards signals (interrupts) to the namespace's init
        for sig in FORWARDED_SIGNALS:
            signal.signal(sig, _forward(init))
        if hooks.launched is not None:
            hooks.launched(init)
        try:
            return _wait_for(init)
        finally:  # the namespace is gone; kill anything that is somehow left in the group, remove it
            for sig in FORWARDED_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)
            if group is not None:
                group.remove()
    # PID 1 of the new namespace: dies with the launcher; when it exits, the kernel pulls everything down.
    try:
        for fd in hooks.private_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        build_root(plan, uid=uid)
        os.chroot(ROOT_DIR)
        os.chdir(plan.workdir)
    except BaseException as exc:  # noqa: BLE001
        print(f"gradekit sandbox: setup failed: {exc}", file=sys.stderr, flush=True)
        os._exit(70)
    kernel = os.fork()
    if kernel == 0:
        try:
            os.setsid()
            apply_limits(plan.limits, nproc)
            if group is None:
                os.nice(19)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            prctl(PR_SET_NO_NEW_PRIVS, 1)
            os.umask(0o022)
            hooks.start(argv, env)
        except BaseException as exc:  # noqa: BLE001
            print(f"gradekit sandbox: could not start the kernel: {exc}", file=sys.stderr, flush=True)
        os._exit(71)
    for sig in FORWARDED_SIGNALS:
        signal.signal(sig, _init_handler(kernel))
    os._exit(_wait_for(kernel))


def run_unsandboxed(limits: Limits, argv: list[str], why: str) -> None:
    """The warning path: no isolation, resource limits only; replaces this process with ``argv``."""
    print(f"WARNING: {WARNING}: {why}. Student code runs WITHOUT filesystem/network isolation and WITHOUT "
          f"a CPU or process cap, at nice 19 (memory, CPU-time and file-size limits still apply).",
          file=sys.stderr, flush=True)
    apply_limits(limits)  # RLIMIT_NPROC would count all of the instructor's processes
    os.nice(19)
    os.execv(argv[0], argv)


def main(args: list[str] | None = None, hooks: Hooks | None = None) -> int:
    """``python -m gradekit.sandbox [--ro PATH]... [--rw PATH]... [limits] -- KERNEL ARGV``.

    ``hooks`` (:class:`Hooks`) adapt it to a forked, pre-loaded process; they need the full sandbox.
    """
    parser = argparse.ArgumentParser(prog="python -m gradekit.sandbox", description=main.__doc__)
    parser.add_argument("--ro", action="append", default=[], help="extra read-only path")
    parser.add_argument("--rw", action="append", default=[], help="extra read-write directory")
    parser.add_argument("--sockets", default=None,
                        help="the kernel's socket folder: bound read-only, all but its subfolder "
                             f"{SOCKET_SUBDIR!r}, where the kernel makes its sockets")
    parser.add_argument("--lib", action="append", default=[],
                        help=f"a package folder to copy, read-only, to {LIB_DIR} (first on the kernel's PYTHONPATH)")
    parser.add_argument("--exclude", action="append", default=[],
                        help="glob of files of the working folder NOT copied into the sandbox (e.g. '*.ipynb')")
    defaults = Limits()
    parser.add_argument("--memory", type=int, default=defaults.memory_bytes)
    parser.add_argument("--cpu", type=int, default=defaults.cpu_seconds)
    parser.add_argument("--nproc", type=int, default=defaults.max_processes)
    parser.add_argument("--fsize", type=int, default=defaults.max_file_bytes)
    parser.add_argument("--tmp", type=int, default=defaults.tmp_bytes)
    parser.add_argument("--cpus", type=float, default=defaults.cpus,
                        help="CPU cap of the whole sandbox (cgroup), in CPUs; 0: none (default %(default)s)")
    parser.add_argument("--fallback-nproc", type=int, default=defaults.fallback_processes,
                        help="RLIMIT_NPROC where no cgroup is usable (default %(default)s)")
    parser.add_argument("--work", type=int, default=defaults.work_bytes, help="size of the working folder, bytes")
    parser.add_argument("--files", type=int, default=defaults.max_files,
                        help="files and folders per writable file system (default %(default)s)")
    parser.add_argument("--cgroup-name", default=None, help="name of the sandbox's cgroup (default gradekit-PID)")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    ns = parser.parse_args(args)
    argv = ns.argv[1:] if ns.argv[:1] == ["--"] else ns.argv
    if not argv:
        parser.error("no kernel command given after --")
    if ns.cgroup_name is not None and not re.fullmatch(re.escape(cgroups.PREFIX) + r"[\w.-]+", ns.cgroup_name):
        parser.error(f"--cgroup-name must look like {cgroups.PREFIX}NAME")
    try:
        limits = Limits(ns.memory, ns.cpu, ns.nproc, ns.fsize, ns.tmp, ns.cpus, ns.fallback_nproc, ns.work, ns.files)
    except ValueError as exc:
        parser.error(str(exc))
    argv[0] = shutil.which(argv[0]) or argv[0]
    ok, why = sandbox_support()
    if not ok:
        if hooks is not None:
            raise SandboxError(f"a pre-loaded kernel needs the full sandbox: {why}")
        run_unsandboxed(limits, argv, why)
    argv[0] = neutral_path(argv[0])  # the venv's python at its neutral mirror, the one the sandbox shows
    source = os.getcwd()
    plan = Plan(readonly=tuple(default_readonly_paths() + ns.ro), writable=tuple(ns.rw),
                workdir=workdir_name(source), limits=limits, source=source, exclude=tuple(ns.exclude),
                libraries=tuple(os.path.realpath(p) for p in ns.lib), sockets=ns.sockets)
    return run_sandboxed(plan, argv, ns.cgroup_name, hooks)


if __name__ == "__main__":
    sys.exit(main())
