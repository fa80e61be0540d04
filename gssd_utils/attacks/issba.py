"""ISSBA (Li et al., ICCV 2021): invisible, sample-specific triggers from a steganographic encoder.

One secret bit string, fixed per attack, is hidden in every poisoned image by a StegaStamp-style encoder;
the residual it adds differs from image to image. Public toolboxes ship a pretrained encoder; nothing may be
downloaded here, so ``fit`` trains our own encoder and decoder on the clean training images with random
secrets and caches them (resumable per epoch). The schedule is BackdoorBox's (Adam 1e-4, batch 32, 20 epochs,
the first two on the secret loss only), with one deviation: the LPIPS term needs downloaded AlexNet weights
and is dropped, leaving 2.0 * mean(residual^2) + 1.5 * BCE(secret). How well the trigger was built is
reported by ``diagnostics()``: the decoder's bit accuracy on the poisoned images and their PSNR.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from gssd_utils.attacks.base import Attack, register, seeded_rng, to_uint8
from gssd_utils.cache import array_digest, cache_path, config_key
from gssd_utils.validation import check_range

if TYPE_CHECKING:  # torch is imported where it is used, so that listing the attacks stays fast
    import torch

    from gssd_utils.models.stegastamp import StegaDecoder, StegaEncoder


@dataclass(frozen=True)
class IssbaConfig:
    secret_bits: int = 20
    width: int = 32  # encoder channels 32/32/64/128/256 at 32
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-4
    warmup_epochs: int = 2  # epochs trained on the secret loss alone
    l2_weight: float = 2.0
    bce_weight: float = 1.5

    def __post_init__(self) -> None:
        check_range("issba", "secret_bits", self.secret_bits, 1, 256)
        check_range("issba", "width", self.width, 1, 512)
        check_range("issba", "epochs", self.epochs, 1, 10_000)
        check_range("issba", "batch_size", self.batch_size, 1, 65_536)
        check_range("issba", "lr", self.lr, 0.0, 1.0, inclusive=False)
        check_range("issba", "warmup_epochs", self.warmup_epochs, 0, self.epochs)


def psnr(clean: np.ndarray, poisoned: np.ndarray) -> float:
    """Mean PSNR in dB over uint8 images (identical images count as 100 dB)."""
    mse = np.mean((clean.astype(np.float64) - poisoned.astype(np.float64)) ** 2, axis=(1, 2, 3))
    return float(np.mean(10 * np.log10(255.0**2 / np.maximum(mse, 255.0**2 * 1e-10))))


@register
class Issba(Attack):
    name = "issba"
    default_rate = 0.10
    config_class = IssbaConfig
    summary = "sample-specific invisible residual from our own StegaStamp-style encoder, one fixed 20-bit secret"

    def __init__(self, config: IssbaConfig, image_shape: tuple[int, int, int], seed: int) -> None:
        super().__init__(config, image_shape, seed)
        height, width, channels = image_shape
        if height != width or height % 16 or channels != 3:
            raise ValueError(f"issba: the encoder needs square RGB images with a side divisible by 16, got "
                             f"{image_shape}; resize the data (e.g. to 32x32x3)")
        self.secret = seeded_rng(seed, "issba-secret").integers(0, 2, config.secret_bits).astype(np.float32)
        self.encoder: StegaEncoder | None = None
        self.decoder: StegaDecoder | None = None
        self.history: dict = {}
        self._diagnostics: dict[str, float] = {}

    def fit(self, x_train: np.ndarray, y_train: np.ndarray, target: int, progress: bool = True) -> None:
        """Train (or load) the encoder and decoder on the clean training images, labels unused."""
        import torch

        from gssd_utils.models.stegastamp import StegaDecoder, StegaEncoder
        from gssd_utils.provenance import default_device
        from gssd_utils.training.checkpoint import EpochCheckpoint, run_epochs

        c, device = self.config, default_device()
        torch.manual_seed(self.seed)
        size = self.image_shape[0]
        self.encoder = StegaEncoder(c.secret_bits, size, c.width).to(device)
        self.decoder = StegaDecoder(c.secret_bits, size, c.width).to(device)
        optimizer = torch.optim.Adam([*self.encoder.parameters(), *self.decoder.parameters()], lr=c.lr)
        key = config_key("issba", array_digest(x_train), asdict(c), self.seed)
        saver = EpochCheckpoint(cache_path("issba", key, ".pt"), key,
                                {"encoder": self.encoder, "decoder": self.decoder, "optimizer": optimizer})
        images = torch.from_numpy(np.ascontiguousarray(x_train)).to(device)

        def epoch(index: int, generator: torch.Generator) -> dict:
            return self._train_epoch(images, optimizer, generator, secret_only=index < c.warmup_epochs)

        self.history = run_epochs(saver, c.epochs, self.seed, epoch, "issba encoder", progress)
        self.encoder.eval()
        self.decoder.eval()

    def _train_epoch(self, images: torch.Tensor, optimizer: torch.optim.Optimizer, generator: torch.Generator,
                     secret_only: bool) -> dict[str, float]:
        import torch
        from torch import nn

        c = self.config
        self.encoder.train()
        self.decoder.train()
        order = torch.randperm(len(images), generator=generator).to(images.device)
        totals = np.zeros(3)
        for start in range(0, len(order), c.batch_size):
            x = images[order[start : start + c.batch_size]].permute(0, 3, 1, 2).float() / 255
            bits = torch.randint(0, 2, (len(x), c.secret_bits), generator=generator).float().to(x.device)
            residual = self.encoder(x, bits)
            logits = self.decoder((x + residual).clamp(0, 1))
            bce = nn.functional.binary_cross_entropy_with_logits(logits, bits)
            mse = residual.pow(2).mean()
            loss = c.bce_weight * bce + (0.0 if secret_only else c.l2_weight * mse)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            bit_acc = ((logits > 0).float() == bits).float().mean()
            totals += np.array([loss.item(), bit_acc.item(), mse.item()]) * len(x)
        loss, bit_acc, mse = (totals / len(order)).tolist()  # plain floats: the checkpoint loads weights-only
        return {"loss": loss, "bit_acc": bit_acc, "residual_mse": mse}

    def _encode(self, images: np.ndarray) -> np.ndarray:
        import torch

        if self.encoder is None:
            raise RuntimeError("issba: the encoder is not trained; call fit() first (poison_dataset does)")
        device = next(self.encoder.parameters()).device
        out = []
        with torch.no_grad():
            for start in range(0, len(images), 256):
                x = torch.from_numpy(images[start : start + 256]).to(device).permute(0, 3, 1, 2).float() / 255
                bits = torch.from_numpy(self.secret).to(device).expand(len(x), -1)
                encoded = (x + self.encoder(x, bits)).clamp(0, 1)
                out.append(encoded.permute(0, 2, 3, 1).cpu().numpy() * 255)
        return to_uint8(np.concatenate(out)) if out else images.copy()

    def bit_accuracy(self, encoded: np.ndarray) -> float:
        """Share of secret bits the decoder reads back from uint8 images (after the rounding poisoning does)."""
        import torch

        device = next(self.decoder.parameters()).device
        with torch.no_grad():
            x = torch.from_numpy(encoded).to(device).permute(0, 3, 1, 2).float() / 255
            read = (self.decoder(x) > 0).float().cpu().numpy()
        return float(np.mean(read == self.secret[None]))

    def apply(self, images: np.ndarray) -> np.ndarray:
        encoded = self._encode(images)
        if len(images):
            self._diagnostics = {"bit_accuracy": round(self.bit_accuracy(encoded), 4),
                                 "psnr_db": round(psnr(images, encoded), 2)}
        return encoded

    def diagnostics(self) -> dict[str, float]:
        return dict(self._diagnostics)

    def artifacts(self) -> dict[str, np.ndarray]:
        return {"secret": self.secret.astype(np.uint8)}
