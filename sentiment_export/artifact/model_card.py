"""MODEL_CARD.md: the artifact's manifest told to a person, generated from the typed manifest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .out_of_domain import figures_for

if TYPE_CHECKING:
    from .manifest import Manifest


def _percent(value: Any) -> str:
    return f"{value:.2%}" if isinstance(value, (int, float)) else "n/a"


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "n/a"


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "n/a"


def describe_split(entry: dict[str, Any]) -> str:
    """One line about a training-data split: its file, examples, malformed lines and sha256 (what is known)."""
    if not entry.get("file"):
        details = ", ".join(f"{key} {value}" for key, value in entry.items() if key != "examples")
        return f"{entry.get('examples', 'n/a')} examples held out of the training file" + (f" ({details})" if details else "")
    malformed = entry.get("malformed")
    malformed_total = sum(malformed.values()) if isinstance(malformed, dict) else malformed
    return (
        f"{entry['file']}: {entry.get('examples', 'n/a')} examples, "
        f"{malformed_total if malformed_total is not None else 'n/a'} malformed lines, "
        f"sha256 {str(entry.get('sha256', 'n/a'))[:16]}..."
    )


def describe_network(config: dict[str, Any]) -> str:
    """The network in words, from ``SentimentNetConfig.to_dict()``: both branches when it has the bag of n-grams.

    The manifest's schema requires only ``vocab_size`` of the config, so a config
    without the LSTM's sizes (an edited or foreign manifest that still loads)
    is described by the keys it has rather than failing.
    """
    missing = [key for key in ("embedding_dim", "num_layers", "hidden_dim") if key not in config]
    if missing:
        return f"SentimentNet (its config lacks {', '.join(missing)}; it has {', '.join(sorted(config)) or 'no keys'})"
    lstm = (
        f"embedding {config['embedding_dim']} -> {config['num_layers']}-layer "
        f"{'bidirectional ' if config.get('bidirectional') else ''}LSTM {config['hidden_dim']} "
        f"({config.get('pooling', 'last')} pooling"
        + (f", over each review's last {config['recurrent_steps']} tokens" if config.get("recurrent_steps") else "")
        + ")"
    )
    if not config.get("ngram_dim"):
        return f"SentimentNet: {lstm} -> linear -> sigmoid"
    return (
        f"SentimentNet: two branches whose logits are blended, then sigmoid: (1) {lstm} -> linear; "
        f"(2) a bag of n-grams: {config['ngram_dim']}-wide vectors for every unigram and "
        f"{_count(config.get('ngram_buckets'))} hashed bigram buckets, averaged over all tokens -> linear"
    )


def describe_data_format(training: dict[str, Any]) -> str:
    """Which reader the training data went through (the checkpoint records each file's format)."""
    train = (training.get("data") or {}).get("train") or {}
    data_format = train.get("format") if isinstance(train, dict) else None
    if isinstance(data_format, dict) and data_format.get("name") == "csv":
        options = data_format.get("csv_options") or {}
        return "CSV" + (f" ({', '.join(f'{key} {value!r}' for key, value in options.items())})" if options else "")
    return "Amazon Reviews polarity format (`__label__1` negative, `__label__2` positive)"


def _data_rows(data: dict[str, Any]) -> list[str]:
    return [f"- {split}: {describe_split(entry)}" for split, entry in data.items() if isinstance(entry, dict)]


def render_model_card(manifest: Manifest) -> str:
    """Markdown for ``MODEL_CARD.md`` from a complete manifest (metrics and parity included)."""
    name, version = manifest.name, manifest.version
    config, spec, test = manifest.model.config, manifest.preprocessing, manifest.test_metrics
    training, software = manifest.training, manifest.software
    directory = f"{name}-{version}"
    lines = [
        f"# Model card: {name} {version}",
        "",
        "## What it is",
        "",
        "A binary sentiment classifier for English review text. Input: a review as a raw string; output: "
        "P(positive) in [0, 1]; the label is `positive` when P >= 0.5.",
        "",
        f"- {describe_network(config)}",
        f"- vocabulary {config['vocab_size']} tokens, {manifest.model.parameters:,} parameters",
        f"- preprocessing spec version {spec.spec_version}: lower-casing, digits -> `0`, URLs -> `<url>`, "
        f"tokenizer `{spec.tokenizer}`, at most {spec.max_length} tokens (longer text is cut, "
        f"{spec.truncation_side} side dropped)",
        f"- created {manifest.created_utc} with torch {software['torch']}, onnx {software.get('onnx')}, "
        f"onnxruntime {software['onnxruntime']}"
        + (f", from git commit `{manifest.git['commit'][:12]}`" if manifest.git else ""),
        "",
        "## Data",
        "",
        f"Training preset: `{training.get('preset', 'n/a')}`. Reviews read as {describe_data_format(training)}.",
        "",
        *_data_rows(training.get("data", {})),
        "",
        "## Metrics",
        "",
        f"On the test file `{test.file}` ({test.examples} reviews):",
        "",
        "| model | accuracy | log loss |",
        "|---|---|---|",
        f"| fp32 (`model.onnx`, `model.pt`) | {_percent(test.fp32.accuracy)} | {_number(test.fp32.loss)} |",
        f"| int8 (`model.int8.onnx`) | {_percent(test.int8.accuracy)} | {_number(test.int8.loss)} |",
        "",
        f"int8 labels agree with fp32 on {_percent(test.int8_label_agreement)} of the test reviews.",
        "",
        *_parity_rows(manifest),
        *out_of_domain_rows(training),
        "## Intended use",
        "",
        "Scoring the sentiment of English product or movie reviews similar to the training data, where a "
        "wrong score costs little (ranking, dashboards, triage). Not for decisions about people.",
        "",
        "## Limitations",
        "",
        f"- Only the {'last' if spec.truncation_side == 'left' else 'first'} {spec.max_length} tokens of a text count; sarcasm, negation over long "
        "spans and mixed opinions are often misread.",
        "- Words outside the vocabulary all map to one unknown token; other domains, languages or "
        "spelling styles score worse than the metrics above.",
        "- The empty text still gets a score (the model's prior); check for empty input yourself.",
        "- int8 trades a little accuracy for size and CPU speed (see Metrics).",
        "- Scores are not calibrated probabilities of anything outside the training distribution.",
        "",
        "## How to load it",
        "",
        "Python (checks every file's sha256 first):",
        "",
        "```python",
        "from sentiment_export import SentimentModel, load_artifact, load_eager_model",
        "",
        f'model = SentimentModel.load("artifacts/{directory}")          # onnxruntime, CUDA if it works, else CPU',
        'print(model.predict(["Great battery life, would buy again."]))',
        "",
        f'artifact = load_artifact("artifacts/{directory}")            # or the .tar.gz / .zip',
        "net = load_eager_model(artifact)                                 # eager PyTorch (needs torch), from weights.safetensors",
        'ids = artifact.encoder().encode(["Not worth the money."])         # int64 (batch, sequence), right-padded',
        "```",
        "",
        f"C++ (libtorch {str(software['torch']).split('+')[0]}, the version that wrote `model.pt`): "
        "`model.pt` carries `spec.json`, `vocab.txt` and `manifest.json` as extra files, so it is enough on its own.",
        "",
        "```cpp",
        "torch::jit::ExtraFilesMap extra{{\"spec.json\", \"\"}, {\"vocab.txt\", \"\"}, {\"manifest.json\", \"\"}};",
        f'auto module = torch::jit::load("artifacts/{directory}/model.pt", torch::kCPU, extra);',
        "// encode the text by extra[\"spec.json\"] + extra[\"vocab.txt\"] into int64 ids (batch, sequence), right-padded with 0",
        "auto probability = module.forward({ids}).toTensor();   // float32 (batch,)",
        "```",
        "",
        *_pt2_rows(manifest),
        "Check an artifact: `python -m sentiment_export verify "
        f"artifacts/{directory}` (checksums and the parity gate, exit code 0/1).",
        "",
    ]
    return "\n".join(lines)


def out_of_domain_rows(training: dict[str, Any]) -> list[str]:
    """How the preset does on another data set than it was trained on: measured figures, or that none exist."""
    preset = training.get("preset", "n/a")
    train = (training.get("data") or {}).get("train") or {}
    figures = figures_for(preset, train.get("sha256") if isinstance(train, dict) else None)
    lines = ["## Outside its training domain", ""]
    if not figures:
        return [
            *lines,
            f"Not measured for preset `{preset}` on this training file: expect less than the metrics above on text "
            "unlike the training data. `python -m benchmarks.out_of_domain --checkpoint best.pt --other-test FILE` "
            "measures it, beside TF-IDF + logistic regression trained on the same data.",
            "",
        ]
    lines += [
        f"Measured for preset `{preset}` trained on this same training file (runs of it, not necessarily this artifact "
        "itself), beside TF-IDF + logistic regression trained on the same file and scored the same way:",
        "",
        "| scored on | this preset | TF-IDF + LR | measured |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {figure.other_test} | {figure.accuracy} | {_percent(figure.tfidf_accuracy)} | {figure.measured} |"
        for figure in figures
    ]
    return [*lines, ""]


def _parity_rows(manifest: Manifest) -> list[str]:
    parity = manifest.parity
    if parity is None:
        return []
    fp32 = ", ".join(
        f"{name} max abs diff {backend.max_abs_diff:.2g}" for name, backend in parity.backends.items() if backend.precision == "fp32"
    )
    int8 = ", ".join(
        f"{name} label agreement {_percent(backend.label_agreement)}"
        for name, backend in parity.backends.items()
        if backend.precision == "int8"
    )
    return [
        f"Parity with eager PyTorch ({parity.texts} texts, batch sizes {parity.batch_sizes}, sequence lengths "
        f"{parity.sequence_lengths['min']}..{parity.sequence_lengths['max']}): {fp32} (tolerance {parity.fp32_atol:g}); {int8}.",
        "",
    ]


def _pt2_rows(manifest: Manifest) -> list[str]:
    """How to run ``model.pt2``, when the artifact has one."""
    if manifest.pt2 is None:
        return []
    accepts = next(iter(manifest.pt2.get("accepts", {}).values()), {})
    shapes = ", ".join(f"{name} {bounds[0]}..{bounds[1]}" for name, bounds in accepts.items() if name != "dtype")
    return [
        f"`model.pt2` (torch.export + AOTInductor, CPU, torch {manifest.pt2.get('torch')} only): "
        "`torch._inductor.aoti_load_package` in Python, `torch::inductor::AOTIModelPackageLoader` in C++; "
        f"it carries the same three files and accepts int64 ids with {shapes}.",
        "",
    ]
