"""One normalizing flow per class on the self-supervised features (GSSD §4.3), built from ``nflows``.

The architecture reproduces the official GSSD flow, because the detection thresholds are calibrated to it:
[ActNorm, affine coupling, half swap, ActNorm, affine coupling] for 2 steps, a fixed N(0, I) base, couplings
whose conditioner MLP (D/2 → D/2·inflate → D) has a zero-initialised last layer and whose log-scale is
bounded by tanh. nflows' own affine coupling uses a sigmoid scale, so the scale function is overridden.
Likelihoods are reported per dimension (nats/dim), the scale every threshold is expressed on.
"""

from __future__ import annotations

import numpy as np
import torch
from nflows.distributions.normal import StandardNormal
from nflows.flows.base import Flow
from nflows.transforms.base import CompositeTransform
from nflows.transforms.coupling import AffineCouplingTransform
from nflows.transforms.normalization import ActNorm
from nflows.transforms.permutations import Permutation
from torch import nn
from tqdm import tqdm

from gssd_utils.gssd.config import FlowConfig
from gssd_utils.provenance import default_device

ACTNORM_EPS = 1e-6  # the official flow adds it to the batch std when ActNorm initialises


class SafeActNorm(ActNorm):
    """nflows' ActNorm with the official flow's initialisation: the first batch's std plus 1e-6, so a feature
    dimension that is constant in that batch (a dead unit of a barely trained extractor) gives a finite scale."""

    def _initialize(self, inputs: torch.Tensor) -> None:
        with torch.no_grad():
            std = inputs.std(dim=0) + ACTNORM_EPS
            self.log_scale.data = -torch.log(std)
            self.shift.data = -(inputs / std).mean(dim=0)
            self.initialized.data = torch.tensor(True, dtype=torch.bool)


class TanhAffineCoupling(AffineCouplingTransform):
    """Affine coupling with log-scale = tanh(raw), as in the official GSSD flow."""

    def _scale_and_shift(self, transform_params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_scale = transform_params[:, self.num_transform_features :, ...]
        shift = transform_params[:, : self.num_transform_features, ...]
        return torch.exp(torch.tanh(raw_scale)), shift


class Conditioner(nn.Module):
    """Linear → ReLU → Linear with the last layer zeroed, so every coupling starts as the identity."""

    def __init__(self, in_features: int, out_features: int, inflate: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, in_features * inflate), nn.ReLU(),
                                 nn.Linear(in_features * inflate, out_features))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, inputs: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(inputs)


def build_flow(dim: int, config: FlowConfig) -> Flow:
    if dim < 2 or dim % 2:
        raise ValueError(f"the coupling flow splits features in halves; feature dimension {dim} must be even")
    half = dim // 2
    mask = torch.cat([-torch.ones(half), torch.ones(dim - half)])  # first half conditions, second is transformed
    swap = torch.cat([torch.arange(half, dim), torch.arange(half)])
    layers: list[nn.Module] = []
    for step in range(config.steps):
        if step:
            layers.append(Permutation(swap))
        layers += [SafeActNorm(dim), TanhAffineCoupling(mask, lambda i, o: Conditioner(i, o, config.inflate))]
    return Flow(CompositeTransform(layers), StandardNormal([dim]))


def per_dim_log_prob(flow: Flow, features: torch.Tensor) -> torch.Tensor:
    return flow.log_prob(features) / features.shape[1]


def train_flow(features: np.ndarray, config: FlowConfig, device: torch.device | None = None,
               progress: bool = True, desc: str = "flow") -> tuple[Flow, list[float]]:
    """Maximum likelihood with Adam (betas 0.9, 0.99, constant lr), as in the official code."""
    device = device or default_device()
    torch.manual_seed(config.seed)
    flow = build_flow(features.shape[1], config).to(device)
    optimizer = torch.optim.Adam(flow.parameters(), lr=config.lr, betas=(0.9, 0.99))
    data = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    batch = min(config.batch_size, len(data))
    losses = []
    for _ in tqdm(range(config.epochs), desc=desc, disable=not progress, leave=False, mininterval=5):
        flow.train()
        order = torch.randperm(len(data), generator=generator).to(device)
        total = 0.0
        for start in range(0, len(order) - batch + 1, batch):  # drop the ragged tail: ActNorm needs full batches
            loss = -per_dim_log_prob(flow, data[order[start : start + batch]]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
        losses.append(total / max(len(order) // batch, 1))
        if not np.isfinite(losses[-1]):
            raise FloatingPointError(f"{desc}: the negative log-likelihood became {losses[-1]}. Fix: --set "
                                     f"flows.lr={config.lr / 10:g} (now {config.lr}); if it persists, the features "
                                     "have outliers or constant dimensions (a feature extractor trained too little)")
    return flow.eval(), losses


def check_features(features: np.ndarray, labels: np.ndarray, num_classes: int, config: FlowConfig) -> None:
    if not np.isfinite(features).all():
        rows = np.flatnonzero(~np.isfinite(features).all(axis=1))
        raise ValueError(f"{len(rows)} feature rows hold NaN or inf (e.g. samples {rows[:5].tolist()}); "
                         "the feature extractor diverged. Fix: retrain SimCLR with a lower learning rate.")
    counts = np.bincount(labels, minlength=num_classes)
    small = [c for c in range(num_classes) if counts[c] < config.min_class_size]
    if small:
        raise ValueError(f"classes {small} have {counts[small].tolist()} samples; a flow needs at least "
                         f"{config.min_class_size}. Fix: use more data, or drop those classes.")


def train_class_flows(
    features: np.ndarray, labels: np.ndarray, num_classes: int, config: FlowConfig,
    device: torch.device | None = None, progress: bool = True,
) -> tuple[list[Flow], list[list[float]]]:
    """One flow per observed label; the target class's flow sees its poisoned samples too, by design."""
    check_features(features, labels, num_classes, config)
    flows, curves = [], []
    for c in range(num_classes):
        flow, losses = train_flow(features[labels == c], config, device, progress, desc=f"flow {c}")
        flows.append(flow)
        curves.append(losses)
    return flows, curves


@torch.no_grad()
def loglik_matrix(flows: list[Flow], features: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """(N, C) per-dimension log-likelihood of every feature under every class flow."""
    device = next(flows[0].parameters()).device
    data = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    columns = []
    for flow in flows:
        flow.eval()
        parts = [per_dim_log_prob(flow, data[s : s + batch_size].to(device)).cpu()
                 for s in range(0, len(data), batch_size)]
        columns.append(torch.cat(parts))
    return torch.stack(columns, dim=1).double().numpy()


def flow_arrays(flows: list[Flow]) -> dict[str, np.ndarray]:
    """The flows' parameters as named arrays (``flow<c>/<parameter>``), to be cached beside their likelihoods."""
    return {f"flow{c}/{name}": value.detach().cpu().numpy()
            for c, flow in enumerate(flows) for name, value in flow.state_dict().items()}


def flows_from_arrays(arrays: dict[str, np.ndarray], num_classes: int, dim: int, config: FlowConfig) -> list[Flow]:
    """Rebuild the class flows from ``flow_arrays``' output."""
    flows = []
    for c in range(num_classes):
        flow = build_flow(dim, config)
        prefix = f"flow{c}/"
        flow.load_state_dict({k[len(prefix):]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith(prefix)})
        flows.append(flow.eval())
    return flows
