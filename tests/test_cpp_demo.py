"""The C++ demo (cpp_demo/) scores raw text exactly as Python does, and refuses bad model files.

The demo is built once per session with CMake against the installed torch's
libtorch, then run on the model.pt of the session's exported artifact (and on
both model.pt and model.pt2 of the artifact exported with model.pt2):
- parity: on the hand-made hard cases (tests/golden/hard_cases.jsonl), the
  embedded snippets test set and, when ../shared/data/imdb exists, 1,000 imdb
  test reviews, the C++ tokens and ids equal Python's on every text and the
  scores agree within 1e-5;
- a sweep of Unicode code points in the contexts where Python's re/str and
  PCRE2/ICU could differ gives the same tokens;
- a file without spec, with an unknown spec version or written by a newer
  torch is refused with a clear message and a non-zero exit;
- model.pt2 (AOTInductor) and model.pt of one artifact give the same ids and
  Python's scores (within 1e-5) on the same golden texts.

Without cmake, a compiler, PCRE2, ICU or nlohmann/json the tests skip with the
reason, except when the environment variable CI is set: then they fail.
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
import subprocess
import time
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from sentiment_export import PreprocessingSpec, TextEncoder
from sentiment_export.data.amazon import read_reviews
from sentiment_export.artifact.records import RECORDS_KEY, UNHASHED_RECORDS, record_hashes
from sentiment_export.artifact.signature import TORCHSCRIPT_EXTRA_FILES
from sentiment_export.errors import ArtifactError
from sentiment_export.export.records import save_with_record_table
from sentiment_export.text.tokenizer import Tokenizer

from cpp_build import DemoBuild, ci_requested, missing_prerequisites, skip_or_fail
from model_file_edits import reembed

REPO = Path(__file__).resolve().parents[1]
GOLDEN_PATH = Path(__file__).resolve().parent / "golden" / "hard_cases.jsonl"
SNIPPETS_TEST = REPO / "training" / "default_data" / "test.ft.txt.bz2"
IMDB_TEST = REPO.parent / "shared" / "data" / "imdb" / "test.ft.txt.bz2"
IMDB_SAMPLE = 1000
SCORE_TOLERANCE = 1e-5
BATCH = 64
SHOWN_MISMATCHES = 5

# --- prerequisites: skip with the reason, or fail under CI (tests/cpp_build.py) ----------------------


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("yes", True), ("", False), ("0", False), ("false", False)])
def test_ci_variable_is_read_as_documented(value: str, expected: bool) -> None:
    assert ci_requested({"CI": value}) is expected
    assert ci_requested({}) is False


def test_missing_prerequisite_skips_outside_ci_and_fails_under_ci() -> None:
    missing = missing_prerequisites(which=lambda name: None, has_module=lambda module: False)
    assert any("apt-get install cmake" in item for item in missing)
    assert any("libpcre2-dev" in item for item in missing) and any("libicu-dev" in item for item in missing)
    with pytest.raises(pytest.skip.Exception, match="cannot build cpp_demo, missing: cmake"):
        skip_or_fail(missing, ci=False)
    with pytest.raises(pytest.fail.Exception, match="CI is set, so the C\\+\\+ parity test must run"):
        skip_or_fail(missing, ci=True)
    skip_or_fail([], ci=True)  # nothing missing: neither


# --- running the demo (built by the session fixture demo_build, tests/conftest.py) -------------------


def _run(binary: Path, *args: str, stdin: bytes | None = None, timeout: float = 600) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(binary), *args], input=stdin, capture_output=True, timeout=timeout, check=False)


def _jsonl(texts: Sequence[str]) -> bytes:
    return "".join(json.dumps(text) + "\n" for text in texts).encode("ascii")


def _records(done: subprocess.CompletedProcess[bytes], expected: int) -> list[dict]:
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-3000:]
    records = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert [record["index"] for record in records] == list(range(expected))
    return records


@dataclass(frozen=True)
class PythonSide:
    """The Python encoder rebuilt from the .pt's own embedded files, and the .pt itself loaded in Python."""

    encoder: TextEncoder
    module: object
    extra_files: dict[str, str]

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        parts = []
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a tiny LSTM on a small shared CPU: more threads are slower (benchmarks/README.md)
        try:
            with torch.inference_mode():
                for start in range(0, len(texts), BATCH):
                    matrix = torch.from_numpy(self.encoder.encode(texts[start : start + BATCH]))
                    parts.append(self.module(matrix).numpy())
        finally:
            torch.set_num_threads(threads)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


@pytest.fixture(scope="session")
def model_pt(exported_artifact: Path) -> Path:
    """The TorchScript file of the session's exported artifact (sentiment_export.export.build)."""
    return exported_artifact / "model.pt"


