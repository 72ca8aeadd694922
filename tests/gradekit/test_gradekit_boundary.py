"""gradekit.boundary: test cells are judged outside the student's kernel, which sees only plain data.

Each test runs TrustedExecute on a small notebook with an ordinary (unsandboxed) kernel: the boundary
does not depend on the sandbox.
"""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from gradekit.boundary import TrustedExecute, cell_role

pytestmark = pytest.mark.slow
SECRET = "S3CRET_HIDDEN_MARKER"


def _cell(source: str, role: str, gid: str | None = None):
    cell = new_code_cell(source)
    if role == "test":
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1, "grade_id": gid}
    elif role == "instructor":
        cell.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True, "grade_id": gid}
    return cell


def _run(cells, tmp_path, **kw):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    ex = TrustedExecute(**{"timeout": 60, "kernel_name": "python3", **kw})
    nb, _ = ex.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return nb


def _errors(cell):
    return [(o.ename, o.evalue) for o in cell.outputs if o.output_type == "error"]


def _text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts += [str(o.get("text", "")), str(o.get("evalue", "")), str(o.get("data", ""))]
    return "\n".join(parts)


def test_roles_come_from_metadata_or_from_the_gradebook():
    test, instr, student = _cell("x", "test", "t"), _cell("import math", "instructor", "i"), _cell("y", "student")
    assert [cell_role(c) for c in (test, instr, student)] == ["test", "instructor", "student"]
    book = {"t": ("test", "x"), "i": ("instructor", "import math")}
    assert [cell_role(c, book) for c in (test, instr, student)] == ["test", "instructor", "student"]
    edited = _cell("pass", "test", "t")
    assert cell_role(edited, book) == "altered", "a test cell whose text is not the assignment's never runs"
    sneaky = _cell("import os", "instructor", "unknown")
    assert cell_role(sneaky, book) == "student", "locked metadata alone does not make a cell the instructor's"


def test_patches_in_the_kernel_cannot_change_the_verdict_and_tests_never_enter_it(tmp_path):
    patch = ("import math, builtins, torch\n"
             "def square(x):\n"
             "    math.isclose = lambda *a, **k: True\n"
             "    torch.allclose = lambda *a, **k: True\n"
             "    builtins.abs = lambda v: 0\n"
             "    return 0.0\n"
             "len = lambda x: 1\n")
    snoop = ("import os, gc\n"
             "print([x for x in In], dict(Out))\n"
             "print([open(os.path.join(r, f), errors='replace').read() for r, _, fs in os.walk('.') for f in fs])\n"
             "print([o for o in gc.get_objects() if isinstance(o, str) and 'MARKER' in o][:5])\n")
    nb = _run([
        _cell("import math\nimport torch", "instructor", "imports"),
        _cell(patch, "student"),
        _cell(f"# {SECRET}\nassert math.isclose(square(3), 9), 'square(3) must be 9'", "test", "t1"),
        _cell(f"# {SECRET}\nassert len([1, 2]) == 2 and abs(-2) == 2 and not torch.allclose(torch.zeros(1), "
              "torch.ones(1))", "test", "t2"),
        _cell(snoop, "student"),
        _cell("from IPython.core.interactiveshell import InteractiveShell\n"
              "InteractiveShell.transform_cell = lambda self, cell: 'pass\\n'", "student"),
        _cell("assert square(3) == 0.0", "test", "t3"),
    ], tmp_path)
    assert _errors(nb.cells[2]) == [("AssertionError", "square(3) must be 9")]
    assert _errors(nb.cells[3]) == [], "the tests use the real len, abs and torch, whatever the kernel did"
    assert nb.cells[4].outputs and SECRET not in _text(nb), "the test source reached the kernel"
    (ename, evalue), = _errors(nb.cells[6])
    assert ename == "BoundaryFailure", "a kernel that no longer answers fails the test, whatever it would say"


