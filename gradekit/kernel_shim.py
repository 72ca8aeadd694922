"""The kernel's end of the trust boundary: runs inside the student's (sandboxed) kernel.

The grader (:mod:`gradekit.boundary`) sends this module's source, with :mod:`gradekit.plain` and
:mod:`gradekit.testkit`, into the kernel once, before the first cell, as modules ``_gradekit_plain``,
``_gradekit_testkit`` and ``_gradekit_shim``. Then, while a test cell is evaluated on the grader's side,
the kernel runs ``SHIM.serve()`` (one history-free execution per test cell) and the grader sends each thing
the test needs from the student's side as one line of JSON answering the kernel's ``input()`` (the stdin
channel: about 1.5 ms a request, against about 7 ms for an execution of its own):

* ``SHIM.get(name)`` -- the student's variable ``name``;
* ``SHIM.getattr(handle, name)`` -- an attribute of a student object;
* ``SHIM.call(handle, request)`` -- call a student function or object with plain-data arguments.
* ``SHIM.delete(name)`` / ``SHIM.assign(name, request)`` -- a test's ``del name`` of a student's name, and
  its putting the name back (nbgrader's "does ``sum_of_squares`` use ``squares``" tests).

Each publishes one reply, a ``display_data`` output of type :data:`MIME` (with the request's ``seq`` as
type :data:`SEQ_MIME`, so that a late reply is never taken for the next request's) holding JSON: ``{"value": ...}``
(plain data; a function, a model or any other object that is not plain data becomes a *handle*, a
number the grader can pass back) or ``{"error": {"type": ..., "message": ...}}``; a call's reply also
carries ``"writeback"``: the new value of each tensor / model argument the call changed in place.

Nothing here is trusted: the student can replace all of it. The grader checks every reply against the
plain-data schema, so the student can only make their own functions return other values -- which they
can do anyway.
"""

from __future__ import annotations

import json
import sys
import types
from typing import Any

MIME = "text/x-gradekit-reply"
SEQ_MIME = "text/x-gradekit-seq"
MAX_MESSAGE = 2000  # characters of an error message sent back


