"""What every book notebook does first and last: settings and data in, tables out with their provenance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from gssd_utils.data import ImageDataset
from gssd_utils.experiments import AttackRun, defend_attack
from gssd_utils.no_defense import data_identity, load_profile_data
from gssd_utils.profiles import Profile, get_profile
from gssd_utils.provenance import Provenance, caption


def start(profile: str, data_root: str | Path | None = None) -> tuple[Profile, ImageDataset, Provenance]:
    """The profile's settings, its data, and a provenance record that the notebook's timings go into."""
    settings = get_profile(profile)
    provenance = Provenance(profile=settings.name, data={})
    with provenance.timed("load data"):
        data = load_profile_data(settings, data_root)
    provenance.data = data_identity(data)
    display(Markdown(f"**Settings.** {settings.describe()}."))
    return settings, data, provenance


def defend_all(settings: Profile, data: ImageDataset, provenance: Provenance, attacks: Sequence[str] | None = None,
               rate: float | None = None, target: int = 0, seed: int = 0, train: bool = False) -> dict[str, AttackRun]:
    """GSSD on each attack (cached stages, so notebooks after the first pay nothing for them)."""
    runs = {}
    for attack in attacks or settings.attacks:
        with provenance.timed(f"{attack}: gssd"):
            runs[attack] = defend_attack(settings, attack, data, rate, target, seed, train=train)
    return runs


def show(table: pd.DataFrame, provenance: Provenance, note: str = "") -> None:
    """A table with the caption naming the profile, data copy, commit and device that produced it."""
    display(table)
    display(Markdown(caption(provenance) + (f" {note}" if note else "")))
