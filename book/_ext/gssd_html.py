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
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in context.get("script_files", []):
        # an inline script's filename is None or "" depending on who added it
        key = (str(getattr(script, "filename", script) or ""), str(getattr(script, "attributes", {}).get("body", "")))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    if "script_files" in context:
        context["script_files"][:] = unique


def _default_mode(app: Any, config: Any) -> None:
    config.html_context.setdefault("default_mode", "light")


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _default_mode)
    # after the theme and the other extensions have added their scripts
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
