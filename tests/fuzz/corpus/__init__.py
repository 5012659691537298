"""The fuzzing seed corpus: every input that ever broke an encoder, kept as a regression case.

Two kinds of seeds: the small files in this directory (raw bytes, one input
per file, read as libFuzzer reads a corpus directory) and the long or
systematic inputs below, built by code rather than committed as megabytes.
``scale`` shrinks the long ones (the sanitized test and the fuzzer's seed
directory use a fraction; the plain replay uses them whole).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent


def head_cut_url_texts() -> list[str]:
    """Head-shortcut cuts that fall between a word ending in '.' (or ',', a closing quote) and a URL.

    The shortcut cut there once and tokenized "a." where the full text has "a" "."
    (the end-anchored rule saw the piece end at the URL). Python's first cut is at
    8 characters per token, the library's at 6 bytes: a long word after
    ``count - 2`` short ones puts the cut at each position around both windows,
    for max_length (``count``) 200 and 7.
    """
    texts = ["w " * 198 + "é" * 1201 + " a. www.x " + "z " * 400]
    for tail in ("a. www.x ", 'a. ") www.x.com ', "a, http://x.org/y ", "end.\u00a0www.example.com "):
        for count, per_token in ((200, 6), (200, 8), (7, 6), (7, 8)):
            before = 2 * (count - 2)
            texts += ["w " * (count - 2) + "b" * (count * per_token - before + shift) + " " + tail + "z " * 400 for shift in range(-6, 4)]
    return texts


def _generated(scale: float) -> Iterator[tuple[str, str]]:
    def scaled(count: int) -> int:
        return max(1, int(count * scale))

    yield "jit-stack-review", "review." * 830  # PCRE2's default JIT stack ran out at the URL step
    yield "jit-stack-a-dot", "a." * 2100
    yield "jit-stack-zero-dot", "0." * 2050
    yield "past-budget-review", "review." * 1500
    yield "whitespace-free-run", "x" * scaled(3_400_000)  # the match limit, with the largest budget
    yield "a-dot-million", "a." * scaled(1_000_000)
    yield "bangs", "!" * scaled(20_000_000)  # no whitespace: the head shortcut cannot cut
    yield "spaced-bangs", "! " * scaled(10_000_000)
    yield "megabyte-words", "word " * scaled(200_000)
    yield "late-start", " " * 5000 + "late start"
    yield "closing-quotes-past-cut", "end. " * 400 + ")''\" ' . '' "
    yield "final-sigma-at-cut", "ΑΣ Σ " * 2000
    yield "file-separator", "a\x1cb " * 2000  # U+001C: Python whitespace, not PCRE2's
    yield "ideographic-space", "中文\u3000" * 2000
    yield "dotted-capital-i", "İstanbul İ " * 900  # lower-casing lengthens the text
    for index, text in enumerate(head_cut_url_texts()):
        yield f"head-cut-url-{index}", text


def seeds(scale: float = 1.0) -> Iterator[tuple[str, bytes]]:
    """(name, input bytes) for every seed: the generated ones (long ones times ``scale``) and the files here."""
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale!r}")
    for name, text in _generated(scale):
        yield name, text.encode("utf-8")
    for path in sorted(DIRECTORY.iterdir()):
        if path.is_file() and path.suffix != ".py":
            yield path.name, path.read_bytes()