def test_values_callables_models_errors_and_partial_credit(tmp_path):
    student = ("import torch\n"
               "def apply(f, x):\n    return f(x)\n"
               "def train(model, x):\n"
               "    with torch.no_grad():\n        model.weight.add_(1.0)\n    x.mul_(2)\n    return model(x).sum().item()\n"
               "def check(v):\n    if v < 0:\n        raise ValueError('negative: ' + str(v))\n"
               "    if v == 0:\n        import numpy\n        raise numpy.linalg.LinAlgError('singular')\n    return v\n"
               "def loss(t):\n    return (t ** 2).sum()\n"
               "SCALE = 3.0\n"
               "class Net(torch.nn.Module):\n    def forward(self, x):\n        return 2 * x\n"
               "def use(model, x):\n    return model(x)\n")
    test = ("from gradekit.testkit import Affine, value_and_grad\n"
            "A = torch.tensor([[2.0, 0.0], [0.0, 3.0]])\n"
            "assert torch.equal(apply(Affine(A, 1.0), torch.ones(2)), torch.tensor([3.0, 4.0]))\n"
            "assert type(SCALE) is float and SCALE == 3.0\n"
            "m = torch.nn.Linear(2, 1)\nw = m.weight.detach().clone()\nx = torch.ones(1, 2)\n"
            "out = train(m, x)\n"
            "assert torch.equal(m.weight, w + 1) and torch.equal(x, torch.full((1, 2), 2.0)), 'write-back'\n"
            "assert isinstance(out, float)\n"
            "try:\n    check(-1)\nexcept ValueError as e:\n    print('caught', e)\nelse:\n    raise AssertionError\n"
            "v, g = value_and_grad(loss, torch.tensor([1.0, 2.0], requires_grad=True))\n"
            "assert torch.equal(g, torch.tensor([2.0, 4.0]))\n"
            "net = Net()\n"
            "assert torch.equal(use(net, torch.ones(2)), torch.full((2,), 2.0)) and 'student' in repr(net)\n"
            "0.5\n")
    nb = _run([
        _cell("import torch", "instructor", "imports"),
        _cell(student, "student"),
        _cell(test, "test", "t1"),
        _cell("check(0)", "test", "t2"),
        _cell("apply(lambda v: v, 1.0)", "test", "t3"),
    ], tmp_path)
    t1 = nb.cells[2]
    assert _errors(t1) == [], _errors(t1)
    assert "caught negative: -1" in "".join(o.get("text", "") for o in t1.outputs)
    assert [o.data["text/plain"] for o in t1.outputs if o.output_type == "execute_result"] == ["0.5"]
    assert _errors(nb.cells[3]) == [("LinAlgError", "singular")]
    (ename, evalue), = _errors(nb.cells[4])
    assert ename == "TypeError" and "gradekit.testkit" in evalue, "a test-defined lambda must not cross"


def test_a_hanging_or_crashing_student_function_fails_only_its_own_test(tmp_path):
    student = "import os\ndef hang():\n    while True:\n        pass\ndef crash():\n    os._exit(3)\ndef ok():\n    return 1\n"
    nb = _run([
        _cell(student, "student"),
        _cell("try:\n    hang()\nexcept Exception:\n    pass", "test", "t1"),
        _cell("assert ok() == 1", "test", "t2"),
        _cell("crash()", "test", "t3"),
        _cell("assert ok() == 1", "test", "t4"),
    ], tmp_path, call_timeout=3)
    (ename, evalue), = _errors(nb.cells[1])
    assert ename == "BoundaryFailure" and "no answer within 3 s" in evalue, "except Exception must not swallow it"
    assert _errors(nb.cells[2]) == []
    (ename, evalue), = _errors(nb.cells[3])
    assert ename == "BoundaryFailure" and "died" in evalue
    assert _errors(nb.cells[4]) == [], "after a crash the kernel is restarted with the student's cells run again"