def _load_pt(path: Path) -> tuple[object, dict[str, str]]:
    """The TorchScript module and its embedded files (decoded), as Python reads them."""
    import torch

    files = dict.fromkeys(TORCHSCRIPT_EXTRA_FILES, "")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.(load|save)` is deprecated", category=DeprecationWarning)
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=files)
    module.eval()
    return module, {name: content.decode("utf-8") if isinstance(content, bytes) else content for name, content in files.items()}


@pytest.fixture(scope="session")
def python_side(model_pt: Path) -> PythonSide:
    module, files = _load_pt(model_pt)
    return PythonSide(TextEncoder.from_texts(files["spec.json"], files["vocab.txt"], backend="python"), module, files)


# --- the texts ---------------------------------------------------------------------------------


def _golden_records() -> list[dict]:
    return [json.loads(line) for line in GOLDEN_PATH.read_text(encoding="utf-8").splitlines()]


def _parity_texts() -> list[tuple[str, str]]:
    """(source, text): the hard cases, the snippets test set and, when present, an imdb test sample."""
    texts = [(f"hard case '{record['case']}'", record["text"]) for record in _golden_records()]
    snippets, _ = read_reviews(SNIPPETS_TEST)
    texts += [(f"snippets test #{index}", review.text) for index, review in enumerate(snippets)]
    if IMDB_TEST.is_file():
        imdb, _ = read_reviews(IMDB_TEST)
        picks = sorted(random.Random(0).sample(range(len(imdb)), min(IMDB_SAMPLE, len(imdb))))
        texts += [(f"imdb test #{index}", imdb[index].text) for index in picks]
    return texts


def _code_point_sweep() -> list[str]:
    """Texts that put code points where Python and PCRE2/ICU could disagree.

    Every code point below U+3400 and every one above whose category is not Lo,
    Cn or Co (large uniform blocks: letters without case, unassigned, private
    use), plus every 61st of those. Each sits after an apostrophe (\\w look-ahead),
    inside g?mme (case-insensitive i), between letters (whitespace split), and
    around capital sigma (cased and case-ignorable characters).
    """
    points = [
        code
        for code in range(0x110000)
        if not 0xD800 <= code <= 0xDFFF
        and (code < 0x3400 or code % 61 == 0 or unicodedata.category(chr(code)) not in ("Lo", "Cn", "Co"))
    ]
    chunks = [f"'{c}a g{c}mme x{c}y A{c}\u03a3 A\u03a3{c}B {c}\u03a3. " for c in map(chr, points)]
    return ["".join(chunks[start : start + 128]) for start in range(0, len(chunks), 128)]


def _describe_mismatches(kind: str, sources: Sequence[str], texts: Sequence[str], python: Sequence, cpp: Sequence, tokens: tuple[Sequence, Sequence]) -> str:
    differing = [index for index in range(len(texts)) if python[index] != cpp[index]]
    lines = [f"{len(differing)} of {len(texts)} texts have different {kind}; the first {min(SHOWN_MISMATCHES, len(differing))}:"]
    for index in differing[:SHOWN_MISMATCHES]:
        lines += [
            f"  {sources[index]}: {texts[index][:200]!r}",
            f"    python tokens: {tokens[0][index][:60]}",
            f"    c++ tokens:    {tokens[1][index][:60]}",
        ]
    return "\n".join(lines)


# --- the tests ---------------------------------------------------------------------------------


def test_golden_hard_cases_still_tokenize_as_recorded() -> None:
    """A change in the Python tokenizer or spec shows up here (regenerate with tests/golden/make_golden.py)."""
    tokenizer = Tokenizer(PreprocessingSpec())
    records = _golden_records()
    assert len(records) >= 80
    changed = [record["case"] for record in records if tokenizer.tokenize(record["text"]) != record["tokens"]]
    assert not changed, f"the Python tokenizer no longer gives the recorded tokens for: {changed}"


def test_cpp_tokens_ids_and_scores_equal_python(
    demo_build: DemoBuild, model_pt: Path, python_side: PythonSide, capsys: pytest.CaptureFixture[str]
) -> None:
    labelled = _parity_texts()
    sources = [source for source, _ in labelled]
    texts = [text for _, text in labelled]
    assert len(texts) >= 2000 + len(_golden_records()) - 1
    golden = {record["text"]: record["tokens"] for record in _golden_records()}

    started = time.perf_counter()
    cpp_tokens = [r["tokens"] for r in _records(_run(demo_build.binary, str(model_pt), "--jsonl", "--tokens", stdin=_jsonl(texts)), len(texts))]
    cpp_ids = [r["ids"] for r in _records(_run(demo_build.binary, str(model_pt), "--jsonl", "--ids", stdin=_jsonl(texts)), len(texts))]
    cpp_scored = _records(_run(demo_build.binary, str(model_pt), "--jsonl", "--threads", "1", stdin=_jsonl(texts)), len(texts))
    cpp_seconds = time.perf_counter() - started

    python_tokens = [python_side.encoder.tokenize(text) for text in texts]
    python_ids = [python_side.encoder.encode_ids(text) for text in texts]
    python_scores = python_side.scores(texts)
    cpp_scores = np.array([record["score"] for record in cpp_scored], dtype=np.float64)

    assert all(python_tokens[i] == golden[t] for i, t in enumerate(texts) if t in golden)
    token_report = _describe_mismatches("tokens", sources, texts, python_tokens, cpp_tokens, (python_tokens, cpp_tokens))
    id_report = _describe_mismatches("ids", sources, texts, python_ids, cpp_ids, (python_tokens, cpp_tokens))
    worst = float(np.max(np.abs(cpp_scores - python_scores)))
    over = int(np.sum(np.abs(cpp_scores - python_scores) > SCORE_TOLERANCE))
    mismatched_ids = sum(a != b for a, b in zip(python_ids, cpp_ids))
    with capsys.disabled():
        print(
            f"\n[cpp_demo parity] {len(texts)} texts ({sum(s.startswith('hard') for s in sources)} hard cases, "
            f"{sum(s.startswith('snippets') for s in sources)} snippets, {sum(s.startswith('imdb') for s in sources)} imdb); "
            f"id mismatches: {mismatched_ids}; max |score diff| {worst:.2e} ({over} over {SCORE_TOLERANCE}); "
            f"build {demo_build.seconds:.1f} s; three C++ runs {cpp_seconds:.1f} s"
        )
    assert cpp_tokens == python_tokens, token_report
    assert cpp_ids == python_ids, id_report
    assert over == 0, f"{over} scores differ by more than {SCORE_TOLERANCE} (worst {worst:.3g})"
    for record in cpp_scored:
        assert set(record) == {"index", "label", "score"}
        assert record["label"] == ("positive" if record["score"] >= 0.5 else "negative")


def test_cpp_tokens_equal_python_across_unicode(demo_build: DemoBuild, model_pt: Path, python_side: PythonSide) -> None:
    texts = _code_point_sweep()
    tokenizer = python_side.encoder.tokenizer
    python_tokens = [tokenizer.tokenize(text) for text in texts]
    cpp_tokens = [r["tokens"] for r in _records(_run(demo_build.binary, str(model_pt), "--jsonl", "--tokens", stdin=_jsonl(texts)), len(texts))]
    sources = [f"sweep text {index}" for index in range(len(texts))]
    assert cpp_tokens == python_tokens, _describe_mismatches("tokens", sources, texts, python_tokens, cpp_tokens, (python_tokens, cpp_tokens))


@pytest.mark.parametrize(
    "overrides",
    [
        {"tokenizer_steps": [], "lowercase": False},  # raw whitespace split, no lower-casing
        {"truncation_side": "left", "max_length": 7, "digit_replacement": "$#"},
        {"url_token": "<link>", "digit_pattern": "[0-9]"},
        {"tokenizer_steps": [  # Python re syntax that PCRE2 reads differently, translated by the demo
            {"pattern": "(?u)e{,2}\\Z", "replacement": " E "},
            {"pattern": "\\u00e9|\\U0001F600", "replacement": " $0 "},
            {"pattern": "(?i)[h-j]+|gi", "replacement": " <$0> "},
            {"pattern": "\\v|[\\s]{2}", "replacement": " | "},
            {"pattern": "(?P<x>o)(?P=x)(?#comment [)", "replacement": " $1 "},
            {"pattern": "(?<=\\sb)a", "replacement": " A "},
            {"pad": "  "},
        ]},
    ],
    ids=["no-steps-no-lowercase", "left-truncation", "other-url-token-ascii-digits", "translated-syntax"],
)
def test_cpp_follows_other_specs(demo_build: DemoBuild, model_pt: Path, tmp_path: Path, overrides: dict) -> None:
    """The C++ encoder reads the spec rather than assuming the default one."""
    variant = _resave(model_pt, tmp_path / "variant.pt", lambda files: {**files, "spec.json": json.dumps({**json.loads(files["spec.json"]), **overrides})})
    _, files = _load_pt(variant)
    encoder = TextEncoder.from_texts(files["spec.json"], files["vocab.txt"])
    texts = [record["text"] for record in _golden_records()]
    cpp_tokens = [r["tokens"] for r in _records(_run(demo_build.binary, str(variant), "--jsonl", "--tokens", stdin=_jsonl(texts)), len(texts))]
    cpp_ids = [r["ids"] for r in _records(_run(demo_build.binary, str(variant), "--jsonl", "--ids", stdin=_jsonl(texts)), len(texts))]
    python_tokens = [encoder.tokenize(text) for text in texts]
    sources = [record["case"] for record in _golden_records()]
    assert cpp_tokens == python_tokens, _describe_mismatches("tokens", sources, texts, python_tokens, cpp_tokens, (python_tokens, cpp_tokens))
    assert cpp_ids == [encoder.encode_ids(text) for text in texts]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(?x)a b", r"the inline flag \(\?x\) is not supported"),
        ("(?i:abc)", r"inline flags are only supported as one group at the start"),
        ("[\\S]", r"\\S inside a character class is not supported"),
        ("(?i)\\x69", r"spells i as an escape"),
    ],
)
def test_cpp_refuses_patterns_it_cannot_reproduce(demo_build: DemoBuild, model_pt: Path, tmp_path: Path, pattern: str, message: str) -> None:
    """Valid in Python, but meaning something PCRE2 cannot be made to mean here: refused, not guessed."""
    TextEncoder.from_texts(json.dumps({**PreprocessingSpec().to_dict(), "tokenizer_steps": [{"pattern": pattern, "replacement": " "}]}),
                           "_PAD\n_UNK\n")  # Python accepts it
    variant = _resave(
        model_pt, tmp_path / "variant.pt",
        lambda files: {**files, "spec.json": json.dumps({**json.loads(files["spec.json"]), "tokenizer_steps": [{"pattern": pattern, "replacement": " "}]})},
    )
    done = _run(demo_build.binary, str(variant), "text")
    assert done.returncode == 1
    assert re.search(r"tokenizer step 0 '.*': .*" + message, done.stderr.decode()), done.stderr.decode()


def test_stdin_reads_one_text_per_line_and_reports_invalid_utf8(demo_build: DemoBuild, model_pt: Path, python_side: PythonSide) -> None:
    lines = [b"A great movie, loved it!", b"bad \xff\xfe bytes", b"", b"Terrible.\r", "Ça va très bien".encode()]
    done = _run(demo_build.binary, str(model_pt), "--stdin", "--threads", "1", stdin=b"\n".join(lines) + b"\n")
    assert done.returncode == 3, done.stderr
    assert b"input 1: invalid UTF-8 at byte 4; skipped" in done.stderr
    records = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [record["index"] for record in records] == [0, 1, 2, 3, 4]
    assert records[1] == {"index": 1, "error": "invalid UTF-8 at byte 4"}
    valid = ["A great movie, loved it!", "", "Terrible.", "Ça va très bien"]  # the "\r" before "\n" is dropped
    expected = python_side.scores(valid)
    got = [records[index]["score"] for index in (0, 2, 3, 4)]
    assert np.max(np.abs(np.array(got) - expected)) <= SCORE_TOLERANCE


def _lines(done: subprocess.CompletedProcess[bytes]) -> list[dict]:
    """The JSON lines of stdout; each must be valid UTF-8 and valid JSON."""
    return [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]


@pytest.mark.parametrize("output", [[], ["--tokens"], ["--ids"]], ids=["scores", "tokens", "ids"])
def test_jsonl_line_that_is_not_utf8_is_reported_and_the_others_scored(demo_build: DemoBuild, model_pt: Path, output: list[str]) -> None:
    """The parser's message quotes the raw bytes it read; they must not break the JSON written for that line."""
    done = _run(demo_build.binary, str(model_pt), "--jsonl", "--threads", "1", *output, stdin=b'"ok"\n"caf\xe9"\n')
    assert done.returncode == 3, done.stderr
    records = _lines(done)
    assert [record["index"] for record in records] == [0, 1] and "error" not in records[0]
    assert set(records[1]) == {"index", "error"}
    assert re.match(r"not a JSON string \(.*ill-formed UTF-8 byte; last read: '\"caf\ufffd", records[1]["error"]), records[1]
    assert b"sentiment_demo: input 1: not a JSON string (" in done.stderr
    assert b"\xe9" not in done.stderr  # replaced there too: a terminal or log gets valid UTF-8


def test_argument_that_is_not_utf8_is_reported_by_index_and_the_others_scored(
    demo_build: DemoBuild, model_pt: Path, python_side: PythonSide
) -> None:
    """As the Python CLI does: an error for that index, the other texts scored, exit 3 (not a refused run)."""
    texts = ["I loved it", os.fsdecode(b"caf\xe9 au lait"), "Worst purchase ever."]
    done = _run(demo_build.binary, str(model_pt), "--threads", "1", "--", *texts)
    assert done.returncode == 3, done.stderr
    records = _lines(done)
    assert records[1] == {"index": 1, "error": "invalid UTF-8 at byte 3"}
    got = np.array([records[0]["score"], records[2]["score"]])
    assert np.max(np.abs(got - python_side.scores([texts[0], texts[2]]))) <= SCORE_TOLERANCE


def test_a_text_the_encoder_fails_on_does_not_take_down_the_others(demo_build: DemoBuild, model_pt: Path, python_side: PythonSide) -> None:
    """'a.' * 2100 once hit PCRE2's JIT stack limit and took the whole run down (exit 1, nothing printed).

    Whether that text now gets a score depends on the encoder's work bound; either way the others are
    scored, and a failure is that text's error with exit 3.
    """
    texts = ["great", "a." * 2100, "awful"]
    done = _run(demo_build.binary, str(model_pt), "--threads", "1", "--", *texts)
    records = _lines(done)
    assert [record["index"] for record in records] == [0, 1, 2], done.stderr
    got = np.array([records[0]["score"], records[2]["score"]])
    assert np.max(np.abs(got - python_side.scores([texts[0], texts[2]]))) <= SCORE_TOLERANCE
    if "error" in records[1]:
        assert re.match(r"\S+ failed on a text: ", records[1]["error"]), records[1]
        assert done.returncode == 3 and f"sentiment_demo: input 1: {records[1]['error']}; skipped".encode() in done.stderr
    else:
        assert done.returncode == 0 and set(records[1]) == {"index", "label", "score"}


def test_texts_as_arguments_print_the_python_cli_shape(demo_build: DemoBuild, model_pt: Path, python_side: PythonSide) -> None:
    texts = ["I loved this product", "--not an option", "Worst purchase ever."]
    done = _run(demo_build.binary, str(model_pt), "--threads", "1", "--", *texts)
    records = _records(done, len(texts))
    assert [set(record) for record in records] == [{"index", "label", "score"}] * len(texts)
    assert np.max(np.abs(np.array([r["score"] for r in records]) - python_side.scores(texts))) <= SCORE_TOLERANCE


# texts that once failed in C++ (PCRE2's JIT stack and match limits) or took unbounded time and memory
BUDGET_REPROS = ("review." * 830, "a." * 2100, "0." * 2050, "x" * 3_400_000, "!" * 20_000_000, "! " * 10_000_000)


def test_budget_repros_get_python_ids_and_scores(demo_build: DemoBuild, model_pt: Path, python_side: PythonSide) -> None:
    texts = ["good", *BUDGET_REPROS, "bad"]
    cpp_ids = [r["ids"] for r in _records(_run(demo_build.binary, str(model_pt), "--jsonl", "--ids", stdin=_jsonl(texts)), len(texts))]
    assert cpp_ids == [python_side.encoder.encode_ids(text) for text in texts]
    done = _run(demo_build.binary, str(model_pt), "--threads", "1", "good", "a." * 2100, "bad")  # the exact repro
    scores = np.array([record["score"] for record in _records(done, 3)])
    assert np.max(np.abs(scores - python_side.scores(["good", "a." * 2100, "bad"]))) <= SCORE_TOLERANCE


def test_a_text_the_encoder_fails_on_is_reported_by_index(demo_build: DemoBuild, model_pt: Path, tmp_path: Path) -> None:
    """PCRE2's match limit stops this pattern on 'a' * 24 + '!': that text gets an error line, the others scores, exit 3."""
    steps = [{"pattern": "((a+)+)$", "replacement": " $1 "}]
    variant = _resave(model_pt, tmp_path / "variant.pt", lambda files: _with_spec_field(files, "tokenizer_steps", steps))
    done = _run(demo_build.binary, str(variant), "--threads", "1", "great", "a" * 24 + "!", "bad")
    assert done.returncode == 3, done.stderr.decode()
    records = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [record["index"] for record in records] == [0, 1, 2] and {"score", "label"} <= set(records[0]) & set(records[2])
    assert records[1] == {"index": 1, "error": "tokenizer step 0 failed on a text: match limit exceeded"}
    assert b"input 1: tokenizer step 0 failed on a text: match limit exceeded; skipped" in done.stderr


def _resave(model_pt: Path, target: Path, change: Callable[[dict[str, str]], dict[str, str]]) -> Path:
    """A copy of model_pt whose embedded files are changed, with its record table rewritten to match (as an
    export of those files would write it), so that the demo reads the changed files rather than refusing a
    tampered file."""
    reembed(model_pt, change, target=target)
    return target


def _with_manifest_torch(files: dict[str, str], version: str | None) -> dict[str, str]:
    manifest = json.loads(files["manifest.json"])
    if version is None:
        del manifest["software"]["torch"]
    else:
        manifest["software"]["torch"] = version
    return {**files, "manifest.json": json.dumps(manifest)}


def _with_spec_field(files: dict[str, str], key: str, value: object) -> dict[str, str]:
    return {**files, "spec.json": json.dumps({**json.loads(files["spec.json"]), key: value})}


def _with_spec_version(files: dict[str, str], version: int) -> dict[str, str]:
    return _with_spec_field(files, "spec_version", version)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda files: {"vocab.txt": files["vocab.txt"], "manifest.json": files["manifest.json"]}, r"has no embedded spec\.json"),
        (lambda files: _with_spec_version(files, 1), r"preprocessing spec version 1 is not supported by this sentiment_demo \(it reads version 2\); re-export the artifact"),
        (lambda files: _with_spec_version(files, 3), r"spec version 3 is not supported by this sentiment_demo \(it reads version 2\); rebuild cpp_demo"),
        (lambda files: _with_spec_field(files, "unicode_version", "99.0.0"), r"unicode_version 99\.0\.0 cannot be reproduced by this build, whose PCRE2 \(\d+\.\d+\.\d+ character tables\)"),
        (lambda files: _with_spec_field(files, "max_characters", 10_000_001), r"max_characters must be an integer from max_length \(200\) to 10000000, got 10000001"),
        (lambda files: _with_manifest_torch(files, "99.1.0"), r"written by torch 99\.1\.0, newer than this sentiment_demo's libtorch 2\.\d+\.\d+"),
        (lambda files: _with_manifest_torch(files, None), r"manifest\.json has no software\.torch version"),
        (lambda files: {**files, "spec.json": files["spec.json"].replace('"max_length"', '"max_len"')}, r"unknown keys \['max_len'\] and lacks keys \['max_length'\]"),
        (lambda files: {**files, "vocab.txt": "a\nb\n"}, r"vocab\.txt must start with the lines '_PAD' and '_UNK'"),
    ],
    ids=["no-spec", "spec-version-1", "spec-version-3", "unicode-version", "max-characters", "newer-torch", "manifest-without-torch", "unknown-spec-key", "bad-vocabulary"],
)
def test_refuses_model_files_it_cannot_serve_exactly(
    demo_build: DemoBuild, model_pt: Path, tmp_path: Path, change: Callable[[dict[str, str]], dict[str, str]], message: str
) -> None:
    broken = _resave(model_pt, tmp_path / "broken.pt", change)
    done = _run(demo_build.binary, str(broken), "some text")
    assert done.returncode == 1
    assert done.stdout == b""
    assert re.search(message, done.stderr.decode()), done.stderr.decode()


def test_refuses_missing_and_non_torchscript_files(demo_build: DemoBuild, tmp_path: Path) -> None:
    done = _run(demo_build.binary, str(tmp_path / "absent.pt"), "text")
    assert done.returncode == 1 and b"does not exist" in done.stderr
    done = _run(demo_build.binary, str(tmp_path), "text")
    assert done.returncode == 1 and done.stdout == b""
    assert f"model file '{tmp_path}' is a directory (expected a model.pt or model.pt2".encode() in done.stderr, done.stderr
    assert f"give '{tmp_path / 'model.pt'}'".encode() in done.stderr
    (tmp_path / "junk.pt").write_bytes(b"not a zip archive")
    done = _run(demo_build.binary, str(tmp_path / "junk.pt"), "text")
    assert done.returncode == 1 and b"is neither a TorchScript file nor an AOTInductor package" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [([], b"no model file given"), (["model.pt"], b"give texts as arguments"), (["model.pt", "--frobnicate"], b"unknown option --frobnicate"),
     (["model.pt", "--stdin", "text"], b"cannot be combined"), (["model.pt", "--batch-size", "0", "x"], b"--batch-size must be a positive integer"),
     (["model.pt", "--threads", "two", "x"], b"--threads must be a positive integer"), (["model.pt", "--ids", "--tokens", "x"], b"cannot be combined"),
     (["model.pt", "--threads", "257", "x"], b"--threads must be a positive integer of at most 256, got '257'"),
     (["model.pt", "--threads", "100000", "x"], b"--threads must be a positive integer of at most 256, got '100000'"),
     (["model.pt", "--batch-size", "4097", "x"], b"--batch-size must be a positive integer of at most 4096, got '4097'")],
)
def test_usage_errors_exit_2_with_usage(demo_build: DemoBuild, args: list[str], message: bytes) -> None:
    done = _run(demo_build.binary, *args)
    assert done.returncode == 2
    assert message in done.stderr and b"usage: sentiment_demo MODEL [options]" in done.stderr


def test_encoder_throughput_cpp_vs_python(demo_build: DemoBuild, model_pt: Path, python_side: PythonSide, capsys: pytest.CaptureFixture[str]) -> None:
    """Texts per second of the two encoders on the same texts in the same run (imdb sample if present)."""
    source = IMDB_TEST if IMDB_TEST.is_file() else SNIPPETS_TEST
    reviews, _ = read_reviews(source)
    texts = [review.text for review in reviews[:IMDB_SAMPLE]]
    done = _run(demo_build.binary, str(model_pt), "--jsonl", "--benchmark", stdin=_jsonl(texts))
    assert done.returncode == 0, done.stderr
    cpp = json.loads(done.stdout)
    started = time.perf_counter()
    python_ids = sum(len(python_side.encoder.encode_ids(text)) for text in texts)
    python_rate = len(texts) / (time.perf_counter() - started)
    assert cpp["texts"] == len(texts) and cpp["ids"] == python_ids
    with capsys.disabled():
        print(
            f"\n[cpp_demo encoder throughput] {len(texts)} texts of {source.parent.name}/{source.name}: "
            f"C++ {cpp['texts_per_second']:.0f} texts/s, Python {python_rate:.0f} texts/s "
            f"({cpp['texts_per_second'] / python_rate:.1f}x)"
        )


# --- model.pt2 (AOTInductor package) beside model.pt --------------------------------------------------


def test_cpp_scores_model_pt2_and_model_pt_like_python(demo_build: DemoBuild, pt2_artifact: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Both model files of one artifact, on the same golden texts, give Python's ids and scores.

    Python's side is the artifact's model.pt loaded in Python (as for the model.pt parity above).
    """
    labelled = _parity_texts()
    texts = [text for _, text in labelled]
    module, files = _load_pt(pt2_artifact / "model.pt")
    python = PythonSide(TextEncoder.from_texts(files["spec.json"], files["vocab.txt"], backend="python"), module, files)
    python_ids = [python.encoder.encode_ids(text) for text in texts]
    python_scores = python.scores(texts)
    worst = {}
    for name in ("model.pt", "model.pt2"):
        path = str(pt2_artifact / name)
        cpp_ids = [r["ids"] for r in _records(_run(demo_build.binary, path, "--jsonl", "--ids", stdin=_jsonl(texts)), len(texts))]
        started = time.perf_counter()
        scored = _records(_run(demo_build.binary, path, "--jsonl", "--threads", "1", stdin=_jsonl(texts)), len(texts))
        seconds = time.perf_counter() - started
        cpp_scores = np.array([record["score"] for record in scored], dtype=np.float64)
        assert cpp_ids == python_ids, f"{name}: {sum(a != b for a, b in zip(cpp_ids, python_ids))} texts have other ids"
        differences = np.abs(cpp_scores - python_scores)
        worst[name] = (float(differences.max()), seconds)
        assert int(np.sum(differences > SCORE_TOLERANCE)) == 0, f"{name}: scores differ by up to {differences.max():.3g}"
        for record in scored:
            assert set(record) == {"index", "label", "score"}
            assert record["label"] == ("positive" if record["score"] >= 0.5 else "negative")
    with capsys.disabled():
        print(
            f"\n[cpp_demo pt2] {len(texts)} texts; max |score diff| vs Python: "
            + ", ".join(f"{name} {diff:.2e} (scored in {seconds:.1f} s)" for name, (diff, seconds) in worst.items())
        )


def test_cpp_refuses_a_batch_size_model_pt2_does_not_accept(demo_build: DemoBuild, pt2_artifact: Path) -> None:
    """No package from sentiment_export accepts more than 4096 texts per call, which is also --batch-size's bound."""
    done = _run(demo_build.binary, str(pt2_artifact / "model.pt2"), "--batch-size", "5000", "text")
    assert done.returncode == 2 and done.stdout == b""
    assert b"--batch-size must be a positive integer of at most 4096, got '5000'" in done.stderr, done.stderr.decode()


# --- what the demo verifies before it loads a model file: zip CRCs and the embedded record table -----


def _record_name(info: zipfile.ZipInfo) -> str:
    """libtorch's name of a record: below the archive's top folder."""
    return "/".join(PurePosixPath(info.filename).parts[1:])


def _largest_weight(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        weights = [info for info in archive.infolist() if _record_name(info).startswith("data/")]
    return _record_name(max(weights, key=lambda info: info.file_size))


def _flip_in_place(source: Path, target: Path, record: str) -> Path:
    """A copy of ``source`` with one byte of ``record``'s stored bytes flipped and its CRC left as it was."""
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        info = next(info for info in archive.infolist() if _record_name(info) == record)
    assert info.compress_type == zipfile.ZIP_STORED
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)  # the local header's
    data[info.header_offset + 30 + name_length + extra_length + info.compress_size // 2] ^= 0x01
    target.write_bytes(bytes(data))
    return target


def _rewrite_zip(source: Path, target: Path, change: Callable[[str, bytes], bytes], *, added: Mapping[str, bytes] | None = None) -> Path:
    """A copy of ``source`` with each record's bytes passed through ``change(name, data)`` and written with a
    correct CRC (zipfile computes it): a change only the embedded sha256 table can catch."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as copy:
        infos = original.infolist()
        for info in infos:
            copy.writestr(info.filename, change(_record_name(info), original.read(info)))
        prefix = PurePosixPath(infos[0].filename).parts[0]
        for name, data in (added or {}).items():
            copy.writestr(f"{prefix}/{name}", data)
    return target


def _flip_middle(data: bytes) -> bytes:
    return data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0x01]) + data[len(data) // 2 + 1 :]


def _swap_two_tokens(vocabulary: bytes) -> bytes:
    lines = vocabulary.split(b"\n")
    lines[2], lines[3] = lines[3], lines[2]  # still a valid vocabulary (after _PAD, _UNK), other ids
    return b"\n".join(lines)


def _max_length_500(spec: bytes) -> bytes:
    changed = re.sub(rb'"max_length": *200', b'"max_length": 500', spec)
    assert changed != spec
    return changed


def _without_record_table(manifest: bytes) -> bytes:
    data = json.loads(manifest)
    del data["torchscript"][RECORDS_KEY]
    return json.dumps(data).encode()


def _changing(record: str, edit: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
    return lambda name, data: edit(data) if name == record else data


def test_every_record_but_the_unhashed_ones_is_in_the_embedded_table(model_pt: Path) -> None:
    """What the exporter writes, and what the directory's manifest repeats (the artifact loader compares them)."""
    with zipfile.ZipFile(model_pt) as archive:
        names = {_record_name(info) for info in archive.infolist()}
        embedded = json.loads(archive.read(next(i for i in archive.infolist() if _record_name(i) == "extra/manifest.json")))
    table = embedded["torchscript"][RECORDS_KEY]
    assert set(table) == names - set(UNHASHED_RECORDS)
    assert table == record_hashes(model_pt)
    assert json.loads((model_pt.parent / "manifest.json").read_text())["torchscript"][RECORDS_KEY] == table
    assert {"extra/spec.json", "extra/vocab.txt", "constants/0", _largest_weight(model_pt)} <= set(table)


def test_cpp_leaves_out_the_same_records_as_python() -> None:
    source = (REPO / "cpp_demo" / "src" / "model_file.cpp").read_text()
    listed = re.search(r"kUnhashedRecords = \{([^}]*)\}", source)
    assert listed and set(re.findall(r'"([^"]+)"', listed.group(1))) == set(UNHASHED_RECORDS)


def test_a_writer_that_is_not_reproducible_fails_the_export(tmp_path: Path) -> None:
    target = tmp_path / "model.pt"
    writes = []

    def save(files: Mapping[str, str]) -> None:
        writes.append(1)
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("archive/data/0", f"write {len(writes)}")
            archive.writestr("archive/extra/manifest.json", files["manifest.json"])

    with pytest.raises(ArtifactError, match=r"writing the model file twice changed the records \['data/0'\]"):
        save_with_record_table(save, target, {"manifest.json": json.dumps({"torchscript": {}})}, section="torchscript")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("flip-weight-byte", r"record 'data/\d+' does not match its zip CRC-32"),
        ("flip-constants-0", r"record 'constants/0' does not match its zip CRC-32"),
        ("edit-vocabulary", r"record 'extra/vocab\.txt' does not match its sha256 in the embedded manifest \(torchscript\.records\)"),
        ("edit-spec-max-length", r"record 'extra/spec\.json' does not match its sha256"),
        ("flip-weight-rewrite-crc", r"record 'data/\d+' does not match its sha256"),
        ("flip-constants-0-rewrite-crc", r"record 'constants/0' does not match its sha256"),
        ("add-record", r"record 'extra/notes\.txt' is not in the record hashes of its embedded manifest"),
        ("remove-record-table", r"its embedded manifest\.json has no record hashes \(torchscript\.records\)"),
    ],
)
def test_refuses_a_model_pt_changed_after_export(demo_build: DemoBuild, model_pt: Path, tmp_path: Path, damage: str, message: str) -> None:
    """Each of these loaded with exit 0 and other scores before (a flipped weight byte: 0.8427 -> 0.0925;
    a flip in constants/0: score 0; max_length 500 accepted); now refused before anything is used."""
    target = tmp_path / "damaged.pt"
    weight = _largest_weight(model_pt)
    makers = {
        "flip-weight-byte": lambda: _flip_in_place(model_pt, target, weight),
        "flip-constants-0": lambda: _flip_in_place(model_pt, target, "constants/0"),
        "edit-vocabulary": lambda: _rewrite_zip(model_pt, target, _changing("extra/vocab.txt", _swap_two_tokens)),
        "edit-spec-max-length": lambda: _rewrite_zip(model_pt, target, _changing("extra/spec.json", _max_length_500)),
        "flip-weight-rewrite-crc": lambda: _rewrite_zip(model_pt, target, _changing(weight, _flip_middle)),
        "flip-constants-0-rewrite-crc": lambda: _rewrite_zip(model_pt, target, _changing("constants/0", _flip_middle)),
        "add-record": lambda: _rewrite_zip(model_pt, target, lambda name, data: data, added={"extra/notes.txt": b"hi"}),
        "remove-record-table": lambda: _rewrite_zip(model_pt, target, _changing("extra/manifest.json", _without_record_table)),
    }
    done = _run(demo_build.binary, str(makers[damage]()), "--threads", "1", "A great movie, loved it!")
    assert done.returncode == 1 and done.stdout == b"", done.stdout
    assert re.search(message, done.stderr.decode()), done.stderr.decode()
    assert b"do not use it" in done.stderr or b"re-export" in done.stderr


def test_refuses_a_model_pt2_changed_after_export(demo_build: DemoBuild, pt2_artifact: Path, tmp_path: Path) -> None:
    """The package carries its own table (pt2.records): the compiled model (the .so, weights inside) is covered."""
    package = pt2_artifact / "model.pt2"
    with zipfile.ZipFile(package) as archive:
        table = json.loads(archive.read(next(i for i in archive.infolist() if _record_name(i) == "extra/manifest.json")))["pt2"][RECORDS_KEY]
        names = {_record_name(info) for info in archive.infolist()}
    assert set(table) == names - set(UNHASHED_RECORDS) and table == record_hashes(package)
    library = next(name for name in table if name.endswith(".so"))
    damaged = _rewrite_zip(package, tmp_path / "damaged.pt2", _changing(library, _flip_middle))
    done = _run(demo_build.binary, str(damaged), "text")
    assert done.returncode == 1 and done.stdout == b""
    assert f"record '{library}' does not match its sha256 in the embedded manifest (pt2.records)".encode() in done.stderr, done.stderr


@pytest.mark.parametrize(("name", "section"), [("model.pt", "torchscript"), ("model.pt2", "pt2")])
def test_python_loader_refuses_a_model_file_that_does_not_match_its_record_table(
    pt2_artifact: Path, tmp_path: Path, name: str, section: str
) -> None:
    """What the demo refuses, Python refuses too, even with the file table rewritten to the changed file."""
    import hashlib
    import shutil

    from sentiment_export.artifact.loader import load_artifact

    copy = Path(shutil.copytree(pt2_artifact, tmp_path / "artifact"))
    with zipfile.ZipFile(copy / name) as archive:
        changed = max((info for info in archive.infolist() if _record_name(info).startswith("data/")), key=lambda info: info.file_size)
    record = _record_name(changed)
    _rewrite_zip(pt2_artifact / name, copy / name, _changing(record, _flip_middle))
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    data = (copy / name).read_bytes()
    manifest["files"][name].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    with pytest.raises(ArtifactError, match=re.escape(f"{name}'s records ['{record}'] differ from its record table ({section}.records)")):
        load_artifact(copy)
