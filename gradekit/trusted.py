"""The grader's end of the trust boundary: a process that evaluates test cells outside the student's kernel.

One evaluator serves one graded notebook of :class:`gradekit.boundary.TrustedExecute`: a fork of a
pre-loaded server (:mod:`gradekit.boundary_server`) or, where there is none, a fresh ``python -m
gradekit.trusted FD_IN FD_OUT``. It runs the notebook's locked instructor cells and its test
cells in its own namespace, with the real ``torch``, ``math``, builtins... -- nothing the student wrote
runs here. A name a test cell uses but neither it nor an instructor cell defined is looked up in the
student's kernel, through the parent (a *kernel request*, answered by :mod:`gradekit.kernel_shim`):

* plain data (:mod:`gradekit.plain`) comes back as exact base types;
* a student function or object comes back as a :class:`Student` handle; calling it sends the (plain-data)
  arguments, runs the student's code in the kernel and returns plain data; tensors and models it changed
  in place are updated here too (so "do not modify x in place" can be tested);
* an error in student code comes back as its type name and message, raised here as that built-in
  exception type (``ValueError`` stays ``ValueError``; unknown types become :class:`StudentError`), so
  ``try: f(bad) / except ValueError`` works as before;
* a call that hangs, crashes the kernel, or returns something outside the schema raises a
  :class:`BoundaryFailure`, which ``except Exception`` in a test does not catch: that test fails, with
  a message saying what happened.

Every comparison, tolerance and ``assert`` runs here. The channel to the parent is a pair of pipes
carrying length-prefixed JSON frames (:class:`Channel`).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import io
import json
import os
import select
import struct
import sys
import time
import traceback
import types
from typing import Any

from gradekit import plain

MAX_FRAME = 80 * 2**20
MAX_OUTPUT = 20_000  # characters of a test cell's stdout / stderr kept
MODULE_ROOTS = {"math", "cmath", "numpy", "torch", "scipy", "sklearn", "invlib", "random", "statistics",
                "itertools", "functools", "collections", "operator", "numbers", "fractions", "decimal", "gradekit"}
STUDENT_ERRORS = {e.__name__: e for e in (
    ValueError, TypeError, RuntimeError, IndexError, KeyError, LookupError, ZeroDivisionError, ArithmeticError,
    OverflowError, FloatingPointError, NotImplementedError, AttributeError, AssertionError, NameError,
    UnboundLocalError, RecursionError, MemoryError, StopIteration, OSError, ImportError, ModuleNotFoundError)}


class BoundaryFailure(BaseException):
    """The student's side did not answer a test's request (timeout, dead kernel, data outside the schema).

    A ``BaseException``, so a test's ``except Exception`` does not turn it into a pass."""


class StudentError(Exception):
    """An exception raised in student code whose type is not a built-in one (its name is :attr:`type_name`)."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name


class FrameTooLarge(ValueError):
    """A message whose frame would exceed :data:`MAX_FRAME` bytes: refused before anything is written."""


class Channel:
    """Length-prefixed JSON frames over two file descriptors."""

    def __init__(self, fd_in: int, fd_out: int) -> None:
        self.fd_in, self.fd_out = fd_in, fd_out

    def send(self, msg: dict) -> None:
        """Write ``msg`` as one frame; :class:`FrameTooLarge` (nothing written) if it exceeds :data:`MAX_FRAME`.

        The receiver refuses a larger frame without reading its body, so sending one would leave the stream
        out of step (the next frame read from the middle of this one)."""
        data = json.dumps(msg, separators=(",", ":")).encode()
        if len(data) > MAX_FRAME:
            raise FrameTooLarge(f"a frame of {len(data)} bytes is larger than {MAX_FRAME}")
        view = memoryview(struct.pack(">Q", len(data)) + data)
        while view:
            n = os.write(self.fd_out, view)
            view = view[n:]

    def _read(self, n: int, deadline: float | None) -> bytes | None:
        chunks, left = [], n
        while left:
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0 or not select.select([self.fd_in], [], [], wait)[0]:
                    raise TimeoutError
            chunk = os.read(self.fd_in, min(left, 2**20))
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def recv(self, timeout: float | None = None) -> dict | None:
        """The next frame, None at end of stream; ``TimeoutError`` after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        head = self._read(8, deadline)
        if head is None:
            return None
        (n,) = struct.unpack(">Q", head)
        if n > MAX_FRAME:
            raise ValueError(f"frame of {n} bytes is larger than {MAX_FRAME}")
        body = self._read(n, deadline)
        if body is None:
            return None
        msg = json.loads(body)
        if type(msg) is not dict:
            raise ValueError("a frame is a JSON object")
        return msg


