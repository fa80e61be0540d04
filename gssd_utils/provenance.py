"""Where a number came from: profile, data copy, code version, device and wall time.

Every table the book shows is written together with this record, so a reader can tell our numbers
from the paper's and a smoke-profile number from a quick-profile one.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

_REPO_ROOT = Path(__file__).resolve().parent.parent


def git_commit() -> str:
    """The checked-out commit, with ``-dirty`` when the working tree has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=_REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=_REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit}-dirty" if dirty else commit


def _portable(arg: str) -> str:
    """An argument as it may be committed: paths inside the repository relative to it, other absolute paths
    reduced to their last component, so no result file carries one machine's folder layout."""
    if not os.path.isabs(arg):
        return arg
    path = Path(arg).resolve()
    try:
        return str(path.relative_to(_REPO_ROOT))
    except ValueError:
        return f".../{path.name}"


def invocation(argv: list[str] | None = None) -> str:
    """The command line that is running, program by name and paths made portable (see ``_portable``)."""
    argv = sys.argv if argv is None else argv
    if not argv:
        return ""
    return " ".join([Path(argv[0]).name, *(_portable(a) for a in argv[1:])])


def device_description(device: torch.device | str | None = None) -> str:
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu: {cpu} ({torch.get_num_threads()} threads)"


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Provenance:
    """The record attached to every result file."""

    profile: str
    data: dict
    command: str = field(default_factory=invocation)
    commit: str = field(default_factory=git_commit)
    device: str = field(default_factory=device_description)
    torch_version: str = torch.__version__
    started_utc: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    wall_time_s: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the wall time of the ``with`` body to ``wall_time_s[stage]``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.wall_time_s[stage] = round(self.wall_time_s.get(stage, 0.0) + time.perf_counter() - start, 2)

    def as_dict(self) -> dict:
        return {
            "profile": self.profile,
            "data": self.data,
            "command": self.command,
            "commit": self.commit,
            "device": self.device,
            "torch": self.torch_version,
            "started_utc": self.started_utc,
            "wall_time_s": dict(self.wall_time_s),
        }


def caption(provenance: Provenance) -> str:
    """One line under every table: which profile, which data copy, which commit and device produced it."""
    data = provenance.data
    subset = data.get("subset")
    size = f"{subset['n_train']:,} train / {subset['n_test']:,} test" if subset else "full splits"
    canonical = {True: "canonical release", False: "NOT the canonical release (md5 differs)", None: "unverified"}
    return (f"Ours, measured: profile '{provenance.profile}', data {data.get('name', '?')} ({size}; "
            f"{canonical.get(data.get('canonical'), '?')}), commit {provenance.commit[:12]}, "
            f"{provenance.device}, {sum(provenance.wall_time_s.values()):.0f} s wall time.")
