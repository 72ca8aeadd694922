"""gradekit.sandbox: the launcher isolates and limits what it runs; the kernel manager runs notebooks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from gradekit.sandbox import WARNING, Limits, sandbox_support

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
needs_sandbox = pytest.mark.skipif(not sandbox_support()[0], reason=f"no sandbox here: {sandbox_support()[1]}")

PROBE = textwrap.dedent('''
    import json, os, socket, sys
    out = {"uid": os.getuid(), "cwd": os.getcwd()}
    def can(fn):
        try:
            fn(); return True
        except Exception:
            return False
    out["sees_solutions"] = os.path.exists(sys.argv[1])
    out["reads_secret"] = can(lambda: open(sys.argv[2]).read())
    out["writes_cwd"] = can(lambda: open("mine.txt", "w").write("x"))
    out["writes_outside"] = can(lambda: open(sys.argv[3], "w").write("x"))
    out["connects"] = can(lambda: socket.create_connection(("127.0.0.1", int(sys.argv[4])), timeout=2))
    out["big_alloc"] = can(lambda: bytearray(3 * 2**30))
    def forks():
        pids = []
        try:
            for _ in range(64):
                pid = os.fork()
                if pid == 0:
                    import time; time.sleep(5); os._exit(0)
                pids.append(pid)
        except OSError:
            return len(pids)
        return len(pids)
    out["forks"] = forks()
    print(json.dumps(out))
''')


def _launch(tmp_path, probe_args, env=None, limits=Limits(memory_bytes=2 * 2**30, max_processes=24)):
    cmd = [sys.executable, "-m", "gradekit.sandbox", *limits.as_args(), "--", sys.executable, "-c", PROBE, *probe_args]
    return subprocess.run(cmd, cwd=tmp_path / "student", capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": REPO, **(env or {})})


@pytest.fixture
def world(tmp_path):
    (tmp_path / "student").mkdir()
    (tmp_path / "other").mkdir()
    secret = tmp_path / "other" / "secret.txt"
    secret.write_text("the hidden tests")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    args = [os.path.join(REPO, "solutions"), str(secret), str(tmp_path / "other" / "new.txt"), str(srv.getsockname()[1])]
    yield tmp_path, args
    srv.close()


def test_limits_reject_nonsense():
    with pytest.raises(ValueError, match="memory_bytes must be a positive int"):
        Limits(memory_bytes=0)
    with pytest.raises(ValueError, match="max_processes"):
        Limits(max_processes=2.5)


@needs_sandbox
def test_sandbox_isolates_and_limits(world):
    tmp_path, args = world
    proc = _launch(tmp_path, args)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["uid"] != 0 and out["uid"] != os.getuid()
    assert out["cwd"] == "/home/student/student", "the kernel works in a scratch folder at a neutral path"
    assert not out["sees_solutions"], "the repository's solutions/ is visible in the sandbox"
    assert not out["reads_secret"] and not out["writes_outside"]
    assert out["writes_cwd"]
    assert not (tmp_path / "student" / "mine.txt").exists(), "a file written in the sandbox reached the host"
    assert not out["connects"], "the sandbox reached a TCP server on the host"
    assert not out["big_alloc"], "a 3 GiB allocation succeeded under a 2 GiB limit"
    assert 0 < out["forks"] < 24, f"fork limit not enforced: {out['forks']} children"


def test_warning_path_runs_without_isolation(world):
    tmp_path, args = world
    proc = _launch(tmp_path, args, env={"GRADEKIT_NO_SANDBOX": "1"})
    assert proc.returncode == 0, proc.stderr
    assert WARNING in proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["reads_secret"], "without the sandbox the probe should see the host files"
    assert not out["big_alloc"], "the memory limit applies on the warning path too"


def test_launcher_needs_a_command():
    proc = subprocess.run([sys.executable, "-m", "gradekit.sandbox", "--"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": REPO})
    assert proc.returncode == 2 and "no kernel command" in proc.stderr


def test_kernel_manager_runs_a_notebook(tmp_path):
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("import os\nprint(6 * 7, os.path.exists('/work/main/solutions'))")])
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            kernel_manager_class="gradekit.kernel_manager.SandboxKernelManager",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert text.startswith("42"), nb.cells[0].outputs
    if sandbox_support()[0]:
        assert "False" in text


# ------------------------------------------------------------------------------- CPU cap (cgroups)
from gradekit import cgroups  # noqa: E402
from gradekit.kernel_manager import SandboxKernelManager  # noqa: E402
from gradekit.runtime import sweep_socket_dirs  # noqa: E402
from gradekit.sandbox import CPU_WARNING  # noqa: E402


def _cgroup_v1_cpu() -> bool:
    try:
        group = cgroups.create(f"{cgroups.PREFIX}probe-{os.getpid()}", 1.0, 16)
    except (cgroups.CgroupUnavailable, OSError):
        return False
    group.remove()
    return group.version == 1


needs_cgroup = pytest.mark.skipif(not (sandbox_support()[0] and _cgroup_v1_cpu()),
                                  reason="needs the sandbox and a writable cgroup v1 cpu hierarchy")

SPIN = textwrap.dedent('''
    import json, os, sys, time
    print(open("/proc/self/cgroup").read().replace("\\n", ";"), flush=True)
    time.sleep(float(sys.argv[1]))
    t0 = time.time()
    kids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            while time.time() - t0 < 2.0:
                pass
            os._exit(0)
        kids.append(pid)
    for pid in kids:
        os.waitpid(pid, 0)
    t = os.times()
    forks = 0
    try:
        for _ in range(40):
            if os.fork() == 0:
                time.sleep(3); os._exit(0)
            forks += 1
    except OSError:
        pass
    print(json.dumps({"cpu": t.children_user + t.children_system, "nice": os.nice(0), "forks": forks,
                      "omp": os.environ.get("OMP_NUM_THREADS")}))
''')


def _spin(tmp_path, *args, env=None, pause=0.0):
    (tmp_path / "student").mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "gradekit.sandbox", *args, "--", sys.executable, "-c", SPIN, str(pause)]
    return subprocess.Popen(cmd, cwd=tmp_path / "student", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**{k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"},
                                           "PYTHONPATH": REPO, **(env or {})})


@needs_cgroup
def test_cpu_cap_cgroup_is_set_up_capped_and_removed(tmp_path):
    proc = _spin(tmp_path, "--cpus=0.25", "--nproc=64", "--cgroup-name=gradekit-test-cap", pause=1.0)
    first = proc.stdout.readline()
    assert ":cpu:/" in first and "gradekit-test-cap" in first, first
    group = cgroups.find("gradekit-test-cap")
    assert group is not None and group.version == 1
    cpu_dir = next(d for d in group.dirs if "cpu.cfs_quota_us" in os.listdir(d))
    assert (cpu_dir / "cpu.cfs_quota_us").read_text().strip() == "25000"
    assert (cpu_dir / "cpu.cfs_period_us").read_text().strip() == "100000"
    assert proc.pid in group.pids(), "the launcher itself must be in the group (so all of the sandbox is)"
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    # two processes spinning for 2 s under a 0.25-CPU cap get ~0.5 s of CPU (uncapped: up to 4 s)
    assert result["cpu"] < 0.9, result
    assert result["nice"] == 0 and result["omp"] == "1"
    assert CPU_WARNING not in err
    assert not any(d.exists() for d in group.dirs), "the cgroup outlived its sandbox"


def test_no_cgroup_falls_back_to_nice_and_fewer_processes(tmp_path):
    proc = _spin(tmp_path, "--nproc=64", "--fallback-nproc=12", env={"GRADEKIT_NO_CGROUP": "1"})
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["nice"] == 19
    if sandbox_support()[0]:
        assert CPU_WARNING in err and "nice 19" in err and "at most 12 processes" in err, err
        assert result["forks"] < 12, result
    else:
        assert WARNING in err and "nice 19" in err


def test_cgroup_v2_setup_on_a_fake_hierarchy(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADEKIT_NO_CGROUP", raising=False)
    root = tmp_path / "cg"
    (root / "grader").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("cpu pids\n")
    (root / "grader" / "cgroup.controllers").write_text("cpu pids\n")
    (root / "grader" / "cgroup.subtree_control").write_text("\n")
    own = tmp_path / "self-cgroup"
    own.write_text("0::/\n")
    group = cgroups.create("gradekit-v2", 0.5, 100, root=str(root), cgroup_file=str(own))
    assert group.version == 2 and group.dirs == [root / "gradekit-v2"]
    assert (root / "gradekit-v2" / "cpu.max").read_text() == "50000 100000\n"
    assert (root / "gradekit-v2" / "pids.max").read_text() == "100\n"
    # a non-root group that does not delegate cpu: v2 forbids sub-groups with controllers there
    own.write_text("0::/grader\n")
    with pytest.raises(cgroups.CgroupUnavailable, match="does not delegate cpu"):
        cgroups.create("gradekit-v2b", 1.0, 100, root=str(root), cgroup_file=str(own))
    assert not (root / "grader" / "gradekit-v2b").exists()


def test_no_cgroup_hierarchy_is_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADEKIT_NO_CGROUP", raising=False)
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n")
    with pytest.raises(cgroups.CgroupUnavailable, match="no cgroup v1 cpu hierarchy"):
        cgroups.create("gradekit-x", 1.0, 10, root=str(tmp_path), mounts_file=str(mounts))


def test_stale_socket_dirs_are_swept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for name, owner in (("gradekit-kernel-dead", dead.pid), ("gradekit-kernel-live", os.getpid())):
        (tmp_path / name).mkdir()
        (tmp_path / name / "owner.pid").write_text(f"{owner}\n")
    (tmp_path / "gradekit-kernel-old").mkdir()
    os.utime(tmp_path / "gradekit-kernel-old", (0, 0))
    (tmp_path / "gradekit-kernel-new").mkdir()
    removed = sorted(os.path.basename(p) for p in sweep_socket_dirs(str(tmp_path)))
    assert removed == ["gradekit-kernel-dead", "gradekit-kernel-old"]
    assert sorted(os.listdir(tmp_path)) == ["gradekit-kernel-live", "gradekit-kernel-new"]


# ------------------------------------------------------- the whole sandbox dies: timeout, kill, shutdown
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
COUNT_ALIVE = textwrap.dedent('''
    import os
    alive = 0
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
                    alive += 1
            except OSError:
                pass
    print("alive", alive)
''')
SLEEPERS = textwrap.dedent('''
    import os, signal, time
    for _ in range(5):
        if os.fork() == 0:
            os.setsid()
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            time.sleep(600)
            os._exit(0)
    print("forked")
''')


def _sandbox_uid_processes(uid: int) -> list[int]:
    found = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                status = open(f"/proc/{p}/status").read()
            except OSError:
                continue
            uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
            state = next(line for line in status.splitlines() if line.startswith("State:")).split()[1]
            if str(uid) in uids and state != "Z":
                found.append(int(p))
    return found


@needs_cgroup
@pytest.mark.hostile
# the same xdist worker as tests/gradekit/test_gradekit_runner.py's hostile run: two fork bombs at once on 2 cores
# (each capped at 1 CPU) took this notebook to 161 s in a review run
@pytest.mark.xdist_group("gradekit-runner")
def test_fork_bomb_dies_at_the_cell_timeout_and_later_cells_run(tmp_path):
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("print('before')"), new_code_cell(FORK_BOMB), new_code_cell(COUNT_ALIVE)])
    client = NotebookClient(nb, timeout=6, kernel_name="python3", interrupt_on_timeout=True, allow_errors=True,
                            kernel_manager_class="gradekit.kernel_manager.SandboxKernelManager",
                            resources={"metadata": {"path": str(tmp_path)}})
    seen = {}

    def on_start(**kw):  # runs when each cell starts: remember the sandbox's cgroup and uid
        km = client.km
        if km is not None and km.has_kernel and "name" not in seen:
            seen.update(name=km._cgroup_name, uid=40000 + km.provisioner.pid % 20000, dir=km._socket_dir)

    client.on_cell_execute = on_start
    client.execute()
    assert nb.cells[0].outputs[0]["text"] == "before\n"
    assert any(o.get("ename") for o in nb.cells[1].outputs), "the fork bomb cell should have timed out"
    # the next cell ran to completion on an idle sandbox (no timeout, no error of its own), and only the
    # namespace's init and the kernel are left: every process the bomb made was killed
    assert not any(o.get("ename") for o in nb.cells[2].outputs), nb.cells[2].outputs
    text = "".join(o.get("text", "") for o in nb.cells[2].outputs)
    assert text.strip() == "alive 2", nb.cells[2].outputs
    assert seen and cgroups.find(seen["name"]) is None, "the sandbox's cgroup outlived it"
    assert not os.path.exists(seen["dir"]), "the kernel's socket folder outlived it"
    assert not _sandbox_uid_processes(seen["uid"]), "sandbox processes outlived the kernel"


@needs_cgroup
@pytest.mark.hostile
@pytest.mark.parametrize("now", [True, False], ids=["kill", "shutdown"])
def test_kernel_kill_and_shutdown_end_the_whole_sandbox(tmp_path, now):
    import asyncio

    async def scenario():
        km = SandboxKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=str(tmp_path))
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=120)
            reply = await kc.execute_interactive(SLEEPERS, timeout=60)
            assert reply["content"]["status"] == "ok"
            uid, name, sockets = 40000 + km.provisioner.pid % 20000, km._cgroup_name, km._socket_dir
            assert len(_sandbox_uid_processes(uid)) >= 6  # the kernel and its 5 sleepers
        finally:
            kc.stop_channels()
        await km.shutdown_kernel(now=now)
        return uid, name, sockets

    uid, name, sockets = asyncio.run(scenario())
    assert not _sandbox_uid_processes(uid), "processes the student started outlived the kernel"
    assert cgroups.find(name) is None
    assert not os.path.exists(sockets)


def test_the_launcher_imports_no_jupyter_client():
    # the launcher starts once per graded notebook: jupyter_client and traitlets cost it ~0.25 s each time
    code = ("import sys, gradekit.sandbox as s; "
            "print(sorted(m for m in ('jupyter_client', 'traitlets', 'zmq') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out.split("\n")[0] == "[]", out


def test_gradekit_has_no_import_loop_and_imports_no_private_names_across_modules():
    import ast
    from pathlib import Path

    graph, private = {}, []
    for path in sorted(Path(REPO, "gradekit").glob("*.py")):
        mod = path.stem
        graph[mod] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gradekit"):
                if node.module == "gradekit":
                    targets = [a.name for a in node.names]
                else:
                    targets = [node.module.split(".", 1)[1]]
                    private += [f"{mod}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
                graph[mod].update(targets)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr.startswith("_") \
                    and node.value.id in graph.get(mod, ()) and not node.attr.startswith("__"):
                private.append(f"{mod}: {node.value.id}.{node.attr}")
    # the grading runtime's modules (the trust boundary's -- boundary, trusted, kernel_shim... -- are issue 14's)
    ours = ("sandbox", "kernel_manager", "zygote", "cgroups", "runtime", "safe_files", "submissions", "runner",
            "journal", "cli", "nbgrader_main", "__main__")
    private = [p for p in private if p.split(":")[0] in ours]
    assert not private, f"private names used across gradekit modules: {private}"

    def visit(mod, stack):
        assert mod not in stack, f"import loop: {' -> '.join(stack + [mod])}"
        for dep in graph.get(mod, ()):
            visit(dep, stack + [mod])

    for mod in graph:
        visit(mod, [])


# ------------------------------------------------------------------ the scratch working folder (issue 20)
SCRATCH_PROBE = textwrap.dedent('''
    import json, os, sys
    out = {"cwd": os.getcwd(), "files": sorted(os.path.join(d, f)[2:] for d, _, fs in os.walk(".") for f in fs),
           "mountinfo": open("/proc/self/mountinfo").read(), "data": open("data.csv").read()}
    try:
        import invlib
        out["invlib"] = invlib.__file__
    except Exception as exc:
        out["invlib"] = repr(exc)
    def fill(n, size):
        made = 0
        try:
            for i in range(n):
                with open(f"f{i}", "wb") as fh:
                    fh.write(b"x" * size)
                made += 1
        except OSError:
            pass
        return made
    out["big_files"] = fill(8, 50 * 2**20)
    for i in range(8):
        if os.path.exists(f"f{i}"):
            os.remove(f"f{i}")
    out["small_files"] = fill(5000, 1)
    print(json.dumps(out))
''')


@needs_sandbox
def test_working_folder_is_a_capped_scratch_copy_without_links_or_notebooks(tmp_path):
    host = tmp_path / "alice-course" / "ex01"
    (host / "sub").mkdir(parents=True)
    (host / "data.csv").write_text("1,2\n")
    (host / "sub" / "more.txt").write_text("more")
    (host / "ex01.ipynb").write_text("### BEGIN HIDDEN TESTS")
    (host / "link.txt").symlink_to(tmp_path / "secret")
    (tmp_path / "secret").write_text("secret")
    os.mkfifo(host / "fifo")
    before = sorted(p.name for p in host.rglob("*"))
    limits = Limits(work_bytes=128 * 2**20, max_files=200)
    cmd = [sys.executable, "-m", "gradekit.sandbox", *limits.as_args(), "--exclude=*.ipynb",
           f"--lib={os.path.join(REPO, 'invlib')}", "--", sys.executable, "-c", SCRATCH_PROBE]
    proc = subprocess.run(cmd, cwd=host, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": REPO})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["cwd"] == "/home/student/ex01"
    assert out["files"] == ["data.csv", "sub/more.txt"], "only the regular files, not the notebook, link or FIFO"
    assert out["data"] == "1,2\n"
    assert "link.txt: a symbolic link" in proc.stderr and "fifo: a FIFO" in proc.stderr
    assert out["invlib"] == "/opt/gradekit-lib/invlib/__init__.py"
    # no mount names the course, the host folder or the library's home; only the Python environment keeps its
    # path (a venv inside the course shows it: see README)
    venv = os.path.realpath(sys.prefix)
    for line in out["mountinfo"].splitlines():
        assert str(tmp_path) not in line, line
        assert os.path.join(REPO, "invlib") not in line, line
        assert REPO not in line.replace(venv, ""), line
    assert out["big_files"] < 3, "the 128 MiB working folder held more than two 50 MiB files"
    assert 100 < out["small_files"] < 200, "the working folder's file cap did not hold"
    assert sorted(p.name for p in host.rglob("*")) == before, "the host folder changed"
    assert (tmp_path / "secret").read_text() == "secret"


@pytest.mark.slow  # a kernel or 4.5 GiB of allocations: not in make check
@needs_sandbox
@pytest.mark.parametrize("use_zygote", [True, False], ids=["forked", "exec"])
def test_kernel_sees_the_submitted_files_but_not_the_graded_notebook(tmp_path, use_zygote):
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook
    from traitlets.config import Config

    (tmp_path / "ex01.ipynb").write_text('{"cells": [], "note": "### BEGIN HIDDEN TESTS"}')
    (tmp_path / "helper.py").write_text("VALUE = 41\n")
    cfg = Config()
    cfg.SandboxKernelManager.library_paths = [os.path.join(REPO, "invlib")]
    cfg.SandboxKernelManager.use_zygote = use_zygote
    nb = new_notebook(cells=[new_code_cell(
        "import os\nfiles = sorted(os.listdir('.'))\nimport helper, invlib\n"
        "print(os.getcwd(), files, helper.VALUE + 1, invlib.__file__)\n_ = open('written.txt', 'w').write('x')")])
    client = NotebookClient(nb, timeout=120, kernel_name="python3", config=cfg,
                            kernel_manager_class="gradekit.kernel_manager.SandboxKernelManager",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert text.split() == [f"/home/student/{tmp_path.name}", "['helper.py']", "42",
                            "/opt/gradekit-lib/invlib/__init__.py"], nb.cells[0].outputs
    assert not (tmp_path / "written.txt").exists()


# ------------------------------------------------------------------ whole-sandbox memory cap (issue 20, item 3)
# Each child holds its 1.5 GiB until the parent has heard from all three (it closes `release`), and the parent
# reports each child's exit status: the cap is held when no three children held their blocks at once, whichever
# the kernel stopped (MemoryError, or the OOM killer's SIGKILL -- of the one allocating, or of one that already
# held its block). Children that slept a fixed 3 s could exit before a slow third one allocated (a loaded CI
# runner saw all three "hold").
THREE_CHILDREN = textwrap.dedent('''
    import json, os
    release_r, release_w = os.pipe()
    kids = []
    for _ in range(3):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.close(release_w)
            try:
                block = bytearray(1536 * 2**20)
                for j in range(0, len(block), 4096):
                    block[j] = 1
                os.write(w, b"ok")
                os.read(release_r, 1)  # EOF when the parent closes release_w
            except MemoryError:
                os.write(w, b"me")
            os._exit(0)
        os.close(w)
        kids.append((pid, r))
    held = [os.read(r, 2).decode() == "ok" for _, r in kids]
    os.close(release_w)
    status = [os.waitpid(pid, 0)[1] for pid, _ in kids]
    print(json.dumps({"held": held, "status": status}))
''')


@pytest.mark.slow  # a kernel or 4.5 GiB of allocations: not in make check
@needs_cgroup
def test_memory_cap_holds_all_the_sandboxs_processes_together(tmp_path):
    (tmp_path / "student").mkdir()
    cmd = [sys.executable, "-m", "gradekit.sandbox", f"--memory={4 * 2**30}", "--", sys.executable, "-c", THREE_CHILDREN]
    proc = subprocess.run(cmd, cwd=tmp_path / "student", capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": REPO})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # each child is under the per-process limit (1.5 of 4 GiB); three together are not: two held to the end
    together = [held and status == 0 for held, status in zip(out["held"], out["status"])]
    assert sum(together) == 2, f"3 x 1.5 GiB under a 4 GiB cap: {out}"


def test_memory_cap_on_a_fake_v2_hierarchy_and_its_absence_on_v1(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADEKIT_NO_CGROUP", raising=False)
    root = tmp_path / "cg"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    (root / "cgroup.subtree_control").write_text("cpu memory pids\n")
    own = tmp_path / "self-cgroup"
    own.write_text("0::/\n")
    group = cgroups.create("gradekit-mem", 1.0, 100, memory=2**30, root=str(root), cgroup_file=str(own))
    assert group.memory_capped and (root / "gradekit-mem" / "memory.max").read_text() == f"{2**30}\n"
    # v1 with a cpu hierarchy but no memory one: the group is made, without a memory cap
    (tmp_path / "cpu").mkdir()
    mounts = tmp_path / "mounts"
    mounts.write_text(f"cgroup {tmp_path / 'cpu'} cgroup rw,cpu 0 0\n")
    own.write_text("1:cpu:/\n")
    group = cgroups.create("gradekit-nomem", 1.0, None, memory=2**30, root=str(tmp_path / "none"),
                           mounts_file=str(mounts), cgroup_file=str(own))
    assert not group.memory_capped and group.dirs == [tmp_path / "cpu" / "gradekit-nomem"]


def test_no_memory_cgroup_is_said_and_processes_are_fewer(tmp_path):
    proc = _spin(tmp_path, "--nproc=64", "--fallback-nproc=12", env={"GRADEKIT_NO_CGROUP": "1"})
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    if sandbox_support()[0]:
        from gradekit.sandbox import MEMORY_WARNING

        assert MEMORY_WARNING in err and "at most 12 processes" in err, err


@pytest.mark.slow  # a kernel or 4.5 GiB of allocations: not in make check
def test_grading_refuses_a_kernel_the_sandbox_manager_did_not_start(tmp_path):
    from jupyter_client.manager import AsyncKernelManager
    from nbformat.v4 import new_code_cell, new_notebook
    from nbgrader.preprocessors import Execute

    from gradekit.kernel_manager import SandboxNotInEffect, require_sandbox

    require_sandbox()
    nb = new_notebook(cells=[new_code_cell("open('ran.txt', 'w').write('x')")])
    # what happens if nbconvert stops re-reading the config: Execute keeps the class its __init__ chose
    pre = Execute(kernel_manager_class=AsyncKernelManager)
    pre.kernel_manager_class = AsyncKernelManager
    with pytest.raises(SandboxNotInEffect, match="not SandboxKernelManager"):
        pre.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert not (tmp_path / "ran.txt").exists()


# ------------------------------------------------------------ no course path inside the sandbox (issue 20, item 2)
LOOK_FOR_COURSE = textwrap.dedent('''
    import os, sys
    _root = __ROOT__
    _seen = {}
    for _where in ("/proc/self/mountinfo", "/proc/self/maps", "/proc/self/environ", "/proc/self/cmdline"):
        try:
            _seen[_where] = open(_where, "rb").read().decode(errors="replace")
        except OSError as exc:
            _seen[_where] = ""
    _seen["sys.path"] = repr(sys.path)
    _seen["sys.prefix"] = repr((sys.prefix, sys.exec_prefix, sys.base_prefix, sys.executable))
    _seen["__file__"] = repr([getattr(m, "__file__", None) for m in list(sys.modules.values())])
    _seen["argv"] = repr(sys.argv)
    _seen["os.environ"] = repr(dict(os.environ))
    _seen["cwd"] = os.getcwd()
    _hits = sorted(k for k, v in _seen.items() if _root in v)
    print("COURSE-PATH-IN", _hits)
    for _k in _hits:
        _i = _seen[_k].index(_root)
        print(_k, _seen[_k][max(0, _i - 150):_i + 100].replace(chr(10), " | "))
''')


@pytest.mark.slow  # a kernel: not in make check
@needs_sandbox
@pytest.mark.parametrize("use_zygote", [True, False], ids=["forked", "exec"])
def test_the_course_path_is_nowhere_in_the_sandbox(tmp_path, use_zygote):
    """The venv (and so the Python the kernel runs) lives inside the course folder: none of the places a kernel
    can look -- the mount table, its mapped files, its environment and command line, sys.path, sys.prefix, the
    ``__file__`` of every imported module -- may name the course's folder."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook
    from traitlets.config import Config

    cfg = Config()
    cfg.SandboxKernelManager.library_paths = [os.path.join(REPO, "invlib")]
    cfg.SandboxKernelManager.use_zygote = use_zygote
    cfg.SandboxKernelManager.preload = ["numpy", "torch"]
    nb = new_notebook(cells=[new_code_cell("import numpy, torch, invlib\n" + LOOK_FOR_COURSE.replace(
        "__ROOT__", repr(REPO)))])
    client = NotebookClient(nb, timeout=180, kernel_name="python3", config=cfg,
                            kernel_manager_class="gradekit.kernel_manager.SandboxKernelManager",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "COURSE-PATH-IN []" in text, text


# ----------------------------------------------------------- the socket folder is not the kernel's (issue 20, item 4)
WRITE_SOCKET_FOLDER = textwrap.dedent('''
    import os, sys
    _conn = sys.argv[sys.argv.index("-f") + 1]
    _dir = os.path.dirname(_conn)
    _done = []
    for _what, _act in [
        ("create a file", lambda: open(os.path.join(_dir, "planted.txt"), "w").write("x")),
        ("replace owner.pid", lambda: (os.remove(os.path.join(_dir, "owner.pid")),
                                       os.symlink("/etc/shadow", os.path.join(_dir, "owner.pid")))),
        ("rewrite the connection file", lambda: open(_conn, "a").write(" ")),
        ("chmod the folder", lambda: os.chmod(_dir, 0o777)),
        ("rename the connection file", lambda: os.rename(_conn, _conn + ".old")),
    ]:
        try:
            _act()
            _done.append(_what)
        except OSError:
            pass
    print("WROTE", _done)
''')


@pytest.mark.slow  # a kernel: not in make check
@needs_sandbox
@pytest.mark.hostile
@pytest.mark.parametrize("use_zygote", [True, False], ids=["forked", "exec"])
def test_the_kernel_cannot_write_its_socket_folder(tmp_path, use_zygote):
    """Root writes the connection file and owner.pid there, reads owner.pid back (the sweep) and removes the
    folder: the kernel (the student) may only make its own sockets, in a subfolder of its own."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook
    from traitlets.config import Config

    cfg = Config()
    cfg.SandboxKernelManager.use_zygote = use_zygote
    nb = new_notebook(cells=[new_code_cell(WRITE_SOCKET_FOLDER)])
    client = NotebookClient(nb, timeout=120, kernel_name="python3", config=cfg,
                            kernel_manager_class="gradekit.kernel_manager.SandboxKernelManager",
                            resources={"metadata": {"path": str(tmp_path)}})
    seen = {}

    def on_start(**kw):
        seen["dir"] = client.km._socket_dir
        seen["files"] = sorted(os.listdir(seen["dir"]))
        seen["mode"] = os.stat(seen["dir"]).st_mode & 0o777

    client.on_cell_execute = on_start
    client.execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "WROTE []" in text, (text, nb.cells[0].outputs)
    assert seen["files"] == ["ipc", "kernel.json", "owner.pid"] and seen["mode"] & 0o022 == 0, seen
    assert not os.path.exists(seen["dir"]), "the socket folder outlived the kernel"


def test_neutral_prefix_mirrors_a_venv_without_its_path(tmp_path, monkeypatch):
    from gradekit.runtime import ENV_DIR_ENV, neutral_path, neutral_prefix

    venv = tmp_path / "course" / ".venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    (site / "pkg-1.0.dist-info").mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = 3.11.7\ncommand = /usr/bin/python3 -m venv {venv}\n")
    (site / "__editable__.course-0.1.pth").write_text("import __editable___course_finder\n")
    (site / "__editable___course_finder.py").write_text(f"MAPPING = {{'course': '{tmp_path / 'course'}'}}\n")
    (site / "pkg-1.0.dist-info" / "direct_url.json").write_text(f'{{"url": "file://{tmp_path / "course"}"}}')
    (site / "pkg.py").write_text("X = 1\n")
    monkeypatch.setenv(ENV_DIR_ENV, str(tmp_path / "mirrors"))
    mirror = neutral_prefix(str(venv))
    assert mirror.startswith(str(tmp_path / "mirrors") + "/env-") and "course" not in mirror
    msite = os.path.join(mirror, "lib", "python3.11", "site-packages")
    assert sorted(os.listdir(msite)) == ["pkg-1.0.dist-info", "pkg.py"]
    assert os.listdir(os.path.join(msite, "pkg-1.0.dist-info")) == []
    assert os.stat(os.path.join(msite, "pkg.py")).st_ino == (site / "pkg.py").stat().st_ino  # a hard link
    assert "command" not in open(os.path.join(mirror, "pyvenv.cfg")).read()
    assert "command" in (venv / "pyvenv.cfg").read_text(), "the venv itself is left alone"
    assert neutral_prefix(str(venv)) == mirror and neutral_prefix(mirror) == mirror  # made once; not mirrored again
    assert neutral_path(str(venv / "bin" / "python"), str(venv)) == mirror + "/bin/python"
    assert neutral_path("/usr/bin/python3", str(venv)) == "/usr/bin/python3"


# ------------------------------------ the kernel's sockets: sealed before anything connects (issue 20, the ipc gap)
from gradekit.runtime import alive  # noqa: E402
from gradekit.sandbox import SOCKET_SUBDIR, KernelSocketsError, missing_sockets, seal_socket_dir  # noqa: E402

KERNEL_UID = 45123  # a uid no process of this machine runs as


def _socket_folder(tmp_path, entries: dict[str, str]) -> str:
    """A socket folder as the launcher leaves it (the grader's, 0711; ipc/ the kernel's) with ``entries`` in ipc/:
    name -> "socket" (the kernel's), "other-socket" (another uid's), "link", "file"."""
    folder = tmp_path / "sockets"
    folder.mkdir(mode=0o711)
    ipc = folder / SOCKET_SUBDIR
    ipc.mkdir(mode=0o700)
    for name, kind in entries.items():
        path = str(ipc / name)
        if kind in ("socket", "other-socket"):
            with socket.socket(socket.AF_UNIX) as s:  # the socket file stays when it is closed
                s.bind(path)
            os.lchown(path, KERNEL_UID if kind == "socket" else KERNEL_UID + 1, KERNEL_UID)
        elif kind == "link":
            os.symlink("/run/some-daemon.sock", path)
            os.lchown(path, KERNEL_UID, KERNEL_UID)
        else:
            open(path, "w").close()
            os.chown(path, KERNEL_UID, KERNEL_UID)
    os.chown(ipc, KERNEL_UID, KERNEL_UID)
    return str(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the folder is taken from another uid")
def test_seal_takes_the_socket_folder_back_from_the_kernel(tmp_path):
    names = ["kernel-1", "kernel-2"]
    folder = _socket_folder(tmp_path, {"kernel-1": "socket"})
    assert missing_sockets(folder, names) == ["kernel-2"]
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(os.path.join(folder, SOCKET_SUBDIR, "kernel-2"))
    os.lchown(os.path.join(folder, SOCKET_SUBDIR, "kernel-2"), KERNEL_UID, KERNEL_UID)
    assert missing_sockets(folder, names) == []
    seal_socket_dir(folder, names)
    st = os.stat(os.path.join(folder, SOCKET_SUBDIR))
    assert (st.st_uid, st.st_mode & 0o7777) == (0, 0o755), "the kernel can no longer add, remove or rename an entry"
    # the kernel's uid, with the folder sealed: it cannot swap a socket any more
    pid = os.fork()
    if pid == 0:  # pragma: no cover -- child
        code = 0
        try:
            os.setresgid(KERNEL_UID, KERNEL_UID, KERNEL_UID)
            os.setresuid(KERNEL_UID, KERNEL_UID, KERNEL_UID)
            os.rename(os.path.join(folder, SOCKET_SUBDIR, "kernel-1"), os.path.join(folder, SOCKET_SUBDIR, "x"))
            code = 1
        except PermissionError:
            pass
        except BaseException:  # noqa: BLE001
            code = 2
        os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0, "the kernel's uid could still rename a socket"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the folder is taken from another uid")
@pytest.mark.parametrize("kind, message", [("link", "a symbolic link, not a socket"),
                                           ("file", "a regular file, not a socket"),
                                           ("other-socket", "not the kernel's own"),
                                           (None, "is gone")])
def test_seal_refuses_what_is_not_the_kernels_own_socket(tmp_path, kind, message):
    entries = {"kernel-1": "socket", **({"kernel-2": kind} if kind else {})}
    folder = _socket_folder(tmp_path, entries)
    with pytest.raises(KernelSocketsError, match=message) as info:
        seal_socket_dir(folder, ["kernel-1", "kernel-2"])
    assert "kernel-2" in str(info.value)
    assert os.stat(os.path.join(folder, SOCKET_SUBDIR)).st_uid == 0, "sealed even so: nothing changes any more"


def test_seal_refuses_a_socket_folder_others_can_write(tmp_path):
    folder = tmp_path / "open"
    (folder / SOCKET_SUBDIR).mkdir(parents=True)
    os.chmod(folder, 0o777)
    with pytest.raises(KernelSocketsError, match="writable by it alone"):
        seal_socket_dir(str(folder), ["kernel-1"])
    with pytest.raises(KernelSocketsError, match="not a socket name"):
        seal_socket_dir(str(folder), ["../kernel-1"])


class _Listener:
    """A unix socket the test controls (standing for another kernel's or a root daemon's): counts connections."""

    def __init__(self) -> None:
        import tempfile
        import threading

        self.folder = tempfile.mkdtemp(prefix="gk-victim-")  # short: unix socket paths are limited to 107 bytes
        self.path = os.path.join(self.folder, "victim.sock")
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o777)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.connections, self._stop = 0, False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        import shutil

        self._stop = True
        self.thread.join(2)
        self.sock.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.mark.slow  # a kernel: not in make check
@needs_sandbox
@pytest.mark.hostile
@pytest.mark.parametrize("use_zygote", [True, False], ids=["forked", "exec"])
def test_a_kernel_swapping_its_sockets_for_links_never_gets_root_connected_there(tmp_path, use_zygote):
    """An answer cell renames each of the kernel's sockets and links its name to a unix socket the test listens
    on, then cuts the grader's heartbeat connection (ZMQ reconnects by path at once): root must never connect to
    that socket, and the kernel goes on answering."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook
    from traitlets.config import Config

    from tests.hostile.cases_files import SOCKET_SWAP

    victim = _Listener()
    try:
        cfg = Config()
        cfg.SandboxKernelManager.use_zygote = use_zygote
        nb = new_notebook(cells=[new_code_cell(SOCKET_SWAP.replace("__TARGET__", repr(victim.path))),
                                 new_code_cell("import time; time.sleep(2); print(6 * 7)")])
        client = NotebookClient(nb, timeout=120, kernel_name="python3", config=cfg,
                                kernel_manager_class="gradekit.kernel_manager.SandboxKernelManager",
                                resources={"metadata": {"path": str(tmp_path)}})
        seen = {}

        def on_start(**kw):
            seen.setdefault("ipc", os.stat(os.path.join(client.km._socket_dir, SOCKET_SUBDIR)))

        client.on_cell_execute = on_start
        client.execute()
        first = "".join(o.get("text", "") for o in nb.cells[0].outputs)
        second = "".join(o.get("text", "") for o in nb.cells[1].outputs)
        assert victim.connections == 0, f"root connected {victim.connections} times to a socket the kernel linked"
        assert "SWAPPED []" in first, first
        assert second.strip() == "42", nb.cells[1].outputs
        assert (seen["ipc"].st_uid, seen["ipc"].st_mode & 0o777) == (0, 0o755), "sealed before the first cell"
    finally:
        victim.close()


FAKE_KERNEL = textwrap.dedent('''
    import json, os, socket, sys, time
    info = json.load(open(sys.argv[1]))
    mode, held = sys.argv[2], []
    if mode == "exit":
        sys.exit(3)
    for ch in ("shell", "iopub", "stdin", "control", "hb"):
        path = "%s-%d" % (info["ip"], info[ch + "_port"])
        if mode == "none":
            break
        if mode == "link" and ch == "hb":
            os.symlink(sys.argv[3], path)
            continue
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen(1)
        held.append(s)
    time.sleep(120)
''')


@pytest.mark.slow  # a kernel: not in make check
@pytest.mark.parametrize("mode, message", [("link", "a symbolic link, not a socket"),
                                           ("none", "did not make its sockets within 4 s"),
                                           ("exit", "exited before it made its sockets")])
def test_a_kernel_whose_sockets_are_not_sockets_fails_clearly(tmp_path, monkeypatch, mode, message):
    """A kernel that never makes its sockets, dies first, or puts a link where a socket belongs: the start fails
    with KernelSocketsError naming what is wrong (nbgrader then flags the notebook), the kernel is stopped, and
    nothing connected anywhere."""
    import asyncio

    from gradekit.kernel_manager import SandboxKernelManager

    spec = tmp_path / "kernels" / "fake"
    spec.mkdir(parents=True)
    victim = _Listener()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", FAKE_KERNEL, "{connection_file}", mode, victim.path],
        "display_name": "fake", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    import shutil
    import tempfile

    runtime = tempfile.mkdtemp(prefix="gk-rt-")  # short: unix socket paths are limited to 107 bytes
    monkeypatch.setenv("GRADEKIT_RUNTIME_DIR", runtime)
    km = SandboxKernelManager(kernel_name="fake", socket_timeout=4.0)

    launcher = []

    async def start():
        try:
            await km.start_kernel(cwd=str(tmp_path))
        finally:
            launcher.append(km.provisioner.pid)
            await km.cleanup_resources()

    try:
        with pytest.raises(KernelSocketsError, match=message):
            asyncio.run(start())
        assert not alive(launcher[0]), "the kernel was left running"
        assert os.listdir(runtime) == [], "the kernel's socket folder was left behind"
        with pytest.raises(KernelSocketsError, match="sealed"):
            km.client()
        assert victim.connections == 0
    finally:
        victim.close()
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.mark.parametrize("where", ["under-a-file", "another-file-system"])
def test_no_mirror_is_a_loud_error_naming_the_folder_not_the_course_path(tmp_path, monkeypatch, where):
    """Falling back to the venv's own path would show the course's folder inside the sandbox without a word."""
    import shutil
    import tempfile

    from gradekit.runtime import ENV_DIR_ENV, EnvMirrorError, neutral_path, neutral_prefix

    venv = tmp_path / "course" / ".venv"
    (venv / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "bin" / "python").write_text("")
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    made = None
    if where == "under-a-file":
        (tmp_path / "a-file").write_text("")
        env_dir = tmp_path / "a-file" / "mirrors"
    else:  # hard links cannot cross file systems
        if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
            pytest.skip("no second file system at /dev/shm")
        made = env_dir = tempfile.mkdtemp(prefix="gk-mirrors-", dir="/dev/shm")
    monkeypatch.setenv(ENV_DIR_ENV, str(env_dir))
    try:
        with pytest.raises(EnvMirrorError) as info:
            neutral_prefix(str(venv))
        message = str(info.value)
        assert str(env_dir) in message and str(venv) in message and ENV_DIR_ENV in message, message
        with pytest.raises(EnvMirrorError):
            neutral_path(str(venv / "bin" / "python"), str(venv))
        if made:
            assert os.listdir(made) == [], "a half-made mirror was left behind"
    finally:
        if made:
            shutil.rmtree(made, ignore_errors=True)
