"""The preprocessing spec: every rule that turns raw text into token ids, as data.

The spec is plain JSON so that a program in another language (the C++ demo)
can rebuild the exact same encoder from the artifact alone. Regular
expressions use the syntax common to Python's ``re`` and PCRE2 (UTF + UCP),
and replacements use PCRE2's ``$N`` group references.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import SpecError

SPEC_VERSION = 1
"""Bumped whenever a reader of an older spec would encode some text differently."""

# NLTK 3.10.4 ``NLTKWordTokenizer`` (what ``word_tokenize(text, preserve_line=True)``
# runs), copied rule for rule and in order, so no NLTK data or code is needed at
# run time. ``{"pad": " "}`` is its step that surrounds the text with spaces.
NLTK_WORD_TOKENIZER_STEPS: tuple[dict[str, str], ...] = (
    # starting quotes
    {"pattern": "([«“‘„]|[`]+)", "replacement": " $1 "},
    {"pattern": '^\\"', "replacement": "``"},
    {"pattern": "(``)", "replacement": " $1 "},
    {"pattern": "([ \\(\\[{<])(\\\"|\\'{2})", "replacement": "$1 `` "},
    {"pattern": "(?i)(?<!\\w)(\\')(?!(?:re|ve|ll|m|t|s|d|n)\\b)(?=\\w)", "replacement": "$1 "},
    # punctuation
    {"pattern": "([^\\.])(\\.)([\\]\\)}>\"\\'»”’ ]*+)\\s*$", "replacement": "$1 $2 $3 "},
    {"pattern": "([:,])([^\\d])", "replacement": " $1 $2"},
    {"pattern": "([:,])$", "replacement": " $1 "},
    {"pattern": "\\.{2,}", "replacement": " $0 "},
    {"pattern": "[;@#$%&]", "replacement": " $0 "},
    {"pattern": "[\u2012-\u2015]", "replacement": " $0 "},  # figure dash .. horizontal bar, as literal characters
    {"pattern": "([^\\.])(\\.)([\\]\\)}>\"\\']*)\\s*$", "replacement": "$1 $2$3 "},
    {"pattern": "[?!]", "replacement": " $0 "},
    {"pattern": "([^'])' ", "replacement": "$1 ' "},
    {"pattern": "[*]", "replacement": " $0 "},
    # parentheses and brackets, double dashes
    {"pattern": "[\\]\\[\\(\\)\\{\\}\\<\\>]", "replacement": " $0 "},
    {"pattern": "--", "replacement": " -- "},
    {"pad": " "},
    # ending quotes
    {"pattern": "([»”’])", "replacement": " $1 "},
    {"pattern": "''", "replacement": " '' "},
    {"pattern": '"', "replacement": " '' "},
    {"pattern": "\\s+", "replacement": " "},
    {"pattern": "([^' ])('[sS]|'[mM]|'[dD]|') ", "replacement": "$1 $2 "},
    {"pattern": "([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "replacement": "$1 $2 "},
    # contractions (MacIntyre)
    {"pattern": "(?i)\\b(can)(?#X)(not)\\b", "replacement": " $1 $2 "},
    {"pattern": "(?i)\\b(d)(?#X)('ye)\\b", "replacement": " $1 $2 "},
    {"pattern": "(?i)\\b(gim)(?#X)(me)\\b", "replacement": " $1 $2 "},
    {"pattern": "(?i)\\b(gon)(?#X)(na)\\b", "replacement": " $1 $2 "},
    {"pattern": "(?i)\\b(got)(?#X)(ta)\\b", "replacement": " $1 $2 "},
    {"pattern": "(?i)\\b(lem)(?#X)(me)\\b", "replacement": " $1 $2 "},
    {"pattern": "(?i)\\b(more)(?#X)('n)\\b", "replacement": " $1 $2 "},
    {"pattern": "(?i)\\b(wan)(?#X)(na)(?=\\s)", "replacement": " $1 $2 "},
    {"pattern": "(?i) ('t)(?#X)(is)\\b", "replacement": " $1 $2 "},
    {"pattern": "(?i) ('t)(?#X)(was)\\b", "replacement": " $1 $2 "},
)

# A URL is a scheme or ``www.`` address, or a bare host name ending in a known
# top-level domain. Requiring the scheme or a real TLD is what keeps run-together
# words such as ``game.the`` intact (the article's rule turned them into <url>);
# trailing sentence punctuation is left outside the URL.
_URL_TAIL = "[^\\s<>\"']*[^\\s<>\"'.,;:!?)\\]}]"
_HOST = "[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
# TLDs that are also common English words (it, me, us, in, to, ...) are left out: "loved it.me too"
# is far more often a missing space than an Italian host name.
_TLDS = "com|net|org|edu|gov|mil|io|uk|ca|au|fr|nl|jp|cn|ru|br|info|biz"
URL_PATTERN = (
    "(?<![\\w@./-])(?:"
    f"(?:https?|ftp)://{_URL_TAIL}"
    f"|www\\.{_URL_TAIL}"
    f"|{_HOST}(?:\\.{_HOST})*\\.(?:{_TLDS})\\b(?:/{_URL_TAIL}|/)?"
    ")"
)

PADDING_SIDES = ("right", "left")
TRUNCATION_SIDES = ("right", "left")


@dataclass(frozen=True)
class PreprocessingSpec:
    """How raw text becomes token ids; the single source for Python and C++.

    Order of operations: lower-case (``str.lower``), replace ``digit_pattern``
    matches by ``digit_replacement``, cut the text at ``url_pattern`` matches
    (each match becomes the single token ``url_token``), run the tokenizer
    steps on each piece between URLs and split it on whitespace, look tokens
    up in the vocabulary (unknown -> ``unk_id``), keep ``max_length`` tokens
    (``truncation_side="right"`` keeps the head) and pad with ``pad_id``.
    """

    max_length: int = 200
    lowercase: bool = True
    digit_pattern: str = "\\d"
    digit_replacement: str = "0"
    url_pattern: str = URL_PATTERN
    url_token: str = "<url>"
    tokenizer_name: str = "nltk-word-tokenizer-3.10.4"
    tokenizer_steps: tuple[dict[str, str], ...] = NLTK_WORD_TOKENIZER_STEPS
    padding_side: str = "right"
    truncation_side: str = "right"
    pad_token: str = "_PAD"
    pad_id: int = 0
    unk_token: str = "_UNK"
    unk_id: int = 1
    spec_version: int = field(default=SPEC_VERSION)

    def __post_init__(self) -> None:
        if self.spec_version != SPEC_VERSION:
            raise SpecError(
                f"preprocessing spec version {self.spec_version} is not supported by this "
                f"sentiment_export (it reads version {SPEC_VERSION}); upgrade sentiment_export "
                "or re-export the artifact with this version"
            )
        if not isinstance(self.max_length, int) or self.max_length < 1:
            raise SpecError(f"max_length must be a positive integer, got {self.max_length!r}")
        if self.padding_side not in PADDING_SIDES:
            raise SpecError(f"padding_side must be one of {PADDING_SIDES}, got {self.padding_side!r}")
        if self.truncation_side not in TRUNCATION_SIDES:
            raise SpecError(
                f"truncation_side must be one of {TRUNCATION_SIDES}, got {self.truncation_side!r}"
            )
        if (self.pad_id, self.unk_id) != (0, 1):
            raise SpecError(
                f"pad_id and unk_id must be 0 and 1 (the vocabulary's first two lines), "
                f"got {self.pad_id} and {self.unk_id}"
            )
        for index, step in enumerate(self.tokenizer_steps):
            if set(step) not in ({"pattern", "replacement"}, {"pad"}):
                raise SpecError(
                    f"tokenizer step {index} must have keys pattern+replacement or pad, got {sorted(step)}"
                )

    def with_overrides(self, **changes: Any) -> PreprocessingSpec:
        """A copy with some fields changed (validated like a new spec)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tokenizer_steps"] = [dict(step) for step in self.tokenizer_steps]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessingSpec:
        """Rebuild a spec; unknown versions and unknown or missing keys are errors, not guesses."""
        if not isinstance(data, dict):
            raise SpecError(f"a preprocessing spec must be a JSON object, got {type(data).__name__}")
        version = data.get("spec_version")
        if version != SPEC_VERSION:
            raise SpecError(
                f"preprocessing spec version {version!r} is not supported by this sentiment_export "
                f"(it reads version {SPEC_VERSION}); use the sentiment_export version that wrote it"
            )
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        missing = sorted(known - set(data))
        if unknown or missing:
            raise SpecError(f"preprocessing spec has unknown keys {unknown} and lacks keys {missing}")
        fields = dict(data)
        fields["tokenizer_steps"] = tuple(dict(step) for step in data["tokenizer_steps"])
        return cls(**fields)

    @classmethod
    def from_json(cls, text: str) -> PreprocessingSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SpecError(f"preprocessing spec is not valid JSON: {error}") from error
        return cls.from_dict(data)
