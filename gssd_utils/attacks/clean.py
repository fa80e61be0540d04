"""No attack: the training set as delivered, for the clean-data control.

A defense run on it must leave the data alone: every class it flags, every image it sets aside and every point of
accuracy it costs is a false alarm (the field's "sacrifice rate"). It is an attack only so that the book and the
command line run it like any other (``gssd compare --attacks clean``); it poisons nothing and has no trigger, so
its "triggered" test images are the clean non-target ones and an ASR measured on them is the share of clean images
sent to class ``target``, not an attack's success.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gssd_utils.attacks.base import Attack, register


@dataclass(frozen=True)
class CleanConfig:
    """Nothing to set."""


@register
class Clean(Attack):
    name = "clean"
    default_rate = 0.0
    config_class = CleanConfig
    summary = "no attack: the unpoisoned training set (the clean-data control)"
    poisons = False

    def apply(self, images: np.ndarray) -> np.ndarray:
        return images.copy()
