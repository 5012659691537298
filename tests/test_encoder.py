"""The TextEncoder and its spec: the contract every runtime (Python, C++) must follow."""

from __future__ import annotations

import json
import unicodedata
import warnings

import numpy as np
import pytest

from sentiment_export import PreprocessingSpec, SpecError, TextEncoder, Vocabulary, VocabularyError
from sentiment_export.errors import UnicodeVersionWarning
from sentiment_export.text.spec import MAX_CHARACTERS_LIMIT, character_budget
from sentiment_export.text.tokenizer import Tokenizer

WORDS = ["good", "bad", "movie", "the", "game", "<url>", "0", "00.0", "n't", "ca", "."]


@pytest.fixture()
def encoder() -> TextEncoder:
    spec = PreprocessingSpec(max_length=6)
    return TextEncoder(spec, Vocabulary.from_tokens(WORDS, spec))


def ids_of(encoder: TextEncoder, *tokens: str) -> list[int]:
    return encoder.vocabulary.lookup(tokens)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("see http://www.amazon.com/dp/B00X?ref=1 now", ["see", "<url>", "now"]),
        ("Go to https://example.org.", ["go", "to", "<url>", "."]),
        ("www.imdb.com/title/tt0111161 rocks", ["<url>", "rocks"]),
        ("bought it at amazon.com's store", ["bought", "it", "at", "<url>", "'s", "store"]),
        ("best game.the end", ["best", "game.the", "end"]),
        ("this movie.it was", ["this", "movie.it", "was"]),
        ("mail me@example.com", ["mail", "me", "@", "example.com"]),
    ],
)
def test_url_rule_replaces_whole_urls_and_keeps_run_together_words(text: str, tokens: list[str]) -> None:
    assert Tokenizer(PreprocessingSpec()).tokenize(text) == tokens


def test_digits_become_zero_and_text_is_lower_cased() -> None:
    assert Tokenizer(PreprocessingSpec()).tokenize("Rated 10.5 / 2024 ÉTÉ") == ["rated", "00.0", "/", "0000", "été"]


@pytest.mark.parametrize(
    "text",
    [
        "I can't believe it's not butter... \"Really\" -- he said (twice).",
        "`Quoted' ''double'' “curly” ‘single’ «guillemets» y'all gonna wanna",
        "Price: $3.88, 3,36 euros; 50% off & more? Yes! *stars* end.",
        "Tabs\tand\u00a0nbsp and em—dash and en–dash.",
    ],
)
def test_tokenizer_equals_nltk_word_tokenize_on_url_free_text(text: str) -> None:
    from nltk.tokenize import word_tokenize as nltk_tokenize  # in the test extra: never skipped
    spec = PreprocessingSpec(lowercase=False, digit_pattern="(?!)")
    assert Tokenizer(spec).tokenize(text) == nltk_tokenize(text, preserve_line=True)


def test_unknown_words_map_to_unk_never_pad(encoder: TextEncoder) -> None:
    ids = encoder.encode_ids("good zyzzyva movie")
    assert ids == [ids_of(encoder, "good")[0], 1, ids_of(encoder, "movie")[0]]
    assert encoder.spec.pad_id not in ids


def test_empty_and_whitespace_text_encode_to_no_ids(encoder: TextEncoder) -> None:
    assert encoder.encode_ids("") == []
    assert encoder.encode_ids(" \t\n ") == []
    assert encoder.encode(["", " "]).tolist() == [[0], [0]]


@pytest.mark.parametrize(
    ("truncation_side", "expected"),
    [("right", ["good", "bad", "good", "bad", "good", "bad"]), ("left", ["bad", "good", "bad", "good", "bad", "movie"])],
)
def test_truncation_side(encoder: TextEncoder, truncation_side: str, expected: list[str]) -> None:
    spec = encoder.spec.with_overrides(truncation_side=truncation_side)
    truncating = TextEncoder(spec, encoder.vocabulary)
    assert truncating.encode_ids("good bad good bad good bad movie") == ids_of(encoder, *expected)


@pytest.mark.parametrize(
    ("padding_side", "expected"),
    [("right", [[2, 3, 4], [3, 0, 0]]), ("left", [[2, 3, 4], [0, 0, 3]])],
)
def test_padding_side_and_batch_width(encoder: TextEncoder, padding_side: str, expected: list[list[int]]) -> None:
    padded = TextEncoder(encoder.spec.with_overrides(padding_side=padding_side), encoder.vocabulary)
    matrix = padded.encode(["good bad movie", "bad"])
    assert matrix.dtype == np.int64
    assert matrix.tolist() == expected


def test_pad_to_fixed_length(encoder: TextEncoder) -> None:
    assert encoder.encode(["good"], length=4).tolist() == [[2, 0, 0, 0]]
    with pytest.raises(ValueError, match="row 0 has 2 ids"):
        encoder.pad([[2, 3]], length=1)


