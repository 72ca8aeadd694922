"""Where kernels' socket folders live, and whether a process is alive: the runtime the grader's
processes share (:mod:`gradekit.kernel_manager`, :mod:`gradekit.zygote`, :mod:`gradekit.runner`)."""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
import shutil
import stat
import subprocess
import sys
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


# ------------------------------------------------------------------ the Python environment at a neutral path
ENV_DIR_ENV = "GRADEKIT_ENV_DIR"  # where neutral copies of the Python environment live (default below)
ENV_DIR = "/var/lib/gradekit"
#: in each site-packages, files of editable installs and pip's record of where a package came from: they name
#: the folder the package was installed from (the course), and the kernel imports the course's libraries
#: from its read-only copies instead (gradekit.sandbox.LIB_DIR)
ENV_SCRUB = ("__editable__*", "*.dist-info/direct_url.json", "*.egg-link")


class EnvMirrorError(RuntimeError):
    """The Python environment cannot be mirrored at a neutral path (:func:`neutral_prefix`): a sandboxed kernel
    would run it from its own path, inside the course, and show the course's path."""


def neutral_prefix(prefix: str | None = None) -> str:
    """The Python environment ``prefix`` (default: this one, ``sys.prefix``) at a path that does not say
    where it lives -- for the kernels, whose venv usually sits inside the course folder.

    A virtual environment is mirrored once as a tree of hard links (``cp -al``: no file is copied) in
    ``$GRADEKIT_ENV_DIR`` or :data:`ENV_DIR`, named by a digest of its path and of its folders' change
    times (installing a package makes a new mirror), with :data:`ENV_SCRUB` files left out and
    ``pyvenv.cfg`` without its ``command`` line. The sandbox binds the mirror, and kernels run its
    ``python``: ``sys.prefix``, ``sys.path``, every module's ``__file__``, the mapped libraries and the
    mount table then name the mirror, never the course. Returns ``prefix`` unchanged if it is not a venv.
    Raises :class:`EnvMirrorError` naming the folder and what to do if no mirror can be made there (not
    writable, not a folder, another file system than the venv): falling back to the venv's own path would
    show the course's path inside the sandbox without a word.
    """
    prefix = os.path.realpath(prefix or sys.prefix)
    parent = os.path.realpath(os.environ.get(ENV_DIR_ENV) or ENV_DIR)
    if prefix == os.path.realpath(sys.base_prefix) or not os.path.isfile(os.path.join(prefix, "pyvenv.cfg")) \
            or os.path.dirname(prefix) == parent:  # not a venv, or already a mirror
        return prefix
    parts = [prefix] + [str(os.stat(d).st_mtime_ns) for d in
                        [prefix, os.path.join(prefix, "bin"), *sorted(glob.glob(os.path.join(prefix, "lib*", "python*",
                                                                                      "site-packages")))]
                        if os.path.isdir(d)]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
    mirror = os.path.join(parent, f"env-{key}")
    if os.path.isfile(os.path.join(mirror, "pyvenv.cfg")):
        return mirror
    tmp = f"{mirror}.tmp-{os.getpid()}"
    try:
        os.makedirs(parent, mode=0o755, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        proc = subprocess.run(["cp", "-a", "-l", prefix, tmp], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            raise OSError(f"cp -al failed: {lines[0] if lines else proc.returncode}"
                          + (f" (and {len(lines) - 1} more errors)" if len(lines) > 1 else ""))
        _scrub_mirror(tmp)
        try:
            os.rename(tmp, mirror)
        except OSError:  # another grader made it first
            shutil.rmtree(tmp, ignore_errors=True)
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _mirror_error(prefix, parent, str(exc)) from exc
    if not os.path.isfile(os.path.join(mirror, "pyvenv.cfg")):
        raise _mirror_error(prefix, parent, f"{mirror} has no pyvenv.cfg after it was made")
    return mirror


def _mirror_error(prefix: str, parent: str, why: str) -> EnvMirrorError:
    return EnvMirrorError(
        f"cannot mirror the Python environment {prefix} in {parent} ({why}). Sandboxed kernels run a mirror of it "
        f"(hard links) so that nothing inside the sandbox names the course's folder; without one they would. Make "
        f"{parent} a folder the grader (root) can write, on the same file system as {prefix} (e.g. `sudo mkdir -p "
        f"{parent}`), or set {ENV_DIR_ENV} to such a folder.")


def _scrub_mirror(mirror: str) -> None:
    for site in glob.glob(os.path.join(mirror, "lib*", "python*", "site-packages")):
        for entry in os.scandir(site):
            if any(fnmatch.fnmatch(entry.name, p) for p in ENV_SCRUB if "/" not in p) and entry.is_file(
                    follow_symlinks=False):
                os.unlink(entry.path)
            elif entry.name.endswith(".dist-info") and entry.is_dir(follow_symlinks=False):
                with_url = os.path.join(entry.path, "direct_url.json")
                if os.path.lexists(with_url):
                    os.unlink(with_url)
    cfg = os.path.join(mirror, "pyvenv.cfg")
    lines = Path(cfg).read_text().splitlines(keepends=True)
    os.unlink(cfg)  # a hard link to the real file: write a new one
    Path(cfg).write_text("".join(ln for ln in lines if not ln.startswith("command")))


def neutral_path(path: str, prefix: str | None = None) -> str:
    """``path`` with this environment's prefix (``sys.prefix``, real or as given) replaced by its neutral
    mirror (:func:`neutral_prefix`); other paths unchanged."""
    real = os.path.realpath(prefix or sys.prefix)
    for old in {prefix or sys.prefix, real}:
        if path == old or path.startswith(old.rstrip("/") + "/"):
            return neutral_prefix(real) + path[len(old.rstrip("/")):]
    return path
