"""The trust boundary, as nbgrader's ``Execute`` step: student code in the kernel, hidden tests outside it.

:class:`TrustedExecute` replaces nbgrader's ``Execute`` in ``c.Autograde.autograde_preprocessors``.
Per notebook it starts the sandboxed kernel (as ``Execute`` does) and a trusted evaluator process
(:mod:`gradekit.trusted`: a fork of the pre-loaded evaluator server, :mod:`gradekit.boundary_server`, or
a fresh ``python -m gradekit.trusted``), and goes through the cells:

* every cell that is not a test cell runs in the kernel, as with ``Execute``; a *locked instructor
  cell* (nbgrader ``locked``, not ``solution``, not ``grade``; restored from the gradebook by
  ``ReconcileCells``) then runs in the evaluator as well, so the tests see the instructor's imports and
  helper functions, never the student's versions of them;
* a **test cell** (``grade`` and not ``solution``) is never sent to the kernel: the evaluator runs it.
  When it needs a student's variable or function, the evaluator asks; this class relays each request
  to :mod:`gradekit.kernel_shim`'s request loop in the kernel (one execution per test cell,
  ``store_history=False``, so nothing reaches ``In``/``Out``; each request one line answering the loop's
  ``input()``), with a time limit of :attr:`call_timeout` seconds, and relays the reply. The evaluator's answer -- what the cell printed, its last expression's value, and its error
  if it failed -- becomes the cell's outputs, which nbgrader grades as always (an error scores 0; a
  number as the last expression is partial credit).

The hidden tests' source exists only in this process and the evaluator, never in the student's
process, its history or its files; only plain data (:mod:`gradekit.plain`) crosses.
"""

from __future__ import annotations

import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import zmq
import zmq.asyncio
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from gradekit import boundary_server, kernel_shim, plain
from gradekit.trusted import MAX_FRAME, MAX_OUTPUT, Channel, FrameTooLarge

__all__ = ["TrustedExecute", "cell_role"]

FORK_TIMEOUT = 120  # seconds an evaluator server may take to fork (it may still be importing); then a fresh one
ALTERED = "this test cell is not the assignment's (deleted, renamed or edited): it was not run and scores 0"
SERVE = '__import__("sys").modules["_gradekit_shim"].SHIM.serve()'
STOP_WAIT = 10  # seconds the kernel's request loop may take to end after a test cell; then it is interrupted
#: Seconds the second try of an install stopped by the cell time limit may take (at least; 4 x that limit if longer).
INSTALL_RETRY_TIMEOUT = 120

INSTALL = '''def _gradekit_install(sources):
    import sys, types
    for name, text in sources:
        module = types.ModuleType(name)
        exec(compile(text, "<" + name + ">", "exec"), module.__dict__)
        sys.modules[name] = module
    sys.modules["_gradekit_shim"].install(get_ipython().user_ns)
_gradekit_install(__SOURCES__)
del _gradekit_install
'''


def cell_role(cell: NotebookNode, source: dict[str, tuple[str, str]] | None = None) -> str:
    """``"test"``, ``"instructor"``, ``"altered"`` (a test cell whose text is not the assignment's) or ``"student"``.

    ``source`` (``{grade_id: (role, text)}`` from the gradebook; see :func:`gradebook_roles`) decides: a
    cell is a test or instructor cell only if the assignment has that ``grade_id`` in that role, and runs
    on the grader's side only if its text is the assignment's, character for character. Without it (the
    preprocessor used outside ``nbgrader autograde``) the cell's own nbgrader metadata decides.
    """
    if cell.cell_type != "code":
        return "other"
    meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
    if source is not None:
        role, text = source.get(meta.get("grade_id"), ("student", None))
        if role == "test" and meta.get("grade") and not meta.get("solution"):
            return "test" if cell.source == text else "altered"
        if role == "instructor" and cell.source == text:
            return "instructor"
        return "student"
    if meta.get("grade") and not meta.get("solution"):
        return "test"
    if meta.get("locked") and not meta.get("solution") and not meta.get("grade"):
        return "instructor"
    return "student"