def test_round_trip_through_plain_files(encoder: TextEncoder, tmp_path) -> None:
    encoder.save(tmp_path)
    assert json.loads((tmp_path / "spec.json").read_text(encoding="utf-8"))["spec_version"] == 2
    assert (tmp_path / "vocab.txt").read_text(encoding="utf-8").splitlines()[:3] == ["_PAD", "_UNK", "good"]
    reloaded = TextEncoder.load(tmp_path)
    assert reloaded.spec == encoder.spec
    texts = ["Good movie, http://x.com", "bad bad game.the", ""]
    assert reloaded.encode(texts).tolist() == encoder.encode(texts).tolist()


def test_unknown_spec_version_is_refused() -> None:
    data = PreprocessingSpec().to_dict()
    data["spec_version"] = 99
    with pytest.raises(SpecError, match="version 99 is not supported"):
        PreprocessingSpec.from_dict(data)


def test_version_1_spec_is_refused_with_the_fix() -> None:
    data = PreprocessingSpec().to_dict()
    data["spec_version"] = 1
    del data["max_characters"], data["unicode_version"]
    with pytest.raises(SpecError, match=r"version 1 is not supported by this sentiment_export \(it reads version 2\); re-export the artifact"):
        PreprocessingSpec.from_dict(data)
    data["spec_version"] = True  # not 1 in disguise
    with pytest.raises(SpecError, match="version True is not supported"):
        PreprocessingSpec.from_dict(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"padding_side": "middle"}, "padding_side must be one of"),
        ({"max_length": 0}, "max_length must be a positive integer"),
        ({"max_characters": 0}, r"max_characters must be an integer from max_length \(200\) to 10,000,000, got 0"),
        ({"max_characters": 199}, "max_characters must be an integer from max_length"),
        ({"max_characters": MAX_CHARACTERS_LIMIT + 1}, "got 10000001; character_budget"),
        ({"max_characters": True}, "max_characters must be an integer"),
        ({"max_characters": "10000"}, "got '10000'"),
        ({"unicode_version": 14}, "unicode_version must be a version such as"),
        ({"unicode_version": "fourteen"}, "got 'fourteen'"),
        ({"extra": 1}, "unknown keys \\['extra'\\]"),
    ],
)
def test_malformed_spec_is_refused(change: dict, message: str) -> None:
    data = {**PreprocessingSpec().to_dict(), **change}
    with pytest.raises(SpecError, match=message):
        PreprocessingSpec.from_dict(data)


def test_vocabulary_must_start_with_pad_and_unk() -> None:
    with pytest.raises(VocabularyError, match="must start with '_PAD' and '_UNK'"):
        Vocabulary(["good", "_PAD", "_UNK"], PreprocessingSpec())


def test_truncated_vocabulary_file_is_refused(tmp_path) -> None:
    (tmp_path / "vocab.txt").write_text("_PAD\n_UNK\ngoo", encoding="utf-8")
    with pytest.raises(VocabularyError, match="truncated"):
        Vocabulary.load(tmp_path / "vocab.txt", PreprocessingSpec())


ADVERSARIAL_LONG_TEXTS = [
    "the end." + " )" * 500,
    "word " * 300 + "end." + " ) '" * 300,
    "((" * 400 + " a",
    "ΣΑΣ ΟΔΟΣ " * 300,
    "Fine. " * 400,
    "can not cannot gonna 'tis " * 200,
    "see http://a.com/x?y=1 www.b.org " * 200,
    "he said 'hi' and \"bye\" '' `` " * 200,
    "a,b :c ... -- — " * 300,
    "x" * 5000 + " tail",
    "\u00a0".join(["Word."] * 700),
]


def snippet_texts() -> list[str]:
    from pathlib import Path

    from sentiment_export.data.amazon import read_reviews

    path = Path(__file__).resolve().parents[1] / "training" / "default_data" / "test.ft.txt.bz2"
    return [review.text for review in read_reviews(path)[0]]


@pytest.mark.parametrize("count", [1, 3, 12, 200])
def test_tokenize_head_equals_the_head_of_full_tokenization(count: int) -> None:
    tokenizer = Tokenizer(PreprocessingSpec())
    texts = snippet_texts() + ADVERSARIAL_LONG_TEXTS
    mismatches = [text[:60] for text in texts if tokenizer.tokenize_head(text, count) != tokenizer.tokenize(text)[:count]]
    assert mismatches == []


@pytest.mark.parametrize("max_length", [200, 7])
def test_tokenize_head_cut_before_a_url_equals_full_tokenization(max_length: int) -> None:
    """A cut between a word ending in '.' and a URL once gave "a." where the full text has "a" "."."""
    from tests.fuzz.corpus import head_cut_url_texts

    tokenizer = Tokenizer(PreprocessingSpec(max_length=max_length))
    texts = head_cut_url_texts()
    assert [text[:60] for text in texts if tokenizer.tokenize_head(text, max_length) != tokenizer.tokenize(text)[:max_length]] == []


