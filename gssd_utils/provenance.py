"""Where a number came from: profile, data copy, code version, device, and what each stage cost.

Every table the book shows is written together with this record, so a reader can tell our numbers from the
paper's and a smoke-profile number from a quick-profile one. A stage served from the cache reports what computing
it originally cost (from the cache's record), marked as a cache hit, not the second it took to load.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# what the code of a result is: a change elsewhere (results, prose) does not make a result's commit "dirty"
SOURCE_PATHS = ("gssd_utils", "notebooks", "pyproject.toml", "constraints.txt", "requirements.lock", "Makefile")


def git_commit() -> str:
    """The checked-out commit, with ``-dirty`` when tracked sources (``SOURCE_PATHS``) have uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *SOURCE_PATHS],
                               cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()
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
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return f".../{path.name}"


_COMMAND: ContextVar[list[str] | None] = ContextVar("gssd_command", default=None)


@contextmanager
def running(argv: list[str]) -> Iterator[None]:
    """Record ``argv`` as the command being run: the CLI's ``main(argv)`` may be called from a program (a test, a
    script) whose ``sys.argv`` is its own."""
    token = _COMMAND.set(list(argv))
    try:
        yield
    finally:
        _COMMAND.reset(token)


def invocation(argv: list[str] | None = None) -> str:
    """The command line that is running, program by name and paths made portable (see ``_portable``)."""
    argv = argv if argv is not None else (_COMMAND.get() or sys.argv)
    if not argv:
        return ""
    return " ".join([Path(argv[0]).name, *(_portable(a) for a in argv[1:])])


def default_device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_description(device=None) -> str:
    import torch

    from gssd_utils.training.precision import precision_name

    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)} ({precision_name(device)})"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu: {cpu} ({torch.get_num_threads()} threads, {precision_name(device)})"


def _torch_version() -> str:
    import torch

    return torch.__version__


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---- what a stage cost -------------------------------------------------------------------------------------

CACHED, COMPUTED, PARTLY = "cached", "computed", "partly cached"


@dataclass(eq=False)  # a stage is itself, not its numbers: the running-stage lists find it by identity
class StageTime:
    """One stage: its wall time here, what computing it cost (its own work plus the original cost of every
    cache hit inside it), whether the cache served it, and its peak memory while it ran here."""

    seconds: float = 0.0
    compute_s: float = 0.0
    cache: str = COMPUTED
    peak_mb: float | None = None
    origin: list[str] = field(default_factory=list)  # device and host of the cache hits inside it
    _hit_s: float = 0.0  # original cost of the cache hits
    _hits: int = 0
    _misses: int = 0
    _base: int = 0  # memory level when the stage started, and the highest level seen since (bytes)
    _peak: int = 0

    def as_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        out["seconds"], out["compute_s"] = round(self.seconds, 2), round(self.compute_s, 2)
        out["peak_mb"] = None if self.peak_mb is None else round(self.peak_mb, 1)
        return out


_STACK = threading.local()


def _active() -> list[StageTime]:
    if not hasattr(_STACK, "stages"):
        _STACK.stages = []
    return _STACK.stages


def charge(compute_s: float, cached: bool, origin: str = "") -> None:
    """Tell the running stages that a part of their work was computed now or served from the cache.

    Cache readers call this: a hit adds its original ``compute_s`` to every enclosing stage's cost.
    """
    for stage in _active():
        if cached:
            stage._hit_s += compute_s
            stage._hits += 1
            if origin and origin not in stage.origin:
                stage.origin.append(origin)
        else:
            stage._misses += 1


