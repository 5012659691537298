"""The out-of-domain table (benchmarks.out_of_domain) and the TF-IDF reference it stands beside (scikit-learn,
in the test extra: a missing package fails, never skips)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import out_of_domain, tfidf_baseline
from sentiment_export import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_checkpoint_is_scored_in_and_out_of_domain_beside_tfidf(
    small_checkpoint: Path, small_test_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--checkpoint", str(small_checkpoint), "--other-test", str(small_test_file), "--markdown"]
    assert out_of_domain.main(argv) == 0
    header, rule, row = capsys.readouterr().out.splitlines()
    assert header.startswith("| preset | seed | trained on | in domain: model | TF-IDF | other test |")
    cells = row.strip("| ").split(" | ")
    assert cells[:3] == ["tiny-test", "0", "default_data"] and cells[5] == f"{small_test_file.parent.name}/{small_test_file.name}"
    # the eager scoring here is the training run's own final evaluation of the same weights
    assert cells[3] == f"{load_checkpoint(small_checkpoint).metadata['metrics']['test_accuracy']:.2%}"
    assert all(60.0 < float(cell.rstrip("%")) <= 100.0 for cell in (cells[4], cells[6], cells[7]))  # 50% is chance
    called, labelled = cells[8].split(" (")
    assert 20.0 < float(called.rstrip("%")) < 80.0
    assert labelled == f"{tfidf_baseline.read_texts(small_test_file).labels.mean():.1%})"  # the file's positives


def test_one_branch_or_the_last_tokens_alone_score_otherwise_and_say_so(
    small_checkpoint: Path, small_test_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = [tfidf_baseline.read_texts(small_test_file)]
    model, = out_of_domain.model_scores(small_checkpoint, tests)
    bag, = out_of_domain.model_scores(small_checkpoint, tests, branch="bag")
    recurrent, = out_of_domain.model_scores(small_checkpoint, tests, branch="recurrent")
    cut, = out_of_domain.model_scores(small_checkpoint, tests, last_tokens=3)
    assert len(model) == len(bag) == len(recurrent) == len(cut) == len(tests[0].labels)
    for other in (bag, recurrent, cut):
        assert not np.allclose(other, model)
    assert not np.allclose(bag, recurrent)
    argv = ["--checkpoint", str(small_checkpoint), "--other-test", str(small_test_file), "--branch", "bag",
            "--last-tokens", "3", "--markdown"]
    assert out_of_domain.main(argv) == 0
    assert capsys.readouterr().out.splitlines()[0] == "scored: bag, the last 3 ids of each text"


def test_tfidf_is_trained_on_each_directory_and_scored_on_every_test_file(
    snippets_subset: tuple[Path, Path], tmp_path: Path
) -> None:
    (accuracy,), = tfidf_baseline.cross_domain_table([snippets_subset[0].parent])
    assert 0.65 < accuracy < 1.0  # 4,000 snippets: well above chance, and not trained on the test file
    assert tfidf_baseline.main(["--data", str(tmp_path)]) == 2  # no train.ft.txt there


def test_a_missing_checkpoint_is_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert out_of_domain.main(["--checkpoint", str(tmp_path / "missing.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.pt" in err and "Traceback" not in err
