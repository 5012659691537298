"""Loss and accuracy of a model on encoded reviews, summed over all processes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sentiment_export import TextEncoder

from .batching import collate, evaluation_batches
from .distributed import DistContext


@dataclass(frozen=True)
class Evaluation:
    loss: float  # mean binary cross-entropy per review
    accuracy: float  # fraction of reviews whose predicted label (logit > 0) is right
    examples: int


def evaluate(
    model: nn.Module,
    encoder: TextEncoder,
    rows: Sequence[Sequence[int]],
    labels: np.ndarray,
    *,
    batch_size: int,
    context: DistContext,
) -> Evaluation:
    """Evaluate in eval mode (no dropout, no gradients) on this process's shard; totals are summed over all.

    Leaves the model in eval mode; the caller switches back to training.
    """
    model.eval()
    loss_function = nn.BCEWithLogitsLoss(reduction="sum")
    lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
    total_loss = correct = count = 0.0
    with torch.inference_mode():
        for index in evaluation_batches(
            lengths, batch_size=batch_size, rank=context.rank, world_size=context.world_size
        ):
            ids, targets = collate(encoder, rows, labels, index, context.device)
            logits = model(ids)  # (B,)
            total_loss += loss_function(logits, targets).item()
            correct += ((logits > 0).float() == targets).sum().item()
            count += len(index)
    total_loss, correct, count = context.sum([total_loss, correct, count])
    if count == 0:
        raise ValueError("cannot evaluate on zero reviews")
    return Evaluation(loss=total_loss / count, accuracy=correct / count, examples=int(count))
