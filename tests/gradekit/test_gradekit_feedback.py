"""gradekit.feedback: feedback keeps which hidden test failed and its message, never its code."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_notebook, new_output

from gradekit.feedback import HideHiddenTests, hidden_spans

TEST = """assert f(1) == 2, "visible check"
### BEGIN HIDDEN TESTS
assert f(-7) == secret_expected_value(-7), "negative inputs are wrong"
assert f(0) == 0
### END HIDDEN TESTS"""


def _error(line: int, msg: str) -> dict:
    tb = ["\x1b[31mAssertionError\x1b[39m  Traceback (most recent call last)",
          f"Cell \x1b[32mIn[4]\x1b[39m, line {line}\n----> {line} assert f(-7) == secret_expected_value(-7), \"{msg}\"",
          f"AssertionError: {msg}"]
    return new_output("error", ename="AssertionError", evalue=msg, traceback=tb)


def _run(cells):
    nb = new_notebook(cells=cells)
    nb, _ = HideHiddenTests().preprocess(nb, {})
    return nb


def test_spans_are_one_based_and_include_markers():
    assert hidden_spans(TEST) == [(2, 5)]
    assert hidden_spans("x = 1") == []


def test_hidden_failure_shows_message_not_code():
    cell = new_code_cell(TEST, outputs=[_error(3, "negative inputs are wrong")])
    nb = _run([cell])
    src = nb.cells[0].source
    assert "secret_expected_value" not in src and "BEGIN HIDDEN" not in src
    assert "hidden tests: 2 lines" in src and 'assert f(1) == 2, "visible check"' in src
    out = nb.cells[0].outputs[0]
    assert out["traceback"] == ["AssertionError: negative inputs are wrong", "(raised by a hidden test)"]
    assert out["evalue"] == "negative inputs are wrong"


def test_visible_failure_keeps_its_traceback():
    tb = ["Traceback", "Cell In[4], line 1\n----> 1 assert f(1) == 2, \"visible check\"", "AssertionError: visible check"]
    cell = new_code_cell(TEST, outputs=[new_output("error", ename="AssertionError", evalue="visible check", traceback=tb)])
    out = _run([cell]).cells[0].outputs[0]
    assert out["traceback"] == tb


def test_student_printing_hidden_source_is_scrubbed():
    spy = new_code_cell("import inspect", outputs=[new_output(
        "stream", name="stdout", text="caller: assert f(-7) == secret_expected_value(-7), \"negative inputs are wrong\"\nok\n")])
    nb = _run([spy, new_code_cell(TEST)])
    assert "secret_expected_value" not in nb.cells[0].outputs[0]["text"]
    assert nb.cells[0].outputs[0]["text"].endswith("ok\n")
