"""Encoder alone: NLTK ``word_tokenize`` vs our Python TextEncoder vs the native (C++) one, same texts, one process.

    python -m benchmarks.encoder_bench [--data FILE ...] [--limit N]

(default data: the embedded snippets test set and ../shared/data/imdb/test.ft.txt.bz2
when it exists; the native encoder is used when SENTIMENT_EXPORT_NATIVE_ENCODER
or the default location holds libsentiment_encoder.so, see
sentiment_export/text/native.py). benchmarks/run_all.py calls
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
``*_full`` tokenizing whole texts, to separate the two effects; each is run
once over all texts after a short warm-up.
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
from sentiment_export.data.amazon import read_reviews
from sentiment_export.cli.options import bounded_int
from sentiment_export.errors import NativeEncoderError
from sentiment_export.text.spec import MAX_CHARACTERS_LIMIT

from . import MAX_TEXTS

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (REPO / "training" / "default_data" / "test.ft.txt.bz2", REPO.parent / "shared" / "data" / "imdb" / "test.ft.txt.bz2")


_WARM_UP = 20  # texts run once before timing: lazy regex compilation and caches are not the steady state


def _url_pieces(encoder: TextEncoder, texts: Sequence[str]) -> list[list[str]]:
    """Each text normalised and cut at URLs: the strings our spec hands to the NLTK rules."""
    tokenizer = encoder.tokenizer
    return [tokenizer.split_at_urls(tokenizer.normalize(tokenizer.within_budget(text))) for text in texts]


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
    ``native_N_threads`` row (every other row is one thread). Returns a flat
    dict: ``<method>_texts_per_s`` (wall clock) and ``<method>_texts_per_cpu_s``
    (this process's CPU time: steadier on a shared machine, and equal to wall
    time on an idle one for one thread), ratios ``<method>_vs_nltk`` and
    ``native_vs_python`` on CPU time (wall time for the threaded row),
    ``token_mismatches_vs_nltk`` (Python tokens vs NLTK's),
    ``head_id_mismatches`` (head-only vs whole-text ids), ``native_id_mismatches``
    (native vs Python ids, every native row; all must be 0) and ``native``
    (``"used"`` or why not).
    """
    texts = list(texts)
    count = len(texts)
    threads = threads or os.cpu_count() or 1
    spec = encoder.spec if encoder is not None else PreprocessingSpec()
    python_tokenizer = TextEncoder(spec, Vocabulary.from_tokens([], spec), backend="python")
    for text in texts[:_WARM_UP]:
        python_tokenizer.tokenize(text)
    results: dict[str, Any] = {"texts": count}
    times: dict[str, tuple[float, float]] = {}

    def run(name: str, work: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        times[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        results[f"{name}_texts_per_s"] = count / times[name][0]
        results[f"{name}_texts_per_cpu_s"] = count / times[name][1]
        return result

    full_tokens = run("python_full", lambda: [python_tokenizer.tokenize(text) for text in texts])
    if encoder is None:
        counts = collections.Counter(token for tokens in full_tokens for token in tokens)
        vocabulary = Vocabulary.from_tokens(sorted(word for word, seen in counts.items() if seen >= 2), spec)
    else:
        vocabulary = encoder.vocabulary
    python = TextEncoder(spec, vocabulary, backend="python")
    pieces = _url_pieces(python, texts)
    _nltk_tokens(pieces[:_WARM_UP], spec.url_token)
    nltk_tokens = run("nltk", lambda: _nltk_tokens(pieces, spec.url_token))
    python_ids = run("python", lambda: [python.encode_ids(text) for text in texts])
    results["token_mismatches_vs_nltk"] = sum(ours != theirs for ours, theirs in zip(full_tokens, nltk_tokens))
    results["head_id_mismatches"] = sum(ids != python.encode_tokens(tokens) for ids, tokens in zip(python_ids, full_tokens))
    try:
        native = TextEncoder(spec, vocabulary, backend="native")
        threaded = TextEncoder(spec, vocabulary, backend="native", native_threads=threads)
        longest = max([len(tokens) for tokens in full_tokens] + [1])
        # left truncation: no head shortcut; the largest budget: whole texts
        whole = spec.with_overrides(max_length=longest, max_characters=MAX_CHARACTERS_LIMIT, truncation_side="left")
        native_whole = TextEncoder(whole, Vocabulary.from_tokens(vocabulary.tokens[2:], whole), backend="native")
    except NativeEncoderError as error:
        results["native"] = f"not measured: {error}"
    else:
        results["native"] = "used"
        for warm in (native, threaded, native_whole):
            warm.encode_ids_batch(texts[:_WARM_UP])
        whole_ids = run("native_full", lambda: native_whole.encode_ids_batch(texts))
        native_ids = run("native", lambda: native.encode_ids_batch(texts))
        threaded_ids = run(f"native_{threads}_threads", lambda: threaded.encode_ids_batch(texts))
        results["native_id_mismatches"] = (
            sum(a != b for a, b in zip(native_ids, python_ids))
            + sum(a != b for a, b in zip(threaded_ids, python_ids))
            + sum(ids != vocabulary.lookup(tokens) for ids, tokens in zip(whole_ids, full_tokens))
        )
    nltk_cpu = times["nltk"][1]
    for name, (wall, cpu) in times.items():
        if name != "nltk":
            threaded_row = name.endswith("_threads")
            results[f"{name}_vs_nltk"] = times["nltk"][0] / wall if threaded_row else nltk_cpu / cpu
    if "native" in times:
        results["native_vs_python"] = times["python"][1] / times["native"][1]
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", action="append", help="reviews file; repeatable (default: snippets test, imdb test if present)")
    parser.add_argument("--limit", type=bounded_int(1, MAX_TEXTS), default=None, help="first N texts of each file")
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
