"""nbgrader's own test suite, run with this course's hardening injected into every nbgrader run.

``python -m tests.gradekit.nbgrader_suite [--subset] [PYTEST ARGS]`` (``make test-nbgrader``).

nbgrader ships its tests inside the package (``nbgrader/tests/apps``, ``nbgrader/tests/preprocessors``).
Every ``NbGraderApp`` loads ``nbgrader_config.py`` from the folders on ``$JUPYTER_CONFIG_PATH``; this
module writes the hardening part of the course's ``nbgrader_config.py`` (everything from the ``Hardening``
banner on: the sandboxed kernel manager, its limits, the preprocessor lists) into such a folder and runs
nbgrader's suite with it, so each of nbgrader's own scenarios (due dates, late penalties, extra files,
several notebooks, manually graded cells, partial credit, ``--no-execute``, ``nbgrader db assignment add``,
``--force`` re-runs ...) is graded the hardened way. A test that fails must be listed in
:data:`INTENDED_DIFFERENCES` with the reason, or be fixed.

:data:`SUBSET` is the part ``make test`` runs (the scenarios issue 20 names; see
``tests/gradekit/test_gradekit_nbgrader_suite.py``); ``make test-nbgrader`` runs all of it. Measured under a
load average of 12-16 on the shared 2-core machine: the three former regressions (``test_no_execute``,
``test_force_single_notebook``, ``test_update_newer_single_notebook``) and their feedback twins, 6 tests, pass
in 5.1 min; the whole suite took longer than an hour there (not finished when this was written), so it is a
target of its own and not part of ``make test``.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BANNER = "# Hardening (gradekit"
SUITE = ("apps", "preprocessors")
_AUTOGRADE = "apps/test_nbgrader_autograde.py::TestNbGraderAutograde::"
#: the scenarios issue 20 names: due dates, late penalties, extra files, several notebooks, missing and extra
#: notebooks, --no-execute, deterministic re-runs (--force, newer submissions), hidden tests
SUBSET = tuple(_AUTOGRADE + t for t in (
    "test_grade", "test_grade_timestamp", "test_late_submission_penalty_zero", "test_grade_overwrite_files",
    "test_skip_extra_notebooks", "test_force_single_notebook", "test_update_newer_single_notebook",
    "test_no_execute", "test_grade_missing_notebook", "test_hidden_tests_single_notebook",
    "test_grade_with_validating_envvar"))
# nbgrader's whole autograde and generate_feedback test files (57 tests) with the hardening: 52 passed, 2 skipped,
# 3 failed (test_side_effects: intended, below; test_hidden_tests_single_notebook; test_grade_with_validating_envvar)
# in 35.5 min under a load average of 12-16 on the shared 2-core machine. Both since fixed and in SUBSET (the two
# took 43 s together): test_hidden_tests_single_notebook -- its test `sum_of_squares_uses_squares` does
# `orig = squares; del squares; sum_of_squares(1)` expecting NameError in the student's function, and the trusted
# side's `del` found no `squares` in its own namespace (NameError before the try); a test's `del` of a student name
# now deletes it in the kernel and assigning it back restores it there (gradekit.trusted.Namespace);
# test_grade_with_validating_envvar -- the test cell reads os.getenv('NBGRADER_EXECUTION'), which the trusted
# evaluator's scrubbed environment lacked; it now keeps nbgrader's NBGRADER_EXECUTION / NBGRADER_VALIDATING.
# Found by the first 15% of the whole suite (71 of 453 tests in 78 min under a load average of 12-16, before
# ReconcileCells kept intact cells; stopped there), all passing since (5 tests, 42 s + 12 s, load average ~4):
# apps/test_nbgrader_fetchfeedback.py::TestNbGraderFetchFeedback::test_single_file -- not the hardening: the test
# reads os.environ["USER"], unset on the machine that ran it (KeyError); run() now sets USER when it is missing.
# apps/test_api.py::TestNbGraderAPI::{test_autograde, test_generate_feedback, test_release_feedback,
# test_fetch_feedback} -- their `api` fixture builds its own traitlets Config and NbGraderAPI runs Autograde
# in-process with it, so no nbgrader_config.py was read and they graded with stock Execute: they did not test the
# hardening at all. pytest_configure below (this module as a plugin) merges the hardening into such a Config; with
# it (TrustedExecute, SandboxKernelManager) the four pass (50 s). The earlier failures did not reproduce, with or
# without the hardening; their cause is not known (that run was under a load average of 12-16).
# (test_force_single_notebook, test_update_newer_single_notebook and test_grade_with_validating_envvar failed there
# too and pass since.)

# The whole suite (453 tests, apps + preprocessors) with the hardening, 2026-11-30 02:10-03:26 UTC, pytest-xdist
# `-n 2` (nbgrader's tests tolerate it: each has its own temporary course), load average 6-20 on the shared 2-core
# machine: 438 passed, 3 skipped, 12 failed in 75.8 min. No regression of the hardening: test_side_effects is the
# intended difference below (its --deselect never matched pytest's node ids: deselection is a collection hook now);
# the 11 others are
# preprocessors/test_instantiatetests.py (test_load_test_template_file, test_replace_autotest_code, ...,
# test_list_autotest), which read nbgrader/docs/source/user_guide/autotests.yml relative to the working folder -- a
# file of nbgrader's source checkout, not of the installed package -- and fail the same way without the hardening
# (checked: test_int_autotest, test_load_test_template_file, stock). That run's config was the hardening as of 02:10
# (before require_regular_submissions); the gradekit code it imported changed under it (socket folder, neutral venv
# mirror). SUBSET with today's hardening (require_regular_submissions included): 11 passed in 8.7 min.
# The whole suite with the final configuration of issue 20 (the kernel's socket folder sealed before the grader
# connects, EnvMirrorError, require_regular_submissions), `python -m tests.gradekit.nbgrader_suite -rfE -n 2`, run
# 2026-11-30 05:44-06:47 UTC from a snapshot of commit b744080 (so no edit in the working tree reached it), load
# average 9-85 on the shared 2-core machine: **438 passed, 3 skipped, 0 failed in 63.2 min**; 12 deselected (the
# intended difference below and the 11 FAILS_STOCK). The 3 skips are nbgrader's own: test_api's
# test_get_released_assignments_windows (Windows only), test_nbgrader_autograde's test_many_students and
# test_infinite_loop_with_output ("takes too long"). Nothing left to fix or document.
#: nbgrader test id -> why the hardened grading differs from stock on purpose.
INTENDED_DIFFERENCES: dict[str, str] = {
    _AUTOGRADE + "test_side_effects": (
        "a file the notebook writes while it is graded is not copied into the autograded folder: the kernel works "
        "in a scratch tmpfs that root never reads back (8 x 50 MiB written there were read into the grader's "
        "memory and copied into the course; links planted there were followed by root)"),
}

_TEMPLATES = "preprocessors/test_instantiatetests.py::TestInstantiateTests::"
#: nbgrader test id -> why it fails with or without the hardening (deselected: it cannot test the hardening here).
#: Checked stock, no hardening, 2026-11-30: these 11 fail and the file's 3 others pass.
FAILS_STOCK: dict[str, str] = {
    _TEMPLATES + t: ("reads nbgrader/docs/source/user_guide/autotests.yml relative to the working folder: a file of "
                     "nbgrader's source checkout that the installed package does not ship (FileNotFoundError stock)")
    for t in ("test_load_test_template_file", "test_replace_autotest_code", "test_consistent_release_version",
              "test_kernel_right_workingdir", "test_kernel_wrong_workingdir", "test_warning_autotest_nongrade",
              "test_error_autotest_nongrade", "test_int_autotest", "test_float_autotest", "test_string_autotest",
              "test_list_autotest")
}


def hardening_config() -> str:
    """The hardening part of the course's ``nbgrader_config.py``, as a config file of its own."""
    text = (REPO / "nbgrader_config.py").read_text()
    cut = text.find(BANNER)
    if cut < 0:
        raise RuntimeError(f"no {BANNER!r} section in {REPO / 'nbgrader_config.py'}")
    return "import os\n\nc = get_config()  # noqa: F821\n\n" + text[text.rfind("\n", 0, cut) + 1:]


