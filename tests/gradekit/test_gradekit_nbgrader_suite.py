"""nbgrader's own autograde tests of the issue-20 scenarios pass with this course's hardening injected (issue 20).

The whole suite (``nbgrader/tests/apps`` and ``nbgrader/tests/preprocessors``) runs in ``make test-nbgrader``;
``make test`` runs the scenarios of issue 20 (:data:`tests.gradekit.nbgrader_suite.SUBSET`). Differences
that are intended are listed, with their reason, in :data:`tests.gradekit.nbgrader_suite.INTENDED_DIFFERENCES`.
"""

from __future__ import annotations

import pytest

from tests.gradekit.nbgrader_suite import hardening_config, run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("gradekit-runner")]


def test_hardening_config_is_the_course_section():
    text = hardening_config()
    assert "SandboxKernelManager" in text and "c = get_config()" in text
    assert "CourseDirectory.root" not in text, "only the hardening, not the course's folders"


def test_nbgrader_autograde_scenarios_pass_hardened():
    proc = run(subset=True, extra=["-rfE"])
    tail = proc.stdout[-6000:]
    assert proc.returncode == 0, f"nbgrader's own tests failed with the hardening injected:\n{tail}\n{proc.stderr[-2000:]}"
    assert " passed" in tail
