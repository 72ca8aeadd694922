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


def test_summary_says_found_graded_flagged_and_why():
    from gradekit.cli import summary_text
    from gradekit.runner import RunSummary

    summary = RunSummary(graded=["alice"], failed=["bob"], skipped=["carol"], seconds=3.0,
                         reasons={"bob": "refused (submissions must be regular files only): ex01.ipynb: a symbolic link"})
    text = summary_text(3, summary, ["/etc/passwd: an absolute path"], "grades.csv")
    assert text.splitlines()[0].startswith("found 3 students: graded 1, flagged 1 (scored 0, for manual grading), "
                                           "already graded 1")
    assert "flagged bob: refused (submissions must be regular files only): ex01.ipynb: a symbolic link" in text
    assert "ignored 1 entries" in text and "/etc/passwd: an absolute path" in text


def test_mixed_layout_is_refused_naming_the_paths(tmp_path, capsys):
    import shutil

    from tools.nbgrader_course import REPO

    shutil.copy(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    for rel in ("subs/alice/ex01_functions.ipynb", "subs/mallory/ex01_functions/ex01_functions.ipynb"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    assert main(["grade", "ex01_functions", str(tmp_path / "subs"), "--course", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "mixed layouts" in err and "mallory/ex01_functions/" in err and "alice/" in err


@pytest.mark.skipif(not sandbox_support()[0], reason="the kernels' Python is mirrored only where they are sandboxed")
def test_no_mirror_of_the_python_environment_stops_before_anyone_is_graded(tmp_path, capsys, monkeypatch):
    import shutil

    from gradekit.runtime import ENV_DIR_ENV
    from tools.nbgrader_course import REPO

    shutil.copy(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    (tmp_path / "subs" / "alice" / "ex01_functions.ipynb").write_text("{}")
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(ENV_DIR_ENV, str(tmp_path / "a-file" / "mirrors"))
    assert main(["grade", "ex01_functions", str(tmp_path / "subs"), "--course", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot mirror the Python environment" in err and str(tmp_path / "a-file" / "mirrors") in err, err
    assert ENV_DIR_ENV in err
    assert not list(tmp_path.rglob("gradekit-journal.jsonl")), "nobody may be graded (or flagged) by a setup error"
    assert main(["sandbox"]) == 1
    assert "Python environment for kernels: UNAVAILABLE" in capsys.readouterr().out
