"""How strongly each attack takes without a defense, read from the committed runs of ``gssd no-defense``.

A defense can only be judged where its backdoor is learned: a classifier that does not learn a 1% attack makes any
cleansing look good. The book trains each attack at one rate; two committed runs per profile (every attack at its
papers' rate, and every attack at 1%) show which backdoors the profile's classifier learns and from how little.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gssd_utils.results_io import caption, load_results

# sub-folder of a profile's reference results -> the rate it holds, as a column label
STRENGTH_RUNS = {"attack_strength/paper_rate": "paper rate", "attack_strength/one_percent": "1%"}
_PAPER_RATE_RUN = "attack_strength/paper_rate"  # the papers' numbers exist at the papers' rate only
_OURS = ("ACC ours", "ASR ours")
_PAPER = ["ACC paper", "ASR paper", "paper source"]


def attack_strength(directory: str | Path) -> tuple[pd.DataFrame, list[str]] | None:
    """One row per attack: ACC/ASR without defense at each committed rate beside the papers' no-defense numbers,
    and one provenance line per run (its command and caption); None when neither run is committed."""
    tables, notes, paper = [], [], None
    for folder, label in STRENGTH_RUNS.items():
        loaded = load_results(Path(directory) / folder, "no_defense")
        if loaded is None:
            continue
        table, record = loaded
        command = record.get("provenance", {}).get("command", "?")
        notes.append(f"At {label}: `{command}`. {caption(record)}")
        tables.append(table.set_index("attack")[["rate", *_OURS]].rename(
            columns={c: f"{c} ({label})" for c in ("rate", *_OURS)}))
        if folder == _PAPER_RATE_RUN:
            paper = table.set_index("attack")[_PAPER]
    if not tables:
        return None
    merged = pd.concat(tables, axis=1, join="outer")
    return (merged if paper is None else merged.join(paper)).reset_index(), notes
