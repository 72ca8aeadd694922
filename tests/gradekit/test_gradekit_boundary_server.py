"""gradekit.boundary_server: trusted evaluators forked from a pre-loaded server, one fresh one per notebook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from traitlets.config import Config

from gradekit import boundary_server
from gradekit.boundary import Evaluator
from gradekit.runtime import alive

pytestmark = pytest.mark.slow


def _run(ev: Evaluator, source: str) -> dict:
    ev.wait_ready(120)
    ev.channel.send({"op": "cell", "source": source, "label": "t", "instructor": False})
    msg = ev.channel.recv(60)
    assert msg and msg["op"] == "result", msg
    return msg


def test_each_notebook_gets_a_fresh_fork_with_torch_already_imported(monkeypatch):
    monkeypatch.delenv(boundary_server.SERVER_ENV, raising=False)
    first = Evaluator(use_server=True)
    try:
        assert first.forked, "an evaluator server answered"
        out = _run(first, "import sys, os, torch\nleak = 1\nprint(os.getcwd(), os.listdir('.'))\n"
                          "float(torch.ones(3).sum())")
        assert out["error"] is None and out["result"] == "3.0", out
        cwd, listing = out["stdout"].split(" ", 1)
        assert os.path.basename(cwd).startswith("gk-trusted-") and listing.strip() == "[]"
    finally:
        first.close()
    assert not os.path.exists(cwd), "a fork removes its working folder when its notebook is done"
    second = Evaluator(use_server=True)
    try:
        out = _run(second, "'leak' in globals(), __import__('os').getcwd()")
        assert out["result"].startswith("(False, "), "nothing of the last notebook's tests is left"
        assert cwd not in out["result"], "each notebook's evaluator has a working folder of its own"
        assert second.pid != first.pid
    finally:
        second.close()


def test_the_fork_gets_the_client_s_nbgrader_flags_not_the_server_s(monkeypatch):
    boundary_server.server()  # started (if not yet) without the flags
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    ev = Evaluator(use_server=True)
    try:
        out = _run(ev, "import os\nos.getenv('NBGRADER_EXECUTION'), os.getenv('NBGRADER_VALIDATING')")
        assert out["result"] == "('autograde', None)"
    finally:
        ev.close()


def test_closing_stops_a_fork_stuck_in_a_test_and_the_server_removes_its_folder():
    ev = Evaluator(use_server=True)
    ev.wait_ready(120)
    assert ev.pidfd is not None and alive(ev.pid)
    cwd = _run(ev, "__import__('os').getcwd()")["result"].strip("'")
    assert os.path.isdir(cwd)
    ev.channel.send({"op": "cell", "source": "while True:\n    pass\n", "label": "t", "instructor": False})
    ev.close()  # waits a few seconds, then kills it
    deadline = time.monotonic() + 10  # the server reaps it
    while (alive(ev.pid) or os.path.exists(cwd)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(ev.pid)
    assert not os.path.exists(cwd), "a killed fork cannot remove its working folder: the server does"


def test_a_fresh_process_without_the_server():
    ev = Evaluator(use_server=False)
    try:
        assert not ev.forked and ev.proc is not None
        assert _run(ev, "1 + 1")["result"] == "2"
    finally:
        ev.close()


def test_the_server_ends_with_the_process_that_started_it():
    code = ("from gradekit import boundary_server\n"
            "path, pid = boundary_server.server()\nprint(pid, flush=True)\n"
            "import os\nos._exit(0)\n")  # no atexit clean-up: the server must notice on its own
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 30
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(pid)


def test_a_worker_shares_a_server_only_when_the_course_grades_with_the_boundary(monkeypatch):
    monkeypatch.delenv(boundary_server.SERVER_ENV, raising=False)
    plain_course = Config()
    plain_course.Autograde.autograde_preprocessors = ["nbgrader.preprocessors.Execute"]
    assert boundary_server.shared_server(plain_course) is None
    course = Config()
    course.Autograde.autograde_preprocessors = ["gradekit.boundary.TrustedExecute"]
    path, pid = json.loads(boundary_server.shared_server(course))
    assert alive(pid) and path.endswith(boundary_server.SOCKET_NAME)
    monkeypatch.setenv(boundary_server.SERVER_ENV, json.dumps([path, pid]))
    assert boundary_server.server() == (path, pid), "nbgrader runs of the worker use the worker's server"
    course.TrustedExecute.evaluator_server = False
    assert boundary_server.shared_server(course) is None


def test_the_server_s_environment_holds_only_the_allow_list():
    env = boundary_server.evaluator_env({"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "x", "NBGRADER_EXECUTION": "a"})
    assert "AWS_SECRET_ACCESS_KEY" not in env and env["PATH"] == "/bin" and env["NBGRADER_EXECUTION"] == "a"
    assert env["OMP_NUM_THREADS"] == "1"


def test_a_fork_ends_when_its_client_is_killed():
    """nbgrader killed for its time limit: the fork (a child of the server, not of nbgrader) goes too."""
    path, pid = boundary_server.server()
    code = ("import os\nfrom gradekit.boundary import Evaluator\n"
            "ev = Evaluator(use_server=True)\nev.wait_ready(120)\nprint(ev.pid, flush=True)\n"
            "ev.channel.send({'op': 'cell', 'source': 'while True:\\n    pass\\n', 'label': 't', 'instructor': False})\n"
            "os._exit(0)\n")
    env = {**os.environ, boundary_server.SERVER_ENV: json.dumps([path, pid])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, check=True)
    fork = int(out.stdout.split()[0])
    folders = os.path.join(os.path.dirname(path), "evaluators")
    deadline = time.monotonic() + 10
    while (alive(fork) or os.listdir(folders)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(fork)
    assert os.listdir(folders) == [], "the fork's working folder is gone with it (it left /tmp/gk-trusted-* before)"
    assert alive(pid), "the server itself goes on"


def test_a_server_that_dies_before_forking_leaves_a_fresh_evaluator(tmp_path, monkeypatch):
    """A connection the server accepted and dropped (it crashed): the notebook's tests still run, in a fresh
    evaluator, instead of all failing with 'the evaluator did not start'."""
    import socket
    import threading

    path = str(tmp_path / "evaluator.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def drop() -> None:
        conn, _ = listener.accept()
        conn.recv(4096)  # the hello
        conn.close()

    threading.Thread(target=drop, daemon=True).start()
    monkeypatch.setenv(boundary_server.SERVER_ENV, json.dumps([path, os.getpid()]))
    ev = Evaluator(use_server=True)
    try:
        assert ev.forked, "it connected to the (dying) server"
        assert _run(ev, "1 + 1")["result"] == "2"
        assert not ev.forked and ev.proc is not None
    finally:
        ev.close()
        listener.close()


STATE = ("import math, os, random, sys, warnings, numpy, torch\nfrom gradekit import testkit\n"
         "(str(torch.get_default_dtype()), torch.initial_seed(), float(torch.rand(1)), torch.is_grad_enabled(),\n"
         " torch.are_deterministic_algorithms_enabled(), torch.get_num_threads(), numpy.geterr()['divide'],\n"
         " float(numpy.random.rand()) != 0.5, len(testkit.CALLABLES), math.isclose(1.0, 2.0),\n"
         " bool(torch.allclose(torch.zeros(1), torch.ones(1))), len(warnings.filters), 'GK_LEFT' in os.environ,\n"
         " sys.getrecursionlimit(), os.listdir('.'), 'gk_planted' in sys.modules)")
CHANGE = ("import math, os, random, sys, types, warnings, numpy, torch\nfrom gradekit import testkit\n"
          "torch.set_default_dtype(torch.float64)\ntorch.manual_seed(123)\ntorch.set_grad_enabled(False)\n"
          "torch.use_deterministic_algorithms(True)\ntorch.set_num_threads(3)\nnumpy.seterr(all='ignore')\n"
          "testkit.CALLABLES.clear()\nmath.isclose = lambda *a, **k: True\ntorch.allclose = lambda *a, **k: True\n"
          "warnings.simplefilter('ignore')\nos.environ['GK_LEFT'] = '1'\nsys.setrecursionlimit(200)\n"
          "open('planted.txt', 'w').write('x')\nsys.modules['gk_planted'] = types.ModuleType('gk_planted')\n")


def test_nothing_one_notebook_s_evaluator_changes_reaches_the_next(monkeypatch):
    """The server is shared by every notebook a worker grades: whatever a notebook's evaluator does to the
    process's global state (torch's default dtype, seeds, grad mode, deterministic flag, threads; NumPy's
    error mode; testkit's registry; patched comparisons; warnings; environment; files; modules), the next
    notebook's evaluator starts from the server's untouched state, exactly as the one before it did."""
    monkeypatch.delenv(boundary_server.SERVER_ENV, raising=False)
    states = []
    for source in (STATE, CHANGE, STATE):
        ev = Evaluator(use_server=True)
        try:
            assert ev.forked
            out = _run(ev, source)
            assert out["error"] is None, out["error"]
            if source is STATE:
                states.append(out["result"])
        finally:
            ev.close()
    assert states[0] == states[1], states
    assert "torch.float32" in states[0] and "True, False, 1, " in states[0]
