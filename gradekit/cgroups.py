"""A CPU and process cap per sandbox, with Linux control groups (v1 or v2).

``RLIMIT_NPROC`` bounds how many processes a fork bomb makes, but not the CPU they burn: 250 spinning
processes pushed a 2-core grader to a load average of 500 and starved every other kernel. A cgroup caps
the *whole* sandbox -- launcher, namespace init, kernel and everything the student forks -- at
``cpus`` CPUs (CFS bandwidth: ``cpu.cfs_quota_us``/``cpu.cfs_period_us`` on v1, ``cpu.max`` on v2) and
``pids`` tasks (the ``pids`` controller, whatever the uid), and it is what finally kills every task
the sandbox still holds when it ends.

* **v1** (hierarchies mounted at ``/sys/fs/cgroup/cpu``, ``/sys/fs/cgroup/pids``, ...): a group
  ``gradekit-<id>`` is made under the grader's own group in the ``cpu`` and in the ``pids`` hierarchy.
* **v2** (``/sys/fs/cgroup/cgroup.controllers``): one group under the grader's own group, which must
  delegate ``cpu`` (``cgroup.subtree_control``); at the root of the hierarchy gradekit enables ``cpu``
  and ``pids`` itself. Elsewhere (a systemd session, a container without delegation) v2 forbids it.
* otherwise :func:`create` raises :class:`CgroupUnavailable` with the reason; the launcher then runs
  the kernel at ``nice 19`` with a lower process limit and says so on stderr.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "gradekit-"
PERIOD_US = 100_000
DISABLE_ENV = "GRADEKIT_NO_CGROUP"  # forces the fallback (tests, or a grader that wants none)
STALE_AFTER_S = 60.0  # an empty gradekit group older than this, whose launcher is gone, is removed


class CgroupUnavailable(RuntimeError):
    """No cgroup can be made here (the reason is the message)."""


def _mounts(mounts_file: str = "/proc/self/mounts") -> list[tuple[str, str, set[str]]]:
    out = []
    try:
        lines = Path(mounts_file).read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
            out.append((parts[1].replace("\\040", " "), parts[2], set(parts[3].split(","))))
    return out


def _own_paths(cgroup_file: str = "/proc/self/cgroup") -> dict[str, str]:
    """``{controller or "" (v2): path of this process's group}``."""
    out = {}
    try:
        lines = Path(cgroup_file).read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            out[c] = path
    return out


@dataclass
class Cgroup:
    """One sandbox's group(s): ``dirs`` are the group folders (one per v1 hierarchy, or one v2 group)."""

    name: str
    version: int
    dirs: list[Path] = field(default_factory=list)
    memory_capped: bool = False  # whether ``memory`` of :func:`create` took effect (the memory controller)

    # ---------------------------------------------------------------------------------- membership
    def add(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the calling process) into the group; its future children follow."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(f"{pid}\n")

    def pids(self) -> set[int]:
        found: set[int] = set()
        for d in self.dirs:
            try:
                found.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return found

    def leave(self) -> None:
        """Move the calling process back to its parent group (a group with a task cannot be removed)."""
        for d in self.dirs:
            try:
                (d.parent / "cgroup.procs").write_text(f"{os.getpid()}\n")
            except OSError:
                pass

    # ------------------------------------------------------------------------------------- teardown
    def kill_all(self, timeout: float = 10.0) -> int:
        """SIGKILL every task in the group until it is empty (or ``timeout``); how many were signalled."""
        me = os.getpid()
        for d in self.dirs:  # v2 (Linux >= 5.14): one write kills the whole group atomically
            if (d / "cgroup.kill").exists():
                try:
                    (d / "cgroup.kill").write_text("1\n")
                except OSError:
                    pass
        signalled: set[int] = set()
        deadline = time.monotonic() + timeout
        while True:
            left = self.pids() - {me}
            if not left or time.monotonic() > deadline:
                return len(signalled)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                    signalled.add(pid)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.01)

    def remove(self, timeout: float = 10.0) -> bool:
        """Kill what is left, leave, remove the folders; True if all are gone."""
        self.leave()
        self.kill_all(timeout)
        ok = True
        for d in self.dirs:
            deadline = time.monotonic() + timeout
            while d.exists():
                try:
                    d.rmdir()
                except FileNotFoundError:
                    break
                except OSError as exc:  # EBUSY: tasks still exiting
                    if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY) or time.monotonic() > deadline:
                        ok = False
                        break
                    self.kill_all(0.5)
                    time.sleep(0.02)
        return ok


# ---------------------------------------------------------------------------------------- creating
def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise CgroupUnavailable(f"cannot write {text.strip()!r} to {path}: {exc.strerror}") from None


def _mkdir(parent: Path, name: str) -> Path:
    sweep(parent)
    d = parent / name
    try:
        d.mkdir(exist_ok=True)
    except OSError as exc:
        raise CgroupUnavailable(f"cannot create the cgroup {d}: {exc.strerror}") from None
    return d


def sweep(parent: Path, older_than: float = STALE_AFTER_S) -> list[str]:
    """Remove empty ``gradekit-*`` groups under ``parent`` older than ``older_than`` s (left by a
    launcher that was SIGKILLed before it could clean up); their names."""
    removed = []
    try:
        children = [p for p in parent.iterdir() if p.name.startswith(PREFIX) and p.is_dir()]
    except OSError:
        return removed
    now = time.time()
    for d in children:
        try:
            if now - d.stat().st_mtime < older_than or (d / "cgroup.procs").read_text().strip():
                continue
            d.rmdir()
            removed.append(d.name)
        except OSError:
            pass
    return removed


