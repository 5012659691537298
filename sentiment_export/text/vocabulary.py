"""Token <-> id table, stored as a text file with one token per line (line number = id)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import VocabularyError
from ..fileio import atomic_write_text
from .spec import PreprocessingSpec


class Vocabulary:
    """Maps tokens to ids; ids 0 and 1 are always the spec's PAD and UNK tokens."""

    def __init__(self, tokens: Sequence[str], spec: PreprocessingSpec) -> None:
        tokens = list(tokens)
        if tokens[:2] != [spec.pad_token, spec.unk_token]:
            raise VocabularyError(
                f"a vocabulary must start with {spec.pad_token!r} and {spec.unk_token!r} "
                f"(ids {spec.pad_id} and {spec.unk_id}), got {tokens[:2]!r}"
            )
        for index, token in enumerate(tokens):
            if not token or any(ch.isspace() for ch in token):
                raise VocabularyError(f"vocabulary token {index} ({token!r}) is empty or has whitespace")
        index_of = {token: index for index, token in enumerate(tokens)}
        if len(index_of) != len(tokens):
            raise VocabularyError("the vocabulary has duplicate tokens")
        self.tokens: list[str] = tokens
        self.unk_id = spec.unk_id
        self._index_of = index_of

    @classmethod
    def from_tokens(cls, words: Iterable[str], spec: PreprocessingSpec) -> Vocabulary:
        """PAD and UNK first, then ``words`` in the order given."""
        return cls([spec.pad_token, spec.unk_token, *words], spec)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index_of

    def lookup(self, tokens: Iterable[str]) -> list[int]:
        """Ids of ``tokens``; a token not in the table is UNK (never PAD)."""
        get = self._index_of.get
        unk = self.unk_id
        return [get(token, unk) for token in tokens]

    def to_text(self) -> str:
        return "".join(token + "\n" for token in self.tokens)

    def save(self, path: str | os.PathLike[str]) -> None:
        atomic_write_text(path, self.to_text())

    @classmethod
    def from_text(cls, text: str, spec: PreprocessingSpec) -> Vocabulary:
        if text and not text.endswith("\n"):
            raise VocabularyError("vocabulary text must end with a newline (is the file truncated?)")
        return cls(text.split("\n")[:-1], spec)

    @classmethod
    def load(cls, path: str | os.PathLike[str], spec: PreprocessingSpec) -> Vocabulary:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise VocabularyError(f"vocabulary file {path} is not UTF-8: {error}") from error
        return cls.from_text(text, spec)