def gradebook_roles(resources: dict) -> dict[str, tuple[str, str]] | None:
    """``{grade_id: ("test" | "instructor", source text)}`` of the notebook being autograded, from the
    gradebook (what the instructor released, not what the student submitted); None outside nbgrader."""
    info = (resources or {}).get("nbgrader") or {}
    if not all(info.get(k) for k in ("db_url", "notebook", "assignment")):
        return None
    from nbgrader.api import Gradebook

    with Gradebook(info["db_url"]) as gb:
        nb = gb.find_notebook(info["notebook"], info["assignment"])
        graded = {c.name for c in nb.grade_cells}
        solutions = {c.name for c in nb.solution_cells}
        roles = {}
        for c in nb.source_cells:
            if c.cell_type != "code":
                continue
            if c.name in graded and c.name not in solutions:
                roles[c.name] = ("test", c.source)
            elif c.locked and c.name not in graded and c.name not in solutions:
                roles[c.name] = ("instructor", c.source)
    return roles


def _source(module) -> str:
    with open(module.__file__, encoding="utf-8") as f:
        return f.read()


class Evaluator:
    """The parent's handle on one trusted evaluator: a fork of the evaluator server
    (:mod:`gradekit.boundary_server`) or, with ``use_server`` off or no server answering, a fresh
    ``python -m gradekit.trusted`` process."""

    def __init__(self, use_server: bool = True) -> None:
        self.proc, self.sock, self.pidfd, self.folder = None, None, None, None
        self.pid: int | None = None  # the evaluator's, once it is ready
        self.sock = boundary_server.connect() if use_server else None
        if self.sock is not None:
            self.channel = Channel(self.sock.fileno(), self.sock.fileno())
        else:
            self._start_fresh()
        self.ready = False

    def _start_fresh(self) -> None:
        r1, w1 = os.pipe()  # parent -> evaluator
        r2, w2 = os.pipe()  # evaluator -> parent
        self.folder = tempfile.mkdtemp(prefix="gk-trusted-")
        self.proc = subprocess.Popen([sys.executable, "-m", "gradekit.trusted", str(r1), str(w2)],
                                     pass_fds=(r1, w2), cwd=self.folder, env=boundary_server.evaluator_env(),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        os.close(r1)
        os.close(w2)
        self.channel = Channel(r2, w1)

    @property
    def forked(self) -> bool:
        """Whether this evaluator is a fork of the evaluator server."""
        return self.sock is not None

    def wait_ready(self, timeout: float) -> None:
        if not self.ready:
            msg = None
            if self.sock is not None:
                try:
                    msg = self.channel.recv(min(timeout, FORK_TIMEOUT))
                except (OSError, ValueError):  # TimeoutError is an OSError; a reset connection: the server died
                    msg = None
                if not msg or msg.get("op") != "ready":  # no fork: a fresh evaluator, as without a server
                    self.sock.close()
                    self.sock, msg = None, None
                    self._start_fresh()
            if self.sock is None:
                msg = self.channel.recv(timeout)
            if not msg or msg.get("op") != "ready":
                raise RuntimeError("gradekit: the trusted test evaluator did not start")
            self.pid = msg.get("pid") if type(msg.get("pid")) is int else None
            if self.sock is not None and self.pid is not None:
                try:  # the fork is the server's child, not ours: a pidfd to wait for it and to stop it
                    self.pidfd = os.pidfd_open(self.pid)
                except (OSError, AttributeError):
                    self.pidfd = None
            self.ready = True

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        else:
            for fd in (self.channel.fd_in, self.channel.fd_out):
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.pidfd is not None:  # a fork ends when its connection closes; one stuck in a test is stopped
            try:
                if not select.select([self.pidfd], [], [], 5)[0]:
                    signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                pass
            os.close(self.pidfd)
            self.pidfd = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


class TrustedExecute(Execute):
    """nbgrader's ``Execute``, with test cells evaluated outside the student's kernel (see module doc)."""

    call_timeout = Integer(None, allow_none=True, help=(
        "Seconds one call of student code from a test may take (default: Execute.timeout)")).tag(config=True)
    evaluator_timeout = Integer(300, help="Seconds a test cell's own computation may take").tag(config=True)
    evaluator_server = Bool(True, help=(
        "Fork each notebook's evaluator from a pre-loaded server (gradekit.boundary_server) instead of "
        "starting a fresh Python process that imports torch again")).tag(config=True)
    revive_timeout = Integer(None, allow_none=True, help=(
        "Seconds a notebook may spend, all its kernel restarts together, restarting the student's kernel and "
        "re-running their cells after a test's call crashed it (default: 2 x Execute.timeout); a crash after "
        "that fails the notebook's later calls too")).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._gk_roles = gradebook_roles(resources)
        self._gk_stats = {"started": time.monotonic(), "ready": None, "requests": 0, "in_kernel": 0.0}
        self._gk_evaluator = Evaluator(self.evaluator_server)  # gets ready while the kernel starts
        self._gk_installed = False
        self._gk_dead = ""
        self._gk_ran: list[int] = []  # the cells the kernel ran, to replay after a crash
        self._gk_session: dict | None = None  # the kernel's request loop, while a test cell is evaluated
        self._gk_instructor_done: set = set()  # grade_ids of instructor cells the evaluator has run
        # without a bound, a kernel that dies in every call and slow cells cost (test cells) x (cells' time)
        self._gk_revive_left = float(self.revive_timeout if self.revive_timeout is not None
                                     else 2 * (self.timeout or 300))
        try:
            return super().preprocess(nb, resources, km=km)
        finally:
            self._gk_evaluator.close()
            st = self._gk_stats
            self.log.info("gradekit: trust boundary: %s evaluator ready after %s s, %d kernel requests taking %.2f s",
                          "forked" if getattr(self._gk_evaluator, "forked", False) else "fresh",
                          "?" if st["ready"] is None else f"{st['ready'] - st['started']:.2f}", st["requests"],
                          st["in_kernel"])

    # -- cells --------------------------------------------------------------------------------------
    def preprocess_cell(self, cell, resources, index):
        if not self._gk_installed:
            self._install(index)
        role = cell_role(cell, self._gk_roles)
        if role == "altered":  # ReconcileCells' stand-in for a deleted test, or text that is not the test's
            cell.outputs = [new_output("error", ename="AlteredTest", evalue=ALTERED, traceback=[ALTERED])]
            cell.execution_count = None
            return cell, self.resources
        if role == "test":
            self._check_assign_resources(resources)
            self._catch_up(cell.metadata["nbgrader"].get("grade_id"), index)
            self._run_test(cell, index)
            return cell, self.resources
        cell, res = super().preprocess_cell(cell, resources, index)
        if cell.cell_type == "code":
            self._gk_ran.append(index)
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if role == "instructor" and (gid is None or gid not in self._gk_instructor_done):
            self._gk_instructor_done.add(gid)
            self._instructor_cell(cell, index)
        return cell, res

    def _instructor_cell(self, cell: NotebookNode, index: int) -> None:
        if cell.source.strip():
            answer = self._evaluate(cell, index, instructor=True)
            if answer.get("error"):
                self.log.warning("gradekit: instructor cell %s failed in the trusted evaluator: %s: %s", index,
                                 answer["error"].get("ename"), answer["error"].get("evalue"))

    def _catch_up(self, test_id: str | None, index: int) -> None:
        """Before test ``test_id``: run in the evaluator, from the gradebook, each of the assignment's locked
        instructor cells above that test that the submission did not bring intact and in place (deleted,
        stripped of its nbgrader metadata, edited, or moved below the test). Otherwise a name the cell defines
        -- a reference function such as ``relu_layer``, data, ``torch`` itself -- would be looked up in the
        student's kernel: their own version, which may record the test's inputs or agree with any answer."""
        roles = self._gk_roles or {}
        if test_id not in roles:
            return
        for gid, (role, text) in roles.items():
            if gid == test_id:
                return
            if role == "instructor" and gid not in self._gk_instructor_done:
                self._gk_instructor_done.add(gid)
                self.log.warning("gradekit: instructor cell %r is missing, altered or moved in the submission: "
                                 "the assignment's runs in the evaluator before test %r", gid, test_id)
                stand_in = new_code_cell(text)
                stand_in.metadata["nbgrader"] = {"grade_id": gid, "locked": True}
                self._instructor_cell(stand_in, index)

    def _install(self, index: int) -> None:
        from gradekit import testkit

        if getattr(Execute, "_gradekit_requires_sandbox", False):  # nbgrader_config.py asked for the sandbox
            from gradekit.kernel_manager import SandboxKernelManager, SandboxNotInEffect

            if not isinstance(self.km, SandboxKernelManager):
                raise SandboxNotInEffect(f"the kernel was started by {type(self.km).__name__}, not "
                                         "SandboxKernelManager: refusing to run student code unsandboxed")

        sources = [("_gradekit_plain", _source(plain)), ("_gradekit_testkit", _source(testkit)),
                   ("_gradekit_shim", _source(kernel_shim))]
        # an install stopped by the cell time limit (a machine so loaded that importing torch in the kernel
        # takes longer) is tried once more with a longer limit: otherwise every test of an honest student fails
        for timeout in (None, max(INSTALL_RETRY_TIMEOUT, 4 * (self.timeout or 0))):
            probe = new_code_cell(INSTALL.replace("__SOURCES__", repr(sources)))
            self._in_kernel(probe, index, timeout=timeout)
            errors = [o for o in probe.outputs if o.get("output_type") == "error"]
            if not errors:
                break
            self.log.warning("gradekit: installing the kernel shim failed: %s: %s", errors[0].get("ename"),
                             errors[0].get("evalue"))
            if errors[0].get("ename") != "KeyboardInterrupt":
                break
        self._gk_installed = True

    def _run_test(self, cell: NotebookNode, index: int) -> None:
        answer = self._evaluate(cell, index, instructor=False)
        label = cell.metadata.get("nbgrader", {}).get("grade_id", index)
        outputs = []
        for name in ("stdout", "stderr"):
            if answer.get(name):
                outputs.append(new_output("stream", name=name, text=_utf8(answer[name])))
        if answer.get("result") is not None:
            outputs.append(new_output("execute_result", data={"text/plain": _utf8(answer["result"])},
                                      execution_count=None))
        err = answer.get("error")
        if err:
            ename, evalue = _utf8(err.get("ename", "Error")), _utf8(err.get("evalue", ""))
            where = f"test cell {label}" + (f", line {err['line']}" if err.get("line") else "")
            outputs.append(new_output("error", ename=ename, evalue=evalue,
                                      traceback=[f"{ename}: {evalue}", f"(in {where}; evaluated by the grader)"]))
            self.log.info("gradekit: test %s failed: %s: %s", label, ename, evalue[:200])
        cell.outputs = outputs
        cell.execution_count = None

    # -- the relay ----------------------------------------------------------------------------------
    def _evaluate(self, cell: NotebookNode, index: int, instructor: bool) -> dict:
        """Have the evaluator run ``cell``; answer its kernel requests meanwhile; return its result."""
        ev = self._gk_evaluator
        label = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
        try:
            ev.wait_ready(self.evaluator_timeout)
            if self._gk_stats["ready"] is None:
                self._gk_stats["ready"] = time.monotonic()
            ev.channel.send({"op": "cell", "source": cell.source, "label": f"{label}", "instructor": instructor})
            spent = 0.0
            self._gk_budget = float(self.timeout or 0) or None  # the cell's time for student code, as stock
            try:
                while True:
                    start = time.monotonic()
                    msg = ev.channel.recv(max(1.0, self.evaluator_timeout - spent))
                    spent += time.monotonic() - start
                    if msg is None:
                        raise RuntimeError("the trusted test evaluator stopped")
                    if msg.get("op") == "result":
                        return msg
                    if msg.get("op") == "kernel":
                        reply = self._kernel_request(msg.get("req"), index)
                        try:
                            ev.channel.send(reply)
                        except FrameTooLarge:  # e.g. 16 MiB of control characters, 6 bytes each in JSON
                            ev.channel.send({"failure": f"its answer is larger than {MAX_FRAME // 2**20} MiB as "
                                                        "a message to the grader", "stdout": reply.get("stdout", "")})
                    else:
                        raise RuntimeError(f"unexpected message {str(msg)[:100]}")
            finally:
                self._end_session(index)
        except TimeoutError:
            why = f"the test's own computation took longer than {self.evaluator_timeout} s"
        except (OSError, ValueError, RuntimeError) as exc:
            why = str(exc) if isinstance(ev, _Broken) else f"the grader's test evaluator failed: {exc}"
        self.log.error("gradekit: %s (%s)", why, label)
        ev.close()  # its state is lost: later test cells fail too, with this message
        self._gk_evaluator = _Broken(why)
        return {"error": {"ename": "GraderError", "evalue": why}}

    def _kernel_request(self, req, index: int) -> dict:
        if type(req) is not dict:
            return {"failure": "malformed request"}
        kind = req.get("kind")
        if kind in ("get", "delete") and type(req.get("name")) is str and req["name"].isidentifier():
            request = {"kind": kind, "name": req["name"]}
        elif kind == "getattr" and type(req.get("id")) is int and type(req.get("name")) is str:
            request = {"kind": kind, "id": req["id"], "name": req["name"]}
        elif kind == "call" and type(req.get("id")) is int and type(req.get("payload")) is str:
            request = {"kind": kind, "id": req["id"], "payload": req["payload"]}
        elif (kind == "assign" and type(req.get("name")) is str and req["name"].isidentifier()
              and type(req.get("payload")) is str):
            request = {"kind": kind, "name": req["name"], "payload": req["payload"]}
        else:
            return {"failure": "malformed request"}
        if self._gk_dead:
            return {"failure": self._gk_dead}
        timeout = self.call_timeout or self.timeout
        budget = getattr(self, "_gk_budget", None)
        if budget is not None:
            if budget < 1:
                return {"failure": f"the test cell's time for student code ({self.timeout} s) is used up"}
            timeout = max(1, min(timeout or budget, int(budget)))
        start = time.monotonic()
        try:
            got = run_sync(self._relay)(request, timeout)
        except DeadKernelError:
            self._gk_session = None
            self._revive(index)
            return {"failure": "the student's kernel died while running it (a crash, os._exit, or the memory limit)"}
        finally:
            if budget is not None:
                self._gk_budget = budget - (time.monotonic() - start)
            self._gk_stats["requests"] += 1
            self._gk_stats["in_kernel"] += time.monotonic() - start
        stdout = "".join(got["stdout"])[:MAX_OUTPUT]
        reply = got.get("reply")
        if isinstance(reply, str):
            if len(reply) > plain.MAX_BYTES:
                return {"failure": f"its answer is larger than {plain.MAX_BYTES // 2**20} MiB", "stdout": stdout}
            return {"text": reply, "stdout": stdout}
        if got.get("timed_out"):
            return {"failure": f"no answer within {timeout} s (an endless loop?); the call was interrupted",
                    "stdout": stdout}
        if got.get("error"):
            ename, evalue = got["error"]
            return {"failure": f"no answer: {ename}: {str(evalue)[:300]}", "stdout": stdout}
        return {"failure": "no answer from the student's kernel", "stdout": stdout}

    # -- the kernel's request loop ------------------------------------------------------------------
    async def _next_message(self, deadline: float | None) -> tuple[str, dict] | None:
        """The next message on the kernel's iopub or stdin channel: ``(channel, message)``, or None at
        ``deadline``. A kernel that died meanwhile raises ``DeadKernelError`` (checked each second of quiet)."""
        kc = self.kc
        poller = zmq.asyncio.Poller()
        poller.register(kc.iopub_channel.socket, zmq.POLLIN)
        poller.register(kc.stdin_channel.socket, zmq.POLLIN)
        while True:
            wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            if wait <= 0:
                return None
            ready = dict(await poller.poll(int(wait * 1000) + 1))
            for name, channel in (("iopub", kc.iopub_channel), ("stdin", kc.stdin_channel)):
                if channel.socket in ready:
                    try:
                        msg = await channel.get_msg(timeout=0)
                    except zmq.ZMQError:
                        raise
                    except Exception:  # noqa: BLE001 -- frames jupyter_client cannot read: forged, dropped
                        continue
                    if _well_formed(msg):
                        return name, msg
            if not ready and not await ensure_async(kc.is_alive()):
                raise DeadKernelError("Kernel died")

    async def _relay(self, request: dict, timeout: float | None) -> dict:
        """Send ``request`` to the kernel's ``SHIM.serve()`` loop (started first, as one execution, if it is
        not running) and wait up to ``timeout`` s for its reply: ``{"reply": text, "stdout": [...]}``, or
        ``{"timed_out": True}`` (the kernel was interrupted), or ``{"error": (ename, evalue)}`` / nothing when
        the loop ended without a reply (the student replaced it, or their code raised a ``BaseException``)."""
        kc, s = self.kc, self._gk_session
        if s is None:
            # stop_on_error off: a loop that ends with a late KeyboardInterrupt must not abort the one queued after it
            mid = kc.execute(SERVE, silent=False, store_history=False, allow_stdin=True, stop_on_error=False)
            s = self._gk_session = {"mid": mid, "asked": False, "seq": 0}
        s["seq"] += 1
        seq, line, sent = str(s["seq"]), json.dumps({**request, "seq": s["seq"]}), False
        deadline = None if timeout is None else time.monotonic() + timeout
        stdout: list[str] = []
        error = None
        while True:
            if s["asked"] and not sent:
                kc.input(line)
                s["asked"], sent = False, True
            got = await self._next_message(deadline)
            if got is None:  # no reply in time: interrupt the call (the sandbox stops every process it started)
                await self._interrupt_session()
                return {"timed_out": True, "stdout": stdout}
            channel, msg = got
            if msg.get("parent_header", {}).get("msg_id") != s["mid"]:
                continue  # an earlier loop's or cell's late message
            kind, content = msg.get("msg_type"), msg.get("content", {})
            if channel == "stdin":
                s["asked"] = s["asked"] or kind == "input_request"
            elif kind == "stream" and sent and sum(map(len, stdout)) < MAX_OUTPUT:
                stdout.append(str(content.get("text", "")))
            elif kind == "display_data" and sent and type(content.get("data")) is dict \
                    and kernel_shim.MIME in content["data"]:
                data = content["data"]
                if data.get(kernel_shim.SEQ_MIME, seq) == seq:  # a reply without a number: the student's own
                    return {"reply": data[kernel_shim.MIME], "stdout": stdout}
            elif kind == "error":
                error = (content.get("ename"), content.get("evalue"))
            elif kind == "status" and content.get("execution_state") == "idle":
                self._gk_session = None
                return {"error": error, "stdout": stdout}

    async def _interrupt_session(self) -> None:
        """Interrupt the kernel and wait (up to :data:`STOP_WAIT` s) for the request loop to end. A loop that
        asks for a request meanwhile (the student's code caught the interrupt and returned) is told to stop."""
        s, self._gk_session = self._gk_session, None
        await ensure_async(self.km.interrupt_kernel())
        deadline = time.monotonic() + STOP_WAIT
        while s is not None:
            got = await self._next_message(deadline)
            if got is None:
                return
            channel, msg = got
            if msg["parent_header"].get("msg_id") != s["mid"]:
                continue
            if channel == "stdin" and msg["msg_type"] == "input_request":
                self.kc.input("stop")
            elif (channel == "iopub" and msg["msg_type"] == "status"
                  and msg["content"].get("execution_state") == "idle"):
                return

    async def _stop_session(self) -> None:
        s = self._gk_session
        if s is None:
            return
        deadline = time.monotonic() + STOP_WAIT
        while True:
            if s["asked"]:
                self.kc.input("stop")
                s["asked"] = False
            got = await self._next_message(deadline)
            if got is None:
                return await self._interrupt_session()
            channel, msg = got
            if msg.get("parent_header", {}).get("msg_id") != s["mid"]:
                continue
            if channel == "stdin" and msg.get("msg_type") == "input_request":
                s["asked"] = True
            elif msg.get("msg_type") == "status" and msg["content"].get("execution_state") == "idle":
                self._gk_session = None
                return

    def _end_session(self, index: int) -> None:
        """After a test cell: end the kernel's request loop, so the next cell runs on an idle kernel."""
        if self._gk_session is None:
            return
        try:
            run_sync(self._stop_session)()
        except DeadKernelError:
            self._gk_session = None
            self._revive(index)

    def _revive(self, index: int) -> None:
        """After the kernel died in a test's call: a fresh kernel that has run the notebook's cells so far
        again (their outputs are kept from the first run), so that only the test that crashed it fails."""
        self._gk_session = None  # the loop died with the kernel
        left = self._gk_revive_left
        if left < 1:
            self.log.error("gradekit: the student's kernel died in a test's call; its time for restarts is used up")
            self._gk_dead = ("the student's kernel died again in a test's call, and this notebook's time for "
                             "restarting it and re-running its cells is used up")
            try:  # a live kernel (without the old state) for the cells still to come; no call reaches it again
                run_sync(self._restart)()
            except Exception as exc:  # noqa: BLE001
                self.log.error("gradekit: the kernel could not be restarted: %s", exc)
            return
        self.log.warning("gradekit: the student's kernel died in a test's call; restarting it and re-running "
                         "%d cells (%.0f s left for restarts)", len(self._gk_ran), left)
        start = time.monotonic()
        try:
            run_sync(self._restart)()
            for i in self._gk_ran:
                spent = time.monotonic() - start
                if spent >= left:
                    raise TimeoutError(f"re-running the cells took longer than the {left:.0f} s left for restarts")
                replay = new_code_cell(self.nb.cells[i].source)
                self._in_kernel(replay, i, max(1, math.ceil(left - spent)))
                if any(o.get("ename") == "CellTimeoutError" for o in replay.outputs):  # interrupted half-way
                    raise TimeoutError(f"re-running the cells took longer than the {left:.0f} s left for restarts")
            if time.monotonic() - start >= left:
                raise TimeoutError(f"re-running the cells took longer than the {left:.0f} s left for restarts")
            self._install(index)
        except Exception as exc:  # noqa: BLE001 -- no second chance: later calls fail with this reason
            self.log.error("gradekit: the kernel could not be restarted: %s", exc)
            self._gk_dead = f"the student's kernel died earlier in this notebook and could not be restarted: {exc}"
        finally:
            self._gk_revive_left = left - (time.monotonic() - start)

    async def _restart(self) -> None:
        await ensure_async(self.km.restart_kernel(now=True))
        try:  # a restarted sandbox kernel listens on new sockets: a new client
            self.kc.stop_channels()
        except Exception:  # noqa: BLE001 -- the old channels are gone either way
            pass
        self.kc = self.km.client()
        await ensure_async(self.kc.start_channels())
        await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))

    def _in_kernel(self, cell: NotebookNode, index: int, timeout: int | None = None) -> None:
        saved, original = self.timeout, self.nb.cells[index]
        if timeout is not None:
            self.timeout = timeout
        try:
            self.execute_cell(cell, index, store_history=False)
        finally:  # nbclient puts the executed cell at `index` of the notebook: put the real one back
            self.timeout = saved
            self.nb.cells[index] = original


def _well_formed(msg) -> bool:
    """Whether a kernel message has the shape the relay reads (the kernel holds its session key: student code can
    sign a message whose content or parent header is a list or a string; such a message is dropped)."""
    return (type(msg) is dict and type(msg.get("msg_type")) is str and type(msg.get("parent_header")) is dict
            and type(msg.get("content")) is dict)


def _utf8(value) -> str:
    """``str(value)`` that a notebook file can hold: a lone surrogate (``"\\ud800"``, which a student's string or
    error message can carry across as JSON) becomes ``?`` instead of failing nbgrader's write of the notebook."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


class _Broken:
    """Stands in for an evaluator that failed: every later cell gets its reason."""

    def __init__(self, why: str) -> None:
        self.why = why

    def wait_ready(self, timeout: float) -> None:
        raise RuntimeError(self.why)

    def close(self) -> None:
        pass

