"""Which reviews go into which batch: a pure function of (seed, epoch), sharded over processes.

Training batches are length-bucketed: the epoch's shuffled order is cut into
chunks of ``chunk_batches`` batches, each chunk is sorted by length and cut
into batches, and the batches are shuffled. Each batch is then padded only to
its own longest review, which makes an LSTM epoch on CPU several times
faster than padding everything to ``max_length``. Because the plan depends on
nothing but the seed, the epoch and the lengths, a resumed run replays it
exactly from any position.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sentiment_export import TextEncoder

CHUNK_BATCHES = 50
"""Batches per length-sorted chunk: larger = less padding, smaller = more randomness."""


def epoch_batches(
    lengths: np.ndarray, *, batch_size: int, seed: int, epoch: int, chunk_batches: int = CHUNK_BATCHES
) -> list[np.ndarray]:
    """The epoch's batches of example indices (global, before sharding); only the last may be partial."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    chunk = batch_size * chunk_batches
    batches: list[np.ndarray] = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def rank_share(batch: np.ndarray, *, rank: int, world_size: int) -> np.ndarray:
    """This process's part of a global batch: contiguous (similar lengths), sizes differing by at most 1.

    A part may be empty when the batch has fewer reviews than there are processes.
    """
    return np.array_split(batch, world_size)[rank]


def evaluation_batches(lengths: np.ndarray, *, batch_size: int, rank: int = 0, world_size: int = 1) -> list[np.ndarray]:
    """This process's evaluation batches: its shard of the reviews, sorted by length (no shuffling needed)."""
    order = np.argsort(lengths, kind="stable")[rank::world_size]
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def collate(
    encoder: TextEncoder, rows: Sequence[Sequence[int]], labels: np.ndarray, index: np.ndarray, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids (B, T) int64 right-padded to the batch's longest review, labels (B,) float32) on ``device``."""
    ids = encoder.pad([rows[i] for i in index])  # (B, T)
    return (
        torch.from_numpy(ids).to(device),
        torch.from_numpy(labels[index].astype(np.float32)).to(device),
    )
