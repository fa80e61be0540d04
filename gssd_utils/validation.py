"""Range checks shared by the typed configs: each failure names the setting, its value and the valid range."""

from __future__ import annotations

from typing import Any


def require_at_least_one(config: Any, names: tuple[str, ...], what: str) -> None:
    for name in names:
        value = getattr(config, name)
        if value < 1:
            raise ValueError(f"{what} {name} must be at least 1, got {value}")


def check_range(owner: str, name: str, value: float, low: float, high: float, inclusive: bool = True) -> None:
    """Raise a ValueError naming the setting as ``owner.name`` (an attack's or a defense's), its value and range."""
    ok = low <= value <= high if inclusive else low < value < high
    if not ok:
        bounds = f"[{low}, {high}]" if inclusive else f"({low}, {high})"
        raise ValueError(f"{owner}.{name}={value} is out of range; it must lie in {bounds}")
