"""Starting the bag of n-grams from Naive Bayes log-count ratios (NBSVM, Wang & Manning 2012).

A linear model over n-grams learns much of what these ratios already say
about each n-gram's polarity; starting from them, the imdb bag reached a
lower validation loss sooner (README, "what each change contributed"). Only
the first dimension of each n-gram vector is set; the others keep their
random start, except for n-grams the training split lacks, whose vectors start
(and stay) at zero. The counts come from the training split alone.
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


def ngram_presence_counts(
    rows: Sequence[Sequence[int]], labels: np.ndarray, *, vocab_size: int, buckets: int
) -> tuple[np.ndarray, np.ndarray]:
    """(2, vocab_size) unigram and (2, buckets + 1) bigram-bucket counts of negative / positive reviews containing each.

    Bigram buckets come from the model's own hash (:func:`hashed_bigrams`), so
    a bucket's counts are those of the bigrams the network will read there.
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
    unigram = _presence_counts(np.concatenate(unigram_keys), np.concatenate(unigram_rows), labels, vocab_size)
    bigram = np.zeros((2, buckets + 1))
    if buckets:
        bigram = _presence_counts(np.concatenate(bigram_keys), np.concatenate(bigram_rows), labels, buckets + 1)
    return unigram, bigram


def log_count_ratios(counts: np.ndarray, smoothing: float = 1.0) -> np.ndarray:
    """Each key's ``r = log(p / |p|_1) - log(q / |q|_1)`` from its (2, size) presence counts; 0 for index 0 (PAD).

    ``p``/``q`` are the smoothed numbers of positive/negative reviews containing the key.
    """
    negative, positive = counts + smoothing
    ratios = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
    ratios[0] = 0.0
    return ratios


def initialise_bag_from_naive_bayes(model: SentimentNet, rows: Sequence[Sequence[int]], labels: np.ndarray) -> None:
    """Set the first dimension of every unigram and bigram vector to its log-count ratio, and every vector of
    an n-gram no training review holds to zero.

    Such a vector gets no gradient in training, so it would keep its random
    start for good and add noise to the mean of every test review that holds
    the n-gram (what the zero start gained in and out of domain:
    benchmarks/results/accuracy.md).
    """
    config = model.config
    if not config.ngram_dim:
        raise ValueError("ngram_init='naive_bayes' needs the bag-of-n-grams branch (ngram_dim > 0)")
    counts = ngram_presence_counts(rows, labels, vocab_size=config.vocab_size, buckets=config.ngram_buckets)
    tables = [model.unigram_vectors.weight]
    if config.ngram_buckets:
        tables.append(model.bigram_vectors.weight)
    with torch.no_grad():
        for table, table_counts in zip(tables, counts):
            table[:, 0] = torch.from_numpy(log_count_ratios(table_counts)).to(table)
            unseen = torch.from_numpy(table_counts.sum(axis=0) == 0)
            table[unseen] = 0.0
