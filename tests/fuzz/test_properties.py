"""Properties of the encoders on generated text (hypothesis; a bounded number of examples, no deadline).

For any str: the Python encoder never raises, its head path equals the head
of the full tokenization, and the native library gives its tokens and ids
(tests/fuzz/differential.py checks each, under every spec there); padded
batches are max_length wide whatever the texts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_export import PreprocessingSpec, TextEncoder, Vocabulary
from sentiment_export.text import native

from cpp_build import NativeLibrary
from tests.fuzz.differential import Differential

# Pieces that reach the rules' edges: URLs, the end-anchored period rule, quotes, contractions,
# Unicode whose case or class differs between engines, Python-only whitespace.
PIECES = ["good", "Bad", "a.", "a,", "www.example.com", "http://x.org/y?b=1", "e-mail@x.org", "can't", "gonna", "''", '"', "(", ")",
          ".", "...", "--", "é", "ΣΑΣ", "İ", "ß", "1,5", "0.", "`", "«", "»", "’"]
SEPARATORS = [" ", "  ", "\n", "\t", "\u3000", "\x1c", "\u00a0", "\u2028", ""]
ANY_CHARACTER = st.characters(exclude_categories=())  # lone surrogates included: strs without a UTF-8 form
_piece = st.one_of(st.sampled_from(PIECES), st.text(ANY_CHARACTER, max_size=4))
TEXTS = st.one_of(
    st.text(ANY_CHARACTER, max_size=300),
    st.lists(st.tuples(_piece, st.sampled_from(SEPARATORS)), max_size=400).map(lambda parts: "".join(a + b for a, b in parts)),
)
_SETTINGS = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def differential(native_library: NativeLibrary) -> Iterator[Differential]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(native.ENV_VAR, str(native_library.path))
        harness = Differential()
        yield harness
        harness.close()


@settings(max_examples=350, **_SETTINGS)
@given(text=TEXTS)
def test_python_and_the_library_agree_on_any_text(differential: Differential, text: str) -> None:
    assert differential.text_differences(text) == []


@settings(max_examples=60, **_SETTINGS)
@given(texts=st.lists(TEXTS, min_size=1, max_size=6))
def test_padded_batches_are_max_length_wide(differential: Differential, texts: list[str]) -> None:
    spec = PreprocessingSpec(max_length=7, max_characters=350)
    vocabulary = Vocabulary.from_tokens(PIECES, spec)
    for backend in ("python", "native"):
        matrix = TextEncoder(spec, vocabulary, backend=backend).encode(texts, length=spec.max_length)
        assert matrix.shape == (len(texts), spec.max_length)
