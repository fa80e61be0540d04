"""CLIP's RN50 image encoder (OpenAI's weights, through open-clip-torch): the feature extractor of the paper's
Table 3 CLIP row.

The weights are never fetched while a book or a defense runs. ``gssd fetch-clip`` downloads them once, the way
open-clip-torch does (the Hugging Face Hub repository it names for ``RN50``/``openai``), into
``$GSSD_WEIGHTS/clip-rn50-openai/`` (default ``./weights``). Anything that needs them and finds none stops with one
line naming the file and where to put it. Only safetensors files are read, so loading cannot run code.

Preprocessing as CLIP's: images resized to 224 px (bicubic), normalised with OpenAI's statistics; features are the
encoder's 1024-d attention-pooled output.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

WEIGHTS_ENV = "GSSD_WEIGHTS"
ARCH = "RN50"  # with QuickGELU, as OpenAI trained it
HF_REPO = "timm/resnet50_clip.openai"  # open-clip-torch's source for RN50 / openai
WEIGHTS_NAME = "open_clip_model.safetensors"
SIZE = 224
MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI's CLIP statistics
STD = (0.26862954, 0.26130258, 0.27577711)


class WeightsNotFoundError(FileNotFoundError):
    """Pretrained weights that are not on disk; the message names the file, its source and where it goes."""


def weights_path() -> Path:
    """Where the RN50 CLIP weights are expected: ``$GSSD_WEIGHTS`` (else ``./weights``)/clip-rn50-openai/."""
    root = Path(os.environ.get(WEIGHTS_ENV) or "weights").expanduser()
    return root / "clip-rn50-openai" / WEIGHTS_NAME


def _missing(path: Path, why: str) -> WeightsNotFoundError:
    return WeightsNotFoundError(
        f"CLIP RN50 weights not found at {path.resolve()} ({why}). Fix: run `gssd fetch-clip` with network access, "
        f"or download {WEIGHTS_NAME} from https://huggingface.co/{HF_REPO} and put it there (or set ${WEIGHTS_ENV} "
        "to the folder above clip-rn50-openai/)")


def fetch_weights() -> Path:
    """Download the weights to ``weights_path()`` unless they are there; one clear error when offline."""
    path = weights_path()
    if path.is_file():
        return path
    from huggingface_hub import hf_hub_download

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        hf_hub_download(HF_REPO, WEIGHTS_NAME, local_dir=path.parent)
    except Exception as exc:  # the hub raises connection, HTTP and OS errors depending on the failure
        raise _missing(path, f"the download failed: {type(exc).__name__}") from exc
    return path


def clip_encoder(weights: Path | None) -> nn.Module:
    """The RN50 image encoder, with the weights at ``weights`` (a safetensors file of the whole CLIP model), or at
    random initialisation when ``weights`` is None (tests: the same architecture and code path)."""
    import open_clip

    model = open_clip.create_model(ARCH, pretrained=None, quick_gelu=True)
    if weights is not None:
        weights = Path(weights)
        if not weights.is_file():
            raise _missing(weights, "no such file")
        if weights.suffix != ".safetensors":  # anything else would be unpickled
            raise ValueError(f"{weights}: only .safetensors weights are read. Fix: download {WEIGHTS_NAME} from "
                             f"https://huggingface.co/{HF_REPO}")
        try:  # open-clip-torch's own loader: it maps older layouts of the same weights onto the model
            open_clip.load_checkpoint(model, str(weights), strict=True)
        except Exception as exc:
            raise ValueError(f"{weights}: not the weights of CLIP {ARCH} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200]}). Fix: download {WEIGHTS_NAME} from "
                             f"https://huggingface.co/{HF_REPO} again") from exc
    return model.visual.eval()


@torch.no_grad()
def clip_features(encoder: nn.Module, images: np.ndarray, batch_size: int = 64,
                  device: torch.device | None = None) -> np.ndarray:
    """Encoder features of uint8 NHWC ``images``, in order, preprocessed as CLIP's (224 px bicubic, its statistics)."""
    device = device or next(encoder.parameters()).device
    encoder.to(device)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    out = []
    for s in range(0, len(images), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[s: s + batch_size])).to(device)
        x = x.permute(0, 3, 1, 2).float().div_(255)
        if x.shape[-2:] != (SIZE, SIZE):
            x = nn.functional.interpolate(x, size=(SIZE, SIZE), mode="bicubic", align_corners=False).clamp_(0, 1)
        out.append(encoder((x - mean) / std).float().cpu())
    return torch.cat(out).numpy()
