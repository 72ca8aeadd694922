"""The book's repository-dependent buttons follow the one setting ``repository: url:`` (book/_ext/repository_buttons.py).

Fast: the extension's pure function is called on the options Jupyter Book derives from ``_config.yml``.
"""

from __future__ import annotations

import sys

import yaml

from tests.course.test_book import REPO

sys.path.insert(0, str(REPO / "book" / "_ext"))
from repository_buttons import LAUNCH_URL_KEYS, apply_repository_setting  # noqa: E402

LAUNCH = {"notebook_interface": "jupyterlab", "binderhub_url": "https://mybinder.org",
          "colab_url": "https://colab.research.google.com", "jupyterhub_url": "https://hub.uni.edu", "thebe": True}


def test_unset_repository_hides_every_button_that_would_lead_to_it():
    for unset in ("", "  ", None):
        options = apply_repository_setting({"repository_url": unset, "launch_buttons": dict(LAUNCH),
                                            "use_repository_button": True, "use_edit_page_button": True})
        assert "repository_url" not in options
        assert not any(options["launch_buttons"].get(k) for k in LAUNCH_URL_KEYS + ("thebe",)), options
        assert not options["use_repository_button"] and not options["use_issues_button"]
        assert not options["use_edit_page_button"]


def test_set_repository_shows_the_launch_repository_and_issue_buttons():
    options = apply_repository_setting({"repository_url": "https://github.com/someone/course/",
                                        "launch_buttons": dict(LAUNCH)})
    assert options["repository_url"] == "https://github.com/someone/course"
    assert options["launch_buttons"]["colab_url"] == LAUNCH["colab_url"]
    assert options["launch_buttons"]["binderhub_url"] == LAUNCH["binderhub_url"]
    assert options["use_repository_button"] and options["use_issues_button"]


def test_config_names_no_placeholder():
    """No address in _config.yml that a reader's click would find empty (example.*, a made-up organisation)."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    urls = [config["repository"].get("url") or ""] + [v for k, v in config["launch_buttons"].items()
                                                       if k.endswith("_url") and v]
    assert not any("example." in u or "invlib-course" in u for u in urls), urls
    assert "use_repository_button" not in (config.get("html") or {}), \
        "the repository button follows `repository: url:` (book/_ext/repository_buttons.py); do not switch it here"
    extensions = config["sphinx"]["local_extensions"]
    assert extensions.get("repository_buttons") == "book/_ext"
