"""nbgrader's own autograde tests of the issue-20 scenarios pass with this course's hardening injected (issue 20).

The whole suite (``nbgrader/tests/apps`` and ``nbgrader/tests/preprocessors``) runs in ``make test-nbgrader``;
``make test`` runs the scenarios of issue 20 (:data:`tests.gradekit.nbgrader_suite.SUBSET`). Differences
that are intended are listed, with their reason, in :data:`tests.gradekit.nbgrader_suite.INTENDED_DIFFERENCES`.
"""

from __future__ import annotations

import pytest

from tests.gradekit import nbgrader_suite
from tests.gradekit.nbgrader_suite import hardening_config, run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("gradekit-runner")]


def test_hardening_config_is_the_course_section():
    text = hardening_config()
    assert "SandboxKernelManager" in text and "c = get_config()" in text
    assert "CourseDirectory.root" not in text, "only the hardening, not the course's folders"


def test_an_api_built_with_its_own_config_grades_hardened(tmp_path, monkeypatch):
    """nbgrader's test_api fixture gives NbGraderAPI its own Config, which reads no nbgrader_config.py: the suite's
    plugin merges the hardening in, so api.autograde runs TrustedExecute and not stock Execute."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from gradekit.boundary import TrustedExecute

    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "nbgrader_config.py").write_text(hardening_config())
    monkeypatch.setenv(nbgrader_suite.CONFIG_ENV, str(tmp_path / "cfg"))
    monkeypatch.setattr(NbGraderAPI, "__init__", NbGraderAPI.__init__)  # undone after the test
    monkeypatch.chdir(tmp_path)
    config = Config()
    config.CourseDirectory.root = str(tmp_path)
    config.CourseDirectory.db_url = f"sqlite:///{tmp_path}/gradebook.db"
    config.Exchange.root = str(tmp_path)
    stock = Autograde(coursedir=CourseDirectory(config=config), parent=NbGraderAPI(CourseDirectory(config=config),
                                                                                    config=config))
    assert TrustedExecute not in stock.autograde_preprocessors
    nbgrader_suite.pytest_configure(None)
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    hardened = Autograde(coursedir=api.coursedir, parent=api)
    assert hardened.autograde_preprocessors[0] is TrustedExecute
    assert api.coursedir.root == str(tmp_path), "the fixture's own settings are kept"


def test_nbgrader_autograde_scenarios_pass_hardened():
    proc = run(subset=True, extra=["-rfE"])
    tail = proc.stdout[-6000:]
    assert proc.returncode == 0, f"nbgrader's own tests failed with the hardening injected:\n{tail}\n{proc.stderr[-2000:]}"
    assert " passed" in tail


def test_intended_differences_and_stock_failures_are_deselected_however_pytest_spells_the_ids(monkeypatch):
    """``--deselect <absolute path>`` never matched (pytest spelled the ids relative to where it ran): the
    collection hook matches the end of each id."""
    from types import SimpleNamespace

    suite = nbgrader_suite
    monkeypatch.setenv(suite.CONFIG_ENV, "/nonexistent")
    names = [*suite.INTENDED_DIFFERENCES, *suite.FAILS_STOCK]
    items = [SimpleNamespace(nodeid=f"../work/x/site-packages/nbgrader/tests/{n}") for n in names]
    kept = SimpleNamespace(nodeid="../nbgrader/tests/apps/test_nbgrader_autograde.py::TestNbGraderAutograde::test_grade")
    items.append(kept)
    deselected = []
    config = SimpleNamespace(hook=SimpleNamespace(pytest_deselected=lambda items: deselected.extend(items)))
    suite.pytest_collection_modifyitems(config, items)
    assert items == [kept]
    assert len(deselected) == len(names) == 12