class Student:
    """A handle on a student function or object that lives in the kernel (see module doc)."""

    __slots__ = ("_gk_ev", "_gk_id", "_gk_callable", "_gk_name")

    def __init__(self, ev: Evaluator, hid: int, is_callable: bool, name: str) -> None:
        object.__setattr__(self, "_gk_ev", ev)
        object.__setattr__(self, "_gk_id", hid)
        object.__setattr__(self, "_gk_callable", is_callable)
        object.__setattr__(self, "_gk_name", name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._gk_callable:
            raise TypeError(f"the student's {self._gk_name} is not callable")
        return self._gk_ev.call(self, args, kwargs)

    def _gradekit_value_and_grad(self, args: tuple, wrt: int) -> Any:
        return self._gk_ev.call(self, tuple(args), {}, wrt=wrt)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._gk_ev.getattr(self, name)

    def __bool__(self) -> bool:
        raise TypeError(f"the student's {self._gk_name} is not plain data: it has no truth value here")

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("a test cannot set attributes of a student object")

    def __repr__(self) -> str:
        return f"<student {'function' if self._gk_callable else 'object'} {self._gk_name}>"


class Namespace(dict):
    """The test cells' globals: a name not defined here nor a builtin is the student's (a kernel request)."""

    def __init__(self, ev: Evaluator) -> None:
        super().__init__()
        self.ev = ev

    def __missing__(self, name: str) -> Any:
        if name in builtins.__dict__ or name.startswith("__"):
            raise KeyError(name)
        return self.ev.get(name)

    def __delitem__(self, name: str) -> None:
        """``del name`` of a student's name deletes it in the kernel (nbgrader's "uses squares" tests)."""
        if dict.__contains__(self, name) or name.startswith("__"):
            return super().__delitem__(name)
        self.ev.delete(name)

    def __setitem__(self, name: str, value: Any) -> None:
        """Assigning a student's name the test deleted puts the value back in the kernel, not here."""
        if name in self.ev.deleted:
            return self.ev.assign(name, value)
        return super().__setitem__(name, value)


class Evaluator:
    """Runs cells here; asks the kernel (through ``channel``) for what they need from the student."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.deleted: set[str] = set()  # student names a test deleted in the kernel (``del squares``)
        self.ns = Namespace(self)
        self.ns["__name__"] = "__main__"
        self.ns["__builtins__"] = builtins
        self.ns["get_ipython"] = lambda: _NO_SHELL  # magics in instructor cells do nothing here
        self.ns["display"] = lambda *objs, **kw: print(*(repr(o) for o in objs))
        self.instructor: dict[int, str] = {}  # id(function) -> its name, for functions of locked cells
        self.cache: dict[str, Any] = {}

    # -- kernel requests ----------------------------------------------------------------------------
    def _request(self, req: dict, what: str) -> Any:
        self.channel.send({"op": "kernel", "req": req})
        try:
            reply = self.channel.recv()
        except (ValueError, OSError) as exc:  # a broken frame: never a ValueError a test's ``except`` could take
            raise BoundaryFailure(f"{what}: the grader could not read the reply ({str(exc)[:200]})") from None
        if reply is None:
            raise SystemExit(0)
        if reply.get("stdout"):
            sys.stdout.write(str(reply["stdout"])[:MAX_OUTPUT])
        if "failure" in reply:
            raise BoundaryFailure(f"{what}: {reply['failure']}")
        try:
            data = plain.from_json(reply.get("text"), refs=self._ref_in)
            if type(data) is not dict or not (("value" in data) ^ ("error" in data)):
                raise plain.PlainDataError("a reply holds a 'value' or an 'error'")
        except plain.PlainDataError as exc:
            raise BoundaryFailure(f"{what} returned data outside the plain-data schema "
                                  f"(tensors, arrays, numbers, strings, bools, None, lists/tuples/dicts of them): {exc}"
                                  ) from None
        if "error" in data:
            err = data["error"]
            name = err.get("type") if type(err) is dict else None
            msg = err.get("message") if type(err) is dict else None
            name, msg = (name if type(name) is str else "Error")[:80], (msg if type(msg) is str else "")[:2000]
            cls = STUDENT_ERRORS.get(name)
            raise StudentError(name, msg) if cls is None else cls(msg)
        return data

    def _ref_in(self, tagged: dict) -> Any:
        tag = tagged.get("__t")
        if tag == "handle" and type(tagged.get("id")) is int:
            name = tagged.get("name") if type(tagged.get("name")) is str and tagged.get("name") else "object"
            return Student(self, tagged["id"], tagged.get("callable") is True, name[:80])
        if tag == "module" and type(tagged.get("name")) is str:
            name = tagged["name"]
            public = not any(part.startswith("_") for part in name.split("."))  # no `gradekit.__main__` (runs the CLI)
            if public and (name in sys.modules or name.split(".")[0] in MODULE_ROOTS):
                try:
                    return importlib.import_module(name)
                except ImportError:
                    pass
            raise plain.PlainDataError(f"the module {name[:80]!r} is not one a test may use")
        raise plain.PlainDataError(f"unexpected reference {str(tag)[:40]!r}")

    def _ref_out(self, obj: Any) -> dict | None:
        from gradekit import testkit

        if type(obj) is Student:
            return {"__t": "handle", "id": obj._gk_id}
        if type(obj) in testkit.CALLABLES.values():
            name, params = obj.spec()
            return {"__t": "callable", "name": name, "params": plain.encode(params, self._ref_out)}
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(obj, torch.nn.Module):
            return {"__t": "model", "spec": testkit.module_spec(obj), "state": plain.encode(dict(obj.state_dict()))}
        if isinstance(obj, types.FunctionType) and id(obj) in self.instructor:
            return {"__t": "global", "name": self.instructor[id(obj)]}
        raise TypeError(f"a test may pass to student code only plain data, gradekit.testkit callables, torch.nn "
                        f"models built from testkit.MODULE_LAYERS and functions of the notebook's locked cells; "
                        f"got {type(obj).__qualname__} {getattr(obj, '__name__', '')}".rstrip())

    def get(self, name: str) -> Any:
        if name in self.cache:
            return self.cache[name]
        try:
            value = self._request({"kind": "get", "name": name}, f"reading the student's {name!r}")["value"]
        except NameError:
            raise KeyError(name) from None
        self.cache[name] = value
        return value

    def delete(self, name: str) -> None:
        """``del name`` in a test: delete the student's ``name`` in the kernel (``KeyError`` if it has none),
        so student code that uses it raises ``NameError`` there, as when the test ran in the kernel."""
        try:
            self._request({"kind": "delete", "name": name}, f"deleting the student's {name!r}")
        except NameError:
            raise KeyError(name) from None
        self.cache.pop(name, None)
        self.deleted.add(name)

    def assign(self, name: str, value: Any) -> None:
        """``name = value`` in a test, for a student name the test deleted: put ``value`` back in the kernel.
        ``value`` crosses as a call's arguments do (plain data, or the student's own object by its handle)."""
        try:
            payload = plain.to_json({"value": value}, other=self._ref_out)
        except plain.PlainDataError as exc:
            raise TypeError(f"cannot give the student's {name!r} this value: {exc}") from None
        self._request({"kind": "assign", "name": name, "payload": payload}, f"restoring the student's {name!r}")
        self.cache.pop(name, None)
        self.deleted.discard(name)

    def getattr(self, obj: Student, attr: str) -> Any:
        return self._request({"kind": "getattr", "id": obj._gk_id, "name": str(attr)},
                             f"{obj._gk_name}.{attr}")["value"]

    def call(self, fn: Student, args: tuple, kwargs: dict, wrt: int | None = None) -> Any:
        torch = sys.modules.get("torch")
        req = {"args": list(args), "kwargs": dict(kwargs), "grad_wrt": wrt,
               "rng": torch.get_rng_state() if torch is not None else None}
        try:
            payload = plain.to_json(req, other=self._ref_out)
        except plain.PlainDataError as exc:
            raise TypeError(f"cannot pass these arguments to the student's {fn._gk_name}: {exc}") from None
        what = f"the student's {fn._gk_name}"
        data = self._request({"kind": "call", "id": fn._gk_id, "payload": payload}, what)
        self._write_back(args, kwargs, data.get("writeback"), what)
        return data["value"]

    def _write_back(self, args: tuple, kwargs: dict, new: Any, what: str) -> None:
        from gradekit.kernel_shim import mutables

        targets = list(mutables([list(args), dict(kwargs)]))
        if type(new) is not list or len(new) != len(targets):
            raise BoundaryFailure(f"{what}: the reply does not say which arguments it changed")
        torch = sys.modules["torch"]
        for target, value in zip(targets, new):
            if value is None:
                continue
            with torch.no_grad():
                if isinstance(target, torch.nn.Module):
                    state = value.get("state") if type(value) is dict else None
                    own = target.state_dict()
                    if type(state) is not dict or state.keys() != own.keys():
                        raise BoundaryFailure(f"{what} changed a model's structure")
                    for k, v in state.items():
                        _copy_into(own[k], v, what)
                    target.train(value.get("training") is True)
                else:
                    _copy_into(target, value, what)

    # -- cells --------------------------------------------------------------------------------------
    def run(self, source: str, label: str, instructor: bool) -> dict:
        """Execute one cell; return ``{"stdout", "stderr", "result", "error"}`` (see :class:`TrustedExecute`)."""
        self.cache = {}
        out, err = io.StringIO(), io.StringIO()
        result, error = None, None
        filename = f"<{label}>"
        try:
            tree = ast.parse(_python(source), filename)
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                exec(compile(tree, filename, "exec"), self.ns)
                if last is not None:
                    value = eval(compile(ast.Expression(last.value), filename, "eval"), self.ns)
                    if value is not None:
                        result = _display(value)
        except (Exception, BoundaryFailure) as exc:  # noqa: BLE001 -- a failing test is the answer
            error = _error(exc, filename)
        if instructor:
            for k, v in list(self.ns.items()):
                if isinstance(v, types.FunctionType) and v.__code__.co_filename == filename:
                    self.instructor[id(v)] = k
        return {"stdout": out.getvalue()[:MAX_OUTPUT], "stderr": err.getvalue()[:MAX_OUTPUT], "result": result,
                "error": error}


class _NoShell:
    """``get_ipython()`` on the grader's side: magics and shell calls of instructor cells do nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


