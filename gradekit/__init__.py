"""gradekit: hardened, sandboxed, parallel autograding for this course's nbgrader assignments.

Modules (each has one job):

* :mod:`gradekit.sandbox` -- the launcher that runs a kernel, and so student code, in a Linux sandbox (no
  network, private filesystem view, memory / CPU-time / process limits, unprivileged uid), and
  :mod:`gradekit.kernel_manager`, the Jupyter kernel manager that starts kernels through it;
* :mod:`gradekit.runtime` -- the kernels' socket folders and process liveness, shared by the grader's processes;
* :mod:`gradekit.safe_files` -- reading a folder without following links, bounded (submissions, scratch copies);
* :mod:`gradekit.nbgrader_main` -- ``nbgrader``'s command line as the runner starts it (faster start-up);
* :mod:`gradekit.boundary` -- the trust boundary: nbgrader's ``Execute`` with test cells evaluated outside the
  student's kernel, by :mod:`gradekit.trusted`, which reaches student code through :mod:`gradekit.kernel_shim`
  and gets back only :mod:`gradekit.plain` data; :mod:`gradekit.testkit` -- what a test may pass to student code;
* :mod:`gradekit.guard` -- the nbgrader preprocessor that keeps a deleted or edited test cell from shrinking the
  maximum score;
* :mod:`gradekit.feedback` -- a feedback preprocessor that hides the hidden tests' source;
* :mod:`gradekit.submissions` -- finding submissions in a folder or a zip (nbgrader's zip_collect layout);
* :mod:`gradekit.journal` -- the resume journal: which submission (student + content hash) is graded;
* :mod:`gradekit.worker` -- what a grading process does: one task's submissions in a temporary course;
* :mod:`gradekit.runner` -- grading one submission in an isolated temporary course, and the parallel
  (process pool or Dask) driver that merges results into the gradebook one writer at a time;
* :mod:`gradekit.cli` -- ``python -m gradekit`` / ``make grade``.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
