"""What a self-supervised method is to the trainer: a network with a backbone, the outputs of two views, a loss.

Adding a method: a module in this package with an ``SSLModel`` subclass decorated with ``@register``, imported in
``ssl/registry.py``. The trainer (``ssl.train``), the cache and every defense that uses the stage find it by the
profile's ``ssl.method``; the backbone's pooled features are what the defenses read.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import nn

from gssd_utils.models import build_model
from gssd_utils.training.config import SSLConfig


class SSLModel(nn.Module, ABC):
    """A backbone (``build_model(config.arch)``) and the heads its method trains it through."""

    name: ClassVar[str]
    display: ClassVar[str]  # its name in the book's tables
    summary: ClassVar[str]  # one line for ``gssd ssl-methods``

    def __init__(self, config: SSLConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = build_model(config.arch, num_classes=1, width=config.width)

    @abstractmethod
    def forward_views(self, view0: torch.Tensor, view1: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The method's outputs for two augmented views of one batch (run under the trainer's autocast)."""

    @abstractmethod
    def loss(self, outputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The scalar loss of ``forward_views``' outputs, in fp32."""

    def prepare(self) -> None:
        """Called once the backbone's data-dependent initialisation is done, before training: BYOL copies its
        target network here."""

    def after_step(self, step: int, total_steps: int) -> None:
        """Called after each optimiser step (``step`` counts from 1): BYOL moves its target network here."""


METHODS: dict[str, type[SSLModel]] = {}


def register(cls: type[SSLModel]) -> type[SSLModel]:
    METHODS[cls.name] = cls
    return cls


def get_method(name: str) -> type[SSLModel]:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown self-supervised method {name!r}; choose one of {', '.join(METHODS)} "
                         f"(--set ssl.method=...)") from None
