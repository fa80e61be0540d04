"""Result tables on disk: ``<name>.csv`` for people, ``<name>.json`` with provenance for the book; and where they go.

Two places, one owner (this module): a build writes to ``_build/results/<profile>/`` (``build_dir``), so building
the book never changes a tracked file; the committed reference results live in ``results/<profile>/``
(``reference_dir``) and are refreshed by an explicit step (``make reference``). Both files are written atomically,
so an interrupted run never leaves a half-written table that the book renders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from gssd_utils.atomic_io import json_ready, save_json, write_atomically
from gssd_utils.provenance import REPO_ROOT, Provenance

if TYPE_CHECKING:
    import pandas as pd

BUILD_RESULTS = Path("_build") / "results"
REFERENCE_RESULTS = Path("results")
# ``gssd compare``'s table of every defense on every attack: a name of its own, so a book build (whose Table 1 chapter
# writes ``comparison`` with the profile's cheaper defenses) never overwrites it when its results become the reference
FULL_COMPARISON = "comparison_all_defenses"


def build_dir(profile: str) -> Path:
    """Where a build writes the results of ``profile`` (untracked)."""
    return REPO_ROOT / BUILD_RESULTS / profile


def reference_dir(profile: str) -> Path:
    """Where the committed reference results of ``profile`` live."""
    return REPO_ROOT / REFERENCE_RESULTS / profile


def write_results(table: pd.DataFrame, provenance: Provenance, directory: str | Path, name: str,
                  details: dict | None = None, settings: str = "") -> list[Path]:
    """``details`` (optional, JSON-able) holds what does not fit a table row, e.g. per-class statistics."""
    directory = Path(directory)
    csv_path = write_atomically(directory / f"{name}.csv", lambda tmp: table.to_csv(tmp, index=False))
    record = {"provenance": provenance.as_dict(), "settings": settings, "columns": list(table.columns),
              "rows": json_ready(table.to_dict(orient="records"))}
    if details is not None:
        record["details"] = details
    return [csv_path, save_json(directory / f"{name}.json", record)]


def load_results(directory: str | Path, name: str) -> tuple[pd.DataFrame, dict] | None:
    """(table, the whole record) of a results file, or None when it has not been produced."""
    import pandas as pd

    path = Path(directory) / f"{name}.json"
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        table = pd.DataFrame(record["rows"], columns=record.get("columns"))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a results file ({exc}). Fix: delete it and re-run the notebook "
                         "or command that writes it.") from exc
    return table, record


def caption(record: dict) -> str:
    """Where the numbers of a results record came from, in one sentence: profile, data copy, commit, device and
    what computing them cost (cache hits counted at their original cost)."""
    p = record.get("provenance", record)
    data = p.get("data", {})
    subset = data.get("subset")
    size = f"{subset['n_train']:,} train / {subset['n_test']:,} test" if subset else "full splits"
    reserve = data.get("reserve")
    if reserve:
        size += f", {reserve['n']:,} of them held out as the clean reserve"
    canonical = {True: "; canonical copy", False: "; NOT the canonical release (md5 differs)"}.get(
        data.get("canonical"), "")
    stages = p.get("stages", {})
    compute = sum(s.get("compute_s", 0.0) for s in stages.values())
    cached = sum(1 for s in stages.values() if s.get("cache") != "computed")
    cost = f"{compute:,.0f} s of compute" + (f" ({cached} of {len(stages)} stages from the cache)" if cached else "")
    settings = record.get("settings")
    return (f"Ours, measured: profile '{p.get('profile', '?')}', data {data.get('name', '?')} ({size}{canonical}), "
            f"commit {str(p.get('commit', '?'))[:12]}, {p.get('device', '?')}, {cost}, started "
            f"{p.get('started_utc', '?')}." + (f" Settings: {settings}" if settings else ""))


def results_status(directory: str | Path, names: dict[str, str]) -> str:
    """A Markdown list of which result files exist in ``directory``, with their provenance, and which do not."""
    lines = []
    for name, title in names.items():
        loaded = load_results(directory, name)
        if loaded is None:
            lines.append(f"- **{title}**: not run yet.")
        else:
            table, record = loaded
            lines.append(f"- **{title}**: {len(table)} rows. {caption(record)}")
    return "\n".join(lines)
