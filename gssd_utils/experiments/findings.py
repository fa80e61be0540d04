"""What a build found, written out from its results files, so the prose and the tables cannot disagree.

Each paragraph reads one results file; its words follow the numbers (an attack "takes" when its ASR without
defense reaches ``LEARNED``; a defense "holds" when it brings the ASR below ``HELD``). A file that is missing skips
its paragraph.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gssd_utils.experiments.ablations import OFFICIAL
from gssd_utils.experiments.control import MANY_SEEDS_NAME, control_summary
from gssd_utils.experiments.tables import disagreements
from gssd_utils.results_io import FULL_COMPARISON, load_results

LEARNED = 50.0  # % ASR without defense from which a backdoor counts as learned
HELD = 10.0  # % ASR under which a defense counts as having removed the backdoor
COLLAPSED = 20.0  # % clean accuracy under which a defended model counts as broken (twice chance on ten classes)


def _load(folder: Path, name: str) -> pd.DataFrame | None:
    loaded = load_results(folder, name)
    return None if loaded is None else loaded[0]


def _pct(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.1f}%"


def _no_defense(table: pd.DataFrame) -> str:
    learned = table[table["ASR ours"] >= LEARNED]
    missed = table[table["ASR ours"] < LEARNED]
    text = (f"**No defense.** The classifier reaches {table['ACC ours'].min():.1f}–{table['ACC ours'].max():.1f}% "
            f"clean accuracy. ")
    if len(learned):
        text += "The backdoor is learned for " + ", ".join(
            f"{r.attack} at {r.rate:g} ({_pct(r['ASR ours'])})" for _, r in learned.iterrows()) + ". "
    if len(missed):
        text += "It is not learned for " + ", ".join(
            f"{r.attack} at {r.rate:g} ({_pct(r['ASR ours'])})" for _, r in missed.iterrows()) + \
            ", so no defense can be judged on those here. "
    return text


def _gssd(table: pd.DataFrame) -> str:
    parts = []
    for _, r in table.iterrows():
        if not r["target detected"]:
            if r["false-positive classes"] == "none":
                parts.append(f"{r.attack}: the target is not detected and no class is flagged, so every sample is "
                             f"kept (ASR {_pct(r['ASR no defense'])} → {_pct(r['ASR GSSD'])})")
            else:  # clean classes flagged in its place: their samples are set aside, the poisons stay
                classes = str(r["false-positive classes"])
                flagged = f"classes {classes} are" if "," in classes else f"class {classes} is"
                parts.append(f"{r.attack}: the target is not detected, and clean {flagged} flagged in its place, so "
                             f"the poisons stay in D̂_C while the suspects of what was flagged are set aside: ASR "
                             f"{_pct(r['ASR no defense'])} → {_pct(r['ASR GSSD'])}, ACC {_pct(r['ACC no defense'])} → "
                             f"{_pct(r['ACC GSSD'])}")
            continue
        detected = "detected as " + str(r["kind"])
        extra = ("" if r["false-positive classes"] == "none" else
                 f" (with false-positive classes {r['false-positive classes']})")
        parts.append(f"{r.attack}: the target is {detected}{extra}; D̂_P is {_pct(r['suspect precision %'])} "
                     f"poisoned and holds {_pct(r['suspect recall %'])} of the poisons; ASR "
                     f"{_pct(r['ASR no defense'])} → {_pct(r['ASR GSSD'])}, ACC {_pct(r['ACC no defense'])} → "
                     f"{_pct(r['ACC GSSD'])} (the paper: ASR {_pct(r['ASR GSSD paper'])}, ACC "
                     f"{_pct(r['ACC GSSD paper'])})")
    rules = sorted(set(table["rule"].dropna())) if "rule" in table else []
    rule = f" (detection rule: {', '.join(rules)})" if rules else ""
    return f"**GSSD{rule}.** " + "; ".join(parts) + "."


def _what_is_left(asr: float) -> str:
    if asr < HELD:
        return "already removes the backdoor"
    return "leaves the backdoor in place" if asr >= LEARNED else "leaves the backdoor partly in place"


def _table4(table: pd.DataFrame) -> str:
    parts = []
    for attack, rows in table.groupby("attack", sort=False):
        by = {(r["training data"], r["fine-tuning"]): r for _, r in rows.iterrows()}
        dc, final = by.get(("Cleansed (D_C)", "no")), by.get(("Cleansed (D_C)", "yes"))
        original, repaired = by.get(("Original (D)", "no")), by.get(("Original (D)", "yes"))
        if dc is None or final is None:
            continue
        text = (f"{attack}: training on D̂_C alone {_what_is_left(dc['ASR ours'])} (ASR {_pct(dc['ASR ours'])}; "
                f"the paper {_pct(dc['ASR paper'])}), ")
        text += (f"fine-tuning on D̂'_P ends at {_pct(final['ASR ours'])}" if pd.notna(final["ASR ours"]) else
                 "and nothing was relabeled, so there is no D̂'_P to fine-tune on")
        if original is not None and repaired is not None and pd.notna(repaired["ASR ours"]):
            text += (f"; fine-tuning the poisoned model on D̂'_P takes its ASR from {_pct(original['ASR ours'])} to "
                     f"{_pct(repaired['ASR ours'])} (the paper {_pct(repaired['ASR paper'])})")
        official = by.get((OFFICIAL, "no"))
        if official is not None and pd.notna(official["ASR ours"]):
            text += (f"; the official code's retraining, which drops the true poisons from D̂_C, would end at ASR "
                     f"{_pct(official['ASR ours'])}")
        parts.append(text)
    return ("**What each step contributes (Table 4).** " + "; ".join(parts) + ".") if parts else ""


def _ranking(defended: pd.DataFrame) -> str:
    """Our order of the defenses by ACC − ASR against the paper's, over those the paper reports for this attack."""
    both = defended.dropna(subset=["ACC paper", "ASR paper"])
    if len(both) < 2:
        return ""
    ours = both.sort_values("ACC - ASR", ascending=False, kind="stable")["defense"].tolist()
    paper = both.assign(margin=both["ACC paper"] - both["ASR paper"]).sort_values(
        "margin", ascending=False, kind="stable")["defense"].tolist()
    if ours == paper:
        return f"; by ACC − ASR the defenses rank as in the paper ({' > '.join(ours)})"
    return f"; by ACC − ASR ours rank {' > '.join(ours)}, the paper's {' > '.join(paper)}"