def test_a_megabyte_text_is_encoded_from_its_head_only(encoder: TextEncoder) -> None:
    text = "good movie " * 100_000
    assert encoder.encode_ids(text) == ids_of(encoder, *["good", "movie"] * 3)


def test_tokenize_head_with_a_url_pattern_that_spans_whitespace() -> None:
    """The head shortcut's proof assumes URLs never span whitespace: a custom pattern that does gets full tokenization."""
    tokenizer = Tokenizer(PreprocessingSpec(url_pattern="good movie"))
    texts = [" ".join([word] * offset) + " good movie " + "x " * 40 for word in ("w", "wwwwwwww") for offset in range(12)]
    for count in range(1, 14):
        assert [tokenizer.tokenize_head(text, count) for text in texts] == [tokenizer.tokenize(text)[:count] for text in texts]


def _recording_native_factory(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Replace the native-encoder factory by one that records (backend, threads) and builds nothing."""
    from sentiment_export.text import encoder as encoder_module

    calls: list[tuple[str, int]] = []

    def record(spec, vocabulary, backend, *, threads):
        calls.append((backend, threads))

    monkeypatch.setattr(encoder_module, "create_native_encoder", record)
    return calls


def test_with_backend_keeps_native_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _recording_native_factory(monkeypatch)
    spec = PreprocessingSpec()
    encoder = TextEncoder(spec, Vocabulary.from_tokens(["good"], spec), backend="python", native_threads=3)
    copy = encoder.with_backend("native")
    assert copy.native_threads == 3
    assert calls[-1] == ("native", 3)


def test_loading_with_the_python_backend_builds_no_native_encoder(monkeypatch: pytest.MonkeyPatch, exported_artifact) -> None:
    calls = _recording_native_factory(monkeypatch)
    from sentiment_export import SentimentModel

    model = SentimentModel.load(exported_artifact, encoder_backend="python")
    assert model.predict(["fine"])
    assert [backend for backend, _ in calls] == ["python"]


# --- the character budget ------------------------------------------------------------------------


@pytest.mark.parametrize(("side", "kept"), [("right", "good b"), ("left", "d good")])
def test_only_max_characters_code_points_are_read(side: str, kept: str) -> None:
    spec = PreprocessingSpec(max_length=3, max_characters=6, truncation_side=side)
    tokenizer = Tokenizer(spec)
    assert tokenizer.within_budget("good bad good") == kept
    assert tokenizer.tokenize("good bad good") == kept.split()
    assert tokenizer.tokenize_head("good bad good", 3) == kept.split()
    assert tokenizer.within_budget("\U0001f600" * 8) == "\U0001f600" * 6  # code points, not bytes or UTF-16 units


def test_character_budget_scales_with_max_length() -> None:
    assert PreprocessingSpec().max_characters == character_budget(200) == 10_000
    assert character_budget(800) == 40_000 and character_budget(10**6) == MAX_CHARACTERS_LIMIT


def test_default_budget_changes_no_committed_review() -> None:
    """Every embedded review gives the same ids with the default budget as with the largest one."""
    from pathlib import Path

    from sentiment_export.data.amazon import read_reviews

    data = Path(__file__).resolve().parents[1] / "training" / "default_data"
    texts = [review.text for name in ("train.ft.txt.bz2", "test.ft.txt.bz2") for review in read_reviews(data / name)[0]]
    budgeted = Tokenizer(PreprocessingSpec())
    unbounded = Tokenizer(PreprocessingSpec(max_characters=MAX_CHARACTERS_LIMIT))
    assert max(map(len, texts)) < PreprocessingSpec().max_characters
    assert [text[:40] for text in texts if budgeted.tokenize_head(text, 200) != unbounded.tokenize_head(text, 200)] == []


@pytest.mark.parametrize("text", ["!" * 20_000_000, "! " * 10_000_000, "review." * 830, "a." * 2100, "0." * 2050, "x" * 3_400_000])
def test_long_repros_are_encoded_within_the_budget(text: str) -> None:
    """Each text is read only as far as the budget: the ids are those of its first max_characters."""
    encoder = TextEncoder(PreprocessingSpec(), Vocabulary.from_tokens(["!", "review", "."], PreprocessingSpec()), backend="python")
    assert encoder.encode_ids(text) == encoder.encode_ids(text[: encoder.spec.max_characters])


def test_another_unicode_version_warns_once_naming_both() -> None:
    from sentiment_export.text import tokenizer

    tokenizer._warn_unicode_version.cache_clear()  # once per process: other tests may have warned already
    spec = PreprocessingSpec(unicode_version="99.0.0")
    with pytest.warns(UnicodeVersionWarning, match=rf"written with Unicode 99\.0\.0, this Python has Unicode {unicodedata.unidata_version}"):
        Tokenizer(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Tokenizer(spec)  # once per process and version
        Tokenizer(PreprocessingSpec())  # this Python's version: no warning
