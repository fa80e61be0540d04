"""Per-epoch training checkpoints: atomic, keyed by the training config, resumable.

A checkpoint written for another config, or one that fails to load, is ignored with a warning and the
run starts afresh: a cache entry is recomputed, never trusted.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from gssd_utils import atomic_io


class EpochCheckpoint:
    """Saves and restores ``{name: module-or-optimizer}`` state plus a history dict after each epoch."""

    def __init__(self, path: str | Path | None, config_key: str, parts: dict[str, Any]) -> None:
        self.path = Path(path) if path is not None else None
        self.config_key = config_key
        self.parts = parts

    def resume(self, history: dict) -> int:
        """Load the saved state into ``parts`` and ``history``; return the epoch to continue from."""
        if self.path is None or not self.path.is_file():
            return 0
        try:
            state = atomic_io.load_torch(self.path)
            if state["config_key"] != self.config_key:
                warnings.warn(f"{self.path} was written for another training config; starting afresh", stacklevel=3)
                return 0
            for name, part in self.parts.items():
                part.load_state_dict(state[name])
            history.update(state["history"])
            return int(state["epoch"])
        except Exception as exc:  # an unreadable checkpoint is recomputed, never trusted
            warnings.warn(f"could not resume from {self.path} ({type(exc).__name__}: {exc}); starting afresh",
                          stacklevel=3)
            return 0

    def save(self, epoch: int, history: dict) -> None:
        if self.path is None:
            return
        state = {name: part.state_dict() for name, part in self.parts.items()}
        state.update(config_key=self.config_key, epoch=epoch, history=history)
        atomic_io.save_torch(self.path, state)
