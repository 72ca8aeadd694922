"""gradekit.cli: arguments and the errors a user sees (grading itself is tested in test_gradekit_runner)."""

from __future__ import annotations

import pytest

from gradekit.cli import build_parser, main
from gradekit.sandbox import sandbox_support


def test_parser_defaults():
    args = build_parser().parse_args(["grade", "ex01_functions", "subs.zip"])
    assert args.workers >= 1 and args.scheduler is None and args.course == "." and not args.regrade
    args = build_parser().parse_args(["grade", "a", "s", "--scheduler", "tcp://h:8786", "--cell-timeout", "30"])
    assert args.scheduler == "tcp://h:8786" and args.cell_timeout == 30


def test_sandbox_command_reports(capsys):
    code = main(["sandbox"])
    out = capsys.readouterr().out
    assert (code == 0) == sandbox_support()[0]
    assert out.startswith("sandbox: available" if code == 0 else "sandbox: UNAVAILABLE")


def test_bad_inputs_are_clear_errors(tmp_path, capsys):
    assert main(["grade", "ex01_functions", str(tmp_path / "nothing"), "--course", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    (tmp_path / "subs" / "alice" / "ex01_functions.ipynb").write_text("{}")
    assert main(["grade", "ex01_functions", str(tmp_path / "subs"), "--course", str(tmp_path)]) == 2
    assert "not an nbgrader course" in capsys.readouterr().err
    assert main(["grade", "x", str(tmp_path / "subs"), "--workers", "0"]) == 2
    with pytest.raises(SystemExit):
        main(["grade"])
