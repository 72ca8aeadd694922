"""Where kernels' socket folders live, and whether a process is alive: the runtime the grader's
processes share (:mod:`gradekit.kernel_manager`, :mod:`gradekit.zygote`, :mod:`gradekit.runner`)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

RUNTIME_ENV = "GRADEKIT_RUNTIME_DIR"  # where the kernel manager makes its socket folders (default: tempdir)
SOCKET_PREFIX = "gradekit-kernel-"
OWNER_FILE = "owner.pid"
IMPORT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the folder holding gradekit/


def prefer_this_gradekit(env: dict[str, str]) -> None:
    """Put the folder holding this gradekit first on ``env``'s PYTHONPATH (in place), so a child process
    imports this code, whatever an editable install elsewhere points to."""
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [IMPORT_ROOT, env.get("PYTHONPATH")]))


def make_socket_dir() -> str:
    """A private folder for one kernel's sockets, under ``$GRADEKIT_RUNTIME_DIR`` or the temp dir.

    It records the grader's pid, so folders left by a grader that was killed (no clean-up ran) are
    removed by the next one (:func:`sweep_socket_dirs`).
    """
    parent = os.environ.get(RUNTIME_ENV) or None
    if parent:
        os.makedirs(parent, exist_ok=True)
    sweep_socket_dirs(parent or tempfile.gettempdir())
    path = tempfile.mkdtemp(prefix=SOCKET_PREFIX, dir=parent)
    os.chmod(path, stat.S_IRWXU)
    Path(path, OWNER_FILE).write_text(f"{os.getpid()}\n")
    return path


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: it exists and is not a zombie (exited, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return not os.path.isdir("/proc")  # no procfs to ask: it exists, which is all kill() says


def _read_owner(folder: str) -> str:
    """The pid recorded in ``folder``'s owner file, read without following a link (or blocking on a FIFO)."""
    fd = os.open(os.path.join(folder, OWNER_FILE), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{OWNER_FILE} in {folder} is not a regular file")
        return os.read(fd, 32).decode("ascii", "replace").strip()
    finally:
        os.close(fd)


def sweep_socket_dirs(parent: str, unowned_after: float = 3600.0) -> list[str]:
    """Remove ``gradekit-kernel-*`` folders in ``parent`` whose grader is dead (or, with no owner
    recorded, older than ``unowned_after`` s); their paths."""
    removed = []
    now = time.time()
    try:
        entries = [e for e in os.scandir(parent) if e.name.startswith(SOCKET_PREFIX) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return removed
    for entry in entries:
        try:
            stale = not alive(int(_read_owner(entry.path)))
        except (OSError, ValueError):
            try:
                stale = now - entry.stat(follow_symlinks=False).st_mtime > unowned_after
            except OSError:
                continue
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed
