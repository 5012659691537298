"""SentimentNet's config: every hyper-parameter of the network, and the rules they must keep (no torch).

Kept apart from the network so that a configuration can be built and
checked (``python -m training`` does it for every flag) without importing
torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

POOLINGS = ("last", "mean_max")
"""Values of ``pooling``: the last real step, or mean and max over the real steps."""


_SIZE_BOUNDS = {
    "vocab_size": (1, 50_000_000),
    "embedding_dim": (1, 8192),
    "hidden_dim": (1, 8192),
    "num_layers": (1, 64),
    "recurrent_steps": (0, 1_000_000),
    "ngram_dim": (0, 4096),
    "ngram_buckets": (0, 100_000_000),
}
"""Each size's accepted range: far above any model measured, low enough that a mistyped value is an error
rather than an attempt to allocate the machine's memory."""


@dataclass(frozen=True)
class SentimentNetConfig:
    """Every hyper-parameter of the network; stored in checkpoints and artifacts."""

    vocab_size: int
    embedding_dim: int = 400
    hidden_dim: int = 512
    num_layers: int = 2
    dropout: float = 0.5
    embedding_dropout: float = 0.0
    bidirectional: bool = False
    pooling: str = "last"
    recurrent_steps: int = 0  # the LSTM reads each review's last N tokens (0 = all)
    ngram_dim: int = 0
    ngram_buckets: int = 0
    ngram_dropout: float = 0.0  # share of the bag's n-grams left out of each training step's mean

    def __post_init__(self) -> None:
        """The network's rules, checked here only (training's Hyperparameters builds a config to check them)."""
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        for name in ("vocab_size", "embedding_dim", "hidden_dim", "num_layers", "recurrent_steps", "ngram_dim", "ngram_buckets"):
            low, high = _SIZE_BOUNDS[name]
            if not low <= int(getattr(self, name)) <= high:
                raise ValueError(f"{name} must be between {low} and {high:,}, got {getattr(self, name)!r}")
        for name in ("dropout", "embedding_dropout", "ngram_dropout"):
            if not 0.0 <= float(getattr(self, name)) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        for name in ("ngram_buckets", "ngram_dropout"):  # settings of the bag, meaningless without it
            if getattr(self, name) and not self.ngram_dim:
                raise ValueError(
                    f"{name} needs ngram_dim > 0 (got {name} {getattr(self, name)} with the "
                    f"bag-of-n-grams branch off): set ngram_dim, or {name} 0"
                )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SentimentNetConfig:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown SentimentNet config keys {unknown}")
        return cls(**data)
