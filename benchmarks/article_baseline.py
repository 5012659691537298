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
- padding: every review cut to its first 200 ids, whatever the spec's
  ``max_length``, and LEFT-padded with 0 to exactly 200 (the notebook's
  ``pad_input``; :func:`left_padded`);
- model (:class:`ArticleNet`): every weight of the artifact's network, run
  the article's way: every layer over all 200 steps, hidden state zero at
  every batch (the article's ``init_hidden``; its carry-over bug is not
  reproduced), the Linear layer applied at every step and the last step's
  output kept (``pooling="last"``), or mean/max over all 200 steps, padding
  included (``pooling="mean_max"``, for the ``default`` preset, which the
  article has no equivalent of; a bidirectional network runs its backward
  direction over the same 200 steps reversed).
- training (:func:`train_article_loop`): shuffled fixed-size batches (no
  length bucketing), 200 left-padded steps, ``BCELoss`` on sigmoid outputs,
  Adam, gradient clipping.

Networks the article's way cannot run with all of their weights are refused
(:func:`unsupported_reason`, :class:`ArticleBaselineError`) rather than run in
part: a bag-of-n-grams branch and the fitted blend of the branches (the
``imdb`` preset) have no place in the article's network, and an LSTM that
reads only each review's last ``recurrent_steps`` tokens is a different
function of the text from one run over the first 200.

Scores depend on the left padding (the article's defect) and are not
expected to equal the runtime's; the suite reports their accuracy beside
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

from sentiment_export import SentimentExportError, SentimentNet, SentimentNetConfig, Vocabulary
from sentiment_export.text.encoder import pad_ids

SEQ_LEN = 200
PAD_ID = 0  # SentimentNet's PAD
_URL = re.compile(r"([^ ]+(?<=\.[a-z]{3}))")
_DIGIT = re.compile(r"\d")
_URL_HINTS = ("www.", "http:", "https:", ".com")


def article_tokens(text: str) -> list[str]:
    """The notebook's preprocessing + ``nltk.word_tokenize`` (``preserve_line=True``, see the module doc)."""
    text = _DIGIT.sub("0", text)
    if any(hint in text for hint in _URL_HINTS):
        text = _URL.sub("<url>", text)
    return [word.lower() for word in nltk.word_tokenize(text, preserve_line=True)]


def left_padded(rows: Sequence[Sequence[int]]) -> np.ndarray:
    """(N, 200) int64: each row's first 200 ids, left-padded with PAD (the notebook's ``pad_input``)."""
    return pad_ids([row[:SEQ_LEN] for row in rows], width=SEQ_LEN, side="left", pad_id=PAD_ID)


def article_ids(texts: Sequence[str], vocabulary: Vocabulary) -> np.ndarray:
    """(N, 200) int64 ids of ``texts`` the article's way: its tokens, looked up, :func:`left_padded`."""
    return left_padded([vocabulary.lookup(article_tokens(text)) for text in texts])


class ArticleBaselineError(SentimentExportError, ValueError):
    """The article's way cannot run this network with all of its weights (see :func:`unsupported_reason`)."""


def unsupported_reason(config: SentimentNetConfig) -> str | None:
    """Why the article's way cannot run a network of ``config`` faithfully, or None when it can."""
    reasons = []
    if config.ngram_dim:
        reasons.append(
            f"it has a bag-of-n-grams branch (ngram_dim={config.ngram_dim}) and a fitted blend of the two branches, "
            "which the article's network does not have"
        )
    if config.recurrent_steps:
        reasons.append(
            f"its LSTM reads only each review's last {config.recurrent_steps} tokens, while the article's way runs "
            f"it over the first {SEQ_LEN}"
        )
    if not reasons:
        return None
    return (
        f"the article's way cannot run this network faithfully: {'; and '.join(reasons)}; measure the article's "
        "pipeline on an LSTM-only model (ngram_dim=0, recurrent_steps=0), e.g. the bilstm or seed preset's"
    )


class ArticleNet(nn.Module):
    """A SentimentNet's modules (shared weights) run the article's way over fixed-length left-padded input.

    Raises :class:`ArticleBaselineError` for a network it cannot run with all
    of its weights (:func:`unsupported_reason`).
    """

    def __init__(self, net: SentimentNet) -> None:
        super().__init__()
        reason = unsupported_reason(net.config)
        if reason is not None:
            raise ArticleBaselineError(reason)
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
