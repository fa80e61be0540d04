"""All class flows trained at once: the same model and optimisation as ``flows``, vectorised over classes.

The per-class path trains C flows one after another with batch 16, so a GPU spends its time launching tiny
kernels. Here every parameter carries a leading class dimension and one step updates all classes together,
each on its own batch of its own samples. The result is the per-class training, not an approximation of it:
- the flows start from the per-class path's initialisation (the same seeded ``build_flow``);
- each class draws its own batches in the same order (its own generator, seeded as in ``train_flow``);
- ActNorm is initialised from each class's first batch;
- Adam (betas 0.9, 0.99) is applied per class with its own step count, and a class whose epoch has run out
  of batches takes no step, so unequal class sizes do not change anyone's updates.
``tests/test_batched_flows.py`` checks the equivalence numerically against the nflows path.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from tqdm import tqdm

from gssd_utils.gssd.config import FlowConfig
from gssd_utils.gssd.flows import ACTNORM_EPS, build_flow, check_features
from gssd_utils.provenance import default_device

_LOG_2PI = math.log(2 * math.pi)


class BatchedFlows:
    """C coupling flows as stacked tensors; ``params`` maps names to (C, ...) tensors."""

    def __init__(self, per_class: list, config: FlowConfig, device: torch.device) -> None:
        self.steps, self.dim = config.steps, None
        params: dict[str, list[torch.Tensor]] = {}
        for flow in per_class:
            for name, tensor in flow.named_parameters():
                params.setdefault(name, []).append(tensor.detach().clone())
        self.params = {k: torch.stack(v).to(device).requires_grad_(True) for k, v in params.items()}
        self.dim = self.params["_transform._transforms.0.log_scale"].shape[1]
        self.initialized = False

    def _layer_names(self) -> list[tuple[str, str]]:
        """(kind, prefix) of every transform, in order, as ``build_flow`` lays them out."""
        names, index = [], 0
        for step in range(self.steps):
            if step:
                names.append(("swap", ""))
                index += 1
            names += [("actnorm", f"_transform._transforms.{index}."),
                      ("coupling", f"_transform._transforms.{index + 1}.")]
            index += 2
        return names

    def log_prob(self, z: torch.Tensor, initialize: bool = False) -> torch.Tensor:
        """(C, B) per-dimension log-likelihoods of the batches z (C, B, D), batch c under flow c."""
        p, half = self.params, self.dim // 2
        logdet = z.new_zeros(z.shape[:2])
        for kind, prefix in self._layer_names():
            if kind == "swap":
                z = torch.cat([z[..., half:], z[..., :half]], dim=-1)
            elif kind == "actnorm":
                if initialize:
                    with torch.no_grad():
                        std = z.std(dim=1) + ACTNORM_EPS
                        p[prefix + "log_scale"].data = -torch.log(std)
                        p[prefix + "shift"].data = -(z / std[:, None]).mean(dim=1)
                z = z * torch.exp(p[prefix + "log_scale"])[:, None] + p[prefix + "shift"][:, None]
                logdet = logdet + p[prefix + "log_scale"].sum(dim=1, keepdim=True)
            else:
                net = prefix + "transform_net.net."
                hidden = torch.relu(torch.baddbmm(p[net + "0.bias"][:, None], z[..., :half],
                                                  p[net + "0.weight"].transpose(1, 2)))
                out = torch.baddbmm(p[net + "2.bias"][:, None], hidden, p[net + "2.weight"].transpose(1, 2))
                shift, log_scale = out[..., : self.dim - half], torch.tanh(out[..., self.dim - half :])
                z = torch.cat([z[..., :half], z[..., half:] * torch.exp(log_scale) + shift], dim=-1)
                logdet = logdet + log_scale.sum(dim=-1)
        base = -0.5 * (z**2).sum(dim=-1) - 0.5 * self.dim * _LOG_2PI
        return (base + logdet) / self.dim


class _PerClassAdam:
    """torch.optim.Adam's update, applied only to the classes in ``active``, each with its own step count."""

    def __init__(self, params: dict[str, torch.Tensor], lr: float, betas: tuple[float, float], eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = {k: torch.zeros_like(v) for k, v in params.items()}
        self.v = {k: torch.zeros_like(v) for k, v in params.items()}
        self.t = torch.zeros(next(iter(params.values())).shape[0], device=next(iter(params.values())).device)

    @torch.no_grad()
    def step(self, active: torch.Tensor) -> None:
        b1, b2 = self.betas
        self.t += active.float()
        t = self.t.clamp(min=1)
        for name, param in self.params.items():
            shape = (-1,) + (1,) * (param.dim() - 1)
            mask = active.view(shape)
            grad = param.grad
            m = torch.where(mask, b1 * self.m[name] + (1 - b1) * grad, self.m[name])
            v = torch.where(mask, b2 * self.v[name] + (1 - b2) * grad * grad, self.v[name])
            self.m[name], self.v[name] = m, v
            step_size = (self.lr / (1 - b1**t)).view(shape)
            denom = (v.sqrt() / torch.sqrt(1 - b2**t).view(shape)) + self.eps
            param.sub_(torch.where(mask, step_size * m / denom, torch.zeros_like(m)))
            param.grad = None


def train_class_flows_batched(features: np.ndarray, labels: np.ndarray, num_classes: int, config: FlowConfig,
                              device: torch.device | None = None, progress: bool = True
                              ) -> tuple[BatchedFlows, list[list[float]]]:
    """The per-class training of ``flows.train_class_flows``, every class in each step; (flows, curves)."""
    check_features(features, labels, num_classes, config)
    device = device or default_device()
    members = [np.flatnonzero(labels == c) for c in range(num_classes)]
    batch = config.batch_size
    if min(len(m) for m in members) < batch:
        raise ValueError(f"the vectorised flows need every class to hold at least one batch ({batch}); the "
                         "smallest has fewer. Fix: use the per-class path (flows.vectorized=False).")
    initial = []
    for _ in range(num_classes):
        torch.manual_seed(config.seed)  # as train_flow: every class starts from the same seeded flow
        initial.append(build_flow(features.shape[1], config))
    flows = BatchedFlows(initial, config, device)
    optimizer = _PerClassAdam(flows.params, config.lr, (0.9, 0.99))
    data = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    generators = [torch.Generator().manual_seed(config.seed) for _ in range(num_classes)]
    per_epoch = torch.tensor([len(m) // batch for m in members], device=device)
    index = [torch.from_numpy(m).to(device) for m in members]
    curves: list[list[float]] = [[] for _ in range(num_classes)]
    for _ in tqdm(range(config.epochs), desc="flows (all classes)", disable=not progress, mininterval=5):
        orders = [index[c][torch.randperm(len(index[c]), generator=generators[c]).to(device)]
                  for c in range(num_classes)]
        totals = torch.zeros(num_classes, device=device)
        for s in range(int(per_epoch.max())):
            active = s < per_epoch
            rows = torch.stack([orders[c][(s if active[c] else 0) * batch:][:batch] for c in range(num_classes)])
            nll = -flows.log_prob(data[rows], initialize=not flows.initialized).mean(dim=1)
            flows.initialized = True
            (nll * active).sum().backward()
            optimizer.step(active)
            totals += nll.detach() * active
        for c, value in enumerate((totals / per_epoch).tolist()):
            curves[c].append(value)
        if not all(np.isfinite(c[-1]) for c in curves):
            raise FloatingPointError(f"a flow's negative log-likelihood became non-finite. Fix: --set "
                                     f"flows.lr={config.lr / 10:g} (now {config.lr}); if it persists, the features "
                                     "have outliers or constant dimensions (a feature extractor trained too little)")
    return flows, curves


def to_per_class(flows: BatchedFlows, config: FlowConfig) -> list:
    """The trained flows as separate nflows models (the format the cache and ``flows.load_flows`` use)."""
    out = []
    for c in range(next(iter(flows.params.values())).shape[0]):
        flow = build_flow(flows.dim, config)
        state = flow.state_dict()
        state.update({name: tensor[c].detach().cpu() for name, tensor in flows.params.items()})
        state.update({name: torch.tensor(True) for name in state if name.endswith("initialized")})
        flow.load_state_dict(state)
        out.append(flow.eval())
    return out