def test_a_test_that_deletes_a_student_name_and_puts_it_back_grades_as_in_nbgrader(tmp_path):
    """nbgrader's test-hidden-tests.ipynb: ``orig = squares; del squares; sum_of_squares(1)`` must raise
    NameError inside the student's ``sum_of_squares``, and ``squares = orig`` puts the function back."""
    student = ("def squares(n):\n    return [i * i for i in range(1, n + 1)]\n"
               "def sum_of_squares(n):\n    return sum(squares(n))\n"
               "def own_sum(n):\n    return sum(i * i for i in range(1, n + 1))\n")
    uses = ("orig_squares = squares\n"
            "del squares\n"
            "try:\n    {f}(1)\nexcept NameError:\n    pass\nelse:\n"
            "    raise AssertionError('{f} does not use squares')\n"
            "finally:\n    squares = orig_squares\n")
    nb = _run([
        _cell(student, "student"),
        _cell(uses.format(f="sum_of_squares"), "test", "uses"),
        _cell("assert squares(3) == [1, 4, 9] and sum_of_squares(3) == 14", "test", "after"),
        _cell(uses.format(f="own_sum"), "test", "uses_own"),
        _cell("del undefined_name", "test", "missing"),
        _cell("x = 1\ndel x\nassert 'x' not in dir()", "test", "local"),
    ], tmp_path)
    assert _errors(nb.cells[1]) == [], _errors(nb.cells[1])
    assert _errors(nb.cells[2]) == [], "squares is back in the kernel after the test restored it"
    assert _errors(nb.cells[3]) == [("AssertionError", "own_sum does not use squares")]
    assert [e for e, _ in _errors(nb.cells[4])] == ["NameError"]
    assert _errors(nb.cells[5]) == []


def test_test_cells_see_nbgrader_s_execution_flags(tmp_path, monkeypatch):
    """nbgrader's validating-environment-variable.ipynb: ``os.getenv('NBGRADER_EXECUTION')`` in a test cell
    says 'autograde' while autograding, as it does in the kernel."""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("NBGRADER_VALIDATING", "1")
    nb = _run([
        _cell("import os", "student"),
        _cell("assert os.getenv('NBGRADER_EXECUTION') == 'autograde' and os.getenv('NBGRADER_VALIDATING') == '1'",
              "test", "flags"),
        _cell("assert os.getenv('HOSTNAME_NOT_FORWARDED_XYZ') is None", "test", "other"),
    ], tmp_path)
    assert _errors(nb.cells[1]) == [], _errors(nb.cells[1])
    assert _errors(nb.cells[2]) == []


@pytest.mark.parametrize("name", ["gradekit.__main__", "torch.__main__", "gradekit._private", "__main__"])
def test_a_reply_cannot_make_the_evaluator_import_a_module_that_runs_code(name):
    """A reply naming ``gradekit.__main__`` would run the grading CLI inside the trusted evaluator (its
    ``SystemExit`` ended the evaluator); only public modules of the allowed roots come back."""
    import sys

    from gradekit import plain
    from gradekit.trusted import Evaluator

    ev = Evaluator(channel=None)
    with pytest.raises(plain.PlainDataError, match="not one a test may use"):
        ev._ref_in({"__t": "module", "name": name})
    assert "gradekit.__main__" not in sys.modules
    assert ev._ref_in({"__t": "module", "name": "torch.linalg"}) is sys.modules["torch.linalg"]
    assert ev._ref_in({"__t": "module", "name": "os"}) is sys.modules["os"]  # already imported: a student's `os`


def test_a_reply_too_large_for_the_channel_fails_the_call_and_the_evaluator_goes_on(tmp_path):
    """15 MiB of control characters passes the relay's 64 MiB limit but is 90 MiB as JSON, over the evaluator's
    frame limit: the evaluator refused it with a ValueError (which ``except ValueError`` took for the student's),
    left its body unread, and died at the next frame. Now that call fails as a BoundaryFailure, and no more."""
    student = ("import sys\n"
               "_shim = sys.modules['_gradekit_shim'].SHIM\n"
               "_orig, _n = _shim.call, [0]\n"
               "def _call(*a, **k):\n"
               "    _n[0] += 1\n"
               "    if _n[0] > 1:\n"
               "        return _orig(*a, **k)\n"
               "    _shim.publish({'text/x-gradekit-reply': '\\x01' * 15_000_000})\n"
               "_shim.call = _call\n"
               "def f():\n    return 1\n")
    nb = _run([
        _cell(student, "student"),
        _cell("try:\n    f()\nexcept ValueError:\n    pass", "test", "t1"),
        _cell("assert f() == 1", "test", "t2"),
    ], tmp_path)
    (ename, evalue), = _errors(nb.cells[1])
    assert ename == "BoundaryFailure" and "larger than" in evalue, (ename, evalue[:300])
    assert _errors(nb.cells[2]) == [], "the evaluator and the stream are still in step"


