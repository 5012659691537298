"""Export a checkpoint to TorchScript, ONNX and int8 ONNX, gate it on parity, and write the artifact.

``export_artifact`` is the one code path (the CLI's ``export`` and the end of
``python -m training`` call it). Everything is built in a hidden temporary
directory next to the target; only when the parity gate has passed and the
finished directory loads through :func:`load_artifact` is it renamed into
place, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from safetensors.torch import save_file

from . import signature
from .artifact import (
    ARTIFACT_FORMAT_VERSION,
    PACK_FORMATS,
    ROLE_FILENAMES,
    load_artifact,
    pack_artifact,
)
from .checkpoint import Checkpoint, load_checkpoint
from .encoder import TextEncoder
from .errors import ArtifactError
from .fileio import atomic_write_bytes, atomic_write_text, sha256_file
from .manifest import file_table, git_state, software_versions, utc_now, validate_name, validate_version
from .model import ProbabilityModel, SentimentNet
from .model_card import render_model_card
from .parity import check_parity, onnx_runner, select_verification_texts, verification_record
from .reviews import MalformedLines, Review, read_reviews

logger = logging.getLogger(__name__)

ONNX_OPSET = 17
"""ONNX opset of the exported models: has every op the LSTM graph needs, and onnxruntime's
int8 dynamic quantization supports it."""

# The trace example's shape (batch, sequence); the gate then runs other shapes
# (batch 1, 7, 64; sequence 1 .. max_length + 17), which proves the exported
# graphs did not freeze either dimension.
_TRACE_EXAMPLE_LENGTHS = (11, 6, 1)

_EVAL_BATCH_SIZE = 256

# Files a training run directory may hold next to its checkpoint (training/curves.py).
_RUN_HISTORY_FILE = "history.json"
_RUN_PLOT_FILE = "curves.png"


# --- the exporters ---------------------------------------------------------------------------


@contextmanager
def _known_exporter_warnings() -> Iterator[None]:
    """Silence warnings the TorchScript tracer and the ONNX exporter give for this model, each known harmless.

    Everything else still shows.
    """
    with warnings.catch_warnings():
        # nn.LSTM's own input checks (input_size == last dim, hidden shapes) compare
        # sizes in Python; the tracer cannot record those comparisons and warns. They
        # are assertions, not computation: the traced graph stays shape-generic, which
        # the parity gate proves at other batch sizes and lengths.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"torch\.nn\.modules\.rnn")
        # TorchScript is what libtorch (the C++ demo) loads; tracing is chosen on purpose.
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.(trace|trace_method|save)` is deprecated", category=DeprecationWarning)
        # The TorchScript-based ONNX exporter is chosen on purpose (see export_onnx).
        warnings.filterwarnings("ignore", message=r"You are using the legacy TorchScript-based ONNX export", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"The feature will be removed", category=DeprecationWarning, module=r"torch\.onnx")
        # Warns that an LSTM exported at batch > 1 *can* freeze the batch size when
        # h0/c0 are constants; SentimentNet passes no initial state, and the gate runs
        # batch 1, odd and large batches on the exported file.
        warnings.filterwarnings("ignore", message=r"Exporting a model to ONNX with a batch_size other than 1", category=UserWarning)
        yield


def _trace_example(vocab_size: int) -> torch.Tensor:
    """A small right-padded (3, 11) id matrix with rows of different lengths."""
    generator = torch.Generator().manual_seed(0)
    low = 2 if vocab_size > 2 else 1  # real tokens when the vocabulary has any
    width = max(_TRACE_EXAMPLE_LENGTHS)
    example = torch.zeros((len(_TRACE_EXAMPLE_LENGTHS), width), dtype=torch.int64)  # (B, T)
    for row, length in enumerate(_TRACE_EXAMPLE_LENGTHS):
        example[row, :length] = torch.randint(low, max(vocab_size, low + 1), (length,), generator=generator)
    return example


def _probability_model(model: SentimentNet) -> ProbabilityModel:
    """A CPU, eval-mode copy wrapped with the sigmoid; the caller's model keeps its device and mode.

    Eval mode matters: with dropout on, exported scores differ from eager ones.
    """
    return ProbabilityModel(copy.deepcopy(model).cpu()).eval()


def export_torchscript(model: SentimentNet, path: str | os.PathLike[str], *, extra_files: Mapping[str, str]) -> Path:
    """Trace ``ProbabilityModel(model)`` in eval mode on the CPU and save it with ``extra_files`` embedded.

    ``extra_files`` must hold exactly :data:`signature.TORCHSCRIPT_EXTRA_FILES`
    (spec.json, vocab.txt, manifest.json), so that the ``.pt`` alone is enough
    for a C++ program. The caller should verify the saved file at other
    shapes (see :mod:`sentiment_export.parity`). Raises ``ValueError`` for
    other extra files.
    """
    if set(extra_files) != set(signature.TORCHSCRIPT_EXTRA_FILES):
        raise ValueError(
            f"extra_files must be exactly {list(signature.TORCHSCRIPT_EXTRA_FILES)}, got {sorted(extra_files)}"
        )
    wrapped = _probability_model(model)
    example = _trace_example(model.config.vocab_size)
    with _known_exporter_warnings(), torch.no_grad():
        traced = torch.jit.trace(wrapped, (example,), check_trace=False)  # the gate checks, at other shapes
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer, _extra_files={name: extra_files[name] for name in signature.TORCHSCRIPT_EXTRA_FILES})
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def _set_onnx_metadata(path: Path, metadata: Mapping[str, str]) -> None:
    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, dict(metadata))
    model.doc_string = f"{metadata.get('name', '')} {metadata.get('version', '')}: P(positive) of a review"
    onnx.save(model, str(path))


def export_onnx(
    model: SentimentNet,
    path: str | os.PathLike[str],
    *,
    opset: int = ONNX_OPSET,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Export ``ProbabilityModel(model)`` to ONNX with the signature's names and dynamic axes; checker-verified.

    Exporter: the TorchScript-based one (``dynamo=False``). It turns each
    ``nn.LSTM`` into a single ONNX ``LSTM`` op whose batch and sequence
    dimensions stay dynamic (no h0/c0 constants: SentimentNet passes no
    initial state), which onnxruntime's dynamic quantization then replaces
    by ``DynamicQuantizeLSTM``; the parity gate proves the dynamic axes at
    batch sizes and lengths other than the trace example's. Not
    ``dynamo=True``: measured with torch 2.13 on a bidirectional model (the
    training's default preset), it froze the sequence dimension at the
    example's length (ORT then rejects every other length), and it took
    ~25 s per export against ~0.5 s. ``metadata``
    (name, version, ...) goes into the model's ``metadata_props``. Raises
    ``onnx.checker.ValidationError`` if the graph is invalid.
    """
    path = Path(path)
    wrapped = _probability_model(model)
    example = _trace_example(model.config.vocab_size)
    with _known_exporter_warnings(), torch.no_grad():
        torch.onnx.export(
            wrapped,
            (example,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=signature.input_names(),
            output_names=signature.output_names(),
            dynamic_axes=signature.dynamic_axes(),
            do_constant_folding=True,
        )
    _set_onnx_metadata(path, metadata or {})
    onnx.checker.check_model(str(path), full_check=True)
    return path


class _DropMessages(logging.Filter):
    """Drops root-logger records starting with one of ``prefixes``."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


def quantize_onnx(source: str | os.PathLike[str], target: str | os.PathLike[str], *, metadata: Mapping[str, str] | None = None) -> Path:
    """int8 copy of an ONNX model by onnxruntime's dynamic quantization (int8 weights, activations quantized at run time).

    Covers the LSTM (``DynamicQuantizeLSTM``), the embedding and the linear
    layer; the gate checks its labels against eager PyTorch.
    """
    target = Path(target)
    # onnxruntime's quantizer logs on the root logger. Dropped: its advice to run its
    # shape-inference pre-processing (an optional speed-up; the gate checks the result)
    # and its note that a tensor it leaves in float has no quantization parameters.
    known = _DropMessages("Please consider to run pre-processing before quantization", "Quantization parameters for tensor")
    root = logging.getLogger()
    root.addFilter(known)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    finally:
        root.removeFilter(known)
    _set_onnx_metadata(target, {**(metadata or {}), "quantization": "onnxruntime.quantize_dynamic QInt8"})
    onnx.checker.check_model(str(target))
    return target


# --- evaluation on the test file ------------------------------------------------------------


def _score(runner: Any, rows: Sequence[list[int]], encoder: TextEncoder) -> np.ndarray:
    """Probabilities of all ``rows`` (id lists), batched by length so little padding is run."""
    scores = np.empty(len(rows), dtype=np.float64)
    for indices, ids in encoder.length_sorted_batches(rows, _EVAL_BATCH_SIZE):
        scores[indices] = runner(ids)
    return scores


def _accuracy_and_loss(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    clipped = np.clip(scores, 1e-7, 1 - 1e-7)
    loss = -np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))
    return {"accuracy": float(np.mean((scores >= 0.5) == labels)), "loss": float(loss)}


def _evaluate(onnx_path: Path, int8_path: Path, encoder: TextEncoder, rows: list[list[int]], labels: np.ndarray) -> dict[str, Any]:
    fp32 = _score(onnx_runner(onnx_path)[0], rows, encoder)
    int8 = _score(onnx_runner(int8_path)[0], rows, encoder)
    fp32_metrics, int8_metrics = _accuracy_and_loss(fp32, labels), _accuracy_and_loss(int8, labels)
    return {
        "fp32": fp32_metrics,
        "int8": int8_metrics,
        "int8_label_agreement": float(np.mean((fp32 >= 0.5) == (int8 >= 0.5))),
        "int8_accuracy_delta": int8_metrics["accuracy"] - fp32_metrics["accuracy"],
    }


# --- curves ----------------------------------------------------------------------------------


def _render_curves(history: list[dict[str, Any]]) -> bytes:
    """PNG of every numeric series in ``history``: losses on the left, the rest on the right."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    axis_key = "step" if history and all("step" in entry for entry in history) else None
    xs = [entry[axis_key] for entry in history] if axis_key else list(range(1, len(history) + 1))
    keys = sorted({k for e in history for k, v in e.items() if isinstance(v, (int, float)) and k not in ("step", "epoch")})
    figure, (loss_axes, other_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for key in keys:
        axes = loss_axes if "loss" in key else other_axes
        axes.plot(xs, [entry.get(key, float("nan")) for entry in history], marker="o", label=key)
    loss_axes.set(xlabel=axis_key or "evaluation", title="loss")
    other_axes.set(xlabel=axis_key or "evaluation", title="other metrics")
    for axes in (loss_axes, other_axes):
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend()
    if not history:
        figure.suptitle("no training history recorded")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def _write_curves(checkpoint_path: Path, history: list[dict[str, Any]], staging: Path) -> str:
    """curves.json + curves.png: copied from the training run directory if it has them, else rendered."""
    run_history, run_plot = checkpoint_path.parent / _RUN_HISTORY_FILE, checkpoint_path.parent / _RUN_PLOT_FILE
    if run_history.is_file() and run_plot.is_file():
        shutil.copyfile(run_history, staging / ROLE_FILENAMES["curves_data"])
        shutil.copyfile(run_plot, staging / ROLE_FILENAMES["curves_plot"])
        return f"copied from the training run ({checkpoint_path.parent})"
    atomic_write_text(staging / ROLE_FILENAMES["curves_data"], json.dumps(history, indent=2) + "\n")
    atomic_write_bytes(staging / ROLE_FILENAMES["curves_plot"], _render_curves(history))
    return "rendered at export from the checkpoint's history"


# --- the artifact ----------------------------------------------------------------------------


def _default_name(checkpoint: Checkpoint) -> str:
    preset = checkpoint.metadata.get("preset")
    return f"sentiment-{preset}" if isinstance(preset, str) and preset else "sentiment"


def _test_file(checkpoint: Checkpoint, test_file: str | os.PathLike[str] | None, checkpoint_path: Path) -> Path:
    if test_file is None:
        try:
            test_file = checkpoint.metadata["data"]["test"]["path"]
        except (KeyError, TypeError) as error:
            raise ArtifactError(
                f"checkpoint {checkpoint_path} records no test file (metadata['data']['test']['path']); "
                "pass test_file= / --test-file to evaluate the export on"
            ) from error
    path = Path(test_file)
    if not path.is_file():
        raise ArtifactError(
            f"test file {path} (to evaluate the export on) does not exist; pass test_file= / --test-file "
            "with a reviews file in the Amazon polarity format"
        )
    return path


def _install(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``; an existing ``target`` (force) is moved aside first, then deleted."""
    # Temp dirs and files are created private (0700/0600); an artifact is meant to be shared and read.
    staging.chmod(0o755)
    for child in staging.iterdir():
        child.chmod(0o644)
    if not target.exists():
        os.replace(staging, target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.replace(target, aside / target.name)
    os.replace(staging, target)
    shutil.rmtree(aside, ignore_errors=True)


def export_artifact(
    checkpoint_path: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str] = Path("artifacts"),
    name: str | None = None,
    version: str = "1.0.0",
    force: bool = False,
    pack: str | None = None,
    test_file: str | os.PathLike[str] | None = None,
) -> Path:
    """Export a checkpoint into the verified artifact ``out_dir/<name>-<version>/``; returns that directory.

    Builds TorchScript, ONNX and int8 ONNX, evaluates fp32 and int8 on
    ``test_file`` (default: the checkpoint's ``metadata["data"]["test"]["path"]``),
    runs the parity gate, and writes the directory atomically. ``name``
    defaults to ``sentiment-<preset>``; ``version`` must be a semantic
    version. ``pack`` (``"tar.gz"`` or ``"zip"``) also writes
    ``<name>-<version>.<pack>`` beside the directory.

    Raises ``ValueError`` for a bad name, version or pack format,
    :class:`CheckpointError` for an unreadable checkpoint,
    :class:`ArtifactError` when the target exists and ``force`` is false or
    the test file is missing, and :class:`ParityError` when an exported model
    disagrees with eager PyTorch (nothing is written then).
    """
    started = time.perf_counter()
    checkpoint_path = Path(checkpoint_path)
    version = validate_version(version)
    if pack is not None and pack not in PACK_FORMATS:
        raise ValueError(f"pack must be one of {PACK_FORMATS} or None, got {pack!r}")
    checkpoint = load_checkpoint(checkpoint_path)
    name = validate_name(name if name is not None else _default_name(checkpoint))
    out_dir = Path(out_dir)
    target = out_dir / f"{name}-{version}"
    archive = target.with_name(f"{target.name}.{pack}") if pack else None
    for existing in (target, archive):
        if existing is not None and existing.exists() and not force:
            raise ArtifactError(
                f"{existing} already exists; an artifact version is never overwritten: pass a new --version, "
                "or --force (force=True) to replace it"
            )
    test_path = _test_file(checkpoint, test_file, checkpoint_path)
    reviews, malformed = read_reviews(test_path)
    if not reviews:
        raise ArtifactError(f"test file {test_path} holds no reviews ({malformed.describe()}); pass another --test-file")

    model, encoder = checkpoint.build_model(), checkpoint.build_encoder()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=out_dir))
    try:
        _build(staging, checkpoint, checkpoint_path, model, encoder, name, version, test_path, reviews, malformed, started)
        load_artifact(staging)  # what ships is what the loader accepts
        _install(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if pack:
        pack_artifact(target, pack)
    logger.info("exported %s in %.1f s", target, time.perf_counter() - started)
    return target


def _build(
    staging: Path,
    checkpoint: Checkpoint,
    checkpoint_path: Path,
    model: SentimentNet,
    encoder: TextEncoder,
    name: str,
    version: str,
    test_path: Path,
    reviews: list[Review],
    malformed: MalformedLines,
    started: float,
) -> None:
    """Write every artifact file into ``staging``; raises ParityError before the non-model files exist."""
    files = {role: staging / filename for role, filename in ROLE_FILENAMES.items()}
    onnx_metadata = {
        "name": name,
        "version": version,
        "artifact_format_version": str(ARTIFACT_FORMAT_VERSION),
        "preprocessing_spec_version": str(encoder.spec.spec_version),
    }
    export_onnx(model, files["onnx"], metadata=onnx_metadata)
    quantize_onnx(files["onnx"], files["onnx_int8"], metadata=onnx_metadata)

    rows = [encoder.encode_ids(review.text) for review in reviews]
    labels = np.array([review.label for review in reviews], dtype=np.float64)
    test_metrics = {
        "file": test_path.name,
        "sha256": sha256_file(test_path),
        "examples": len(reviews),
        "malformed": malformed.to_dict(),
        **_evaluate(files["onnx"], files["onnx_int8"], encoder, rows, labels),
    }
    metadata = dict(checkpoint.metadata)
    history = metadata.pop("history", [])
    manifest: dict[str, Any] = {
        "format_version": ARTIFACT_FORMAT_VERSION,
        "name": name,
        "version": version,
        "created_utc": utc_now(),
        "git": git_state(),
        "software": software_versions(),
        "signature": signature.as_manifest(),
        "model": {
            "class": "SentimentNet",
            "output": "P(positive) = sigmoid(logit); label positive iff >= 0.5",
            "config": model.config.to_dict(),
            "parameters": sum(parameter.numel() for parameter in model.parameters()),
        },
        "preprocessing": {
            "spec_version": encoder.spec.spec_version,
            "tokenizer": encoder.spec.tokenizer_name,
            "max_length": encoder.spec.max_length,
            "padding_side": encoder.spec.padding_side,
            "truncation_side": encoder.spec.truncation_side,
            "vocabulary_size": len(encoder.vocabulary),
        },
        "onnx": {
            "opset": ONNX_OPSET,
            "exporter": "torch.onnx.export(dynamo=False)",
            "int8": "onnxruntime.quantization.quantize_dynamic(weight_type=QInt8)",
            "metadata_props": onnx_metadata,
        },
        "torchscript": {
            "method": "torch.jit.trace (eval mode, CPU)",
            "trace_example_shape": list(_trace_example(1).shape),
            "extra_files": list(signature.TORCHSCRIPT_EXTRA_FILES),
            "embedded_manifest": "this manifest without 'files', 'metrics.parity' and 'export.seconds', "
            "which describe model.pt itself and are only known after it is written",
        },
        "training": metadata,
        "metrics": {"test": test_metrics, "training": metadata.get("metrics", {})},
        "export": {"checkpoint": checkpoint_path.name},
    }
    export_torchscript(
        model,
        files["torchscript"],
        extra_files={
            "spec.json": encoder.spec.to_json(),
            "vocab.txt": encoder.vocabulary.to_text(),
            "manifest.json": json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
        },
    )

    texts = select_verification_texts([review.text for review in reviews], encoder)
    report = check_parity(
        model, encoder, texts, torchscript=files["torchscript"], onnx=files["onnx"], onnx_int8=files["onnx_int8"]
    )
    logger.info("%s", report.describe())
    report.raise_for_failures()

    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, str(files["weights"]))
    encoder.save(staging)
    atomic_write_text(files["verification"], verification_record(texts, model, encoder))
    manifest["export"]["curves"] = _write_curves(checkpoint_path, history, staging)
    manifest["metrics"]["parity"] = report.to_dict()
    manifest["export"]["seconds"] = round(time.perf_counter() - started, 2)
    atomic_write_text(files["model_card"], render_model_card(manifest))
    manifest["files"] = file_table(staging, {role: name for role, name in ROLE_FILENAMES.items() if role != "manifest"})
    atomic_write_text(files["manifest"], json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
