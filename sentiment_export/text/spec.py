"""The preprocessing spec: every rule that turns raw text into token ids, as data.

The spec is plain JSON so that a program in another language (the C++ demo)
can rebuild the exact same encoder from the artifact alone. Regular
expressions use the syntax common to Python's ``re`` and PCRE2 (UTF + UCP),
and replacements use PCRE2's ``$N`` group references.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import SpecError

SPEC_VERSION = 2
"""Bumped whenever a reader of an older spec would encode some text differently
(2: the character budget ``max_characters`` and the ``unicode_version`` of the writer)."""

MAX_CHARACTERS_LIMIT = 10_000_000
"""The largest character budget a spec may set."""

CHARACTERS_PER_TOKEN = 50
"""Character budget per kept token: :func:`character_budget`'s factor (see there for the measurement)."""

_UNICODE_VERSION = re.compile(r"\d+\.\d+\.\d+")


def character_budget(max_length: int) -> int:
    """The character budget for a spec keeping ``max_length`` tokens: ``CHARACTERS_PER_TOKEN * max_length``
    (at most :data:`MAX_CHARACTERS_LIMIT`).

    Bounds the work per text (10,000 code points at the default max_length
    200, 40,000 for the imdb preset's 800). Measured on all 62,639 reviews of
    ../shared/data/snippets and imdb (the longest 13,704 characters): cutting
    each review to 8 characters per kept token already leaves every review's ids
    unchanged, head and tail truncation alike, at max_length 200 and 800
    (5 per token changes 8,323 reviews' ids at 200 and 577 at 800); 50 per
    token leaves a margin of 6x. The measurement: for each factor, compare
    each review's ids from its first (last) factor * max_length characters with
    those from the whole review.
    """
    return min(MAX_CHARACTERS_LIMIT, CHARACTERS_PER_TOKEN * max_length)

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


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _version_message(version: object) -> str:
    if _is_int(version) and version < SPEC_VERSION:
        fix = "re-export the artifact with this sentiment_export (python -m sentiment_export export ...)"
    else:
        fix = "upgrade sentiment_export to the version that wrote it"
    return (
        f"preprocessing spec version {version!r} is not supported by this sentiment_export "
        f"(it reads version {SPEC_VERSION}); {fix}"
    )


PADDING_SIDES = ("right", "left")
TRUNCATION_SIDES = ("right", "left")


@dataclass(frozen=True)
class PreprocessingSpec:
    """How raw text becomes token ids; the single source for Python and C++.

    Order of operations: keep at most ``max_characters`` code points of the raw
    text (the first ones for ``truncation_side="right"``, the last ones for
    "left": the work per text is bounded by the spec, whatever its length),
    lower-case (``str.lower``), replace ``digit_pattern``
    matches by ``digit_replacement``, cut the text at ``url_pattern`` matches
    (each match becomes the single token ``url_token``), run the tokenizer
    steps on each piece between URLs and split it on whitespace, look tokens
    up in the vocabulary (unknown -> ``unk_id``), keep ``max_length`` tokens
    (``truncation_side="right"`` keeps the head) and pad with ``pad_id``.
    ``unicode_version`` is ``unicodedata.unidata_version`` of the Python that
    wrote the spec: lower-casing and ``\\w``/``\\d``/``\\s`` follow it.
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
    max_characters: int = character_budget(200)
    unicode_version: str = field(default=unicodedata.unidata_version)
    spec_version: int = field(default=SPEC_VERSION)

    def __post_init__(self) -> None:
        if self.spec_version != SPEC_VERSION:
            raise SpecError(_version_message(self.spec_version))
        if not _is_int(self.max_length) or self.max_length < 1:
            raise SpecError(f"max_length must be a positive integer, got {self.max_length!r}")
        if not _is_int(self.max_characters) or not self.max_length <= self.max_characters <= MAX_CHARACTERS_LIMIT:
            raise SpecError(
                f"max_characters must be an integer from max_length ({self.max_length}) to {MAX_CHARACTERS_LIMIT:,}, "
                f"got {self.max_characters!r}; character_budget(max_length) = {character_budget(self.max_length)} fits"
            )
        if not isinstance(self.unicode_version, str) or not _UNICODE_VERSION.fullmatch(self.unicode_version):
            raise SpecError(
                f"unicode_version must be a version such as {unicodedata.unidata_version!r} "
                f"(unicodedata.unidata_version of the writer), got {self.unicode_version!r}"
            )
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
        if version != SPEC_VERSION or isinstance(version, bool):
            raise SpecError(_version_message(version))
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
