"""The cell papermill injects with a run's parameters is shown the way the notebook shows its own parameters cell.

Papermill tags the injected cell only ``injected-parameters``, so a page whose parameters are hidden (the front
page) would still open with the overrides in plain view. Run by the Makefile on each executed notebook.
"""

from __future__ import annotations

import sys
from pathlib import Path

VISIBILITY = ("hide-input", "remove-input", "hide-cell", "remove-cell")


def match_injected_cell(path: str | Path) -> None:
    """Give the injected-parameters cell of the notebook at ``path`` the visibility tags of its parameters cell."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    tags = [set(cell.metadata.get("tags", [])) for cell in cells]
    own = next((t for t in tags if "parameters" in t), set())
    visibility = sorted(own & set(VISIBILITY))
    if not visibility:
        return
    for cell, cell_tags in zip(cells, tags, strict=True):
        if "injected-parameters" in cell_tags:
            cell.metadata["tags"] = sorted(cell_tags | set(visibility))
    nbformat.write(notebook, path)


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        match_injected_cell(argument)
