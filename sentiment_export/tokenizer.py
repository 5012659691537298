"""Raw text -> tokens, by the rules of a :class:`PreprocessingSpec` and nothing else."""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import SpecError
from .spec import PreprocessingSpec

_GROUP_REFERENCE = re.compile(r"\$(\d+)")


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


class Tokenizer:
    """Normalises and splits text exactly as the spec says (see :class:`PreprocessingSpec`)."""

    def __init__(self, spec: PreprocessingSpec) -> None:
        self.spec = spec
        self._digit = _compile(spec.digit_pattern, "digit_pattern")
        self._url = _compile(spec.url_pattern, "url_pattern")
        self._steps = _compile_steps(spec)

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

    def tokenize(self, text: str) -> list[str]:
        """All tokens of ``text``; each URL becomes ``spec.url_token``."""
        text = self.normalize(text)
        tokens: list[str] = []
        start = 0
        for match in self._url.finditer(text):
            tokens.extend(self.split_words(text[start : match.start()]))
            tokens.append(self.spec.url_token)
            start = match.end()
        tokens.extend(self.split_words(text[start:]))
        return tokens
