"""The native encoder (libsentiment_encoder.so from cpp_demo, via ctypes) gives the Python encoder's ids.

The library is built once per session from cpp_demo/ (fixture native_library,
tests/conftest.py; skipped with the reason without a C++ toolchain, a failure
under CI=true). The Python encoder is the reference; the native one must give
equal ids on the golden hard cases, the embedded snippets test set, 1,000
imdb test reviews when ../shared/data/imdb exists, adversarial long texts
(the head-only tokenization's edges) and texts without a UTF-8 form, for the
default spec and for specs that switch the head shortcut off.
"""

from __future__ import annotations

import ctypes
import json
import logging
import random
import re
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from sentiment_export import PreprocessingSpec, TextEncoder, Vocabulary
from sentiment_export.text import native as native_encoder
from sentiment_export.errors import NativeEncoderError
from sentiment_export.data.amazon import read_reviews
from sentiment_export.text.spec import MAX_CHARACTERS_LIMIT, NLTK_WORD_TOKENIZER_STEPS

from cpp_build import NativeLibrary
from tests.fuzz.corpus import head_cut_url_texts

REPO = Path(__file__).resolve().parents[1]
GOLDEN_PATH = Path(__file__).resolve().parent / "golden" / "hard_cases.jsonl"
SNIPPETS_TEST = REPO / "training" / "default_data" / "test.ft.txt.bz2"
IMDB_TEST = REPO.parent / "shared" / "data" / "imdb" / "test.ft.txt.bz2"
IMDB_SAMPLE = 1000


