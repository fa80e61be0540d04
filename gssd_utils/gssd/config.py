"""The defense's settings: the flows' recipe and GSSD's end-to-end config (kept free of torch, so that profiles and
the command line load fast)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from gssd_utils.gssd.detection import DetectionConfig
from gssd_utils.gssd.splitting import SplitConfig
from gssd_utils.training.config import SSLConfig, TrainConfig
from gssd_utils.validation import require_at_least_one


@dataclass(frozen=True)
class FlowConfig:
    steps: int = 2
    inflate: int = 1
    epochs: int = 50
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0
    min_class_size: int = 16
    vectorized: bool = False  # train all classes in one step each (batched_flows); same result, faster on a GPU

    def __post_init__(self) -> None:
        require_at_least_one(self, ("steps", "inflate", "epochs", "batch_size", "min_class_size"), "flow")
        if self.min_class_size < 2:
            raise ValueError("min_class_size must be at least 2: ActNorm initialises from a batch's std")


@dataclass(frozen=True)
class GSSDConfig:
    ssl: SSLConfig
    flows: FlowConfig
    retrain: TrainConfig
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    finetune_epochs: int = 2  # official code: 2 epochs of SGD at lr 1e-4 on the relabeled suspects
    finetune_lr: float = 1e-4  # after training at 0.1; profiles.finetune_lr keeps the ratio for other recipes

    def finetune_config(self) -> TrainConfig:
        """The retraining recipe at the fine-tuning's epochs and lr, without the lookahead: the official code
        fine-tunes with plain SGD, and the lookahead's last step returns the weights to their average at its previous
        sync, which discards a run shorter than its period (5 steps) and much of a dozen-step one."""
        return replace(self.retrain, epochs=self.finetune_epochs, lr=self.finetune_lr, milestones=(),
                       schedule="step", lookahead=False)
