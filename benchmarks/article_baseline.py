"""The article's pipeline, reproduced for its cost (not its bugs): the baseline of the benchmark suite.

What the notebook does per text, and what this module does the same way:

- preprocessing: digits -> ``0`` (``re.sub(r"\\d", "0", s)``); when the text
  looks like it holds a URL (``www.``, ``http:``, ``https:``, ``.com``), the
  article's regex ``([^ ]+(?<=\\.[a-z]{3}))`` -> ``<url>``; then
  ``nltk.word_tokenize`` on the whole text and ``.lower()`` per token.
  ``word_tokenize`` is called with ``preserve_line=True``: its default first
  splits sentences with the ``punkt`` model, whose data cannot be downloaded
  here. Skipping the sentence splitter makes the baseline slightly *faster*
  than the article's, never slower.
- ids: a dict lookup in the artifact's vocabulary (unknown -> ``_UNK`` = 1,
  not the article's ``_PAD`` bug; the cost is the same);
- padding: every review truncated to its first 200 ids and LEFT-padded with
  0 to exactly 200 (the notebook's ``pad_input``);
- model: eager PyTorch, the artifact's own weights run the article's way
  (:class:`ArticleNet`): every layer over all 200 steps, hidden state zero at
  every batch (the article's ``init_hidden``; its carry-over bug is not
  reproduced), the Linear layer applied at every step and the last step's
  output kept (``pooling="last"``), or mean/max over all 200 steps
  (``pooling="mean_max"``, for the ``default`` preset, which the article has
  no equivalent of).
- training (:func:`train_article_loop`): shuffled fixed-size batches (no
  length bucketing), 200 left-padded steps, ``BCELoss`` on sigmoid outputs,
  Adam, gradient clipping.

Scores therefore depend on the left padding (the article's defect) and are
not expected to equal the runtime's; the suite reports their accuracy beside
their speed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import nltk
import numpy as np
import torch
from torch import nn

from sentiment_export import SentimentNet, Vocabulary

SEQ_LEN = 200
_URL = re.compile(r"([^ ]+(?<=\.[a-z]{3}))")
_DIGIT = re.compile(r"\d")
_URL_HINTS = ("www.", "http:", "https:", ".com")


def article_tokens(text: str) -> list[str]:
    """The notebook's preprocessing + ``nltk.word_tokenize`` (``preserve_line=True``, see the module doc)."""
    text = _DIGIT.sub("0", text)
    if any(hint in text for hint in _URL_HINTS):
        text = _URL.sub("<url>", text)
    return [word.lower() for word in nltk.word_tokenize(text, preserve_line=True)]


def article_ids(texts: Sequence[str], vocabulary: Vocabulary) -> np.ndarray:
    """(N, 200) int64: each text's first 200 ids, left-padded with 0 (the notebook's ``pad_input``)."""
    matrix = np.zeros((len(texts), SEQ_LEN), dtype=np.int64)
    for row, text in enumerate(texts):
        ids = vocabulary.lookup(article_tokens(text))[:SEQ_LEN]
        if ids:
            matrix[row, SEQ_LEN - len(ids) :] = ids
    return matrix


class ArticleNet(nn.Module):
    """A SentimentNet's modules (shared weights) run the article's way over fixed-length left-padded input."""

    def __init__(self, net: SentimentNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, 200) left-padded ids -> P(positive) (B,)."""
        net, config = self.net, self.net.config
        x = net.embedding_dropout(net.embedding(input_ids))  # (B, T, E)
        if not config.bidirectional:
            outputs = net.lstm(x)[0]  # hidden state: zeros for every batch
        else:
            for layer, (ahead, behind) in enumerate(zip(net.forward_layers, net.backward_layers)):
                if layer:
                    x = net.inter_layer_dropout(x)
                x = torch.cat([ahead(x)[0], behind(x.flip(1))[0].flip(1)], dim=2)  # whole 200 steps both ways
            outputs = x  # (B, T, D*H)
        if config.pooling == "last":  # the notebook: fc at every step, keep the last
            batch = outputs.shape[0]
            steps = torch.sigmoid(net.fc(net.dropout(outputs.reshape(-1, outputs.shape[2]))))
            return steps.view(batch, -1)[:, -1]
        features = torch.cat([outputs.mean(dim=1), outputs.amax(dim=1)], dim=1)  # over all 200 steps
        return torch.sigmoid(net.fc(net.dropout(features))).squeeze(1)


def article_scores(
    texts: Sequence[str], model: ArticleNet, vocabulary: Vocabulary, *, batch_size: int, device: str = "cpu"
) -> np.ndarray:
    """End to end the article's way: tokenize each batch's texts, pad to 200, eager forward, in input order."""
    scores = np.empty(len(texts), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            ids = article_ids(texts[start : start + batch_size], vocabulary)
            scores[start : start + len(ids)] = model(torch.from_numpy(ids).to(device)).cpu().numpy()
    return scores


@dataclass
class LoopResult:
    reviews_per_second: float  # optimizer steps only, like training.loop's figure
    val_loss: float
    steps: int


def train_article_loop(
    net: SentimentNet,
    train_ids: np.ndarray,
    train_labels: np.ndarray,
    val_ids: np.ndarray,
    val_labels: np.ndarray,
    *,
    steps: int,
    batch_size: int,
    learning_rate: float,
    grad_clip: float,
    seed: int = 0,
) -> LoopResult:
    """The notebook's training loop for ``steps`` steps on (N, 200) left-padded ids; then the val loss, its way."""
    torch.manual_seed(seed)
    model = ArticleNet(net)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    criterion = nn.BCELoss()
    order = np.random.default_rng(seed).permutation(len(train_ids))
    batches = [order[i : i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]
    if not batches:
        raise ValueError(f"{len(train_ids)} training reviews are fewer than one batch of {batch_size}")
    seconds = 0.0
    model.train()
    for step in range(steps):
        index = batches[step % len(batches)]
        inputs, labels = torch.from_numpy(train_ids[index]), torch.from_numpy(train_labels[index].astype(np.float32))
        started = time.perf_counter()
        model.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        seconds += time.perf_counter() - started
    model.eval()
    total = 0.0
    with torch.inference_mode():
        for start in range(0, len(val_ids), batch_size):
            probability = model(torch.from_numpy(val_ids[start : start + batch_size]))
            target = torch.from_numpy(val_labels[start : start + batch_size].astype(np.float32))
            total += nn.functional.binary_cross_entropy(probability, target, reduction="sum").item()
    return LoopResult(steps * batch_size / seconds, total / len(val_ids), steps)
