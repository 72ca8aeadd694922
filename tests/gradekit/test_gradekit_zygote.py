"""gradekit.zygote: kernels forked from a pre-loaded server are as sandboxed as exec-ed ones, and the
client always ends up with a kernel and never leaves one behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from gradekit.runtime import alive as _alive
from gradekit.sandbox import sandbox_support

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "PYTHONPATH": REPO}
needs_sandbox = pytest.mark.skipif(not sandbox_support()[0], reason=f"no sandbox here: {sandbox_support()[1]}")

PROBE = """
import json, os, sys
preloaded = 'torch' in sys.modules
import numpy as np
sockets = sorted(os.readlink(f'/proc/self/fd/{fd}') for fd in os.listdir('/proc/self/fd')
                 if os.path.exists(f'/proc/self/fd/{fd}') and os.readlink(f'/proc/self/fd/{fd}').startswith('socket:'))
try:  # the environment block a fork inherited (unreadable once the uid changed, on this kernel)
    environ = open('/proc/self/environ', 'rb').read().decode(errors='replace')
except PermissionError:
    environ = ''
environ += repr(dict(os.environ))
print(json.dumps({'preloaded': preloaded, 'secret': 'INSTRUCTOR_TOKEN' in environ, 'uid': os.getuid(),
                  'draw': float(np.random.rand()),
                  'sees_repo': os.path.exists(%r), 'grader_code': any(m.startswith('gradekit') for m in sys.modules),
                  'sockets': sockets}))
