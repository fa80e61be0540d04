"""Result tables on disk: ``<name>.csv`` for people, ``<name>.json`` with provenance for the book.

Both are written atomically, so an interrupted run never leaves a half-written table that the book renders.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from gssd_utils.atomic_io import save_json, write_atomically
from gssd_utils.provenance import Provenance


def write_results(table: pd.DataFrame, provenance: Provenance, directory: str | Path, name: str,
                  details: dict | None = None) -> list[Path]:
    """``details`` (optional, JSON-able) holds what does not fit a table row, e.g. per-class statistics."""
    directory = Path(directory)
    csv_path = write_atomically(directory / f"{name}.csv", lambda tmp: table.to_csv(tmp, index=False))
    record = {"provenance": provenance.as_dict(), "settings": table.attrs.get("profile", ""),
              "columns": list(table.columns), "rows": table.to_dict(orient="records")}
    if details is not None:
        record["details"] = details
    return [csv_path, save_json(directory / f"{name}.json", record)]


def load_results(directory: str | Path, name: str) -> tuple[pd.DataFrame, dict] | None:
    """(table, the whole record) of a results file, or None when it has not been produced."""
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


def provenance_line(record: dict) -> str:
    """The provenance of a results file in one sentence."""
    p = record.get("provenance", {})
    data = p.get("data", {})
    subset = data.get("subset")
    size = f"{subset['n_train']:,} train / {subset['n_test']:,} test" if subset else "full splits"
    canonical = {True: "canonical copy", False: "non-canonical copy (md5 differs)"}.get(data.get("canonical"), "")
    return (f"Ours, measured at profile '{p.get('profile', '?')}' on {data.get('name', '?')} ({size}"
            f"{'; ' + canonical if canonical else ''}), commit {str(p.get('commit', '?'))[:12]}, "
            f"{p.get('device', '?')}, {sum(p.get('wall_time_s', {}).values()):.0f} s, started "
            f"{p.get('started_utc', '?')}. Settings: {record.get('settings', '?')}")


def paper_scale_status(directory: str | Path, names: dict[str, str]) -> str:
    """A Markdown list of which result files exist at paper scale, with their provenance, and which do not."""
    lines = []
    for name, title in names.items():
        loaded = load_results(directory, name)
        if loaded is None:
            lines.append(f"- **{title}**: not run at paper scale yet (it needs a GPU; see the README).")
        else:
            table, record = loaded
            lines.append(f"- **{title}**: {len(table)} rows. {provenance_line(record)}")
    return "\n".join(lines)
