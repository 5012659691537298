"""The one check of the runtime's count options (batch size, concurrent batches): an int within bounds."""

from __future__ import annotations


def check_count(name: str, value: int, maximum: int) -> int:
    """``value`` if it is an int in [1, ``maximum``]; else TypeError / ValueError naming ``name`` and the bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if not 1 <= value <= maximum:
        raise ValueError(f"{name} must be between 1 and {maximum}, got {value}")
    return value
