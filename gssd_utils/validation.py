"""Range checks shared by the typed configs: each failure names the setting, its value and the valid range."""

from __future__ import annotations

from typing import Any


def require_at_least_one(config: Any, names: tuple[str, ...], what: str) -> None:
    for name in names:
        value = getattr(config, name)
        if value < 1:
            raise ValueError(f"{what} {name} must be at least 1, got {value}")