def test_strings_a_notebook_cannot_hold_are_replaced_not_fatal(tmp_path):
    """A student's error message or string with lone surrogates crosses as JSON (``"\\ud800"``) but cannot be
    written as UTF-8: nbgrader failed to save the autograded notebook. Its class name may hold anything."""
    import nbformat

    student = ("Odd = type('Value\\nError <b>x</b> \\x1b[32mPASSED', (Exception,), {})\n"
               "def f():\n    raise Odd('bad \\ud800 \\x00 <script>')\n"
               "def g():\n    return 'text \\udcff end'\n")
    nb = _run([
        _cell(student, "student"),
        _cell("f()", "test", "t1"),
        _cell("print(g())", "test", "t2"),
        _cell("g()", "test", "t3"),
    ], tmp_path)
    nbformat.writes(nb).encode("utf-8")  # raised UnicodeEncodeError: surrogates not allowed
    (ename, evalue), = _errors(nb.cells[1])
    assert ename.startswith("Value\nError") and evalue.startswith("bad ? ")
    assert nb.cells[2].outputs[0].text == "text ? end\n"
    assert _errors(nb.cells[3]) == []


def test_restarts_after_crashes_in_tests_have_a_time_budget_per_notebook(tmp_path):
    """A kernel that dies in every test's call was restarted and its cells re-run each time: (test cells) x
    (cells' time), unbounded. Restarts now share ``revive_timeout`` seconds per notebook; then calls fail."""
    student = "import os, time\ntime.sleep(3)\ndef crash():\n    os._exit(3)\n"
    nb = _run([_cell(student, "student")] + [_cell("crash()", "test", f"t{i}") for i in range(4)]
              + [_cell("print('a later cell runs')", "student")], tmp_path, revive_timeout=5)
    assert "a later cell runs" in nb.cells[-1].outputs[0].text, "the kernel is alive for the cells after"
    errors = [_errors(c)[0] for c in nb.cells[1:-1]]
    assert all(e == "BoundaryFailure" for e, _ in errors), errors
    assert "died while running it" in errors[0][1]
    for _, evalue in errors[2:]:  # the 3 s cell fits the 5 s budget at most once
        assert "restart" in evalue and ("used up" in evalue or "longer than" in evalue), evalue


def test_calls_just_under_the_call_time_limit_share_the_test_cell_s_time(tmp_path):
    """A student function that sleeps just under the per-call limit, called many times by one test: the calls
    share the cell's time for student code (Execute.timeout, as a cell in stock nbgrader), then fail."""
    student = "import time\ndef f():\n    print('call')\n    time.sleep(2.0)\n    return 1\n"
    nb = _run([
        _cell(student, "student"),
        _cell("for _i in range(10):\n    assert f() == 1", "test", "t1"),
    ], tmp_path, timeout=12, call_timeout=3)
    (ename, evalue), = _errors(nb.cells[1])
    assert ename == "BoundaryFailure", (ename, evalue)
    calls = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream").count("call")
    assert 1 <= calls < 10, calls


SETUP = "_count = globals().get('_count', 0) + 1\ndef relu_layer(x):\n    return max(x, 0.0)\n"
INVERT_TEST = "_x = 3.0\nassert invert(relu_layer(_x)) == _x, 'not inverted'\n"
ONCE_TEST = "assert _count == 1, _count\n"
ECHO = ("seen = []\n"
        "def relu_layer(x):\n    seen.append(x)\n    return max(x, 0.0)\n"  # the student's own version records x
        "def invert(y):\n    return seen[-1] if seen else None\n")


