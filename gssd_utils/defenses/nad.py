"""NAD, Neural Attention Distillation (Li et al., ICLR 2021; the authors' code ``bboylyg/NAD``).

NAD repairs a backdoored model with a small clean reserve: (1) a teacher, the backdoored model fine-tuned on the
reserve; (2) the student, the backdoored model trained on the reserve with cross-entropy plus, on each of the last
three stages, beta_k times the mean squared difference between the student's and the teacher's attention maps. An
attention map is the mean over channels of |activation|^p, flattened and L2-normalised per sample, so it says where
a stage looks, not how strongly. The backdoored model is the profile's no-defense classifier, from its cache.

Adapted, not tuned: the authors set beta = (500, 1000, 1000) for WRN-16-1, whose last three groups give 32x32,
16x16 and 8x8 maps. The attention term is a mean over a map's positions of the squared difference of two unit
vectors, so for the same disagreement between student and teacher it weighs 1 / (positions): on a network with
smaller maps the authors' numbers weigh more than they did for them (4.6-7.1 times on the quick profile's 15x15,
7x7, 3x3 maps, 4 times on ResNet-18's 16x16, 8x8, 4x4). Each beta is therefore multiplied by our map's positions
over the authors', which keeps beta / positions, the weight on the squared distance between the two unit maps,
at the authors' value for every network and image size (``scale_betas=False`` keeps their raw numbers).

Registered twice: ``nad``, and ``finetune`` (all betas zero, no teacher): plain fine-tuning on the same reserve for
the same epochs, the row that shows whether the distillation adds anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from gssd_utils.cache import config_key
from gssd_utils.defenses.base import Defense, DefenseInput, DefenseOutcome, register
from gssd_utils.defenses.configs import FineTuneConfig, NadConfig
from gssd_utils.defenses.none import backdoored_model
from gssd_utils.provenance import timed_stage
from gssd_utils.training.augment import to_float
from gssd_utils.training.classifier import Objective, cached_classifier
from gssd_utils.training.config import TrainConfig

if TYPE_CHECKING:
    from gssd_utils.profiles import Profile


def attention_map(activation: torch.Tensor, power: float = 2.0) -> torch.Tensor:
    """(B, C, H, W) -> (B, H*W): mean over channels of |a|^power, each sample's map L2-normalised."""
    flat = activation.abs().pow(power).mean(dim=1).flatten(1)
    return nn.functional.normalize(flat, dim=1)


def attention_loss(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor], betas: Sequence[float],
                   power: float = 2.0) -> torch.Tensor:
    """sum_k beta_k * mean((A(student_k) - A(teacher_k))^2) over the given stage activations."""
    return sum(beta * (attention_map(s, power) - attention_map(t, power)).pow(2).mean()
               for s, t, beta in zip(student, teacher, betas, strict=True))


@contextmanager
def stage_outputs(model: nn.Module, count: int) -> Iterator[list[torch.Tensor]]:
    """Collect the outputs of the model's last ``count`` stages during the ``with`` body's forward passes."""
    outputs: list[torch.Tensor] = []
    hooks = [stage.register_forward_hook(lambda _m, _i, out: outputs.append(out))
             for stage in model.stages()[-count:]]
    try:
        yield outputs
    finally:
        for hook in hooks:
            hook.remove()