def _comparison(table: pd.DataFrame) -> str:
    parts = []
    for attack, rows in table.groupby("attack", sort=False):
        defended = rows[rows["defense"] != "No defense"]
        best = defended.loc[defended["ACC - ASR"].idxmax()]
        failed = defended[defended["ASR"] >= HELD]["defense"].tolist()
        text = f"{attack}: the best ACC − ASR is {best['defense']}'s ({_pct(best['ACC'])} / {_pct(best['ASR'])})"
        if failed:
            text += f"; the backdoor survives {', '.join(failed)} (ASR ≥ {HELD:.0f}%)"
        broken = defended[defended["ACC"] < COLLAPSED]
        if len(broken):
            text += "; " + ", ".join(f"{r['defense']} ({_pct(r['ACC'])})" for _, r in broken.iterrows()) + \
                f" end{'s' if len(broken) == 1 else ''} near chance accuracy, so a low ASR there is no defense"
        parts.append(text + _ranking(defended))
    return "**Table 1.** " + "; ".join(parts) + "."


def _knn_energy(table: pd.DataFrame) -> str:
    parts = []
    for method, rows in table.groupby("method", sort=False):
        parts.append(f"{method} keeps {_pct(rows['clean kept %'].mean())} of the clean samples on average and ends "
                     f"at ACC {_pct(rows['ACC'].mean())}, ASR {_pct(rows['ASR'].mean())}")
    return "**Cleansing on the same features.** " + "; ".join(parts) + "."


def _table2(table: pd.DataFrame) -> str:
    parts = [f"{r.attack} at {r.rate:g}: ASR {_pct(r['ASR no defense'])} → {_pct(r['ASR GSSD'])}"
             + ("" if r["target detected"] else " (target not detected)") for _, r in table.iterrows()]
    return "**Poisoning rates (Table 2).** " + "; ".join(parts) + "."


def _table1(folder: Path) -> str:
    """Table 1 from gssd compare's every-defense table, unless it disagrees with the book's own (then computed
    under other settings, code or hardware): the book's, and a sentence naming the rows that differ."""
    full, built = _load(folder, FULL_COMPARISON), _load(folder, "comparison")
    if full is None or built is None:
        table = full if full is not None else built
        return _comparison(table) if table is not None and len(table) else ""
    stale = disagreements(full, built)
    if not stale:
        return _comparison(full)
    return (_comparison(built) + f" The every-defense table (`{FULL_COMPARISON}`) disagrees with this one on "
            f"{', '.join(stale)}: computed under other settings, code or hardware, it is not summarised here.")


def _control(folder: Path) -> str:
    """The clean-data control: GSSD over many seeds where committed, the book's own, and the every-defense one
    committed beside it; each defense from the first file that has it."""
    parts, seen = [], set()
    for name in (MANY_SEEDS_NAME, "clean_control", "clean_control_all_defenses"):
        table = _load(folder, name)
        if table is None or not len(table):
            continue
        for _, r in control_summary(table).iterrows():
            if r["defense"] in seen:
                continue
            seen.add(r["defense"])
            flagged = ("" if pd.isna(r["runs with a class flagged"]) else
                       f"flags a class in {r['runs with a class flagged']} of {r['seeds']} runs, ")
            parts.append(f"{r['defense']} {flagged}sets aside {r['sacrifice rate % (mean)']:.2f}% of the clean images "
                         f"(range {r['sacrifice rate % (range)']}) and costs {r['ACC cost (mean)']:.2f} points of ACC "
                         f"(range {r['ACC cost (range)']}) over {r['seeds']} seeds")
    return ("**On clean data.** " + "; ".join(parts) + ".") if parts else ""


def _paragraph(folder: Path, name: str, write) -> str:
    table = _load(folder, name)
    return write(table) if table is not None and len(table) else ""


def findings(folder: str | Path) -> str:
    """The findings of the results in ``folder``, as Markdown paragraphs."""
    folder = Path(folder)
    paragraphs = [_paragraph(folder, "no_defense", _no_defense), _paragraph(folder, "gssd", _gssd),
                  _paragraph(folder, "table4", _table4), _table1(folder),
                  _control(folder), _paragraph(folder, "knn_energy", _knn_energy),
                  _paragraph(folder, "table2", _table2)]
    return "\n\n".join(p for p in paragraphs if p) or "*No results to summarise yet.*"
