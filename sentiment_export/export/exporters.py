"""The exporters: TorchScript (traced), ONNX (opset 17) and int8 ONNX, each from an eval-mode CPU copy.

They write files and check nothing about scores: :mod:`sentiment_export.export.parity`
compares what they wrote with eager PyTorch at other shapes.
"""

from __future__ import annotations

import copy
import io
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from ..artifact import signature
from ..fileio import atomic_write_bytes
from ..modeling.net import ProbabilityModel, SentimentNet
from .records import save_with_record_table

ONNX_OPSET = 17
"""ONNX opset of the exported models: has every op the LSTM graph needs, and onnxruntime's
int8 dynamic quantization supports it."""

# The trace example's shape (batch, sequence); the gate then runs other shapes
# (batch 1, 7, 64; sequence 1 .. max_length + 17), which proves the exported
# graphs did not freeze either dimension.
_TRACE_EXAMPLE_LENGTHS = (11, 6, 1)



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


def trace_example_shape() -> list[int]:
    """(batch, sequence) of the example the exporters trace with, for the manifest."""
    return [len(_TRACE_EXAMPLE_LENGTHS), max(_TRACE_EXAMPLE_LENGTHS)]


def _probability_model(model: SentimentNet) -> ProbabilityModel:
    """A CPU, eval-mode copy wrapped with the sigmoid; the caller's model keeps its device and mode.

    Eval mode matters: with dropout on, exported scores differ from eager ones.
    """
    return ProbabilityModel(copy.deepcopy(model).cpu()).eval()


def export_torchscript(model: SentimentNet, path: str | os.PathLike[str], *, extra_files: Mapping[str, str]) -> Path:
    """Trace ``ProbabilityModel(model)`` in eval mode on the CPU and save it with ``extra_files`` embedded.

    ``extra_files`` must hold exactly :data:`signature.TORCHSCRIPT_EXTRA_FILES`
    (spec.json, vocab.txt, manifest.json), so that the ``.pt`` alone is enough
    for a C++ program; the embedded manifest gets ``torchscript.records``, the
    sha256 of every other record (:mod:`.records`), which the C++ demo checks. The caller should verify the saved file at other
    shapes (see :mod:`sentiment_export.export.parity`). Raises ``ValueError`` for
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

        def save(files: Mapping[str, str]) -> None:
            buffer = io.BytesIO()
            torch.jit.save(traced, buffer, _extra_files={name: files[name] for name in signature.TORCHSCRIPT_EXTRA_FILES})
            atomic_write_bytes(path, buffer.getvalue())

        save_with_record_table(save, path, extra_files, section="torchscript")
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
    ``nn.LSTM`` into a single ONNX ``LSTM`` op, and each bidirectional layer
    into one ``direction="bidirectional"`` op reading the rows' lengths
    (:mod:`sentiment_export.modeling.onnx_lstm`), whose batch and sequence
    dimensions stay dynamic (no h0/c0 constants: SentimentNet passes no
    initial state), which onnxruntime's dynamic quantization then replaces
    by ``DynamicQuantizeLSTM``; the parity gate proves the dynamic axes at
    batch sizes and lengths other than the trace example's. Not
    ``dynamo=True``: with torch 2.13 on a bidirectional model (the
    training's default preset) it froze the sequence dimension at the
    example's length (ORT then rejects every other length), and it is much
    slower (benchmarks/README.md, "Decisions"). ``metadata``
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
    layer; the gate checks its labels against eager PyTorch. Weights use 7 of
    the 8 bits (``reduce_range``): on x86 CPUs without VNNI (AVX2 only) the
    u8 x s8 kernels add pairs of products in saturating int16, and full-range
    weights then overflow (a small trained model scored on such a CPU agreed
    with fp32 on 79% of labels, with 7-bit weights 100%).
    """
    target = Path(target)
    # onnxruntime's quantizer logs on the root logger. Dropped: its advice to run its
    # shape-inference pre-processing (an optional speed-up; the gate checks the result)
    # and its note that a tensor it leaves in float has no quantization parameters.
    known = _DropMessages("Please consider to run pre-processing before quantization", "Quantization parameters for tensor")
    root = logging.getLogger()
    root.addFilter(known)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, reduce_range=True)
    finally:
        root.removeFilter(known)
    _set_onnx_metadata(target, {**(metadata or {}), "quantization": "onnxruntime.quantize_dynamic QInt8 reduce_range"})
    onnx.checker.check_model(str(target))
    return target