@torch.no_grad()
def map_positions(model: nn.Module, image: np.ndarray, count: int) -> tuple[int, ...]:
    """The number of positions (H x W) of the attention maps of the model's last ``count`` stages, for one image."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with stage_outputs(model, count) as outputs:
        model(to_float(torch.from_numpy(np.ascontiguousarray(image[None]))).to(device))
    model.train(was_training)
    return tuple(int(out.shape[-2] * out.shape[-1]) for out in outputs)


def adapted_betas(config: NadConfig, positions: Sequence[int]) -> tuple[float, ...]:
    """The authors' betas carried over to maps of ``positions`` positions (the module docstring's rule)."""
    if not config.scale_betas:
        return tuple(config.betas)
    return tuple(beta * ours / theirs for beta, ours, theirs in zip(config.betas, positions,
                                                                     config.reference_positions, strict=True))


def distillation(teacher: nn.Module, config: NadConfig, betas: Sequence[float], label_smoothing: float) -> Objective:
    """The student's objective: cross-entropy plus the attention loss against the (frozen, eval-mode) teacher."""
    teacher.eval()
    count = len(betas)

    def objective(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor):
        with stage_outputs(model, count) as student_maps:
            logits = model(inputs)
        with torch.no_grad(), stage_outputs(teacher, count) as teacher_maps:
            teacher(inputs)
        ce = nn.functional.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing)
        return ce + attention_loss(student_maps, teacher_maps, betas, config.power), logits

    return objective


def phase_recipe(recipe: TrainConfig, config: NadConfig, epochs: int) -> TrainConfig:
    """The recipe with NAD's optimiser: SGD at ``lr``, divided by 10 after ``lr_drop_epoch`` epochs."""
    drop = (min(config.lr_drop_epoch, epochs) / epochs,) if config.lr_drop_epoch < epochs else ()
    return replace(recipe, epochs=epochs, lr=config.lr, batch_size=config.batch_size, momentum=config.momentum,
                   weight_decay=config.weight_decay, schedule="step", milestones=drop, gamma=0.1)


@register
class Nad(Defense):
    name = "nad"
    display = "NAD*"
    summary = "distil the backdoored model towards a clean-fine-tuned teacher's attention maps, on a clean reserve"
    config_class = NadConfig
    uses_clean_data = True
    reuses = ("none",)  # the backdoored model is no defense's

    @classmethod
    def work(cls, profile: Profile, n_train: int, n_reserve: int) -> dict[str, int]:
        # the teacher's epochs, then the student's; distilling runs the teacher forward on every student batch too
        config = profile.defense_config(cls.name)
        return {"classifier": n_reserve * (config.teacher_epochs + (2 if config.distills else 1) * config.epochs)}

    def run(self, data: DefenseInput) -> DefenseOutcome:
        outcome = DefenseOutcome(model=None)
        with timed_stage(outcome.stages, "backdoored model"):
            backdoored = backdoored_model(data, self.recipe, self.progress)
        base = (data.train_key(), data.clean_key(), asdict(self.recipe))
        objective = None
        outcome.details = {"clean_reserve": len(data.y_clean), "distilled": self.config.distills}
        if self.config.distills:
            teacher_recipe = phase_recipe(self.recipe, self.config, self.config.teacher_epochs)
            with timed_stage(outcome.stages, "teacher"):
                teacher = cached_classifier(data.x_clean, data.y_clean, data.num_classes, teacher_recipe,
                                            config_key(*base, "nad teacher", asdict(teacher_recipe)),
                                            init=backdoored, progress=self.progress)
            positions = map_positions(backdoored, data.x_clean[0], len(self.config.betas))
            betas = adapted_betas(self.config, positions)
            outcome.details.update(map_positions=list(positions), betas=[round(b, 3) for b in betas])
            objective = distillation(teacher, self.config, betas, self.recipe.label_smoothing)
        student_recipe = phase_recipe(self.recipe, self.config, self.config.epochs)
        with timed_stage(outcome.stages, "student" if self.config.distills else "fine-tune"):
            outcome.model = cached_classifier(
                data.x_clean, data.y_clean, data.num_classes, student_recipe,
                config_key(*base, self.name, asdict(self.config), asdict(student_recipe)), init=backdoored,
                progress=self.progress, objective=objective)
        return outcome


@register
class FineTune(Nad):
    name = "finetune"
    display = "Fine-tuning*"
    summary = "fine-tune the backdoored model on the clean reserve (NAD without its attention loss)"
    config_class = FineTuneConfig

    def check(self, data: DefenseInput) -> None:
        super().check(data)
        if self.config.distills:
            raise ValueError("defense 'finetune' is NAD without distillation; its betas must be zero. Fix: use "
                             "defense 'nad' to distil")
