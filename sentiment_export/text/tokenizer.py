"""Raw text -> tokens, by the rules of a :class:`PreprocessingSpec` and nothing else."""

from __future__ import annotations

import functools
import re
import unicodedata
import warnings
from collections.abc import Callable

from ..errors import SpecError, UnicodeVersionWarning
from .spec import NLTK_WORD_TOKENIZER_STEPS, PreprocessingSpec

_GROUP_REFERENCE = re.compile(r"\$(\d+)")
_WHITESPACE = re.compile(r"\s")
_WORD_CHARACTER = re.compile(r"\w")
_SENTINEL = "x"
_FIRST_GUESS_CHARS_PER_TOKEN = 8


def _python_replacement(replacement: str) -> str:
    """Translate PCRE2-style ``$N`` references into Python's ``\\g<N>`` template syntax."""
    if "\\" in replacement:
        raise SpecError(f"tokenizer replacement {replacement!r} may not contain backslashes")
    leftover = _GROUP_REFERENCE.sub("", replacement)
    if "$" in leftover:
        raise SpecError(f"tokenizer replacement {replacement!r} has a '$' that is not a group reference")
    return _GROUP_REFERENCE.sub(r"\\g<\1>", replacement)


def _compile(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise SpecError(f"{what} {pattern!r} is not a valid regular expression: {error}") from error


def _compile_steps(spec: PreprocessingSpec) -> list[Callable[[str], str]]:
    steps: list[Callable[[str], str]] = []
    for index, step in enumerate(spec.tokenizer_steps):
        if "pad" in step:
            padding = step["pad"]
            steps.append(lambda text, padding=padding: padding + text + padding)
        else:
            regex = _compile(step["pattern"], f"tokenizer step {index}")
            template = _python_replacement(step["replacement"])
            steps.append(lambda text, regex=regex, template=template: regex.sub(template, text))
    return steps


@functools.lru_cache(maxsize=None)
def _warn_unicode_version(written: str) -> None:
    """Warns once per process and version that a spec's Unicode version is not this Python's."""
    warnings.warn(
        f"the preprocessing spec was written with Unicode {written}, this Python has Unicode "
        f"{unicodedata.unidata_version}: lower-casing and the character classes may differ for characters "
        f"whose properties changed between them; use a Python with Unicode {written} for identical ids",
        UnicodeVersionWarning,
        stacklevel=4,
    )


class Tokenizer:
    """Normalises and splits text exactly as the spec says (see :class:`PreprocessingSpec`).

    Warns (:class:`UnicodeVersionWarning`, once per version) when the spec was
    written under another Unicode version than this Python's.
    """

    def __init__(self, spec: PreprocessingSpec) -> None:
        self.spec = spec
        if spec.unicode_version != unicodedata.unidata_version:
            _warn_unicode_version(spec.unicode_version)
        self._digit = _compile(spec.digit_pattern, "digit_pattern")
        self._url = _compile(spec.url_pattern, "url_pattern")
        self._steps = _compile_steps(spec)
        # The head shortcut is proven for the NLTK rules and the default URL and digit
        # rules only (see tokenize_head): a custom URL pattern could match across whitespace.
        defaults = PreprocessingSpec()
        self._head_shortcut = (
            spec.tokenizer_steps == NLTK_WORD_TOKENIZER_STEPS
            and spec.url_pattern == defaults.url_pattern
            and (spec.digit_pattern, spec.digit_replacement) == (defaults.digit_pattern, defaults.digit_replacement)
        )

    def within_budget(self, text: str) -> str:
        """The first (truncation "right") or last ("left") ``spec.max_characters`` code points of ``text``:
        the first step, so that the work per text is bounded by the spec."""
        budget = self.spec.max_characters
        if len(text) <= budget:
            return text
        return text[:budget] if self.spec.truncation_side == "right" else text[-budget:]

    def normalize(self, text: str) -> str:
        """Lower-casing and digit replacement: the steps applied to the whole text."""
        if self.spec.lowercase:
            text = text.lower()
        return self._digit.sub(self.spec.digit_replacement, text)

    def split_words(self, text: str) -> list[str]:
        """The tokenizer steps on one URL-free piece of normalised text."""
        for step in self._steps:
            text = step(text)
        return text.split()

    def split_at_urls(self, text: str) -> list[str]:
        """The pieces of normalised ``text`` between its URLs: one more piece than URLs (pieces may be empty).

        :meth:`tokenize` splits each piece into words and puts ``spec.url_token``
        where each URL was; the encoder benchmark hands the same pieces to NLTK.
        """
        pieces: list[str] = []
        start = 0
        for match in self._url.finditer(text):
            pieces.append(text[start : match.start()])
            start = match.end()
        pieces.append(text[start:])
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """All tokens of ``text`` within the character budget; each URL becomes ``spec.url_token``."""
        return self._tokenize_normalized(self.normalize(self.within_budget(text)))

    def _tokenize_normalized(self, text: str) -> list[str]:
        first, *after_urls = self.split_at_urls(text)
        tokens = self.split_words(first)
        for piece in after_urls:
            tokens.append(self.spec.url_token)
            tokens.extend(self.split_words(piece))
        return tokens

    def _safe_cut(self, text: str, start: int) -> int | None:
        """The end of the first whitespace at or after ``start`` in normalised ``text`` where
        :meth:`tokenize_head` may cut, or None when there is none worth trying: the piece
        (between URLs) that holds the cut must go on past it to a word character."""
        while (whitespace := _WHITESPACE.search(text, start)) is not None:
            word = _WORD_CHARACTER.search(text, whitespace.end())
            if word is None:
                return None
            url = self._url.search(text, whitespace.end())
            if url is None or url.start() > word.start():
                return whitespace.end()
            start = url.end()  # a URL ends the piece at the cut; try the next whitespace after it
        return None

    def tokenize_head(self, text: str, count: int) -> list[str]:
        """``tokenize(text)[:count]``, without tokenizing more of a long text than needed.

        Truncation keeps only the first ``max_length`` tokens, and a review can be
        megabytes long; this tokenizes a growing prefix instead. Why that gives
        the same tokens, for the NLTK rules: the normalised text is cut just
        after a whitespace character and followed by the sentinel word ``x``, so
        every chunk before the cut is, as in the full text, followed by
        whitespace and a non-space character. No URL spans whitespace, so the
        URLs before the cut are the full text's. The rules that look past a
        chunk's end look only at that whitespace, except the ones anchored at the
        end of a piece between URLs (``$``), whose matches can reach back only
        over closing brackets, quotes and spaces; requiring that the piece
        holding the cut goes on to a word character before the next URL starts
        (see :meth:`_safe_cut`) rules those out. So the prefix's tokens, minus
        the sentinel, are the full text's first tokens. Tests compare both paths
        on real, adversarial and fuzzed texts (tests/fuzz/).
        """
        if count <= 0:
            return []
        text = self.normalize(self.within_budget(text))
        window = count * _FIRST_GUESS_CHARS_PER_TOKEN
        while self._head_shortcut and window < len(text):
            cut = self._safe_cut(text, window)
            if cut is None:
                break
            tokens = self._tokenize_normalized(text[:cut] + _SENTINEL)
            if tokens[-1] == _SENTINEL and len(tokens) > count:
                return tokens[:count]
            window = max(window * 2, cut)
        return self._tokenize_normalized(text)[:count]
