"""SentimentNet: Embedding -> stacked LSTM -> Linear -> one logit, as a pure function of ids.

Input is a right-padded ``(batch, seq)`` int64 id matrix with PAD = 0. Each
row's length is the number of non-PAD ids (at least 1), and only the first
``length`` steps ever reach the output: the forward direction reads the output
at the last real step, the backward direction runs over each row reversed
within its own length, and pooling is masked. So a review's score does not
depend on how much padding its batch needs or on the other reviews in it, and
the hidden state starts at zero on every call.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

POOLINGS = ("last", "mean_max")


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

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        for name in ("vocab_size", "embedding_dim", "hidden_dim", "num_layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SentimentNetConfig:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown SentimentNet config keys {unknown}")
        return cls(**data)


def _reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first ``length`` steps, leaving the padding after them in place.

    ``x``: (B, T, C); ``lengths``: (B,). Applying it twice is the identity.
    """
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)  # (1, T)
    last = (lengths - 1).unsqueeze(1)  # (B, 1)
    index = torch.where(steps <= last, last - steps, steps)  # (B, T)
    return x.gather(1, index.unsqueeze(2).expand(-1, -1, x.shape[2]))


class SentimentNet(nn.Module):
    """The article's network, made padding-invariant; ``forward`` returns logits (B,)."""

    def __init__(self, config: SentimentNetConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=0)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        inter_layer_dropout = config.dropout if config.num_layers > 1 else 0.0
        if config.bidirectional:
            # One single-layer LSTM per layer and direction, so that the backward one
            # can run over each row reversed within its own length.
            directions = 2
            self.forward_layers = nn.ModuleList()
            self.backward_layers = nn.ModuleList()
            for layer in range(config.num_layers):
                size_in = config.embedding_dim if layer == 0 else 2 * config.hidden_dim
                self.forward_layers.append(nn.LSTM(size_in, config.hidden_dim, batch_first=True))
                self.backward_layers.append(nn.LSTM(size_in, config.hidden_dim, batch_first=True))
            self.inter_layer_dropout = nn.Dropout(inter_layer_dropout)
        else:
            directions = 1
            self.lstm = nn.LSTM(
                config.embedding_dim,
                config.hidden_dim,
                num_layers=config.num_layers,
                dropout=inter_layer_dropout,
                batch_first=True,
            )
        features = directions * config.hidden_dim * (2 if config.pooling == "mean_max" else 1)
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(features, 1)

    def _encode_sequence(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, E) embeddings -> (B, T, D*H) top-layer outputs."""
        if not self.config.bidirectional:
            return self.lstm(x)[0]
        for layer, (forward_lstm, backward_lstm) in enumerate(zip(self.forward_layers, self.backward_layers)):
            if layer > 0:
                x = self.inter_layer_dropout(x)
            ahead = forward_lstm(x)[0]
            behind = _reverse_within_length(backward_lstm(_reverse_within_length(x, lengths))[0], lengths)
            x = torch.cat([ahead, behind], dim=2)
        return x

    def _pool(self, outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, F') using only each row's real steps."""
        if self.config.pooling == "last":
            if not self.config.bidirectional:
                index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, outputs.shape[2])
                return outputs.gather(1, index).squeeze(1)
            hidden = self.config.hidden_dim
            index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, hidden)
            last_forward = outputs[:, :, :hidden].gather(1, index).squeeze(1)
            first_backward = outputs[:, 0, hidden:]  # the backward pass ends at step 0
            return torch.cat([last_forward, first_backward], dim=1)
        steps = torch.arange(outputs.shape[1], device=outputs.device).unsqueeze(0)
        mask = (steps < lengths.unsqueeze(1)).unsqueeze(2)  # (B, T, 1)
        total = (outputs * mask).sum(dim=1)
        mean = total / lengths.unsqueeze(1).to(outputs.dtype)
        largest = outputs.masked_fill(~mask, torch.finfo(outputs.dtype).min).amax(dim=1)
        return torch.cat([mean, largest], dim=1)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """``input_ids``: (B, T) int64, right-padded with 0 -> logits (B,)."""
        lengths = (input_ids != 0).sum(dim=1).clamp(min=1)  # (B,)
        x = self.embedding_dropout(self.embedding(input_ids))  # (B, T, E)
        outputs = self._encode_sequence(x, lengths)  # (B, T, D*H)
        features = self.dropout(self._pool(outputs, lengths))
        return self.fc(features).squeeze(1)


class ProbabilityModel(nn.Module):
    """SentimentNet with the sigmoid applied: the exported models output P(positive)."""

    def __init__(self, net: SentimentNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(input_ids))
