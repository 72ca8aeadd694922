"""Sphinx extension: the book's buttons that lead to its repository follow ONE setting, ``repository: url:``.

``_config.yml`` names the course's repository once (``repository: url:``, with ``branch:``). Everything that
leads there is derived from it:

* the launch buttons (Binder, Colab, JupyterHub: the rocket icon), which open a chapter's ``.ipynb`` copy from
  that repository, and
* the repository and "open an issue" buttons (the GitHub icon), through which a reader reports an error
  (``book/errata.md``).

While the url is empty -- a copy of the course that has not said where it is published -- all of them are
hidden: a button must never open a placeholder. (Jupyter Book itself refuses ``use_repository_button`` without
a url, which is why ``_config.yml`` leaves those switches to this extension.) The Colab install cell at the top of
every chapter follows the same setting (``tools/paired_notebooks.py``).
"""

from __future__ import annotations

LAUNCH_URL_KEYS = ("binderhub_url", "jupyterhub_url", "colab_url", "jupyterlite_url")
REPOSITORY_BUTTONS = ("use_repository_button", "use_issues_button")


def apply_repository_setting(theme_options: dict) -> dict:
    """Theme options with the repository-dependent buttons on when ``repository_url`` is set, off otherwise.

    Returns a new dict; ``theme_options`` is the ``html_theme_options`` Jupyter Book derived from ``_config.yml``.
    """
    options = dict(theme_options)
    url = (options.get("repository_url") or "").strip().rstrip("/")
    launch = dict(options.get("launch_buttons") or {})
    if url:
        options["repository_url"] = url
        for key in REPOSITORY_BUTTONS:
            options[key] = True
    else:
        options.pop("repository_url", None)
        for key in REPOSITORY_BUTTONS + ("use_edit_page_button",):
            options[key] = False
        for key in LAUNCH_URL_KEYS:
            if key in launch:
                launch[key] = ""
        launch["thebe"] = False
    options["launch_buttons"] = launch
    return options


def _on_config_inited(app, config) -> None:
    config.html_theme_options = apply_repository_setting(config.html_theme_options or {})


def setup(app):
    # Before the theme reads its options (builder-inited and every page's html-page-context).
    app.connect("config-inited", _on_config_inited, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
