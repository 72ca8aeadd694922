"""nbgrader_config.py as a fresh clone uses it: the first README command works without any set-up step."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tools.nbgrader_course import REPO, SOLUTIONS, nbgrader_env

AID = "ex01_functions"


@pytest.mark.slow
def test_generate_assignment_on_a_fresh_clone_creates_grading_folder(tmp_path):
    # a fresh clone: the config and solutions/, no _grading/ (git-ignored)
    shutil.copy(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    shutil.copytree(SOLUTIONS / AID, tmp_path / "solutions" / AID)
    assert not (tmp_path / "_grading").exists()
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", AID, "--force"], cwd=tmp_path,
                          env=nbgrader_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "_grading" / "gradebook.db").is_file()
    assert (tmp_path / "exercises" / AID / f"{AID}.ipynb").is_file()
