"""Will a data set fit? Checked from its image count and resolution before a single image is loaded.

The rule: the uint8 arrays times ``COPIES`` must fit in the memory available now. Two copies, because the
poisoned training set is a second array beside the clean one (the triggered test set is smaller than either); the
training batches, models and flows come on top and are small beside a 224-px data set.
"""

from __future__ import annotations

from pathlib import Path

COPIES = 2


class DataTooLargeError(MemoryError):
    """The data set will not fit in memory; the message says how much it needs and what to do."""


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else None: the check is skipped where it cannot be measured."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def need_bytes(n_images: int, side: int) -> int:
    """What ``n_images`` RGB images of ``side`` x ``side`` need under the rule above."""
    return COPIES * n_images * side * side * 3


def check_fits(n_images: int, side: int, what: str) -> None:
    """Raise DataTooLargeError naming the need, the memory available and the fix when the data will not fit."""
    need, have = need_bytes(n_images, side), available_bytes()
    if have is not None and need > have:
        raise DataTooLargeError(
            f"{what}: {n_images:,} images at {side}x{side} px need about {need / 2**30:.1f} GiB ({COPIES} uint8 "
            f"copies) and {have / 2**30:.1f} GiB is available. Fix: use a machine with more memory, fewer images, "
            "or a smaller resolution")
