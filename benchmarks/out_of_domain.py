"""Trained models on their own test split and on another data set's, beside TF-IDF trained on the same data.

    python -m benchmarks.out_of_domain --checkpoint runs/RUN/best.pt [--checkpoint ...]
        [--other-test ../shared/data/imdb/test.ft.txt.bz2] [--branch recurrent|bag] [--last-tokens K]
        [--torch-threads 1] [--markdown]

For each checkpoint from ``python -m training``: the test accuracy of its
best weights (eager PyTorch, the parity gate's reference) on the test file
it was trained with and on ``--other-test`` (default: the imdb test split for
a model trained on anything else, the embedded snippets test split for one
trained on imdb), beside :class:`benchmarks.tfidf_baseline.TfidfBaseline`
fitted on the checkpoint's whole training file and scored on the same two
files. Scoring is deterministic: the same checkpoint gives the same figures.

Where a model falls short out of domain, two options say where: ``--branch``
scores one branch of a two-branch network alone (its own logit, as each
branch was trained), ``--last-tokens K`` gives the network only each text's
last K ids, which tells a lean that grows with a review's length from one
that is there in any stretch of it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sentiment_export import SentimentNet, TextEncoder, Vocabulary, load_checkpoint
from sentiment_export.cli.options import MAX_THREADS, bounded_int
from sentiment_export.errors import SentimentExportError
from sentiment_export.export.parity import Runner, eager_runner, torch_runner

from .tfidf_baseline import IMDB, SNIPPETS, LabelledTexts, TfidfBaseline, read_texts, split_files

_BATCH_SIZE = 256
_MAX_LAST_TOKENS = 100_000
"""--last-tokens at most: over 100 times the 800 tokens the longest shipped preset keeps, so a larger value
is a typo, not a window."""


_TOKENS: dict[tuple[str, Path], list[list[str]]] = {}
"""(spec JSON, file) -> its texts' tokens: checkpoints with the same spec share one tokenization of a file."""


def _tokens(encoder: TextEncoder, test: LabelledTexts) -> list[list[str]]:
    key = (encoder.spec.to_json(), test.path)
    if key not in _TOKENS:
        _TOKENS[key] = encoder.tokenize_batch(test.texts)
    return _TOKENS[key]


BRANCHES = ("blend", "recurrent", "bag")
"""What is scored: the model's output, or the logit of one branch (column 0 the LSTM's, 1 the bag's)."""


def _branch_runner(net: SentimentNet, branch: str) -> Runner:
    if branch == "blend":
        return eager_runner(net)
    if not net.config.ngram_dim:
        raise ValueError(f"--branch {branch} needs a two-branch network; this checkpoint has the LSTM alone")
    column = BRANCHES.index(branch) - 1
    net.eval()
    return torch_runner(lambda ids: torch.sigmoid(net(ids, per_branch=True)[:, column]))


def model_scores(
    checkpoint_path: Path, tests: Sequence[LabelledTexts], *, branch: str = "blend", last_tokens: int = 0
) -> list[np.ndarray]:
    """P(positive) of the checkpoint's weights (or of one branch) for every text of each labelled file,
    each text cut to its last ``last_tokens`` ids (0 = as the spec keeps it)."""
    checkpoint = load_checkpoint(checkpoint_path)
    net = SentimentNet(checkpoint.model_config)
    net.load_state_dict(checkpoint.model_state)
    run = _branch_runner(net, branch)
    encoder = TextEncoder(checkpoint.spec, Vocabulary(checkpoint.vocabulary, checkpoint.spec))
    scores = []
    for test in tests:
        rows = [encoder.encode_tokens(tokens) for tokens in _tokens(encoder, test)]
        if last_tokens:
            rows = [row[-last_tokens:] for row in rows]
        scores.append(encoder.score_length_sorted(rows, run, batch_size=_BATCH_SIZE))
    return scores


def _other_test(train_file: Path) -> Path:
    imdb_train, imdb_test = (path.resolve() for path in split_files(IMDB))
    return split_files(SNIPPETS)[1] if train_file.resolve() == imdb_train else imdb_test


def compare(
    checkpoint_path: Path, other_test: Path | None, *, branch: str = "blend", last_tokens: int = 0
) -> dict[str, object]:
    """One table row: preset, data, and (model, TF-IDF) accuracy in domain and on the other test file."""
    metadata = load_checkpoint(checkpoint_path).metadata
    paths = metadata.get("local_paths") or {}
    if not paths.get("train") or not paths.get("test"):
        raise ValueError(f"{checkpoint_path} records no training data on this machine (metadata['local_paths'])")
    train_file, test_file = Path(paths["train"]), Path(paths["test"])
    other = other_test or _other_test(train_file)
    tests = [read_texts(test_file), read_texts(other)]
    scores = model_scores(checkpoint_path, tests, branch=branch, last_tokens=last_tokens)
    baseline = TfidfBaseline(read_texts(train_file))
    return {
        "preset": metadata.get("preset", "n/a"),
        "seed": metadata.get("hyperparameters", {}).get("seed", "n/a"),
        "trained on": train_file.parent.name,
        "other test": f"{other.parent.name}/{other.name}",
        "model": [float(np.mean((score >= 0.5) == test.labels)) for score, test in zip(scores, tests)],
        "tfidf": [baseline.accuracy(test) for test in tests],
        # a model that leans to one label on the other data set shows it here: the share it calls positive
        "other positive": (float(np.mean(scores[1] >= 0.5)), float(np.mean(tests[1].labels))),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.out_of_domain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, action="append", required=True, metavar="CKPT",
                        help="a best.pt from python -m training (repeat for several)")
    parser.add_argument("--other-test", type=Path, metavar="FILE",
                        help="the out-of-domain test file (default: imdb's, or the snippets' for an imdb-trained model)")
    parser.add_argument("--branch", choices=BRANCHES, default="blend",
                        help="score the model (default) or one branch of a two-branch network alone")
    parser.add_argument("--last-tokens", type=bounded_int(0, _MAX_LAST_TOKENS), default=0, metavar="K",
                        help="give the network only each text's last K ids (default 0: all the spec keeps)")
    parser.add_argument("--torch-threads", type=bounded_int(1, MAX_THREADS), default=1, metavar="N",
                        help="torch intra-op threads (default 1)")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.torch_threads)
    try:
        rows = [compare(path, args.other_test, branch=args.branch, last_tokens=args.last_tokens)
                for path in args.checkpoint]
    except (FileNotFoundError, ValueError, SentimentExportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    header = ["preset", "seed", "trained on", "in domain: model", "TF-IDF", "other test", "model", "TF-IDF",
              "called positive (labelled)"]
    if args.branch != "blend" or args.last_tokens:
        print(f"scored: {args.branch}, {f'the last {args.last_tokens} ids' if args.last_tokens else 'every id'} of each text")
    separator = " | " if args.markdown else "  "
    edges = ["| ", " |"] if args.markdown else ["", ""]
    print(separator.join(header).join(edges))
    if args.markdown:
        print("|" + "---|" * len(header))
    for row in rows:
        (own, other), (own_tfidf, other_tfidf) = row["model"], row["tfidf"]
        called, labelled = row["other positive"]
        cells = [row["preset"], row["seed"], row["trained on"], own, own_tfidf, row["other test"], other, other_tfidf,
                 f"{called:.1%} ({labelled:.1%})"]
        print(separator.join(f"{cell:.2%}" if isinstance(cell, float) else str(cell) for cell in cells).join(edges))
    return 0


if __name__ == "__main__":
    sys.exit(main())
