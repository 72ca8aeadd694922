"""``python -m tools.try_submissions``: candidates graded against the hidden tests, lost cells named with their feedback."""

from __future__ import annotations

import pytest

from tools.try_submissions import load_candidates, main

pytestmark = pytest.mark.slow


def test_candidates_are_graded_cell_by_cell(tmp_path, capsys):
    path = tmp_path / "candidates.py"
    path.write_text(
        "CANDIDATES = {\n"
        "    'no_range_check': {'replace': {'elu-solution': "
        "'def elu_inverse(y, alpha=1.0):\\n    return torch.where(y > 0, y, torch.log1p(y / alpha))\\n'},\n"
        "                       'loses': ['elu-test-range']},\n"
        "    'declared_wrongly': {'replace': {'tanh-solution': 'def tanh_inverse_safe(y):\\n    return torch.atanh(y)\\n'},\n"
        "                         'loses': ['elu-test-basic']},\n"
        "}\n"
    )
    assert main(["ex02_nonlinearity", str(path)]) == 1  # one candidate lost other cells than it declared
    out = capsys.readouterr().out
    assert "the correct answers score 10/10" in out
    lines = out.splitlines()
    first = lines.index(next(line for line in lines if line.startswith("no_range_check:")))
    assert lines[first] == "no_range_check: 9/10"  # as declared: no mismatch note
    assert lines[first + 1].startswith("    lost elu-test-range: AssertionError: ")
    assert "outside ELU's range" in lines[first + 1]  # the test's own message, as feedback shows it
    assert any(line.startswith("declared_wrongly: 8/10   (declared loses ['elu-test-basic'])") for line in lines)
    assert "assert " not in out  # the hidden tests' code is never printed


def test_a_module_without_candidates_is_refused(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("X = 1\n")
    with pytest.raises(SystemExit, match="defines none of CANDIDATES"):
        load_candidates(path)
