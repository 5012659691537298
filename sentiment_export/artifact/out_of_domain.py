"""Measured accuracy outside the training domain, by preset and training file, for the model card.

An artifact's own metrics come from its test split, which is drawn from the
same data as its training split; how a model does on other text is the
question its user has next. Scoring on a second data set needs that data at
export time, so the card reports instead what was measured for the same
preset trained on the same file (by sha256), with the TF-IDF + logistic
regression reference trained on that file and scored the same way
(``python -m benchmarks.out_of_domain``, README "Measured").
"""

from __future__ import annotations

from dataclasses import dataclass

SNIPPETS_TRAIN_SHA256 = "42f34d839868e5690a38dd6119432fa2ec528ef016eb0af3565d6aaca20a0a36"
"""The embedded snippets training file (training/default_data/README.md)."""
IMDB_TRAIN_SHA256 = "9fade413000e58e53354d5a2eb77df6b2bd046cf5e3c201ed868f4f9ccce2e42"
"""The shared imdb training file (train.ft.txt.bz2, 39,666 reviews), not part of the project."""


@dataclass(frozen=True)
class OutOfDomainFigure:
    """What one preset trained on one file scored on another data set's test split."""

    preset: str
    train_sha256: str
    other_test: str  # the data set scored, in words
    accuracy: str  # the model's, per seed
    tfidf_accuracy: float  # TF-IDF + logistic regression trained on the same file
    measured: str  # date and command


_SNIPPETS_ON_IMDB = "imdb test split (9,916 full movie reviews; only the first 200 tokens count)"
_SNIPPETS_ON_IMDB_800 = "imdb test split (9,916 full movie reviews; the first 800 tokens count, the LSTM reads the last 200)"
_COMMAND = "`python -m benchmarks.out_of_domain --checkpoint runs/RUN/best.pt`"
_MEASURED_ON = f"2026-12-02, {_COMMAND}"
_OWN_IDS_MEASURED_ON = f"2026-12-04 (every training word its own id), {_COMMAND}"

MEASURED: tuple[OutOfDomainFigure, ...] = (
    OutOfDomainFigure("default", SNIPPETS_TRAIN_SHA256, _SNIPPETS_ON_IMDB_800,
                      "81.83% / 80.57% / 77.11% (seeds 0 / 1 / 2; mean 79.84%)", 0.7974,
                      _OWN_IDS_MEASURED_ON),
    OutOfDomainFigure("bilstm", SNIPPETS_TRAIN_SHA256, _SNIPPETS_ON_IMDB, "77.39% (seed 0)", 0.7974, _MEASURED_ON),
    OutOfDomainFigure("glove", SNIPPETS_TRAIN_SHA256, _SNIPPETS_ON_IMDB, "76.97% (seed 0)", 0.7974, _MEASURED_ON),
    OutOfDomainFigure("imdb", IMDB_TRAIN_SHA256, "snippets test split (2,611 short Amazon review snippets)",
                      "75.76% / 75.60% / 75.11% (seeds 0 / 1 / 2; mean 75.49%)", 0.7495,
                      f"2026-12-04 (three seeds), {_COMMAND}"),
)
"""Every out-of-domain figure measured so far; a preset and training file without one gets "not measured"."""


def figures_for(preset: str, train_sha256: str | None) -> list[OutOfDomainFigure]:
    """The measured figures for ``preset`` trained on the file with ``train_sha256`` (none when unmeasured)."""
    return [figure for figure in MEASURED if figure.preset == preset and figure.train_sha256 == train_sha256]
