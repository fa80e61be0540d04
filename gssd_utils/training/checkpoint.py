"""The epoch loop every trainer shares: atomic per-epoch checkpoints keyed by the training config, resumable.

A checkpoint written for another config, or one that fails to load, is ignored with a warning naming the file
and the run starts afresh: a cache entry is recomputed, never trusted. Each checkpoint also records where it was
computed; resuming charges the enclosing stage with what the resumed epochs originally cost
(``provenance.charge``), so a trained model served from the cache reports its training time, marked as cached.
Shuffling and augmentation are seeded per epoch (``epoch_generator``), so a resumed run continues exactly as an
uninterrupted one.

An epoch observer (``observe_epochs``) sees each trained model as its epochs end, for the curves the book draws;
it measures, it never changes what is trained.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from gssd_utils import atomic_io
from gssd_utils.cache import CacheMissWarning, new_record, origin
from gssd_utils.provenance import charge

EpochObserver = Callable[[str, int, torch.nn.Module], None]
_OBSERVERS: ContextVar[tuple[EpochObserver, ...]] = ContextVar("gssd_epoch_observers", default=())


@contextmanager
def observe_epochs(observer: EpochObserver) -> Iterator[None]:
    """Inside the ``with`` body every epoch loop calls ``observer(desc, epoch, model)`` with its model before its
    first epoch (epoch 0) and after each epoch (1, 2, ...). Epochs served from a checkpoint are not observed."""
    token = _OBSERVERS.set((*_OBSERVERS.get(), observer))
    try:
        yield
    finally:
        _OBSERVERS.reset(token)


def _observe(desc: str, epoch: int, saver: EpochCheckpoint) -> None:
    model = saver.parts.get("model")
    if model is None:
        return
    for observer in _OBSERVERS.get():
        observer(desc, epoch, model)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The random stream of one epoch of one run: independent of how many epochs ran before in this process."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


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
                warnings.warn(f"checkpoint {self.path} was written for another training config; starting afresh",
                              CacheMissWarning, stacklevel=3)
                return 0
            for name, part in self.parts.items():
                part.load_state_dict(state[name])
            history.update(state["history"])
            epoch = int(state["epoch"])
        except Exception as exc:  # an unreadable checkpoint is recomputed, never trusted
            warnings.warn(f"could not resume from checkpoint {self.path} ({type(exc).__name__}: {exc}); starting "
                          "afresh", CacheMissWarning, stacklevel=3)
            return 0
        record = state.get("record", {})
        charge(float(sum(history.get("epoch_time_s", []))), cached=True, origin=origin(record))
        return epoch

    def save(self, epoch: int, history: dict) -> None:
        if self.path is None:
            return
        state = {name: part.state_dict() for name, part in self.parts.items()}
        seconds = float(sum(history.get("epoch_time_s", [])))
        state.update(config_key=self.config_key, epoch=epoch, history=history,
                     record=new_record(None, seconds, None, epochs=epoch))
        atomic_io.save_torch(self.path, state)


def run_epochs(saver: EpochCheckpoint, epochs: int, seed: int, train_epoch: Callable[[int, torch.Generator], dict],
               desc: str, progress: bool = True) -> dict:
    """Resume from ``saver`` and run the remaining epochs; ``train_epoch(epoch, generator)`` returns the epoch's
    numbers, appended to the history with its wall time. Returns the history (``epoch_time_s`` and the numbers)."""
    history: dict = {"epoch_time_s": []}
    start = saver.resume(history)
    bar = tqdm(range(start, epochs), desc=desc, disable=not progress, initial=start, total=epochs, mininterval=5)
    if start < epochs:
        charge(0.0, cached=False)
    if start == 0:
        _observe(desc, 0, saver)
    for epoch in bar:
        started = time.perf_counter()
        numbers = train_epoch(epoch, epoch_generator(seed, epoch))
        for name, value in numbers.items():
            history.setdefault(name, []).append(value)
        # kept in the checkpoint, so a model served from the cache still reports what its training cost
        history["epoch_time_s"].append(round(time.perf_counter() - started, 3))
        bar.set_postfix({name: f"{value:.3f}" for name, value in numbers.items()})
        saver.save(epoch + 1, history)
        _observe(desc, epoch + 1, saver)
    return history