class Shim:
    """The kernel-side table of handles and the three requests (see module doc)."""

    def __init__(self, namespace: dict, plain: Any, testkit: Any, publish: Any, kernel: Any = None) -> None:
        self.ns, self.plain, self.testkit, self.publish, self.kernel = namespace, plain, testkit, publish, kernel
        self.handles: dict[int, Any] = {}
        self.seq = 0

    # -- the request loop ---------------------------------------------------------------------------
    def serve(self) -> None:
        """Answer requests until the grader sends ``stop``: each is one line of JSON read with the kernel's
        ``input()`` -- ``{"seq", "kind", ...}`` with the arguments of the method of that name -- and is
        answered by that method's reply. The student's own ``input()`` stays refused while their code runs."""
        kernel = self.kernel
        while True:
            kernel._allow_stdin = True
            try:
                line = kernel.raw_input("")
            finally:
                kernel._allow_stdin = False
            if line == "stop":
                return
            try:
                req = json.loads(line)
                self.seq, kind = int(req["seq"]), req["kind"]
                if kind in ("get", "delete"):
                    getattr(self, kind)(req["name"])
                elif kind == "getattr":
                    self.getattr(req["id"], req["name"])
                elif kind == "call":
                    self.call(req["id"], req["payload"])
                elif kind == "assign":
                    self.assign(req["name"], req["payload"])
            except (ValueError, KeyError, TypeError):  # not a request: ask again
                continue

    # -- what crosses -------------------------------------------------------------------------------
    def _handle(self, obj: Any) -> dict:
        if isinstance(obj, types.ModuleType):
            return {"__t": "module", "name": str(obj.__name__)}
        hid = len(self.handles) + 1
        self.handles[hid] = obj
        return {"__t": "handle", "id": hid, "callable": callable(obj), "type": type(obj).__qualname__[:80],
                "name": str(getattr(obj, "__name__", ""))[:80]}

    def _ref(self, tagged: dict) -> Any:
        tag = tagged["__t"]
        if tag == "handle":
            return self.handles[tagged["id"]]
        if tag == "global":
            return self.ns[tagged["name"]]
        if tag == "callable":
            params = self.plain.decode(tagged["params"], self._ref)
            return self.testkit.CALLABLES[tagged["name"]](**params)
        if tag == "model":
            state = self.plain.decode(tagged["state"], self._ref)
            return self.testkit.build_module(tagged["spec"], state)
        raise TypeError(f"unknown reference {tag!r}")

    def _reply(self, value: Any = None, error: BaseException | None = None, **extra: Any) -> None:
        if error is None:
            try:
                text = self.plain.to_json({"value": value, **extra}, other=self._handle)
            except Exception as exc:  # noqa: BLE001 -- a value outside the schema: say so
                error = exc
        if error is not None:
            text = self.plain.to_json({"error": {"type": type(error).__name__[:80],
                                                 "message": str(error)[:MAX_MESSAGE]}})
        self.publish({MIME: text, SEQ_MIME: str(self.seq)})

    # -- the requests -------------------------------------------------------------------------------
    def get(self, name: str) -> None:
        """Reply with the student's variable ``name`` (an error ``NameError`` if there is none)."""
        if name not in self.ns:
            return self._reply(error=NameError(f"name {name!r} is not defined"))
        return self._reply(self.ns[name])

    def delete(self, name: str) -> None:
        """Delete the student's variable ``name`` (a test's ``del name``); an error ``NameError`` if none."""
        if name not in self.ns:
            return self._reply(error=NameError(f"name {name!r} is not defined"))
        del self.ns[name]
        return self._reply(None)

    def assign(self, name: str, request: str) -> None:
        """Set the student's variable ``name`` to ``request`` = plain JSON ``{"value"}`` (a test putting back
        a name it deleted; a handle stands for the student's own object)."""
        try:
            self.ns[name] = self.plain.from_json(request, self._ref)["value"]
        except Exception as exc:  # noqa: BLE001
            return self._reply(error=exc)
        return self._reply(None)

    def getattr(self, hid: int, name: str) -> None:
        """Reply with attribute ``name`` of the object behind handle ``hid``."""
        try:
            value = getattr(self.handles[hid], name)
        except Exception as exc:  # noqa: BLE001
            return self._reply(error=exc)
        return self._reply(value)

    def call(self, hid: int, request: str) -> None:
        """Call handle ``hid`` with ``request`` = plain JSON ``{"args", "kwargs", "grad_wrt"}``; reply."""
        try:
            req = self.plain.from_json(request, self._ref)
            args, kwargs, wrt = req["args"], req["kwargs"], req.get("grad_wrt")
            if req.get("rng") is not None:  # the grader's torch RNG state: random draws as if in one process
                sys.modules["torch"].set_rng_state(req["rng"])
            theirs = {id(v) for v in self.handles.values()}  # the student's own objects are not written back
            mutable = [x for x in mutables([args, kwargs]) if id(x) not in theirs]
            before = [_state(x) for x in mutable]
            out = self.handles[hid](*args, **kwargs)
            if wrt is not None:
                out = (out.detach(), self.testkit.gradient(out, args[wrt]))
            after = [_state(x) for x in mutable]
            writeback = [None if _same(a, b) else b for a, b in zip(before, after)]
        except (Exception, SystemExit) as exc:  # noqa: BLE001 -- the student's error is the answer
            return self._reply(error=exc)
        return self._reply(out, writeback=writeback)


def mutables(obj: Any):
    """Tensors and models in ``obj`` (lists, tuples, dict values), in a fixed order.

    Both sides of the boundary use it: the kernel to say which arguments a call changed in place (the
    reply's ``"writeback"``, one entry per item in this order), :mod:`gradekit.trusted` to copy them back."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, (torch.Tensor, torch.nn.Module)):
        yield obj
    elif type(obj) in (list, tuple):
        for x in obj:
            yield from mutables(x)
    elif type(obj) is dict:
        for x in obj.values():
            yield from mutables(x)


def _state(x: Any) -> Any:
    torch = sys.modules["torch"]
    if isinstance(x, torch.nn.Module):
        return {"state": {k: v.detach().clone() for k, v in x.state_dict().items()}, "training": bool(x.training)}
    return x.detach().clone()


def _same(a: Any, b: Any) -> bool:
    torch = sys.modules["torch"]
    if isinstance(a, dict):
        return (a["training"] == b["training"] and a["state"].keys() == b["state"].keys()
                and all(_same(a["state"][k], b["state"][k]) for k in a["state"]))
    return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))


def install(namespace: dict) -> Shim:
    """Create the kernel's :data:`SHIM` over the user namespace ``namespace``."""
    from IPython import get_ipython
    from IPython.display import publish_display_data

    global SHIM
    SHIM = Shim(namespace, sys.modules["_gradekit_plain"], sys.modules["_gradekit_testkit"],
                lambda data: publish_display_data(data),
                getattr(get_ipython(), "kernel", None))
    return SHIM


SHIM: Shim | None = None
