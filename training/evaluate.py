"""Loss and accuracy of a model on encoded reviews, over the shards of all processes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sentiment_export import SentimentNet, TextEncoder
from sentiment_export.data.encoded import EncodedRows

from .batching import collate, evaluation_batches
from .blend import fit_branch_blend
from .distributed import DistContext


@dataclass(frozen=True)
class Evaluation:
    loss: float  # mean binary cross-entropy per review
    accuracy: float  # fraction of reviews whose predicted label (logit > 0) is right
    examples: int


def evaluate(
    model: SentimentNet,
    encoder: TextEncoder,
    rows: EncodedRows,
    labels: np.ndarray,
    *,
    batch_size: int,
    context: DistContext,
    fit_blend: bool = False,
) -> Evaluation:
    """Evaluate in eval mode (no dropout, no gradients); each process scores its shard, all see every logit.

    ``fit_blend=True`` (validation only) first fits the model's branch blend on
    these reviews when it has two branches (:mod:`training.blend`), and the
    figures are those of the fitted model. Leaves the model in eval mode; the
    caller switches back to training.
    """
    model.eval()
    lengths = rows.lengths
    branch_logits, targets = [], []
    with torch.inference_mode():
        for index in evaluation_batches(
            lengths, batch_size=batch_size, rank=context.rank, world_size=context.world_size
        ):
            ids, batch_targets = collate(encoder, rows, labels, index, context.device)
            branch_logits.append(model(ids, per_branch=True).cpu())  # (B, branches)
            targets.append(batch_targets.cpu())
    shards = context.gather_objects((torch.cat(branch_logits), torch.cat(targets)) if targets else None)
    shards = [shard for shard in shards if shard is not None]
    if not shards:
        raise ValueError("cannot evaluate on zero reviews")
    all_logits = torch.cat([logits for logits, _ in shards])
    all_targets = torch.cat([shard_targets for _, shard_targets in shards])
    with torch.no_grad():
        if fit_blend and all_logits.shape[1] > 1:
            model.set_branch_blend(*fit_branch_blend(all_logits, all_targets))
        logits = model.blend_branches(all_logits.to(context.device)).cpu()
        loss = nn.functional.binary_cross_entropy_with_logits(logits, all_targets, reduction="mean").item()
    accuracy = ((logits > 0).float() == all_targets).float().mean().item()
    return Evaluation(loss=loss, accuracy=accuracy, examples=len(all_targets))