_NO_SHELL = _NoShell()


def _python(source: str) -> str:
    """``source`` with IPython's syntax (``%magic``, ``!cmd``) turned into Python, as IPython would."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover -- IPython comes with nbgrader
        return source
    return TransformerManager().transform_cell(source)


def _copy_into(target: Any, value: Any, what: str) -> None:
    torch = sys.modules["torch"]
    if type(value) is not torch.Tensor or value.shape != target.shape or value.dtype != target.dtype:
        raise BoundaryFailure(f"{what} changed the shape or dtype of an argument in place")
    target.copy_(value)


def _display(value: Any) -> str:
    """The text/plain of a cell's last expression (nbgrader reads partial credit from it)."""
    if type(value) is Student:
        return repr(value)
    text = repr(value)
    return text[:MAX_OUTPUT]


def _error(exc: BaseException, filename: str) -> dict:
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == filename:
            line = lineno
    name = exc.type_name if isinstance(exc, StudentError) else type(exc).__name__
    return {"ename": name, "evalue": str(exc)[:2000], "line": line}


def serve_cells(channel: Channel) -> None:
    """Run the cells the parent sends on ``channel`` until it closes it (:class:`gradekit.boundary.TrustedExecute`
    is the parent). The first frame sent is ``{"op": "ready", "pid": ...}``, once torch is imported."""
    ev = Evaluator(channel)
    import torch  # noqa: F401 -- the tests use it; import it before the first cell arrives

    channel.send({"op": "ready", "pid": os.getpid()})
    while True:
        msg = channel.recv()
        if msg is None:
            return
        if msg.get("op") == "cell":
            channel.send({"op": "result", **ev.run(str(msg["source"]), str(msg["label"]), bool(msg["instructor"]))})


def main(argv: list[str]) -> None:
    """``python -m gradekit.trusted FD_IN FD_OUT``: serve cells on these two file descriptors (a fresh
    evaluator process; :mod:`gradekit.boundary_server` forks pre-loaded ones instead)."""
    serve_cells(Channel(int(argv[0]), int(argv[1])))


if __name__ == "__main__":
    main(sys.argv[1:])
