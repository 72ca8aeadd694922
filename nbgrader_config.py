"""nbgrader configuration for this course.

Layout: ``solutions/`` is nbgrader's *source* (solutions and hidden tests), ``exercises/`` its
*release* (what students get, committed). Everything an instructor's grading produces --
submissions, autograded copies, feedback and the gradebook -- lives in the git-ignored ``_grading/``.
"""

import os

c = get_config()  # noqa: F821 -- injected by nbgrader / traitlets

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "invertible-nets"
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = os.path.join("_grading", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("_grading", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("_grading", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "_grading", "gradebook.db")
# _grading/ is git-ignored: a fresh clone has none, and sqlite cannot create the gradebook without its folder.
os.makedirs(os.path.join(HERE, "_grading"), exist_ok=True)
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store",
                            "RUBRIC*"]  # instructor rubrics next to a solution are never released

# Student stubs: the same text in every assignment, so tests can recognise an untouched release.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A cell that runs longer than this is stopped and scores zero.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# ---------------------------------------------------------------------------------------------------
# Hardening (gradekit, issue 7). Student code runs in a sandboxed kernel: no network, only its own
# notebook folder visible and writable, memory / CPU-time / process limits, an unprivileged uid. Where
# the OS allows no sandbox (not root, no Linux namespaces), grading goes on and the log says
# "GRADEKIT SANDBOX UNAVAILABLE". Test cells are guarded against monkeypatching, deleted or edited
# test cells score 0 without shrinking the maximum, and feedback hides the hidden tests' code.
import importlib.util  # noqa: E402

from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, GetGrades, IgnorePattern,
    LimitOutput, OverwriteCells, OverwriteKernelspec, SaveAutoGrades,
)
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402

from gradekit.boundary import TrustedExecute  # noqa: E402
from gradekit.feedback import HideHiddenTests  # noqa: E402
from gradekit.guard import ReconcileCells  # noqa: E402

c.Execute.kernel_manager_class = "gradekit.kernel_manager.SandboxKernelManager"
# nbgrader's Execute.__init__ passes its own kernel_manager_class, which beats this config; should the config
# ever lose, no cell runs outside the sandbox: grading stops with SandboxNotInEffect instead.
from gradekit.kernel_manager import require_sandbox  # noqa: E402

require_sandbox()
# Submissions are regular files only: plain `nbgrader autograde` refuses a submitted folder holding a link, a
# hard link, a FIFO or device, a notebook that is a folder, or too many files -- before nbgrader opens or
# copies anything of it -- and flags it for manual grading (every test cell 0), as `gradekit grade` does.
from gradekit.submissions import require_regular_submissions  # noqa: E402

require_regular_submissions()
c.Execute.raise_on_iopub_timeout = False  # a flooding kernel must not abort the whole run
c.SandboxKernelManager.memory_limit = 4 * 2**30  # RLIMIT_AS; importing torch alone maps ~0.8 GB
c.SandboxKernelManager.cpu_limit = 900  # RLIMIT_CPU per kernel process, seconds
c.SandboxKernelManager.process_limit = 256  # RLIMIT_NPROC and the cgroup's pids.max: processes and threads
# The whole sandbox (kernel and everything the student forks) shares this many CPUs (a cgroup, v1 or v2): a
# fork bomb burns one core, not the grader's. A cell that times out (c.Execute.timeout) takes every process
# the student started with it. Without a usable cgroup the launcher warns ("GRADEKIT CPU CAP UNAVAILABLE")
# and runs the kernel at nice 19 with at most fallback_process_limit processes.
c.SandboxKernelManager.cpu_cores = 1.0
c.SandboxKernelManager.fallback_process_limit = 64
c.SandboxKernelManager.file_size_limit = 256 * 2**20  # RLIMIT_FSIZE
c.SandboxKernelManager.tmp_size = 256 * 2**20  # the kernel's private /tmp
# The kernel works in a scratch folder (a tmpfs at /home/student/<assignment>) holding a copy of the
# submitted files but not the notebooks being graded (they carry the hidden tests); nothing it writes there
# reaches the course. At most this many bytes, and this many files in it, in /tmp and in /dev/shm (each).
c.SandboxKernelManager.working_folder_size = 256 * 2**20
c.SandboxKernelManager.file_limit = 10000
# kernels are forks of a server that imported these once (gradekit/zygote.py): ~2 s of CPU less per notebook
c.SandboxKernelManager.preload = ["numpy", "torch"]
c.SandboxKernelManager.use_zygote = True
# The course library (wherever it is installed -- nbgrader also runs copies of this file in temporary
# course folders), copied read-only to /opt/gradekit-lib in each sandbox; nothing else of the repository:
# solutions/ and _grading/ are not there, and no mount names the course's folder.
c.SandboxKernelManager.library_paths = [
    p for spec in [importlib.util.find_spec("invlib")] if spec for p in (spec.submodule_search_locations or [])
]

# Output limits: at most this many lines per output and traceback lines per error are kept.
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100

c.Autograde.sanitize_preprocessors = [
    ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, ReconcileCells, CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    TrustedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata,
]
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