""" % os.path.join(REPO, "solutions")


def _run_probe(tmp_path, use_zygote: bool = True) -> dict:
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook
    from traitlets.config import Config

    tmp_path.mkdir(exist_ok=True)
    nb = new_notebook(cells=[new_code_cell(PROBE)])
    config = Config()
    config.SandboxKernelManager.use_zygote = use_zygote
    NotebookClient(nb, timeout=120, kernel_name="python3", config=config,
                   kernel_manager_class="gradekit.kernel_manager.SandboxKernelManager",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    return json.loads(text.strip().splitlines()[-1])


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:"):
            out.add(link)
    return out


@needs_sandbox
def test_forked_kernels_are_preloaded_sandboxed_and_hold_nothing_of_the_server(tmp_path, monkeypatch):
    from gradekit import kernel_manager

    kernel_manager._stop_servers()  # a server started now, by a grader with a secret in its environment
    monkeypatch.setenv("INSTRUCTOR_TOKEN", "hunter2")
    first, second = _run_probe(tmp_path / "a"), _run_probe(tmp_path / "b")
    servers = [proc for proc, *_ in kernel_manager._servers.values() if proc.poll() is None]
    assert servers, "no pre-loaded server is running"
    server_sockets = set().union(*(_socket_inodes(proc.pid) for proc in servers))
    for proc in servers:  # every fork inherits this block: it must hold nothing of the grader's secrets
        with open(f"/proc/{proc.pid}/environ", "rb") as f:
            assert b"INSTRUCTOR_TOKEN" not in f.read()
    for probe in (first, second):
        assert probe["preloaded"], "the kernel should start with torch already imported"
        assert probe["uid"] >= 40000 and not probe["sees_repo"], probe
        assert not probe["grader_code"], "the kernel should not carry the grader's modules"
        assert not probe["secret"], "the grader's environment reached the kernel (a fork keeps its environ block)"
        assert not server_sockets & set(probe["sockets"]), "the kernel holds a socket of the server"
    assert first["draw"] != second["draw"], "NumPy's global generator must be reseeded in every fork"


@needs_sandbox
def test_without_the_server_a_kernel_starts_without_preloaded_modules(tmp_path):
    probe = _run_probe(tmp_path, use_zygote=False)
    assert not probe["preloaded"] and probe["uid"] >= 40000


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@needs_sandbox
def test_a_client_with_no_server_runs_the_launcher_itself(tmp_path):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "gradekit.zygote", str(tmp_path / "none.sock"), str(_dead_pid()),
                           "--", sys.executable, "-c", "import os; print('ran as', os.getuid())"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert 40000 <= int(proc.stdout.split()[-1]) < 60000, proc.stdout
    assert time.monotonic() - start < 30, "the client waited for a server that is not running"


def test_usage_errors():
    proc = subprocess.run([sys.executable, "-m", "gradekit.zygote", "just-a-path"], capture_output=True, text=True,
                          env=ENV, timeout=60)
    assert proc.returncode == 2 and "SERVER_PID" in proc.stderr


@pytest.fixture
def server(tmp_path):
    path = str(tmp_path / "z.sock")
    proc = subprocess.Popen([sys.executable, "-m", "gradekit.zygote", "serve", path, str(os.getpid()), "1"], env=ENV,
                            cwd="/", stderr=subprocess.PIPE, text=True)
    yield path, proc
    proc.kill()
    proc.wait()


def _client(server, workdir, code: str) -> subprocess.Popen:
    path, proc = server
    return subprocess.Popen([sys.executable, "-m", "gradekit.zygote", path, str(proc.pid), "--", sys.executable, "-c",
                             code], cwd=workdir, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _uid_processes(uid: int) -> list[int]:
    found = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = open(f"/proc/{p}/status").read().splitlines()
        except OSError:
            continue
        uids = next(f for f in fields if f.startswith("Uid:")).split()[1:]
        state = next(f for f in fields if f.startswith("State:")).split()[1]
        if str(uid) in uids and state != "Z":
            found.append(int(p))
    return found


@needs_sandbox
def test_an_interrupt_reaches_the_forked_sandbox_and_the_exit_code_comes_back(server, tmp_path):
    # 'ready' is printed inside the try: a SIGINT that arrives right after it must land in the handler
    code = ("import time\ntry:\n    print('ready', flush=True)\n    time.sleep(60)\nexcept KeyboardInterrupt:\n"
            "    print('interrupted', flush=True)\n    raise SystemExit(3)\n")
    client = _client(server, tmp_path, code)
    assert client.stdout.readline().strip() == "ready"
    client.send_signal(signal.SIGINT)
    out, err = client.communicate(timeout=60)
    assert "interrupted" in out, err
    assert client.returncode == 3, err


@needs_sandbox
def test_killing_the_client_ends_the_whole_sandbox(server, tmp_path):
    client = _client(server, tmp_path, "import os, time\nfor _ in range(3):\n    os.fork() or time.sleep(600)\n"
                     "print('forked', flush=True)\ntime.sleep(600)\n")
    uid = 40000 + client.pid % 20000
    deadline = time.monotonic() + 60
    while len(_uid_processes(uid)) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_uid_processes(uid)) >= 4, "the sandboxed command and its children did not start"
    client.kill()
    client.wait()
    deadline = time.monotonic() + 10
    while _uid_processes(uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _uid_processes(uid), "the sandbox outlived its client"


def test_the_server_ends_with_the_process_that_started_it(tmp_path):
    starter = ("import os, subprocess, sys; p = subprocess.Popen([sys.executable, '-m', 'gradekit.zygote', 'serve', "
               f"{str(tmp_path / 'z.sock')!r}, str(os.getpid()), '1'], stdout=subprocess.DEVNULL, "
               "stderr=subprocess.DEVNULL); print(p.pid)")
    pid = int(subprocess.run([sys.executable, "-c", starter], env=ENV, capture_output=True, text=True, timeout=60,
                             check=True).stdout)
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the server outlived the process that started it"
    assert not os.path.exists(tmp_path / "z.sock"), "the server left its socket behind"


def test_the_kernel_command_is_recognised():
    from gradekit.zygote import is_ipykernel

    assert is_ipykernel([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"])
    assert not is_ipykernel(["/some/other/python", "-m", "ipykernel_launcher", "-f", "k.json"])
    assert not is_ipykernel([sys.executable, "-c", "print(1)"])


@needs_sandbox
def test_a_worker_shares_one_server_between_its_nbgrader_runs(monkeypatch):
    from traitlets.config import Config

    from gradekit import kernel_manager
    from gradekit.zygote import SHARED_ENV

    config = Config()
    config.Execute.kernel_manager_class = "gradekit.kernel_manager.SandboxKernelManager"
    config.SandboxKernelManager.preload = ["numpy"]
    shared = kernel_manager.shared_server(config)
    assert shared is not None and kernel_manager.shared_server(config) == shared, "one server per worker"
    path, pid, modules, threads = json.loads(shared)
    assert modules == ["numpy"] and os.path.exists(os.path.dirname(path))
    # an nbgrader run with the same configuration uses it instead of starting its own
    monkeypatch.setenv(SHARED_ENV, shared)
    monkeypatch.setattr(kernel_manager, "_servers", {})
    assert kernel_manager._server(("numpy",), threads) == (path, pid)
    assert not kernel_manager._servers
    # one with other modules does not
    other_path, other_pid = kernel_manager._server(("numpy", "torch"), threads)
    assert other_pid != pid
    kernel_manager._stop_servers()
    config.SandboxKernelManager.use_zygote = False
    assert kernel_manager.shared_server(config) is None
    config.SandboxKernelManager.use_zygote = True
    config.Execute.kernel_manager_class = "jupyter_client.manager.KernelManager"
    assert kernel_manager.shared_server(config) is None


@needs_sandbox
def test_a_server_that_never_answers_only_delays_the_kernel(tmp_path):
    import socket

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # accepts connections, never forks
    listener.bind(str(tmp_path / "mute.sock"))
    listener.listen(4)
    # files, not pipes: the stdout/stderr sent to the mute server stay open in its queue until it closes
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        try:
            proc = subprocess.run([sys.executable, "-m", "gradekit.zygote", str(tmp_path / "mute.sock"),
                                   str(os.getpid()), "--", sys.executable, "-c",
                                   "import os; print('ran as', os.getuid())"],
                                  cwd=tmp_path, stdout=out, stderr=err, timeout=60,
                                  env={**ENV, "GRADEKIT_ZYGOTE_TIMEOUT": "2"})
        finally:
            listener.close()
    stdout, stderr = (tmp_path / "out").read_text(), (tmp_path / "err").read_text()
    assert proc.returncode == 0, stderr
    assert 40000 <= int(stdout.split()[-1]) < 60000, stdout
    assert "did not answer within 2 s" in stderr


def test_a_forked_process_leaves_its_parents_servers_alone():
    from gradekit import kernel_manager

    path, pid = kernel_manager._server(("numpy",), "1")
    child = os.fork()
    if child == 0:  # a pool worker forked from this process, ending: its finalizer runs _stop_servers
        code = 1
        try:
            kernel_manager._stop_servers()
            code = 0
        finally:
            os._exit(code)
    assert os.waitpid(child, 0)[1] == 0
    try:
        assert _alive(pid), "a forked child killed its parent's kernel server"
        assert os.path.exists(os.path.dirname(path)), "a forked child removed its parent's server folder"
        assert kernel_manager._server(("numpy",), "1") == (path, pid)
    finally:
        kernel_manager._stop_servers()
    assert not os.path.exists(os.path.dirname(path))