@pytest.mark.parametrize("layout", ["deleted", "stripped", "moved-below", "in-place"])
def test_the_assignment_s_instructor_cells_run_on_the_grader_s_side_whatever_the_submission_did(
        tmp_path, monkeypatch, layout):
    """A test's reference function comes from a locked instructor cell. ReconcileCells restores deleted *tests*
    only: a submission without the instructor cell (or with it stripped of its metadata, or moved below the test)
    made the evaluator look ``relu_layer`` up in the kernel -- the student's version, which saw the test's
    input, so ``invert`` could echo it. The assignment's instructor cells above a test now run in the evaluator
    first (once each), from the gradebook."""
    import gradekit.boundary as boundary

    roles = {"setup": ("instructor", SETUP), "t1": ("test", INVERT_TEST), "t2": ("test", ONCE_TEST)}
    monkeypatch.setattr(boundary, "gradebook_roles", lambda resources: roles)
    setup, answer = _cell(SETUP, "instructor", "setup"), _cell(ECHO, "student")
    t1, t2 = _cell(INVERT_TEST, "test", "t1"), _cell(ONCE_TEST, "test", "t2")
    cells = {"deleted": [answer, t1, t2], "stripped": [_cell(SETUP, "student"), answer, t1, t2],
             "moved-below": [answer, t1, setup, t2], "in-place": [setup, answer, t1, t2]}[layout]
    nb = _run(cells, tmp_path)
    by_source = {c.source: c for c in nb.cells}
    assert _errors(by_source[INVERT_TEST]) == [("AssertionError", "not inverted")], "the instructor's relu_layer"
    assert _errors(by_source[ONCE_TEST]) == [], "each instructor cell runs once in the evaluator"


def test_a_test_cell_s_calls_share_one_kernel_execution_and_late_replies_are_not_taken_for_the_next(tmp_path):
    """Requests go to the shim's request loop (one execution per test cell, each request a line answering its
    ``input()``), not one execution each. The student's own ``input()`` is still refused as in stock
    autograde, and a reply published for an earlier request is never taken for a later one's."""
    student = ("from IPython import get_ipython\n"
               "from IPython.display import publish_display_data\n"
               "runs = []\n"
               "get_ipython().events.register('pre_run_cell', lambda info: runs.append(info.raw_cell))\n"
               "def ask():\n    return input('secret? ')\n"
               "def twice(x):\n    return 2 * x\n"
               "def stale(x):\n"
               "    publish_display_data({'text/x-gradekit-reply': '{\"value\": 999}', 'text/x-gradekit-seq': '1'})\n"
               "    print('stale', x)\n"
               "    return x + 1\n")
    nb = _run([
        _cell(student, "student"),
        _cell("try:\n    ask()\nexcept Exception as e:\n    print(e)", "test", "t1"),
        _cell("for _i in range(50):\n    assert twice(_i) == 2 * _i\n"
              "assert stale(1) == 2 and stale(2) == 3 and twice(4) == 8", "test", "t2"),
        _cell("print(len(runs), sum(r.startswith('__import__') for r in runs))", "student"),
    ], tmp_path)
    assert _errors(nb.cells[1]) == [] and "does not support input requests" in _text(nb), _text(nb)[:500]
    assert _errors(nb.cells[2]) == [], _errors(nb.cells[2])
    assert "stale 2" in "".join(o.get("text", "") for o in nb.cells[2].outputs), "a call's stdout is relayed"
    runs = "".join(o.get("text", "") for o in nb.cells[3].outputs).split()
    assert runs == ["3", "2"], f"two test cells: two request loops, the student's cell itself the third; {runs}"


# The kernel holds its own session key and sockets: student code can send any signed message on iopub and stdin.
FORGE = ("from IPython import get_ipython\n"
         "_k = get_ipython().kernel\n"
         "def _forge(content=None, parent=None, header=None, msg_type='display_data', raw=None, stdin=False):\n"
         "    if raw is not None:\n"
         "        return _k.iopub_socket.send_multipart(raw)\n"
         "    real = _k.get_parent('shell')['header']\n"
         "    msg = {'header': _k.session.msg_header(msg_type) if header is None else header,\n"
         "           'parent_header': real if parent is None else parent, 'metadata': {},\n"
         "           'content': {} if content is None else content}\n"
         "    if stdin:\n"
         "        ident = _k._get_shell_context_var(_k._shell_parent_ident)\n"
         "        _k.stdin_socket.send_multipart(_k.session.serialize(msg, ident=ident))\n"
         "    else:\n"
         "        _k.iopub_socket.send_multipart(_k.session.serialize(msg, ident=b'display_data'))\n")