@pytest.fixture
def use_library(native_library: NativeLibrary, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Points SENTIMENT_EXPORT_NATIVE_ENCODER at the session's library for one test."""
    monkeypatch.setenv(native_encoder.ENV_VAR, str(native_library.path))
    return native_library.path


@pytest.fixture(scope="session")
def real_texts() -> list[str]:
    """Golden hard cases, snippets test set and (when present) an imdb test sample."""
    texts = [json.loads(line)["text"] for line in GOLDEN_PATH.read_text(encoding="utf-8").splitlines()]
    texts += [review.text for review in read_reviews(SNIPPETS_TEST)[0]]
    if IMDB_TEST.is_file():
        imdb = read_reviews(IMDB_TEST)[0]
        texts += [imdb[index].text for index in sorted(random.Random(0).sample(range(len(imdb)), min(IMDB_SAMPLE, len(imdb))))]
    return texts


@pytest.fixture(scope="session")
def vocabulary(real_texts: list[str]) -> Vocabulary:
    """Tokens of every other real text: the rest hold unknown words, so UNK ids are exercised too."""
    spec = PreprocessingSpec()
    tokenizer = TextEncoder(spec, Vocabulary.from_tokens([], spec), backend="python").tokenizer
    return Vocabulary.from_tokens(sorted({token for text in real_texts[::2] for token in tokenizer.tokenize(text)}), spec)


def _adversarial_texts() -> list[str]:
    """Long texts whose first 200 tokens end at the edges of the head-only tokenization's guards."""
    rng = random.Random(1)
    words = ["good", "Bad", "can't", "''", '"', "(", ")", ".", "...", "--", "é", "ΣΑΣ", "www.example.com", "e-mail@x.org", "1,5", "n't", "'s", "«", "`"]
    texts = [
        "word " * 100_000,  # a megabyte, cut early
        "x" * 300_000,  # no whitespace at all: whole text
        " " * 5000 + "late start",  # whitespace, but no word character after the first cut
        "end. " * 400 + ")''\" ' . '' ",  # the $-anchored rules' closing quotes and brackets past the cut
        *("a" * shift + "é " * 2000 for shift in range(3)),  # the byte window lands inside a two-byte character, whatever its size
        "中文\u3000" * 2000,  # ideographic space: Python whitespace
        "a\x1cb " * 2000,  # U+001C: Python whitespace, not PCRE2's
        "ΑΣ Σ " * 2000,  # final sigma decided at the cut
        "don't can't won't gonna " * 200,
        "see http://example.com/a?b=1 now " * 300,  # URLs across the cut
        "Hello.World! " * 500 + ".",
        "\n".join("line %d: ok" % index for index in range(3000)),
        *head_cut_url_texts(),  # the cut between "a." and a URL, at Python's and the library's windows
    ]
    texts += [" ".join(rng.choice(words) for _ in range(rng.randrange(150, 1500))) for _ in range(60)]
    texts += ["a \ud800 b", "\udcff" * 10, "ok \ud83d"]  # lone surrogates: no UTF-8 form
    return texts


def _reference_ids(encoder: TextEncoder, text: str) -> list[int]:
    """Ids by the definition: every token of the whole text, then truncation."""
    return encoder.encode_tokens(encoder.tokenize(text))


def _fnv1a_steps(steps) -> int:
    """The C++ tokenizer_steps_fingerprint (cpp_demo/src/spec.cpp), computed from spec.py's data."""
    data = bytearray()
    for step in steps:
        data += b"P" + step["pad"].encode() + b"\0" if "pad" in step else b"R" + step["pattern"].encode() + b"\0" + step["replacement"].encode() + b"\0"
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def test_library_knows_the_nltk_rules_of_spec_py(use_library: Path) -> None:
    library = native_encoder._load_library(str(use_library))
    assert library.se_nltk_steps_fingerprint() == _fnv1a_steps(NLTK_WORD_TOKENIZER_STEPS), (
        "spec.py's NLTK_WORD_TOKENIZER_STEPS changed: update kNltkWordTokenizerFingerprint in cpp_demo/src/spec.hpp"
    )


@pytest.mark.parametrize(
    ("overrides", "shortcut"),
    [
        ({}, True),
        ({"tokenizer_steps": NLTK_WORD_TOKENIZER_STEPS[:-1]}, False),
        ({"tokenizer_steps": ()}, False),
        ({"url_pattern": "good movie"}, False),
        ({"digit_replacement": "#"}, False),
    ],
    ids=["nltk", "one-step-less", "no-steps", "custom-url-rule", "custom-digit-rule"],
)
def test_head_shortcut_only_for_the_nltk_rules(use_library: Path, overrides: dict, shortcut: bool) -> None:
    spec = PreprocessingSpec().with_overrides(**overrides)
    encoder = TextEncoder(spec, Vocabulary.from_tokens([], spec), backend="native")
    assert encoder._native.uses_head_shortcut is shortcut
    assert encoder.tokenizer._head_shortcut is shortcut  # the same rule as Python's


def test_native_ids_equal_python_on_real_texts(use_library: Path, real_texts: list[str], vocabulary: Vocabulary) -> None:
    spec = PreprocessingSpec()
    python = TextEncoder(spec, vocabulary, backend="python")
    native = TextEncoder(spec, vocabulary, backend="native")
    assert native.backend == "native" and python.backend == "python"
    expected = [python.encode_ids(text) for text in real_texts]
    got = native.encode_ids_batch(real_texts)
    differing = [index for index in range(len(real_texts)) if got[index] != expected[index]]
    assert not differing, f"{len(differing)} of {len(real_texts)} texts differ, first: {real_texts[differing[0]][:300]!r}"
    assert sum(len(row) for row in got) > 50_000 and sum(row.count(spec.unk_id) for row in got) > 100
    assert [native.encode_ids(text) for text in real_texts[:50]] == expected[:50]
    np.testing.assert_array_equal(native.encode(real_texts[:300]), python.encode(real_texts[:300]))
    np.testing.assert_array_equal(native.encode(real_texts[:3], length=250), python.encode(real_texts[:3], length=250))


@pytest.mark.parametrize("threads", [1, 2])
def test_native_whole_text_tokens_equal_python(use_library: Path, real_texts: list[str], monkeypatch: pytest.MonkeyPatch,
                                               threads: int) -> None:
    """What training counts its vocabulary from: every token, past max_length too, whatever the output buffer."""
    spec = PreprocessingSpec()
    python = TextEncoder(spec, Vocabulary.from_tokens([], spec), backend="python")
    native = TextEncoder(spec, Vocabulary.from_tokens([], spec), backend="native", native_threads=threads)
    texts = [*real_texts, *_adversarial_texts()[1:], "", "good \ud800 movie", 'İ "" (x) «é»']
    expected = python.tokenize_batch(texts)
    assert native.tokenize_batch(texts) == expected
    assert max(len(tokens) for tokens in expected) > spec.max_length  # whole texts, not heads
    monkeypatch.setattr(native_encoder, "_TOKEN_BYTES_PER_TEXT_BYTE", 0)  # a first buffer too small: asked again
    assert native.tokenize_batch(texts[:40]) == expected[:40]


@pytest.mark.parametrize(
    "overrides",
    [{}, {"max_length": 7}, {"truncation_side": "left", "max_length": 30}, {"tokenizer_steps": ()}, {"url_token": "<link>", "lowercase": False}],
    ids=["default", "short-head", "left-truncation", "no-steps", "other-url-token-cased"],
)
def test_native_ids_equal_python_on_adversarial_texts(use_library: Path, vocabulary: Vocabulary, overrides: dict) -> None:
    spec = PreprocessingSpec().with_overrides(**overrides)
    vocab = Vocabulary.from_tokens(vocabulary.tokens[2:], spec)
    python = TextEncoder(spec, vocab, backend="python")
    native = TextEncoder(spec, vocab, backend="native")
    texts = _adversarial_texts()
    got = native.encode_ids_batch(texts)
    for index, text in enumerate(texts):
        expected = _reference_ids(python, text)
        assert python.encode_ids(text) == expected
        assert got[index] == expected, f"text {index} ({text[:80]!r}...): native {got[index][:20]} != python {expected[:20]}"


# Steps that take each path of the C++ encoder's pattern analysis (required bytes, signposts;
# cpp_demo/src/python_regex.cpp), which lets it skip a step or most match attempts only where
# no match is possible: case-insensitive letters that match beyond ASCII (ı, ſ, K), negated
# classes (with ']' and \\d inside), empty branches, optional parts, look-behind, signposts
# a few characters into the match.
ANALYSED_PATTERNS = [
    "(?i)i", "(?i)s+t", "(?i)k", "[^]a]c", "[^\\d]'", "(?:q|)z", "a{,2}c", "(?<=a)b", "(?:'a|é')+b",
    "([^' ])('[sS]|') ", "(?i) ('t)(is)\\b", "[\u2012-\u2015]x", "\\x41b",
]


def _random_texts(count: int) -> list[str]:
    """Short texts of the characters and pieces that the ANALYSED_PATTERNS are about."""
    rng = random.Random(2)
    palette = list("abcdeiIkKsSqxzt'\".`- \n") + ["é", "K", "ſ", "ı", "İ", "’", "‒", "\x85", "\u2003", "1", "٣", "'tis", "aab", "'s "]
    return ["".join(rng.choice(palette) for _ in range(rng.randrange(40))) for _ in range(count)]


@pytest.mark.parametrize("pattern", ANALYSED_PATTERNS)
def test_native_ids_equal_python_for_analysed_patterns(use_library: Path, pattern: str) -> None:
    steps = ({"pattern": pattern, "replacement": " <$0> "}, {"pad": " "})
    spec = PreprocessingSpec().with_overrides(tokenizer_steps=steps, lowercase=False)
    texts = _random_texts(1500)
    tokenizer = TextEncoder(spec, Vocabulary.from_tokens([], spec), backend="python").tokenizer
    vocab = Vocabulary.from_tokens(sorted({token for text in texts for token in tokenizer.tokenize(text)}), spec)
    python = TextEncoder(spec, vocab, backend="python")
    got = TextEncoder(spec, vocab, backend="native").encode_ids_batch(texts)
    differing = [index for index, text in enumerate(texts) if got[index] != python.encode_ids(text)]
    assert not differing, f"{len(differing)} texts differ, first: {texts[differing[0]]!r} -> {python.tokenize(texts[differing[0]])}"


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_split_the_batch_without_changing_ids(use_library: Path, real_texts: list[str], vocabulary: Vocabulary, threads: int) -> None:
    python = TextEncoder(PreprocessingSpec(), vocabulary, backend="python")
    native = TextEncoder(PreprocessingSpec(), vocabulary, backend="native", native_threads=threads)
    texts = real_texts[:700] + _adversarial_texts()[:20] + ["\ud800 x"]
    assert native.encode_ids_batch(texts) == [python.encode_ids(text) for text in texts]
    assert native.encode_ids_batch(texts[:5]) == [python.encode_ids(text) for text in texts[:5]]  # too few to split


@pytest.mark.parametrize(("threads", "error", "message"), [(0, ValueError, r"threads must be between 1 and 256, got 0"), (1.5, TypeError, r"threads must be an int, got float 1\.5")])
def test_bad_thread_counts(threads: object, error: type, message: str) -> None:
    spec = PreprocessingSpec()
    with pytest.raises(error, match=message):
        TextEncoder(spec, Vocabulary.from_tokens([], spec), backend="python", native_threads=threads)


def test_texts_without_utf8_form_go_through_python(use_library: Path, vocabulary: Vocabulary) -> None:
    native = TextEncoder(PreprocessingSpec(), vocabulary, backend="native")
    python = TextEncoder(PreprocessingSpec(), vocabulary, backend="python")
    texts = ["good \ud800 movie", "fine", "\udcff"]
    assert native.encode_ids_batch(texts) == [python.encode_ids(text) for text in texts]


def test_c_abi_reports_invalid_utf8_and_small_buffers(use_library: Path) -> None:
    """What a C caller sees; the Python wrapper never passes such input."""
    library = native_encoder._load_library(str(use_library))
    spec = PreprocessingSpec().to_json().encode()
    error = ctypes.create_string_buffer(256)
    assert not library.se_encoder_create(b"{}", 2, b"_PAD\n_UNK\n", 10, 1, error, 256)
    assert b"preprocessing spec version (missing) is not supported" in error.value
    assert not library.se_encoder_create(spec, len(spec), b"_PAD\n_UNK\n", 10, 257, error, 256)
    assert error.value == b"threads must be at most 256, got 257"
    handle = library.se_encoder_create(spec, len(spec), b"_PAD\n_UNK\n", 10, 2, error, 256)
    assert handle
    try:
        data = b"fine" + b"bad \xff"
        offsets = np.array([0, 4, len(data)], dtype=np.uint64)
        ids = np.empty(2 * 200, dtype=np.int64)
        lengths, failed = np.empty(2, dtype=np.int64), np.zeros(2, dtype=np.uint8)
        assert library.se_encoder_encode_batch(handle, data, offsets.ctypes.data, 2, ids.ctypes.data, ids.size, lengths.ctypes.data, failed.ctypes.data, error, 256) == -1
        assert error.value == b"text 1 is not valid UTF-8 (byte 4)"
        assert library.se_encoder_encode_batch(handle, data, offsets.ctypes.data, 2, ids.ctypes.data, 399, lengths.ctypes.data, failed.ctypes.data, error, 256) == -1
        assert b"ids_capacity 399 is less than count (2) x the spec's max_length (200)" in error.value
        assert library.se_encoder_encode_batch(handle, data, offsets.ctypes.data, 1, ids.ctypes.data, 200, lengths.ctypes.data, failed.ctypes.data, error, 256) == 0
        assert lengths[0] == 1 and ids[0] == 1  # "fine" is unknown to this vocabulary
        needed, counts, tokens = ctypes.c_size_t(0), np.empty(2, dtype=np.int64), ctypes.create_string_buffer(64)
        assert library.se_encoder_tokenize_batch(handle, data, offsets.ctypes.data, 2, tokens, 64, ctypes.byref(needed), counts.ctypes.data, failed.ctypes.data, error, 256) == -1
        assert error.value == b"text 1 is not valid UTF-8 (byte 4)"
        words = b"Fine, thanks."
        offsets = np.array([0, len(words)], dtype=np.uint64)
        assert library.se_encoder_tokenize_batch(handle, words, offsets.ctypes.data, 1, tokens, 5, ctypes.byref(needed), counts.ctypes.data, failed.ctypes.data, error, 256) == 1
        assert needed.value == len(b"fine\n,\nthanks\n.\n")  # only the size is reported when it does not fit
        assert library.se_encoder_tokenize_batch(handle, words, offsets.ctypes.data, 1, tokens, needed.value, ctypes.byref(needed), counts.ctypes.data, failed.ctypes.data, error, 256) == 0
        assert tokens.raw[: needed.value] == b"fine\n,\nthanks\n.\n" and counts[0] == 4
    finally:
        library.se_encoder_destroy(handle)


def test_concurrent_calls_give_the_same_ids(use_library: Path, real_texts: list[str], vocabulary: Vocabulary) -> None:
    native = TextEncoder(PreprocessingSpec(), vocabulary, backend="native")
    texts = real_texts[:400]
    expected = native.encode_ids_batch(texts)
    results: list[list[list[int]]] = [[] for _ in range(4)]

    def work(slot: int) -> None:
        results[slot] = [native.encode_ids(text) for text in texts] if slot % 2 else native.encode_ids_batch(texts)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result == expected for result in results)


