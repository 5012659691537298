"""The seed corpus replayed through every encoder (plain builds), and the harness's own ability to fail.

Every input that ever broke an encoder (tests/fuzz/corpus/) must give the
same tokens and ids in the Python encoder, the native library (binding and
raw C ABI) and the C++ demo. Builds come from the session fixtures
``native_library`` and ``demo_build`` (tests/conftest.py): skipped with the
reason without a C++ toolchain, a failure under CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentiment_export.text import native
from sentiment_export.text.tokenizer import Tokenizer

from cpp_build import DemoBuild, NativeLibrary
from tests.fuzz.corpus import seeds
from tests.fuzz.differential import Differential, demo_differences


@pytest.fixture
def differential(native_library: NativeLibrary, monkeypatch: pytest.MonkeyPatch) -> Iterator[Differential]:
    monkeypatch.setenv(native.ENV_VAR, str(native_library.path))
    harness = Differential()
    yield harness
    harness.close()


def test_corpus_covers_every_recorded_failure() -> None:
    names = {name for name, _ in seeds(0.001)}
    assert {"jit-stack-review", "jit-stack-a-dot", "jit-stack-zero-dot", "whitespace-free-run", "bangs", "head-cut-url-0",
            "lone-surrogate-utf8", "truncated-4-byte"} <= names
    assert len(dict(seeds(1.0))["whitespace-free-run"]) == 3_400_000


def test_corpus_gives_the_same_tokens_and_ids_in_python_and_the_library(differential: Differential) -> None:
    problems = [f"{name}: {problem}" for name, data in seeds(1.0) for problem in differential.differences(data)]
    assert problems == []


def test_corpus_gives_the_same_tokens_and_ids_in_python_and_the_demo(demo_build: DemoBuild, exported_artifact: Path) -> None:
    assert demo_differences(demo_build.binary, exported_artifact, [data for _, data in seeds(1.0)]) == []


def test_a_head_path_that_drops_a_token_is_reported(differential: Differential, monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness can fail: a head path one token short differs from the full tokenization, and so do Python's ids."""
    full = Tokenizer.tokenize_head
    monkeypatch.setattr(Tokenizer, "tokenize_head", lambda self, text, count: full(self, text, count)[:-1])
    problems = differential.differences(b"good movie " * 300)
    assert any("Python head path vs full tokenization's head" in problem for problem in problems)
    assert any("Python ids vs ids of the full tokens" in problem for problem in problems)


def test_bytes_that_are_not_utf8_are_refused_by_the_c_abi_naming_the_byte(differential: Differential) -> None:
    assert differential.differences(b"ok \xff then") == []  # refused with "byte 3", and the Python str path agrees