def create(name: str, cpus: float | None, pids: int | None, *, memory: int | None = None,
           root: str = "/sys/fs/cgroup", mounts_file: str = "/proc/self/mounts",
           cgroup_file: str = "/proc/self/cgroup") -> Cgroup:
    """Make the group ``name`` capped at ``cpus`` CPUs, ``pids`` tasks and ``memory`` bytes of memory for
    all its processes together, swap included where the kernel accounts it (``None``: no cap of that kind).

    Raises :class:`CgroupUnavailable` if there is no usable cgroup (nothing is left behind then). Without
    a usable memory controller the group is made anyway, with :attr:`Cgroup.memory_capped` False.
    """
    if os.environ.get(DISABLE_ENV):
        raise CgroupUnavailable(f"{DISABLE_ENV} is set")
    if cpus is not None and not cpus > 0:
        raise ValueError(f"cpus must be positive, got {cpus!r}")
    own = _own_paths(cgroup_file)
    if (Path(root) / "cgroup.controllers").exists():
        return _create_v2(name, cpus, pids, Path(root), own.get("", "/"), memory)
    return _create_v1(name, cpus, pids, _mounts(mounts_file), own, memory)


def _create_v2(name: str, cpus: float | None, pids: int | None, root: Path, own: str,
               memory: int | None = None) -> Cgroup:
    parent = root / own.lstrip("/")
    want = {c for c, v in (("cpu", cpus), ("pids", pids), ("memory", memory)) if v is not None}
    try:
        available = set((parent / "cgroup.controllers").read_text().split())
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
    except OSError as exc:
        raise CgroupUnavailable(f"cgroup v2 at {parent} is not readable: {exc.strerror}") from None
    if "cpu" in want and "cpu" not in available:
        raise CgroupUnavailable(f"cgroup v2: the cpu controller is not available in {parent}")
    want &= available
    missing = want - enabled
    if missing:
        if parent != root:
            raise CgroupUnavailable(
                f"cgroup v2: the grader's group {own} does not delegate {' '.join(sorted(missing))} "
                "(cgroup.subtree_control); run the grader in a delegated group (e.g. systemd-run -p Delegate=yes)")
        _write(parent / "cgroup.subtree_control", " ".join("+" + c for c in sorted(missing)) + "\n")
    group = Cgroup(name, 2, [_mkdir(parent, name)])
    try:
        if cpus is not None:
            _write(group.dirs[0] / "cpu.max", f"{max(1000, round(cpus * PERIOD_US))} {PERIOD_US}\n")
        if pids is not None and "pids" in want:
            _write(group.dirs[0] / "pids.max", f"{pids}\n")
        if memory is not None and "memory" in want:
            _write(group.dirs[0] / "memory.max", f"{memory}\n")
            if (group.dirs[0] / "memory.swap.max").exists():
                _write(group.dirs[0] / "memory.swap.max", "0\n")
            group.memory_capped = True
    except CgroupUnavailable:
        group.remove(1.0)
        raise
    return group


def _create_v1(name: str, cpus: float | None, pids: int | None, mounts, own: dict[str, str],
               memory: int | None = None) -> Cgroup:
    group = Cgroup(name, 1)
    try:
        for controller, value in (("cpu", cpus), ("pids", pids), ("memory", memory)):
            if value is None:
                continue
            mount = next((m for m, fs, opts in mounts if fs == "cgroup" and controller in opts), None)
            if mount is None:
                if controller == "cpu":
                    raise CgroupUnavailable("no cgroup v1 cpu hierarchy and no cgroup v2 are mounted")
                continue  # no pids / memory controller: RLIMIT_NPROC / RLIMIT_AS still cap each process
            d = _mkdir(Path(mount) / own.get(controller, "/").lstrip("/"), name)
            group.dirs.append(d)
            if controller == "cpu":
                _write(d / "cpu.cfs_period_us", f"{PERIOD_US}\n")
                _write(d / "cpu.cfs_quota_us", f"{max(1000, round(cpus * PERIOD_US))}\n")
            elif controller == "pids":
                _write(d / "pids.max", f"{pids}\n")
            else:
                _write(d / "memory.limit_in_bytes", f"{memory}\n")
                if (d / "memory.memsw.limit_in_bytes").exists():  # memory + swap: no escape into swap
                    _write(d / "memory.memsw.limit_in_bytes", f"{memory}\n")
                group.memory_capped = True
    except CgroupUnavailable:
        group.remove(1.0)
        raise
    return group


def find(name: str, *, root: str = "/sys/fs/cgroup", mounts_file: str = "/proc/self/mounts",
         cgroup_file: str = "/proc/self/cgroup") -> Cgroup | None:
    """The existing group ``name`` (made by :func:`create` in a process with the same parent group)."""
    own = _own_paths(cgroup_file)
    if (Path(root) / "cgroup.controllers").exists():
        d = Path(root) / own.get("", "/").lstrip("/") / name
        return Cgroup(name, 2, [d]) if d.is_dir() else None
    dirs = []
    for controller in ("cpu", "pids", "memory"):
        mount = next((m for m, fs, opts in _mounts(mounts_file) if fs == "cgroup" and controller in opts), None)
        if mount:
            d = Path(mount) / own.get(controller, "/").lstrip("/") / name
            if d.is_dir():
                dirs.append(d)
    return Cgroup(name, 1, dirs) if dirs else None