def suite_paths(subset: bool = False) -> list[str]:
    spec = importlib.util.find_spec("nbgrader.tests")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nbgrader's tests are not installed with nbgrader")
    root = Path(list(spec.submodule_search_locations)[0])
    return [str(root / p) for p in (SUBSET if subset else SUITE)]  # node ids work as paths


CONFIG_ENV = "GRADEKIT_NBGRADER_SUITE_CONFIG"  # the folder holding the hardening's nbgrader_config.py


def pytest_configure(config) -> None:
    """As a pytest plugin in nbgrader's run (``-p tests.gradekit.nbgrader_suite``): an ``NbGraderAPI`` given an
    explicit traitlets ``Config`` (nbgrader's ``test_api`` fixture) reads no config file, so the hardening is
    merged into that ``Config`` -- otherwise ``api.autograde`` would grade with stock ``Execute``."""
    folder = os.environ.get(CONFIG_ENV)
    if not folder:
        return
    import copy

    from nbgrader.apps.api import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    stock = NbGraderAPI.__init__

    def hardened(self, *args, **kwargs):
        if kwargs.get("config") is not None:
            merged = copy.deepcopy(kwargs["config"])
            merged.merge(PyFileConfigLoader("nbgrader_config.py", path=folder).load_config())
            kwargs["config"] = merged
        stock(self, *args, **kwargs)

    NbGraderAPI.__init__ = hardened