def test_malformed_messages_forged_by_the_kernel_are_dropped_not_fatal(tmp_path):
    """Student code holds the kernel's session key, so it can sign any message: a content or parent header that
    is not a dict, a display's data that is a string, a header without msg_id, frames without a delimiter. The
    relay took each as well-formed (AttributeError / KeyError out of the grader: the notebook was not graded) or
    let jupyter_client's ValueError stop the evaluator (every later test failed). Now each is dropped."""
    student = FORGE + (
        "def f():\n"
        "    _forge(content=b'[1, 2]')\n"
        "    _forge(content={'data': 'text/x-gradekit-reply text/x-gradekit-seq'})\n"
        "    _forge(content={'name': 'stdout', 'text': 'ok'}, parent=[1, 2], msg_type='stream')\n"
        "    _forge(parent='x', msg_type='status')\n"
        "    _forge(header={'msg_type': 'display_data'})\n"
        "    _forge(header=[1])\n"
        "    _forge(raw=[b'garbage'])\n"
        "    _forge(parent='x', msg_type='input_request', stdin=True)\n"
        "    _forge(header={'msg_id': 'x'}, msg_type='input_request', stdin=True)\n"
        "    import time\n    time.sleep(0.5)\n"
        "    return 1\n"
        "def g():\n    return 2\n")
    nb = _run([
        _cell(student, "student"),
        _cell("assert f() == 1", "test", "t1"),
        _cell("assert g() == 2", "test", "t2"),
    ], tmp_path, call_timeout=5)
    assert _errors(nb.cells[1]) == [], _errors(nb.cells[1])
    assert _errors(nb.cells[2]) == [], "the evaluator and the relay go on"


def test_student_code_that_reads_and_answers_the_next_request_learns_and_gains_nothing_new(tmp_path):
    """A student function may turn stdin back on (``kernel._allow_stdin = True``) and call ``input()`` inside a
    call: it then reads the NEXT request's line and can answer it itself. That line holds what the next call of
    the student's own code receives (kind, handle, plain-data arguments, the torch RNG state) and never the test's
    text; answering it is the power the student's function has anyway (to return what it likes)."""
    student = ("import json, sys\n"
               "from IPython import get_ipython\n"
               "_k = get_ipython().kernel\n"
               "_S = sys.modules['_gradekit_shim'].SHIM\n"
               "read = []\n"
               "def peek(x):\n"
               "    _S._reply(x, writeback=[])\n"  # answers its own request first
               "    _k._allow_stdin = True\n"
               "    while True:\n"
               "        line = input()\n"  # the next request
               "        if line == 'stop':\n"  # none: the grader ends the loop
               "            return x\n"
               "        read.append(line)\n"
               "        req = json.loads(line)\n"
               "        _S.seq = req['seq']\n"
               "        if req['kind'] == 'call':\n"
               "            return _S._reply(42, writeback=[])\n"  # answers the next call as it likes
               "        _S.get(req['name'])\n"  # (the test first reads the name 'other')
               
               "def other(x):\n    return 0\n")
    nb = _run([
        _cell(student, "student"),
        _cell(f"# {SECRET}\n_v = peek(1)\nassert other(2) == 42, 'other'\nassert other(3) == 0 and peek(5) == 5",
              "test", "t1"),
        _cell(f"# {SECRET}\nassert other(4) == 0", "test", "t2"),
        _cell("import json\nprint(len(read), [sorted(json.loads(r)) for r in read])\nprint(read)", "student"),
    ], tmp_path, call_timeout=5)
    assert _errors(nb.cells[1]) == [], _errors(nb.cells[1])
    assert _errors(nb.cells[2]) == [], "the next test cell's loop is in step again"
    seen = "".join(o.get("text", "") for o in nb.cells[3].outputs)
    assert seen.startswith("2 [['kind', 'name', 'seq'], ['id', 'kind', 'payload', 'seq']]") and 'rng' in seen, seen
    assert SECRET not in _text(nb)