# --- choosing the backend ---------------------------------------------------------------------------


@pytest.fixture
def no_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No environment variable and nothing at the default location."""
    monkeypatch.delenv(native_encoder.ENV_VAR, raising=False)
    monkeypatch.setattr(native_encoder, "DEFAULT_LIBRARY", tmp_path / "absent.so")
    return tmp_path / "absent.so"


def test_auto_without_a_library_is_python_silently(no_library: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = PreprocessingSpec()
    with caplog.at_level(logging.DEBUG, logger="sentiment_export"):
        encoder = TextEncoder(spec, Vocabulary.from_tokens(["good"], spec))
    assert encoder.backend == "python" and encoder.encode_ids("good film") == [2, 1]
    assert caplog.records == []


def test_native_without_a_library_raises_with_the_fix(no_library: Path) -> None:
    spec = PreprocessingSpec()
    with pytest.raises(NativeEncoderError, match=r"no native encoder library at .*absent\.so \(the default location\); reinstall the package with the native build"):
        TextEncoder(spec, Vocabulary.from_tokens([], spec), backend="native")


def test_configured_but_missing_library_warns_under_auto(no_library: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(native_encoder.ENV_VAR, str(no_library.parent / "typo.so"))
    spec = PreprocessingSpec()
    with caplog.at_level(logging.WARNING, logger="sentiment_export"):
        assert TextEncoder(spec, Vocabulary.from_tokens([], spec)).backend == "python"
    assert "SENTIMENT_EXPORT_NATIVE_ENCODER=" in caplog.text and "using the Python encoder" in caplog.text


def test_unknown_backend_is_a_value_error() -> None:
    spec = PreprocessingSpec()
    with pytest.raises(ValueError, match=r"backend must be one of \('auto', 'python', 'native'\), got 'c\+\+'"):
        TextEncoder(spec, Vocabulary.from_tokens([], spec), backend="c++")


def test_spec_the_cpp_side_cannot_reproduce(use_library: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = PreprocessingSpec().with_overrides(tokenizer_steps=({"pattern": "(?x)a b", "replacement": " "},))
    vocab = Vocabulary.from_tokens([], spec)
    with pytest.raises(NativeEncoderError, match=r"refuses this spec/vocabulary: .*the inline flag \(\?x\) is not supported.*use backend='python'"):
        TextEncoder(spec, vocab, backend="native")
    with caplog.at_level(logging.WARNING, logger="sentiment_export"):
        assert TextEncoder(spec, vocab, backend="auto").backend == "python"
    assert "inline flag (?x)" in caplog.text


def test_not_a_sentiment_encoder_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "libfake.so"
    fake.write_bytes(b"not an ELF file")
    monkeypatch.setenv(native_encoder.ENV_VAR, str(fake))
    spec = PreprocessingSpec()
    with pytest.raises(NativeEncoderError, match=r"cannot load the native encoder library .*libfake\.so"):
        TextEncoder(spec, Vocabulary.from_tokens([], spec), backend="native")


def test_runtime_passes_the_backend_through(use_library: Path, exported_artifact: Path, real_texts: list[str]) -> None:
    from sentiment_export.serving.runtime import SentimentModel

    native = SentimentModel.load(exported_artifact, device="cpu", encoder_backend="native", intra_op_threads=1)
    python = SentimentModel.load(exported_artifact, device="cpu", encoder_backend="python", intra_op_threads=1)
    assert (native.encoder.backend, python.encoder.backend) == ("native", "python")
    texts = real_texts[:500] + ["", "good \ud800"]
    np.testing.assert_array_equal(native.predict_proba(texts), python.predict_proba(texts))


def test_encoder_benchmark_runs_on_tiny_input(use_library: Path, real_texts: list[str]) -> None:
    """benchmarks/encoder_bench.py's measure_encoders (called by benchmarks/run_all.py): rows and zero mismatches."""
    from benchmarks.encoder_bench import measure_encoders

    measured = measure_encoders(real_texts[:40] + ["see www.example.com and http://x.org/a now", ""], threads=2)
    assert measured["native"] == "used" and measured["texts"] == 42
    assert measured["token_mismatches_vs_nltk"] == measured["head_id_mismatches"] == measured["native_id_mismatches"] == 0
    for key in ("nltk_texts_per_s", "python_texts_per_cpu_s", "native_texts_per_s", "native_2_threads_texts_per_s", "native_vs_nltk", "native_vs_python"):
        assert measured[key] > 0, key