def pytest_collection_modifyitems(config, items) -> None:
    """As a plugin in nbgrader's run: deselect :data:`INTENDED_DIFFERENCES` and :data:`FAILS_STOCK`. (``--deselect``
    compares node ids as strings, and how pytest spells them here depends on the folder it runs from and on
    xdist: matching the end of the id does not.)"""
    if not os.environ.get(CONFIG_ENV):
        return
    skip = tuple(INTENDED_DIFFERENCES) + tuple(FAILS_STOCK)
    removed = [item for item in items if item.nodeid.endswith(skip)]
    if removed:
        items[:] = [item for item in items if not item.nodeid.endswith(skip)]
        config.hook.pytest_deselected(items=removed)


def run(subset: bool = False, extra: list[str] | None = None, junit: str | None = None,
        capture: bool = True) -> subprocess.CompletedProcess:
    """Run nbgrader's suite (or :data:`SUBSET`) with the hardening injected; the pytest process (its output
    captured, or streamed to this process's stdout/stderr with ``capture=False``: the whole suite runs an hour
    and more, and a log written as it goes shows how far it got)."""
    with tempfile.TemporaryDirectory(prefix="gk-nbgrader-config-") as cfg:
        Path(cfg, "nbgrader_config.py").write_text(hardening_config())
        env = dict(os.environ)
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [cfg, env.get("JUPYTER_CONFIG_PATH")]))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        # nbgrader's fetchfeedback tests read os.environ["USER"] (a login shell sets it; containers often do not)
        env.setdefault("USER", pwd.getpwuid(os.getuid()).pw_name)
        env[CONFIG_ENV] = cfg
        cmd = [sys.executable, "-m", "pytest", *suite_paths(subset), "-p", "no:cacheprovider", "-q", "-n", "0",
               "-p", "tests.gradekit.nbgrader_suite",
               "-o", "addopts=", "--rootdir", str(Path(suite_paths()[0]).parent), *(extra or [])]
        if junit:
            cmd += ["--junitxml", junit]
        return subprocess.run(cmd, env=env, cwd=tempfile.gettempdir(), capture_output=capture, text=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    subset = "--subset" in argv
    argv = [a for a in argv if a != "--subset"]
    sys.stdout.flush()
    return run(subset, argv, capture=False).returncode


if __name__ == "__main__":
    sys.exit(main())
