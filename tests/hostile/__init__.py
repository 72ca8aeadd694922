"""Hostile and broken submissions (issue 7), built for any assignment; see ``cases.py``."""
