"""What ``make book`` says as it goes: which notebook runs, and roughly how much work remains.

Each build records how long each notebook took (``_build/executed/<profile>/timings.json``); ``make reference``
commits them with the results (``results/<profile>/book_timings.json``), so a fresh machine can estimate a build
from the reference one. The estimate is the recorded time of the notebooks still to run; with a warm cache they go
faster than it says. Standard library only: it runs before every notebook.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from gssd_utils.results_io import REFERENCE_RESULTS

EXECUTED = Path("_build") / "executed"


def _timings(path: Path) -> dict[str, float]:
    try:
        return {k: float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def record(profile: str, notebook: str, seconds: float, root: Path = Path()) -> None:
    """Remember how long ``notebook`` took in this build."""
    path = root / EXECUTED / profile / "timings.json"
    timings = _timings(path)
    timings[notebook] = round(seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n")


def announce(profile: str, notebook: str, notebooks: Sequence[str], root: Path = Path()) -> str:
    """'notebook 3/10: 02_simclr at profile quick; ...' with the time the rest took in the last recorded build."""
    position = notebooks.index(notebook) if notebook in notebooks else 0
    line = f"== notebook {position + 1}/{len(notebooks)}: {notebook} at profile {profile}"
    for source, label in ((root / EXECUTED / profile / "timings.json", "this machine's last build"),
                          (root / REFERENCE_RESULTS / profile / "book_timings.json", "the reference build")):
        timings = _timings(source)
        remaining = [timings.get(name) for name in notebooks[position:]]
        if timings and all(t is not None for t in remaining):
            return f"{line}; this and the remaining notebooks took {sum(remaining) / 60:.0f} min in {label}"
    return f"{line} (no earlier build recorded: no estimate)"


def keep_reference_timings(profile: str, root: Path = Path()) -> None:
    """Copy this build's notebook timings next to the reference results (``make reference``)."""
    source = root / EXECUTED / profile / "timings.json"
    if source.exists():
        (root / REFERENCE_RESULTS / profile / "book_timings.json").write_text(source.read_text())
