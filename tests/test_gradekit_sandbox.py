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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
                          env={**os.environ, **(env or {})})


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
    assert out["cwd"] == str(tmp_path / "student")
    assert not out["sees_solutions"], "the repository's solutions/ is visible in the sandbox"
    assert not out["reads_secret"] and not out["writes_outside"]
    assert out["writes_cwd"]
    assert (tmp_path / "student" / "mine.txt").read_text() == "x"
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
    proc = subprocess.run([sys.executable, "-m", "gradekit.sandbox", "--"], capture_output=True, text=True)
    assert proc.returncode == 2 and "no kernel command" in proc.stderr


def test_kernel_manager_runs_a_notebook(tmp_path):
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("import os\nprint(6 * 7, os.path.exists('/work/main/solutions'))")])
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            kernel_manager_class="gradekit.sandbox.SandboxKernelManager",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert text.startswith("42"), nb.cells[0].outputs
    if sandbox_support()[0]:
        assert "False" in text
