"""Encoder alone: NLTK ``word_tokenize`` vs our Python TextEncoder vs the native (C++) one, same texts, one process.

    python benchmarks/encoder_bench.py [--data FILE ...] [--limit N]

(default data: the embedded snippets test set and ../shared/data/imdb/test.ft.txt.bz2
when it exists; the native encoder is used when SENTIMENT_EXPORT_NATIVE_ENCODER
or the default location holds libsentiment_encoder.so, see
sentiment_export/native_encoder.py). benchmarks/run_all.py calls
:func:`measure_encoders`.

What is compared, and why it is fair to NLTK: our spec lower-cases, maps
digits to ``0`` and cuts URLs out (each becomes ``<url>``) before running the
NLTK 3.10.4 word-tokenizer rules on the pieces between URLs. NLTK is timed on
exactly those pieces, already normalised (its time excludes the lower-casing,
digit mapping and URL search, which our encoders do inside their time), with
``word_tokenize(piece, preserve_line=True)`` (the NLTK tokenizer without the
punkt sentence splitter, which needs downloads). Its tokens, with ``<url>``
between pieces, must equal our Python tokens on every text. Our encoders are
timed from the raw string to the truncated ids (vocabulary lookup included):
``python``/``native`` as the runtime uses them (a right-truncating spec
tokenizes only the head that truncation keeps, provably the same ids), and
``*_full`` tokenizing whole texts, to separate the two effects.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sentiment_export import PreprocessingSpec, TextEncoder, Vocabulary
from sentiment_export.errors import NativeEncoderError
from sentiment_export.reviews import read_reviews

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (REPO / "training" / "default_data" / "test.ft.txt.bz2", REPO.parent / "shared" / "data" / "imdb" / "test.ft.txt.bz2")


_WARM_UP = 20  # texts run once before timing: lazy regex compilation and caches are not the steady state


def _timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def _url_pieces(encoder: TextEncoder, texts: Sequence[str]) -> list[list[str]]:
    """Each text normalised and cut at URLs: the strings our spec hands to the NLTK rules."""
    tokenizer = encoder.tokenizer
    pieces = []
    for text in texts:
        normalized = tokenizer.normalize(text)
        bounds = [0]
        for match in tokenizer._url.finditer(normalized):
            bounds += [match.start(), match.end()]
        bounds.append(len(normalized))
        pieces.append([normalized[bounds[k] : bounds[k + 1]] for k in range(0, len(bounds), 2)])
    return pieces


def _nltk_tokens(pieces: list[list[str]], url_token: str) -> list[list[str]]:
    from nltk.tokenize import word_tokenize

    result = []
    for text_pieces in pieces:
        tokens = word_tokenize(text_pieces[0], preserve_line=True)
        for piece in text_pieces[1:]:
            tokens.append(url_token)
            tokens += word_tokenize(piece, preserve_line=True)
        result.append(tokens)
    return result


def measure_encoders(texts: Sequence[str], *, encoder: TextEncoder | None = None, threads: int | None = None) -> dict[str, Any]:
    """Texts/s of NLTK, the Python encoder and the native encoder on ``texts``, and the equality checks.

    ``encoder`` gives the spec and vocabulary (default: the default spec and
    the tokens seen at least twice in ``texts``); ``threads`` (default: the
    machine's CPU count) is the native encoder's thread count in the
    ``native_N_threads_*`` rows (every other row is one thread). Returns a flat dict:
    ``*_texts_per_s``, ratios ``*_vs_*``, ``token_mismatches_vs_nltk`` (Python
    tokens vs NLTK's), ``head_id_mismatches`` (head-only vs whole-text ids),
    ``native_id_mismatches`` (native vs Python ids), ``native_full_id_mismatches``
    (native whole-text ids vs Python's tokens; all must be 0) and
    ``native`` (``"used"`` or why not).
    """
    texts = list(texts)
    count = len(texts)
    threads = threads or os.cpu_count() or 1
    spec = encoder.spec if encoder is not None else PreprocessingSpec()
    python_tokenizer = TextEncoder(spec, Vocabulary.from_tokens([], spec), backend="python")
    for text in texts[:_WARM_UP]:
        python_tokenizer.tokenize(text)
    full_tokens, python_full_seconds = _timed(lambda: [python_tokenizer.tokenize(text) for text in texts])
    if encoder is None:
        counts = collections.Counter(token for tokens in full_tokens for token in tokens)
        vocabulary = Vocabulary.from_tokens(sorted(word for word, seen in counts.items() if seen >= 2), spec)
    else:
        vocabulary = encoder.vocabulary
    python = TextEncoder(spec, vocabulary, backend="python")

    pieces = _url_pieces(python, texts)
    _nltk_tokens(pieces[:_WARM_UP], spec.url_token)
    nltk_tokens, nltk_seconds = _timed(lambda: _nltk_tokens(pieces, spec.url_token))
    python_ids, python_seconds = _timed(lambda: [python.encode_ids(text) for text in texts])
    results: dict[str, Any] = {
        "texts": count,
        "nltk_texts_per_s": count / nltk_seconds,
        "python_full_texts_per_s": count / python_full_seconds,
        "python_texts_per_s": count / python_seconds,
        "python_vs_nltk": nltk_seconds / python_seconds,
        "token_mismatches_vs_nltk": sum(ours != theirs for ours, theirs in zip(full_tokens, nltk_tokens)),
        "head_id_mismatches": sum(ids != python.encode_tokens(tokens) for ids, tokens in zip(python_ids, full_tokens)),
    }
    try:
        native = TextEncoder(spec, vocabulary, backend="native")
        native_threads = TextEncoder(spec, vocabulary, backend="native", native_threads=threads)
        longest = max([len(tokens) for tokens in full_tokens] + [1])
        whole = spec.with_overrides(max_length=longest, truncation_side="left")  # left truncation: no head shortcut
        native_whole = TextEncoder(whole, Vocabulary.from_tokens(vocabulary.tokens[2:], whole), backend="native")
    except NativeEncoderError as error:
        return {**results, "native": f"not measured: {error}"}
    native.encode_ids_batch(texts[:_WARM_UP])
    native_whole.encode_ids_batch(texts[:_WARM_UP])
    native_ids, native_seconds = _timed(lambda: native.encode_ids_batch(texts))
    threaded_ids, threaded_seconds = _timed(lambda: native_threads.encode_ids_batch(texts))
    whole_ids, native_full_seconds = _timed(lambda: native_whole.encode_ids_batch(texts))
    return {
        **results,
        "native": "used",
        "native_full_texts_per_s": count / native_full_seconds,
        "native_texts_per_s": count / native_seconds,
        "native_vs_nltk": nltk_seconds / native_seconds,
        "native_full_vs_nltk": nltk_seconds / native_full_seconds,
        "native_vs_python": python_seconds / native_seconds,
        f"native_{threads}_threads_texts_per_s": count / threaded_seconds,
        f"native_{threads}_threads_vs_nltk": nltk_seconds / threaded_seconds,
        "native_id_mismatches": sum(a != b for a, b in zip(native_ids, python_ids))
        + sum(a != b for a, b in zip(threaded_ids, python_ids)),
        "native_full_id_mismatches": sum(ids != vocabulary.lookup(tokens) for ids, tokens in zip(whole_ids, full_tokens)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", action="append", help="reviews file; repeatable (default: snippets test, imdb test if present)")
    parser.add_argument("--limit", type=int, default=None, help="first N texts of each file")
    args = parser.parse_args(argv)
    files = [Path(path) for path in args.data] if args.data else [path for path in DEFAULT_DATA if path.is_file()]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; single process")
    for path in files:
        texts = [review.text for review in read_reviews(path)[0]][: args.limit]
        measured = measure_encoders(texts)
        print(f"\n{path.parent.name}/{path.name}: {measured['texts']} texts")
        for key, value in measured.items():
            print(f"  {key:28s} {value:,.1f}" if isinstance(value, float) else f"  {key:28s} {value}")


if __name__ == "__main__":
    main()
