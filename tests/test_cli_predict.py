"""`python -m sentiment_export predict`: JSON lines out, the runtime's scores, honest about bad lines."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sentiment_export import SentimentModel
from sentiment_export.cli.options import EXIT_USAGE
from sentiment_export.cli.predict import register, run_predict

SUMMARY = re.compile(r"^(\d+) texts?(, (\d+) (?:lines?|arguments?) skipped)?, providers CPUExecutionProvider, [\d.]+ texts/s$")


def predict(argv: list[str]) -> tuple[int, list[dict], str]:
    """Run the subcommand in-process: (exit status, parsed stdout lines, stderr)."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["predict", *argv])
    out, err = io.StringIO(), io.StringIO()
    status = run_predict(args, out=out, err=err)
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


@pytest.fixture(scope="module")
def model(exported_artifact: Path) -> SentimentModel:
    return SentimentModel.load(exported_artifact, device="cpu")


def test_texts_from_arguments(exported_artifact: Path, model: SentimentModel) -> None:
    texts = ["Works great, five stars", "Broke on day one", ""]
    status, lines, err = predict(["--artifact", str(exported_artifact), "--device", "cpu", *texts])
    assert status == 0
    expected = [{"index": i, **p.to_dict()} for i, p in enumerate(model.predict(texts))]
    assert lines == expected
    summary = err.strip().splitlines()[-1]
    assert SUMMARY.match(summary) and summary.startswith("3 texts, providers")


def test_file_lines_with_a_bad_line_are_reported_and_skipped(exported_artifact: Path, model, tmp_path) -> None:
    data = tmp_path / "texts.txt"
    data.write_bytes(b"lovely colour\r\n\nbad \xff byte here\nterrible fit\n")
    status, lines, err = predict(["--artifact", str(exported_artifact), "--input", str(data), "--batch-size", "2"])
    assert status == 0
    good = ["lovely colour", "", "terrible fit"]
    expected = [{"index": i, **p.to_dict()} for i, p in zip([0, 1, 3], model.predict(good))]
    assert lines == expected  # index = 0-based line number: the skipped line leaves a gap
    assert "skipped: line 3 is not valid UTF-8 (invalid start byte at byte 4)" in err
    assert "predict:" in err  # the progress bar
    match = SUMMARY.match(err.strip().splitlines()[-1])
    assert match and match.group(1) == "3" and match.group(3) == "1"


def test_strict_fails_on_a_bad_line_before_printing_anything(exported_artifact: Path, tmp_path) -> None:
    data = tmp_path / "texts.txt"
    data.write_bytes(b"fine\nalso fine\n\xc3\x28 broken\n")
    status, lines, err = predict(["--artifact", str(exported_artifact), "--input", str(data), "--strict"])
    assert status == EXIT_USAGE
    assert lines == []
    assert "error: line 3 is not valid UTF-8 (invalid continuation byte at byte 0); nothing was scored" in err


def test_int8_and_batch_size_options_map_onto_the_runtime(exported_artifact: Path) -> None:
    texts = ["comfortable and cheap", "smells awful", "ok I guess"]
    argv = ["--artifact", str(exported_artifact), "--precision", "int8", "--batch-size", "1", "--ort-threads", "1"]
    status, lines, _ = predict([*argv, *texts])
    # batch size 1 on both sides: int8 activations are quantized per run, so batch-mates move int8 scores a little
    int8 = SentimentModel.load(exported_artifact, device="cpu", precision="int8", batch_size=1)
    assert status == 0
    assert [line["score"] for line in lines] == [p.score for p in int8.predict(texts)]


def test_texts_and_input_together_are_refused(exported_artifact: Path, tmp_path) -> None:
    status, lines, err = predict(["--artifact", str(exported_artifact), "--input", str(tmp_path / "x"), "hello"])
    assert (status, lines) == (2, [])
    assert "give texts as arguments or with --input, not both" in err


def test_module_entry_point_reads_stdin(exported_artifact: Path, model: SentimentModel) -> None:
    texts = ["great battery life", "screen died after a week"]
    result = subprocess.run(
        [sys.executable, "-m", "sentiment_export", "predict", "--artifact", str(exported_artifact), "--device", "cpu"],
        input="\n".join(texts).encode("utf-8"),
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert lines == [{"index": i, **p.to_dict()} for i, p in enumerate(model.predict(texts))]
    assert SUMMARY.match(result.stderr.decode().strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--device", "cuda", "hi"], r"error: device='cuda' was requested but .*or device='cpu'"),
        (["--batch-size", "0", "hi"], r"error: batch_size must be between 1 and 4096, got 0"),
        (["--batch-size", "100000", "hi"], r"error: batch_size must be between 1 and 4096, got 100000"),
    ],
)
def test_library_errors_are_one_line_exit_2_without_traceback(exported_artifact: Path, capsys, argv, message) -> None:
    from sentiment_export.serving import providers as providers
    from sentiment_export.cli.main import main

    if argv[:2] == ["--device", "cuda"] and providers.cuda_in_build():
        pytest.skip("this onnxruntime has a CUDA provider; the no-CUDA error cannot be provoked here")
    assert main(["predict", "--artifact", str(exported_artifact), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.fullmatch(message + r"\n", captured.err) and "Traceback" not in captured.err


def test_a_missing_artifact_is_reported(tmp_path: Path, capsys) -> None:
    from sentiment_export.cli.main import main

    assert main(["predict", "--artifact", str(tmp_path / "missing"), "hi"]) == 2
    assert re.match(r"error: artifact .*missing does not exist", capsys.readouterr().err)


def test_an_argument_that_is_not_utf8_is_reported_by_index_and_the_others_scored(exported_artifact: Path, model) -> None:
    """As the C++ demo: {"index", "error"} for the bad argument, scores for the others, exit status 3."""
    bad = b"caf\xe9 au lait".decode("utf-8", "surrogateescape")  # how Python hands a non-UTF-8 argv to the program
    status, lines, err = predict(["--artifact", str(exported_artifact), "good value", bad, "awful"])
    assert status == 3
    scored = [{"index": i, **p.to_dict()} for i, p in zip([0, 2], model.predict(["good value", "awful"]))]
    assert sorted(lines, key=lambda line: line["index"]) == [scored[0], {"index": 1, "error": "argument 2 is not valid UTF-8 (invalid continuation byte at byte 3)"}, scored[1]]
    assert "skipped: argument 2 is not valid UTF-8" in err
    assert ", 1 argument skipped, " in err.strip().splitlines()[-1]


def test_an_input_that_is_a_directory_is_bad_usage(exported_artifact: Path, tmp_path: Path) -> None:
    status, lines, err = predict(["--artifact", str(exported_artifact), "--input", str(tmp_path)])
    assert (status, lines) == (EXIT_USAGE, [])
    assert err == f"error: --input {tmp_path}: cannot read it (Is a directory); give a file with one text per line\n"