def test_build_info_names_the_libraries(use_library: Path) -> None:
    import re

    info = native_encoder.build_info()
    assert info is not None and set(info) == {"abi", "pcre2", "pcre2_jit", "unicode_version", "icu"}
    assert info["abi"] == native_encoder.ABI_VERSION and isinstance(info["pcre2_jit"], bool)
    assert re.fullmatch(r"\d+\.\d+ .*", info["pcre2"]) and re.fullmatch(r"\d+\.\d+(\.\d+)*", info["icu"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", info["unicode_version"])  # 14.0.0 for Debian's PCRE2 10.42


def test_build_info_without_a_library_is_none(no_library: Path) -> None:
    assert native_encoder.build_info() is None


# --- every text gets its ids: the character budget and per-text failures ---------------------------

BUDGET_REPROS = (
    "review." * 830,  # PCRE2's default JIT stack ran out at the URL step
    "a." * 2100,
    "0." * 2050,
    "review." * 1500,  # past the default budget of 10,000 characters
    "a." * 5100,
    "x" * 10_001,  # a whitespace-free run of max_characters and more
    "!" * 20_000_000,  # no whitespace for the head shortcut: whole text before the budget
    "! " * 10_000_000,
)


@pytest.mark.parametrize("threads", [1, 2])
def test_budget_repros_equal_python(use_library: Path, vocabulary: Vocabulary, threads: int) -> None:
    spec = PreprocessingSpec()
    python = TextEncoder(spec, vocabulary, backend="python")
    native = TextEncoder(spec, vocabulary, backend="native", native_threads=threads)
    texts = ["a great film"] * 40 + list(BUDGET_REPROS)  # enough texts that two threads share the batch
    assert native.encode_ids_batch(texts) == [python.encode_ids(text) for text in texts]
    assert native.tokenize_batch(list(BUDGET_REPROS[:6])) == [python.tokenize(text) for text in BUDGET_REPROS[:6]]


@pytest.mark.parametrize("text", ["a." * 1_000_000, "x" * 3_400_000])
def test_native_completes_texts_far_past_the_default_jit_stack_and_match_limit(use_library: Path, text: str) -> None:
    """With the largest budget, the matcher moves to the interpreter and a larger match limit instead of failing."""
    spec = PreprocessingSpec(max_characters=MAX_CHARACTERS_LIMIT)
    encoder = TextEncoder(spec, Vocabulary.from_tokens(["."], spec), backend="native")
    assert encoder.encode_ids(text)[-1:] == ([2] if text.startswith("a") else [1])


CATASTROPHIC_SPEC = PreprocessingSpec().with_overrides(tokenizer_steps=({"pattern": "((a+)+)$", "replacement": " $1 "},))


@pytest.mark.parametrize("threads", [1, 2])
def test_a_text_the_library_fails_on_goes_through_python(use_library: Path, caplog: pytest.LogCaptureFixture, threads: int) -> None:
    """PCRE2's match limit stops this pattern on 'a' * 24 + '!'; the batch still gets every text's ids."""
    vocab = Vocabulary.from_tokens(["great", "!"], CATASTROPHIC_SPEC)
    native = TextEncoder(CATASTROPHIC_SPEC, vocab, backend="native", native_threads=threads)
    python = TextEncoder(CATASTROPHIC_SPEC, vocab, backend="python")
    texts = ["great"] * 20 + ["a" * 24 + "!"] + ["great"] * 20
    with caplog.at_level(logging.WARNING, logger="sentiment_export"):
        assert native.encode_ids_batch(texts) == [python.encode_ids(text) for text in texts]
        assert native.tokenize_batch(texts[19:22]) == [python.tokenize(text) for text in texts[19:22]]
    assert "native encoder failed on text 20 (tokenizer step 0 failed on a text: match limit exceeded); encoded by the Python encoder" in caplog.text
    assert "native tokenizer failed on text 1 (" in caplog.text  # the tokenize batch names its own index


def test_c_abi_marks_the_failed_text(use_library: Path) -> None:
    library = native_encoder._load_library(str(use_library))
    spec = CATASTROPHIC_SPEC.to_json().encode()
    error = ctypes.create_string_buffer(256)
    handle = library.se_encoder_create(spec, len(spec), b"_PAD\n_UNK\ngreat\n", 16, 1, error, 256)
    try:
        data = b"great" + b"a" * 24 + b"!" + b"great"
        offsets = np.array([0, 5, 30, 35], dtype=np.uint64)
        ids, lengths, failed = np.empty(3 * 200, dtype=np.int64), np.empty(3, dtype=np.int64), np.zeros(3, dtype=np.uint8)
        assert library.se_encoder_encode_batch(handle, data, offsets.ctypes.data, 3, ids.ctypes.data, ids.size, lengths.ctypes.data, failed.ctypes.data, error, 256) == 2
        assert failed.tolist() == [0, 1, 0] and lengths.tolist() == [1, 0, 1] and ids[:2].tolist() == [2, 2]
        assert error.value.startswith(b"text 1: tokenizer step 0 failed on a text: match limit exceeded")
    finally:
        library.se_encoder_destroy(handle)


def test_version_1_spec_is_refused_by_the_library(use_library: Path) -> None:
    library = native_encoder._load_library(str(use_library))
    data = PreprocessingSpec().to_dict()
    data["spec_version"] = 1
    del data["max_characters"], data["unicode_version"]
    spec = json.dumps(data).encode()
    error = ctypes.create_string_buffer(512)
    assert not library.se_encoder_create(spec, len(spec), b"_PAD\n_UNK\n", 10, 1, error, 512)
    assert b"preprocessing spec version 1 is not supported by this sentiment_demo (it reads version 2); re-export the artifact" in error.value


def test_another_unicode_version_is_refused_naming_both(use_library: Path, caplog: pytest.LogCaptureFixture) -> None:
    from sentiment_export.errors import UnicodeVersionWarning

    reproduced = native_encoder.build_info()["unicode_version"]
    spec = PreprocessingSpec(unicode_version="99.0.0")
    vocab = Vocabulary.from_tokens([], spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnicodeVersionWarning)  # the Python encoder's own (tests/test_encoder.py)
        with pytest.raises(NativeEncoderError, match=rf"unicode_version 99\.0\.0 cannot be reproduced by this build, whose PCRE2 \({re.escape(reproduced)} character tables\)"):
            TextEncoder(spec, vocab, backend="native")
    with caplog.at_level(logging.WARNING, logger="sentiment_export"):
        assert TextEncoder(spec, vocab, backend="auto").backend == "python"
    assert "unicode_version 99.0.0 cannot be reproduced" in caplog.text and "using the Python encoder" in caplog.text


def test_long_text_benchmark_runs_at_a_small_scale(use_library: Path) -> None:
    """benchmarks/long_texts.py: a row per text and backend, each text read only as far as the budget."""
    from benchmarks.long_texts import TEXTS, measure_long_texts

    rows = measure_long_texts(scale=0.001)
    assert [(row["text"], row["backend"]) for row in rows] == [(name, backend) for name in TEXTS for backend in ("python", "native")]
    assert all(row["seconds"] >= 0 and row["peak_rss_mb"] > 0 and row["ids"] <= 200 for row in rows)


def test_a_failed_text_is_named_by_its_index_in_the_whole_batch(use_library: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Batches are sent in chunks of 4,096 texts; the log names the index in the caller's batch."""
    vocab = Vocabulary.from_tokens(["great"], CATASTROPHIC_SPEC)
    native = TextEncoder(CATASTROPHIC_SPEC, vocab, backend="native")
    with caplog.at_level(logging.WARNING, logger="sentiment_export"):
        ids = native.encode_ids_batch(["great"] * 5000 + ["a" * 24 + "!"])
    assert ids[:5000] == [[2]] * 5000 and ids[5000] == TextEncoder(CATASTROPHIC_SPEC, vocab, backend="python").encode_ids("a" * 24 + "!")
    assert "native encoder failed on text 5000 (" in caplog.text
