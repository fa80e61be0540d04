"""DBD, Decoupling the training process (Huang et al., ICLR 2022; the authors' code ``SCLBD/DBD``).

Backdoors hide in the supervised end-to-end training, so DBD splits it:
1. a backbone learned by self-supervision on the images alone (SimCLR; the profile's ``ssl.method``);
2. a linear head on the frozen backbone, trained with the symmetric cross-entropy (which resists the noisy
   labels the poisons are to a frozen, label-agnostic backbone);
3. every epoch, the ``labelled_share`` of samples with the lowest symmetric cross-entropy keep their labels, the
   rest are unlabelled, and the whole network trains with MixMatch.

The self-supervised stage is GSSD's, reused on the same poisoned set (one run per set, and the two defenses then
differ only in what they do after self-supervision). DBD's own recipe differs: crops of scale 0.2-1 instead of
0.08-1, Gaussian blur, SGD at lr 0.4 with a cosine schedule and batch 512 where GSSD uses Adam 3e-4 and 256; the
book says so beside the results. The head is warmed up on the backbone's features of the unaugmented images (the
authors augment through the frozen backbone), which costs seconds instead of ten passes of the network. The
classifier is the SSL backbone's architecture with a linear head. The samples DBD sets aside (``removed``) are
the half its final model ranks highest by symmetric cross-entropy: the unlabelled half of its last epoch's rule.

Budgets (``profiles.mixmatch_passes``): the authors' MixMatch runs 190 epochs of 1,024 steps of 64 labelled
images, 249 passes over their 50,000 images beside a 200-epoch supervised run; the paper profile keeps it. The CPU
profiles make an epoch one pass over the training set and keep the authors' 1.25 passes per supervised epoch
(quick: 5 beside 4, smoke: 19 beside 15); the head's warm-up keeps the authors' 10 epochs (seconds, on fixed
features). The book's stage curves show what that budget reaches.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from gssd_utils.cache import cache_path, cached_arrays, config_key
from gssd_utils.defenses.base import Defense, DefenseInput, DefenseOutcome, check_self_supervised, register
from gssd_utils.defenses.configs import DbdConfig
from gssd_utils.models import build_model
from gssd_utils.provenance import StageTime, timed_stage
from gssd_utils.ssl.stage import ssl_features, ssl_stage
from gssd_utils.training.checkpoint import epoch_generator
from gssd_utils.training.metrics import lowest_loss, per_sample_loss
from gssd_utils.training.mixmatch import sample_sce, symmetric_cross_entropy, train_mixmatch

if TYPE_CHECKING:
    from gssd_utils.profiles import Profile


def warm_up_head(model: nn.Module, features: np.ndarray, labels: np.ndarray, config: DbdConfig, seed: int
                 ) -> dict[str, np.ndarray]:
    """The model's own linear head (``model.classify``: with or without a bias, scaled as the network scales it),
    re-initialised and trained on fixed features with the symmetric cross-entropy (Adam, batch 256)."""
    torch.manual_seed(seed)
    model.linear.reset_parameters()
    optimizer = torch.optim.Adam(model.linear.parameters(), lr=config.warmup_lr)
    x, y = torch.from_numpy(features).float(), torch.from_numpy(labels).long()
    for epoch in range(config.warmup_epochs):
        order = torch.randperm(len(x), generator=epoch_generator(seed, epoch))
        for s in range(0, len(order), 256):
            idx = order[s : s + 256]
            loss = symmetric_cross_entropy(model.classify(x[idx]), y[idx], config.sce_alpha, config.sce_beta)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return {name: value.detach().numpy() for name, value in model.linear.state_dict().items()}


@register
class Dbd(Defense):
    name = "dbd"
    display = "DBD"
    summary = "SimCLR backbone, SCE-warmed linear head, then MixMatch with the low-loss half keeping its labels"
    config_class = DbdConfig
    sets_aside = True
    reuses = ("gssd",)  # the self-supervised model, on the profile's recipe

    @classmethod
    def default_config(cls, profile: Profile) -> DbdConfig:
        return DbdConfig(ssl=profile.ssl)

    @classmethod
    def work(cls, profile: Profile, n_train: int, n_reserve: int) -> dict[str, int]:
        return {"classifier": profile.defense_config(cls.name).mixmatch.images(n_train)}

    def check(self, data: DefenseInput) -> None:
        super().check(data)
        check_self_supervised(data, self.config.ssl, "defenses.dbd.ssl")

    def labelled_mask(self, model: nn.Module, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The labelled mask: the ``labelled_share`` of samples ``model`` gives the lowest symmetric cross-entropy."""
        c = self.config
        return lowest_loss(per_sample_loss(model, x, y, sample_sce(c.sce_alpha, c.sce_beta)), c.labelled_share)

    def _warmed_up(self, data: DefenseInput, stages: dict[str, StageTime]) -> tuple[nn.Module, str]:
        """The self-supervised backbone with its SCE-warmed head, and the head's cache key: where MixMatch starts."""
        c = self.config
        with timed_stage(stages, "ssl"):
            ssl, _, ssl_key = ssl_stage(data.x_train, c.ssl, self.progress)
        model = build_model(c.ssl.arch, data.num_classes, c.ssl.width)
        with timed_stage(stages, "warm-up"):
            features = ssl_features(ssl, data.x_train, ssl_key)
            head_key = config_key(ssl_key, data.train_key(), "dbd model head", asdict(c))
            head = cached_arrays(cache_path("dbd", head_key, ".npz"),
                                 lambda: warm_up_head(model, features, data.y_train, c, self.recipe.seed),
                                 config={"ssl": ssl_key, "dbd": asdict(c)})
        state = {k: v for k, v in ssl.backbone.state_dict().items() if not k.startswith("linear.")}
        model.load_state_dict(state | {f"linear.{name}": torch.from_numpy(value) for name, value in head.items()})
        model.tta = self.recipe.tta
        return model, head_key

    def first_split(self, data: DefenseInput) -> np.ndarray:
        """The labelled mask of MixMatch's first epoch, from the warmed-up model: what decides whether the
        backdoor is learned at all, so the book measures it against the ground truth."""
        model, _ = self._warmed_up(data, {})
        return self.labelled_mask(model, data.x_train, data.y_train)

    def run(self, data: DefenseInput) -> DefenseOutcome:
        c, x, y = self.config, data.x_train, data.y_train
        outcome = DefenseOutcome(model=None)
        model, head_key = self._warmed_up(data, outcome.stages)
        with timed_stage(outcome.stages, "mixmatch"):
            model, _ = train_mixmatch(model, x, y, data.num_classes, lambda _epoch, m: self.labelled_mask(m, x, y),
                                      c.mixmatch, self.recipe,
                                      cache_path("classifier", config_key(head_key, asdict(self.recipe)), ".pt"),
                                      self.recipe.seed, "dbd mixmatch", self.progress)
        outcome.model = model
        outcome.removed = np.flatnonzero(~self.labelled_mask(model, x, y))
        outcome.details = {"labelled_share": c.labelled_share, "classifier": f"{c.ssl.arch} w{c.ssl.width}"}
        return outcome
