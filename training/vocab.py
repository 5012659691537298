"""Building the vocabulary from the training split's tokens."""

from __future__ import annotations

from collections import Counter

from sentiment_export import PreprocessingSpec, Vocabulary


def check_vocabulary_limits(*, min_freq: int, max_vocab_size: int) -> None:
    """The vocabulary's limits: ``min_freq`` >= 1; ``max_vocab_size`` 0 (no limit) or >= 3 (PAD, UNK and a word).

    Checked when the hyper-parameters are built and again by
    :func:`vocabulary_from_counts`; raises ``ValueError``.
    """
    if min_freq < 1:
        raise ValueError(f"min_freq must be >= 1, got {min_freq!r}")
    if max_vocab_size < 0 or 0 < max_vocab_size < 3:
        raise ValueError(
            f"max_vocab_size must be 0 (no limit) or >= 3 (PAD, UNK and a word), got {max_vocab_size!r}"
        )


def vocabulary_from_counts(
    counts: Counter[str], spec: PreprocessingSpec, *, min_freq: int = 2, max_vocab_size: int = 0
) -> Vocabulary:
    """PAD, UNK, then every token seen at least ``min_freq`` times, most frequent first.

    Ties are broken by the token itself so the result depends on the counts
    only. ``max_vocab_size`` (0 = no limit) caps the total size, PAD and UNK
    included. Tokens spelled like PAD or UNK are left out (they already have
    ids 0 and 1).
    """
    check_vocabulary_limits(min_freq=min_freq, max_vocab_size=max_vocab_size)
    reserved = {spec.pad_token, spec.unk_token}
    kept = [(token, n) for token, n in counts.items() if n >= min_freq and token not in reserved]
    kept.sort(key=lambda item: (-item[1], item[0]))
    words = [token for token, _ in kept]
    if max_vocab_size:
        words = words[: max_vocab_size - 2]
    return Vocabulary.from_tokens(words, spec)
