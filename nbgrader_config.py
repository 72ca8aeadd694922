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
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]

# Student stubs: the same text in every assignment, so tests can recognise an untouched release.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A cell that runs longer than this is stopped and scores zero.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