class _PeakMemory:
    """Each running stage's peak memory above its starting level.

    On the CPU the process's resident memory is sampled every 20 ms; on a GPU the CUDA allocator's peak is read
    whenever a stage starts or ends and folded into every running stage before it is reset, so nested stages
    keep their own peaks. Either way the figure is what one stage needed on top of what the process held.
    """

    def __init__(self) -> None:
        self.running: list[StageTime] = []
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    @staticmethod
    def _cuda():
        torch = sys.modules.get("torch")
        return torch.cuda if torch is not None and torch.cuda.is_available() else None

    @staticmethod
    def rss() -> int:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def level(self) -> int:
        cuda = self._cuda()
        return cuda.memory_allocated() if cuda is not None else self.rss()

    def _fold(self) -> None:
        """Fold the peak since the last fold into every running stage (caller holds the lock)."""
        cuda = self._cuda()
        peak = cuda.max_memory_allocated() if cuda is not None else self.rss()
        for stage in self.running:
            stage._peak = max(stage._peak, peak)
        if cuda is not None:
            cuda.reset_peak_memory_stats()

    def _sample(self) -> None:
        while True:
            with self.lock:
                if not self.running:
                    self.thread = None
                    return
                if self._cuda() is None:
                    self._fold()
            time.sleep(0.02)

    def start(self, stage: StageTime) -> None:
        with self.lock:
            self._fold()
            stage._base = stage._peak = self.level()
            self.running.append(stage)
            if self.thread is None:
                self.thread = threading.Thread(target=self._sample, daemon=True)
                self.thread.start()

    def stop(self, stage: StageTime) -> float:
        """The stage's peak above its start, in bytes."""
        with self.lock:
            self._fold()
            self.running.remove(stage)
        return max(stage._peak - stage._base, 0)


_MEMORY = _PeakMemory()


@contextmanager
def measure(stage: StageTime | None = None) -> Iterator[StageTime]:
    """Time the body, track its peak memory and collect the cache charges made inside it into ``stage``."""
    stage = stage if stage is not None else StageTime()
    _MEMORY.start(stage)
    _active().append(stage)
    started = time.perf_counter()
    try:
        yield stage
    finally:
        elapsed = time.perf_counter() - started
        _active().remove(stage)
        peak = _MEMORY.stop(stage)
        stage.seconds += elapsed
        stage.peak_mb = max(stage.peak_mb or 0.0, peak / 2**20)
        # a stage's own work is its wall time (a cache load is a small part of it); hits add their original cost.
        # Kept at the precision its record stores, so a result read back from the cache shows the same figures
        # as when it was computed (rounding twice, 6.8504 -> 6.85 -> 6.8 against 6.9, would not)
        stage.compute_s = round(stage.seconds + stage._hit_s, 2)
        if stage._hits and not stage._misses:
            stage.cache = CACHED
        elif stage._hits:
            stage.cache = PARTLY


_STAGE: ContextVar[str] = ContextVar("gssd_stage", default="")


@contextmanager
def timed_stage(stages: dict[str, StageTime], name: str) -> Iterator[StageTime]:
    """``measure`` a ``with`` block as the stage ``name`` of ``stages`` (a repeated name adds to the same stage);
    inside it ``current_stage()`` is ``name``, so an epoch observer can say which stage an epoch belongs to."""
    token = _STAGE.set(name)
    try:
        with measure(stages.setdefault(name, StageTime())) as stage:
            yield stage
    finally:
        _STAGE.reset(token)


def current_stage() -> str:
    """The name of the innermost ``timed_stage`` running ("" outside any)."""
    return _STAGE.get()


# ---- the record of a result ---------------------------------------------------------------------------------


@dataclass
class Provenance:
    """The record attached to every result file."""

    profile: str
    data: dict
    command: str = field(default_factory=invocation)
    commit: str = field(default_factory=git_commit)
    device: str = field(default_factory=device_description)
    torch_version: str = field(default_factory=_torch_version)
    host: str = field(default_factory=socket.gethostname)
    started_utc: str = field(default_factory=utc_now)
    stages: dict[str, StageTime] = field(default_factory=dict)

    @contextmanager
    def timed(self, stage: str) -> Iterator[StageTime]:
        """Record the cost of the ``with`` body as ``stages[stage]`` (added to an earlier record of that name)."""
        record = self.stages.setdefault(stage, StageTime())
        with measure(record):
            yield record

    @property
    def compute_s(self) -> float:
        return sum(s.compute_s for s in self.stages.values())

    def as_dict(self) -> dict:
        return {
            "profile": self.profile,
            "data": self.data,
            "command": self.command,
            "commit": self.commit,
            "device": self.device,
            "host": self.host,
            "torch": self.torch_version,
            "started_utc": self.started_utc,
            "stages": {name: stage.as_dict() for name, stage in self.stages.items()},
        }