IMMORTAL = ("import sys, threading, time\n"
            "from IPython.display import publish_display_data\n"
            "_S = sys.modules['_gradekit_shim'].SHIM\n"
            "_orig = _S.serve\n"
            "def _immortal():\n"  # a request loop that ignores 'stop' and survives the interrupt
            "    while True:\n"
            "        try:\n"
            "            _orig()\n"
            "        except KeyboardInterrupt:\n"
            "            pass\n"
            "_S.serve = _immortal\n"
            "def ok():\n    return 1\n")


def test_a_request_loop_that_never_ends_costs_only_its_own_notebook_bounded_time(tmp_path):
    """``SHIM.serve`` replaced by a loop that ignores "stop" and catches the timeout's KeyboardInterrupt: the test
    whose reply came first keeps it; later calls and cells queue behind the loop and fail after their time limits
    (no hang of the grader), and the next notebook, in a fresh kernel, grades exactly."""
    nb = _run([
        _cell(IMMORTAL, "student"),
        _cell("assert ok() == 1", "test", "t1"),
        _cell("assert ok() == 1", "test", "t2"),
        _cell("print('a later cell')", "student"),
    ], tmp_path, timeout=4, call_timeout=2, raise_on_iopub_timeout=False)
    assert _errors(nb.cells[1]) == [], _errors(nb.cells[1])
    (ename, evalue), = _errors(nb.cells[2])
    assert ename == "BoundaryFailure" and "no answer within 2 s" in evalue, (ename, evalue)
    assert [e for e, _ in _errors(nb.cells[3])] == ["CellTimeoutError"], nb.cells[3].outputs
    honest = _run([_cell("def ok():\n    return 1\n", "student"), _cell("assert ok() == 1", "test", "t1")],
                  tmp_path, timeout=4, call_timeout=2)
    assert _errors(honest.cells[1]) == []


def test_a_thread_that_forges_replies_and_steals_request_lines_after_its_cell_cannot_stall_the_grader(tmp_path):
    """A thread started in an answer cell outlives it: it publishes forged replies for every request number as
    fast as it can (a flood of iopub) and keeps asking for input, so it may take request lines and "stop" meant for
    the loop. The student's own calls may then fail or get the thread's values (which their functions could return
    anyway); the grader finishes each call within its limits and the next notebook grades exactly."""
    student = ("import sys, threading\n"
               "from IPython import get_ipython\n"
               "from IPython.display import publish_display_data\n"
               "_k = get_ipython().kernel\n"
               "_S = sys.modules['_gradekit_shim'].SHIM\n"
               "_yes = _S.plain.to_json({'value': 7, 'writeback': []})\n"
               "_quiet = threading.Event()\n"
               "def _flood():\n"
               "    while not _quiet.is_set():\n"
               "        for seq in ('1', '2', '3', '999'):\n"
               "            publish_display_data({'text/x-gradekit-reply': _yes, 'text/x-gradekit-seq': seq})\n"
               "def _steal():\n"
               "    while True:\n"
               "        _k._allow_stdin = True\n"
               "        try:\n"
               "            _k.raw_input('')\n"
               "        except Exception:\n"
               "            pass\n"
               "threading.Thread(target=_flood, daemon=True).start()\n"
               "threading.Thread(target=_steal, daemon=True).start()\n"
               "def twice(x):\n    return 2 * x\n")
    nb = _run([
        _cell(student, "student"),
        _cell("assert twice(3) == 6, 'twice'", "test", "t1"),
        _cell("assert twice(4) == 8, 'twice'", "test", "t2"),
        _cell("_quiet.set()\nprint('a later cell')", "student"),  # (its outputs would hold the flood)
        _cell("assert 1 + 1 == 2", "test", "t3"),
    ], tmp_path, timeout=4, call_timeout=2, raise_on_iopub_timeout=False)
    for cell in (nb.cells[1], nb.cells[2]):
        # the thread's value 7 may stand for `twice` itself: "'int' object is not callable"
        assert all(e in ("AssertionError", "BoundaryFailure", "TypeError") for e, _ in _errors(cell)), _errors(cell)
    assert _errors(nb.cells[4]) == [], "a test that asks the kernel nothing is not disturbed"
    honest = _run([_cell("def twice(x):\n    return 2 * x\n", "student"), _cell("assert twice(3) == 6", "test", "t1")],
                  tmp_path, timeout=4, call_timeout=2)
    assert _errors(honest.cells[1]) == []


