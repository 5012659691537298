"""Starting the bag of n-grams from Naive Bayes log-count ratios (NBSVM, Wang & Manning 2012).

A linear model over n-grams learns much of what these ratios already say
about each n-gram's polarity; starting from them, the imdb bag reached a
lower validation loss sooner (README, "what each change contributed"). Only
the first dimension of each n-gram vector is set; the others keep their
random start. The ratios come from the training split alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sentiment_export import SentimentNet
from sentiment_export.modeling.net import hashed_bigrams

_CHUNK = 512  # rows hashed per call


def _presence_counts(keys: np.ndarray, rows_of_keys: np.ndarray, labels: np.ndarray, size: int) -> np.ndarray:
    """(2, size): for each key, how many negative / positive reviews contain it at least once."""
    counts = np.zeros((2, size), dtype=np.float64)
    pairs = np.unique(np.stack([rows_of_keys, keys]), axis=1)
    np.add.at(counts, (labels[pairs[0]], pairs[1]), 1.0)
    return counts


def _ratios(counts: np.ndarray, smoothing: float) -> np.ndarray:
    negative, positive = counts + smoothing
    return np.log(positive / positive.sum()) - np.log(negative / negative.sum())


def log_count_ratios(
    rows: Sequence[Sequence[int]], labels: np.ndarray, *, vocab_size: int, buckets: int, smoothing: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(unigram ratios (vocab_size,), bigram-bucket ratios (buckets + 1,)); index 0 (PAD) is 0.

    ``r = log(p / |p|_1) - log(q / |q|_1)`` with ``p``/``q`` the smoothed
    numbers of positive/negative reviews containing the n-gram. Bigram buckets
    come from the model's own hash (:func:`hashed_bigrams`), so a bucket's ratio
    is the one the network will read.
    """
    labels = np.asarray(labels, dtype=np.int64)
    unigram_keys, unigram_rows, bigram_keys, bigram_rows = [], [], [], []
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        width = max(1, max(len(row) for row in chunk))
        ids = np.zeros((len(chunk), width), dtype=np.int64)
        for index, row in enumerate(chunk):
            ids[index, : len(row)] = row
        row_index = np.arange(start, start + len(chunk))[:, None]
        real = ids != 0
        unigram_keys.append(ids[real])
        unigram_rows.append(np.broadcast_to(row_index, ids.shape)[real])
        if buckets:
            hashed = hashed_bigrams(torch.from_numpy(ids), buckets).numpy()
            kept = hashed != 0
            bigram_keys.append(hashed[kept])
            bigram_rows.append(np.broadcast_to(row_index, hashed.shape)[kept])
    unigram = _ratios(
        _presence_counts(np.concatenate(unigram_keys), np.concatenate(unigram_rows), labels, vocab_size), smoothing
    )
    bigram = np.zeros(buckets + 1)
    if buckets:
        bigram = _ratios(
            _presence_counts(np.concatenate(bigram_keys), np.concatenate(bigram_rows), labels, buckets + 1), smoothing
        )
    unigram[0] = bigram[0] = 0.0
    return unigram, bigram


def initialise_bag_from_naive_bayes(model: SentimentNet, rows: Sequence[Sequence[int]], labels: np.ndarray) -> None:
    """Set the first dimension of every unigram and bigram vector to its log-count ratio."""
    config = model.config
    if not config.ngram_dim:
        raise ValueError("ngram_init='naive_bayes' needs the bag-of-n-grams branch (ngram_dim > 0)")
    unigram, bigram = log_count_ratios(rows, labels, vocab_size=config.vocab_size, buckets=config.ngram_buckets)
    with torch.no_grad():
        model.unigram_vectors.weight[:, 0] = torch.from_numpy(unigram).to(model.unigram_vectors.weight)
        if config.ngram_buckets:
            model.bigram_vectors.weight[:, 0] = torch.from_numpy(bigram).to(model.bigram_vectors.weight)
