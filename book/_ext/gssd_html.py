"""Sphinx extension: pages that load without console errors.

- jupyter-book 1.0 fires sphinx-thebe's ``env-before-read-docs`` hook twice, so each page declared thebe's inline
  constants twice (once with filename None, once with "", so Sphinx's own check misses it) and the browser
  reported a SyntaxError: every script is emitted once.
- pydata-sphinx-theme reads the colour mode from the ``default_mode`` template variable, which jupyter-book leaves
  empty, and logs "invalid theme mode" on every page: the book sets one.

``tests/test_browser.py`` loads every page in Chromium and fails on any console error.
"""

from __future__ import annotations

from typing import Any


def _dedupe_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    unique: dict[tuple[str, str], Any] = {}
    for script in scripts:
        # an inline script's filename is None or "" depending on who added it
        unique.setdefault((script.filename or "", script.attributes.get("body", "")), script)
    scripts[:] = unique.values()


def _default_mode(app: Any, config: Any) -> None:
    config.html_context.setdefault("default_mode", "light")


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _default_mode)
    # after the theme and the other extensions have added their scripts
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