def test_a_call_that_swallows_the_timeout_s_interrupt_fails_alone_and_later_tests_still_run(tmp_path):
    """A student's bare ``except:`` (common, not hostile) catches the KeyboardInterrupt of a call's timeout, and the
    function returns late: the request loop then asks for the next request, and the grader, waiting for the loop to
    end, left it asking. The next test cell's loop queued behind it and that test failed too (t2 here, a test the
    student deserves), after 2 + 10 s more. Now a loop that asks after the interrupt is told to stop."""
    student = ("import time\n"
               "def slow():\n"
               "    try:\n"
               "        time.sleep(4)\n"
               "    except:\n"
               "        pass\n"
               "    return 1\n"
               "def ok():\n    return 1\n")
    nb = _run([
        _cell(student, "student"),
        _cell("assert slow() == 1", "test", "t1"),
        _cell("assert ok() == 1", "test", "t2"),
        _cell("assert ok() == 1", "test", "t3"),
        _cell("print('a later cell')", "student"),
    ], tmp_path, timeout=20, call_timeout=2, raise_on_iopub_timeout=False)
    (ename, evalue), = _errors(nb.cells[1])
    assert ename == "BoundaryFailure" and "no answer within 2 s" in evalue, (ename, evalue)
    assert _errors(nb.cells[2]) == [] and _errors(nb.cells[3]) == [], (_errors(nb.cells[2]), _errors(nb.cells[3]))
    assert "a later cell" in nb.cells[4].outputs[0].text


def test_a_call_that_holds_off_the_interrupt_past_the_stop_wait_does_not_cost_the_next_test(tmp_path):
    """A long C call (BLAS, LAPACK) takes a call's timeout interrupt only when it returns. Past the 10 s the grader
    waits for the loop to end, the next test cell's loop was queued behind it; when the old loop then ended with the
    KeyboardInterrupt, ipykernel aborted the queued loop (stop_on_error) and the next test failed, "no answer from the
    student's kernel", though the student deserved it. The loop's execution no longer stops on error."""
    student = ("import signal, time\n"
               "def slow():\n"  # SIGINT held off for 16 s, as by a long C call
               "    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\n"
               "    time.sleep(16)\n"
               "    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})\n"
               "    return 1\n"
               "def ok():\n    return 1\n")
    nb = _run([
        _cell(student, "student"),
        _cell("assert slow() == 1", "test", "t1"),
        _cell("assert ok() == 1", "test", "t2"),
    ], tmp_path, timeout=30, call_timeout=4, raise_on_iopub_timeout=False)
    (ename, evalue), = _errors(nb.cells[1])
    assert ename == "BoundaryFailure" and "no answer within 4 s" in evalue, (ename, evalue)
    assert _errors(nb.cells[2]) == [], _errors(nb.cells[2])


def test_an_install_that_runs_past_the_cell_time_limit_is_tried_again(tmp_path, monkeypatch):
    """The fresh-clone make test of session 10 (load average ~280 while the hostile fork and memory cases ran):
    installing the kernel shim took longer than the cell time limit, was interrupted, and an honest student's
    test then failed ('no answer: KeyError: _gradekit_shim'). An install stopped by the time limit is now tried
    once more with a longer limit. Here the first attempt sleeps past a 4 s limit."""
    import gradekit.boundary as boundary

    slow_once = ("import builtins, time\n"
                 "if not getattr(builtins, '_gk_test_slow_done', False):\n"
                 "    builtins._gk_test_slow_done = True\n"
                 "    time.sleep(30)\n")
    monkeypatch.setattr(boundary, "INSTALL", slow_once + boundary.INSTALL)
    nb = _run([_cell("def twice(x):\n    return 2 * x\n", "student"), _cell("assert twice(3) == 6", "test", "t1")],
              tmp_path, timeout=4)
    assert _errors(nb.cells[1]) == []
