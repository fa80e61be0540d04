"""Mixed precision: bf16 autocast wherever the hardware multiplies in bf16 natively.

A GPU always does; so does a CPU with AVX-512 BF16 or AMX (measured on the 2-core AMD EPYC of the CPU tier: SimCLR
and classifier training about twice as fast, ``gssd bench``). Elsewhere autocast would emulate bf16 and be slower,
so training stays in fp32. ``$GSSD_BF16=0`` forces fp32 and ``=1`` forces bf16, e.g. to reproduce a run made on
the other kind of machine. Only training and predictions use it: features for the flows are extracted in fp32,
because the flows' per-dimension likelihoods need more than bf16's three significant digits.

Results record the precision with the device (``provenance.device_description``).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import torch

BF16_ENV = "GSSD_BF16"
_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@cache
def _cpu_has_bf16() -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return any(flag in flags for flag in _CPU_FLAGS)


def uses_bf16(device: torch.device) -> bool:
    """Whether training on ``device`` runs under bf16 autocast."""
    forced = os.environ.get(BF16_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if forced:
        raise ValueError(f"${BF16_ENV}={forced!r} is not valid; set it to 1 (bf16), 0 (fp32) or leave it unset")
    return device.type == "cuda" or (device.type == "cpu" and _cpu_has_bf16())


def autocast(device: torch.device) -> torch.autocast:
    """The autocast context for a forward pass on ``device``."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(device))


def precision_name(device: torch.device) -> str:
    return "bf16" if uses_bf16(device) else "fp32"
