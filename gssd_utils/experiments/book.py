"""What every book notebook does first and last: settings and data in, runs, tables out with their provenance."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from IPython.display import Markdown, display

from gssd_utils.experiments.runs import AttackRun
from gssd_utils.experiments.tables import VIEWS, view_columns
from gssd_utils.profiles import resolve
from gssd_utils.provenance import Provenance, StageTime
from gssd_utils.results_io import build_dir, caption, write_results


class Chapter:
    """One notebook's session: its profile (with any ``settings`` applied), data, runs and provenance.

    The provenance's command is the notebook and its parameters, so a reader can re-run exactly this chapter.
    Results go to ``results_dir`` (default: the build's folder, never the committed reference results). ``data``
    replaces the profile's data set: a registered name, an image folder or an npz (the ``dataset`` setting).
    """

    def __init__(self, notebook: str, profile: str, *, data_root: str | Path | None = None,
                 results_dir: str | Path | None = None, train_seed: int = 0, poison_seed: int = 0, target: int = 0,
                 settings: Sequence[str] = (), data: str | None = None, progress: bool = True,
                 **parameters: Any) -> None:
        self.profile = resolve(profile, [*settings, *([f"dataset={data}"] if data else [])], train_seed)
        self.poison_seed, self.target, self.progress, self.data_root = poison_seed, target, progress, data_root
        named = {"profile": profile, "train_seed": train_seed, "poison_seed": poison_seed, "target": target,
                 **({"settings": list(settings)} if settings else {}), **({"data": _shown(data)} if data else {}),
                 **parameters}
        command = " ".join([f"papermill notebooks/{notebook}.ipynb", *(f"-p {k} {v!r}" for k, v in named.items())])
        self.provenance = Provenance(profile=self.profile.name, data={}, command=command)
        with self.provenance.timed("load data"):
            self.data = self.profile.load_data(data_root)
        trained_on, _ = self.data.split_reserve(self.profile.clean_reserve, self.profile.subset_seed)
        self.provenance.data = trained_on.identity()
        self.results_dir = Path(results_dir) if results_dir else build_dir(self.profile.name)
        self._runs: dict[tuple, AttackRun] = {}
        display(Markdown(f"**Settings.** {self.profile.describe()}."))

    def run(self, attack: str, rate: float | None = None) -> AttackRun:
        """The run of ``attack`` at ``rate`` (the attack's paper rate by default), built once per chapter."""
        key = (attack, rate)
        if key not in self._runs:
            with self.timed(f"{attack}: poison"):
                self._runs[key] = AttackRun(self.profile, attack, rate, self.target, self.poison_seed, self.data,
                                            progress=self.progress)
        return self._runs[key]

    def runs(self, attacks: Sequence[str] | None = None, rate: float | None = None) -> dict[str, AttackRun]:
        """One run per attack (the profile's attacks by default)."""
        return {attack: self.run(attack, rate) for attack in (attacks or self.profile.attacks)}

    @contextmanager
    def timed(self, stage: str) -> Iterator[StageTime]:
        with self.provenance.timed(stage) as record:
            yield record

    def save(self, table: pd.DataFrame, name: str, details: dict | None = None) -> None:
        """Write the table and its provenance to the results folder as ``name``.{csv,json}."""
        write_results(table, self.provenance, self.results_dir, name, details, settings=self.profile.describe())

    def show(self, table: pd.DataFrame, note: str = "", view: str | None = None) -> None:
        """A table — in the few narrow parts ``tables.VIEWS[view]`` names, or whole — formatted, with the caption
        naming the profile, data copy, commit, device and cost that produced it."""
        show_table(table, view)
        display(Markdown(caption({"provenance": self.provenance.as_dict()}) + (f" {note}" if note else "")))


def styled(table: pd.DataFrame):
    """Numbers with two decimals, missing ones as a dash, no index; the paper's columns shaded and in italics."""
    paper = [c for c in table.columns if "paper" in c and "ours" not in c]  # "ours - paper" is ours
    flags = {c: (lambda v: "yes" if v is True else "no" if v is False else v) for c in table.columns
             if table[c].dtype == bool}
    if "best ACC - ASR" in table.columns:
        flags["best ACC - ASR"] = lambda v: "best" if v else ""
    styler = table.style.hide(axis="index").format(precision=2, na_rep="—", thousands=",")
    if flags:  # a formatter dict without subset resets every other column to the default six decimals
        styler = styler.format(flags, subset=list(flags))
    if paper:
        styler = styler.set_properties(subset=paper, **{"background-color": "#f2f2f2", "font-style": "italic"})
    return styler


def show_table(table: pd.DataFrame, view: str | None = None) -> None:
    """Display ``table`` formatted; with ``view``, as the narrow parts ``tables.VIEWS`` lists for it."""
    if view is None:
        display(styled(table))
        return
    for title, patterns in VIEWS[view]:
        display(Markdown(f"**{title}**"))
        display(styled(table[view_columns(table, patterns)]))


def _shown(data: str) -> str:
    """A registered data set by name, a user's folder or file by its last part only (no machine paths)."""
    from gssd_utils.data import DATASETS

    return data if data in DATASETS else f".../{Path(data).name}"
