"""``model.pt2``: the network through ``torch.export`` and AOTInductor, the successor of TorchScript.

``torch.export.export`` turns the eval-mode probability model into an
``ExportedProgram`` with a dynamic batch and a dynamic sequence dimension;
AOTInductor compiles it ahead of time into a CPU shared library, packaged as
a PT2 archive that C++ loads with ``torch::inductor::AOTIModelPackageLoader``
and Python with ``torch._inductor.aoti_load_package``. The archive also
carries ``spec.json``, ``vocab.txt`` and ``manifest.json`` (its ``extra/``
records, the same three files ``model.pt`` embeds), so the one file is enough
for a C++ program.

Two things make the sequence length stay dynamic for this network (measured
with torch 2.13; without them export fails or freezes the length):

- ``torch.export`` switches oneDNN off while it traces, so the shape rule it
  uses for ``aten.lstm`` is the decomposition that unrolls the recurrence in
  Python, one step per time step, which specialises the sequence length to
  the example's (pytorch#115092). With oneDNN on for the trace, the shape
  comes from ``mkldnn_rnn_layer``, which has no per-step loop; the graph still
  holds the portable ``aten.lstm`` op, which AOTInductor lowers to oneDNN's
  LSTM on the CPU.
- With ``recurrent_steps`` the LSTM reads ``min(length, recurrent_steps)``
  steps, a branch on the sequence length that export can only keep as a
  guard. The exported form first right-pads the ids with ``recurrent_steps``
  PAD columns, so that the minimum is always ``recurrent_steps``; the model is
  padding-invariant by design, so the scores are the same (the parity gate
  checks them against eager PyTorch on the unpadded ids).
- Without ``recurrent_steps``, the bag of n-grams' bigrams (``ids[:, 1:]``
  beside one PAD column) make export guard the sequence length against 2, a
  narrower range than declared; one PAD column more removes that guard.

AOTInductor checks neither the input's shape bounds nor its dtype or strides
at run time (unless ``AOTI_RUNTIME_CHECK_INPUTS`` is set), so the runner here
and the C++ demo check the bounds recorded in the package's manifest.
"""

from __future__ import annotations

import json
import os
import time
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from torch import nn

from ..artifact import signature
from ..artifact.records import RECORDS_KEY
from ..errors import SentimentExportError
from ..modeling.net import ProbabilityModel
from .parity import Runner, _first_line
from .records import save_with_record_table

SHAPE_BOUNDS: dict[str, tuple[int, int]] = {"batch": (1, 4096), "sequence": (1, 65536)}
"""Inclusive (min, max) of each dynamic input dimension of ``model.pt2``, by the signature's names.
The parity gate runs batches up to 64 and matrices wider than ``max_length``; larger batches
are split by the caller (SentimentModel's and the C++ demo's batch sizes stay far below)."""

PACKAGE_FORMAT = "pt2"
"""The archive format (``archive_format`` record) that ``torch.export.pt2_archive`` writes."""

MODEL_NAME = "model"
"""The name of the compiled model inside the package (AOTIModelPackageLoader's default)."""

EMBEDDED_FILES: tuple[str, ...] = signature.TORCHSCRIPT_EXTRA_FILES
"""The package's ``extra/`` records: the same files ``model.pt`` embeds."""


class Pt2ExportError(SentimentExportError, RuntimeError):
    """torch.export or the AOTInductor compile failed, or the package does not accept the declared shapes."""


@contextmanager
def _known_export_warnings() -> Iterator[None]:
    """Silence two warnings torch 2.13 gives for this export, each known harmless; everything else still shows."""
    with warnings.catch_warnings():
        # nn.LSTM re-assigns its _flat_weights list when traced; they are its registered
        # parameters under another name, and the graph reads them as parameters.
        warnings.filterwarnings("ignore", message=r"The tensor attributes .*_flat_weights\[", category=UserWarning)
        # torch's own pytree code, inside export.
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning)
        yield


@contextmanager
def _onednn_enabled() -> Iterator[None]:
    """oneDNN on (only that flag), restoring what the caller had; see the module docstring for why."""
    previous = torch.backends.mkldnn.set_flags(_enabled=True, _fp32_precision=None)
    try:
        yield
    finally:
        torch.backends.mkldnn.set_flags(_enabled=previous[0], _fp32_precision=None)


class _ExportForm(nn.Module):
    """``ProbabilityModel`` as ``torch.export`` traces it: same scores, no branch on the sequence length."""

    def __init__(self, wrapped: ProbabilityModel) -> None:
        super().__init__()
        self.wrapped = wrapped
        config = wrapped.net.config
        self.padding = config.recurrent_steps or (1 if config.ngram_dim else 0)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        if self.padding:
            input_ids = nn.functional.pad(input_ids, (0, self.padding))  # (B, T + padding), PAD = 0
        with _onednn_enabled():
            return self.wrapped(input_ids)


def _dynamic_shapes() -> dict[str, dict[int, torch.export.Dim]]:
    spec = signature.INPUTS[0]
    return {
        spec.name: {
            axis: torch.export.Dim(name, min=SHAPE_BOUNDS[name][0], max=SHAPE_BOUNDS[name][1])
            for axis, name in spec.dynamic_axes().items()
        }
    }


def export_program(wrapped: ProbabilityModel, example: torch.Tensor) -> torch.export.ExportedProgram:
    """``torch.export.export`` of an eval-mode ``wrapped`` with :data:`SHAPE_BOUNDS` as dynamic dimensions.

    Raises :class:`Pt2ExportError` when export fails or keeps a dimension
    narrower than declared (a specialised sequence length).
    """
    if wrapped.training:
        raise ValueError("export_program needs an eval-mode model (dropout on makes exported scores differ)")
    try:
        with _known_export_warnings(), torch.no_grad():
            program = torch.export.export(_ExportForm(wrapped), (example,), dynamic_shapes=_dynamic_shapes())
    except Exception as error:  # noqa: BLE001 -- torch.export raises many kinds; each is reported the same way
        raise Pt2ExportError(
            f"torch.export of the network failed ({_first_line(error)}); export without model.pt2 (--no-pt2) "
            "and report the network's config"
        ) from error
    accepted = accepted_shapes(program)
    if accepted != {name: list(bounds) for name, bounds in SHAPE_BOUNDS.items()}:
        raise Pt2ExportError(
            f"torch.export kept the input dimensions {accepted}, narrower than the declared {SHAPE_BOUNDS}; "
            "export without model.pt2 (--no-pt2)"
        )
    return program


def accepted_shapes(program: torch.export.ExportedProgram) -> dict[str, list[int]]:
    """``{dimension name: [min, max]}`` of the input as the exported program really holds it ([n, n] when fixed)."""
    spec = signature.INPUTS[0]
    name = program.graph_signature.user_inputs[0]
    node = next(node for node in program.graph.nodes if node.op == "placeholder" and node.name == name)
    accepted = {}
    for axis, dim_name in spec.dynamic_axes().items():
        size = node.meta["val"].shape[axis]
        if isinstance(size, int):
            accepted[dim_name] = [size, size]
        else:
            bounds = program.range_constraints[size.node.expr]
            accepted[dim_name] = [int(bounds.lower), int(bounds.upper)]
    return accepted


def _check_compiler() -> None:
    """AOTInductor compiles C++ at export time: say so before a long compile fails deep inside torch."""
    from torch._inductor import config, exc
    from torch._inductor.cpp_builder import get_cpp_compiler

    try:
        get_cpp_compiler()  # runs `<compiler> --version` for each candidate of config.cpp.cxx
    except exc.InvalidCxxCompiler as error:
        raise Pt2ExportError(
            f"model.pt2 needs a C++ compiler at export time (AOTInductor), and {config.cpp.cxx[-1]!r} does not run; "
            "install one (apt-get install g++, or set CXX), or export without model.pt2 (--no-pt2)"
        ) from error


def manifest_entry(program: torch.export.ExportedProgram) -> dict[str, Any]:
    """The manifest's ``pt2`` section: how the package was made and which shapes it accepts."""
    from torch.export.pt2_archive.constants import ARCHIVE_VERSION_VALUE
    return {
        "method": "torch.export.export (eval mode, CPU, dynamic batch and sequence) + AOTInductor (CPU)",
        "package_format": PACKAGE_FORMAT,
        "archive_version": ARCHIVE_VERSION_VALUE,
        "model_name": MODEL_NAME,
        "torch": torch.__version__,
        "device": "cpu",
        "accepts": {signature.INPUTS[0].name: {"dtype": signature.INPUTS[0].dtype, **accepted_shapes(program)}},
        "extra_files": list(EMBEDDED_FILES),
        "embedded_manifest": "this manifest without 'files', 'metrics.parity', 'export.seconds', 'export.curves' and 'pt2.seconds'",
    }


def export_pt2(
    wrapped: ProbabilityModel,
    path: str | os.PathLike[str],
    *,
    example: torch.Tensor,
    embedded_files: Mapping[str, str],
) -> dict[str, Any]:
    """Export, compile and package ``wrapped`` (eval mode, CPU) into ``path``; returns the manifest's ``pt2`` section.

    ``embedded_files`` must hold exactly :data:`EMBEDDED_FILES` (as for
    ``model.pt``); the ``pt2`` section is added to the embedded manifest, with
    ``pt2.records``, the sha256 of the package's other records (:mod:`.records`).
    The section's ``seconds`` (export and compile) is measured here. The
    caller should verify the package at other shapes (the parity gate).
    Raises ``ValueError`` for other embedded files and :class:`Pt2ExportError`
    when export or compile fails.
    """
    if set(embedded_files) != set(EMBEDDED_FILES):
        raise ValueError(f"embedded_files must be exactly {list(EMBEDDED_FILES)}, got {sorted(embedded_files)}")
    from torch._inductor import aot_compile
    from torch.export.pt2_archive._package import package_pt2

    _check_compiler()
    started = time.perf_counter()
    program = export_program(wrapped, example)
    exported = time.perf_counter()
    entry = manifest_entry(program)
    manifest = json.loads(embedded_files["manifest.json"])
    manifest["pt2"] = entry
    extra = {**embedded_files, "manifest.json": json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"}
    args, kwargs = program.example_inputs
    try:
        # What aoti_compile_and_package does, plus the extra files it has no argument for.
        with _known_export_warnings():
            aoti_files = aot_compile(program.module(check_guards=False), args, kwargs, options={"aot_inductor.package": True})
    except Exception as error:  # noqa: BLE001 -- the inductor compile raises many kinds; each is reported the same way
        raise Pt2ExportError(
            f"the AOTInductor compile of the exported network failed ({_first_line(error)}); "
            "export without model.pt2 (--no-pt2)"
        ) from error

    def save(files: Mapping[str, str]) -> None:
        package_pt2(os.fspath(path), aoti_files={MODEL_NAME: aoti_files}, extra_files=dict(files))

    entry[RECORDS_KEY] = save_with_record_table(save, path, extra, section="pt2")
    entry["seconds"] = {"export": round(exported - started, 2), "compile": round(time.perf_counter() - exported, 2)}
    return entry


# --- reading a package back ------------------------------------------------------------------


def read_embedded_files(path: str | os.PathLike[str]) -> dict[str, str]:
    """The package's ``extra/`` records (spec.json, vocab.txt, manifest.json) as text.

    Raises :class:`Pt2ExportError` when ``path`` is not a PT2 archive or lacks one of them.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            records = {PurePosixPath(name).parts[1:]: name for name in archive.namelist()}
            found = {}
            for wanted in (("archive_format",), *(("extra", name) for name in EMBEDDED_FILES)):
                if wanted not in records:
                    raise Pt2ExportError(f"{path} has no {'/'.join(wanted)} record; re-export it with sentiment_export")
                found[wanted[-1]] = archive.read(records[wanted]).decode("utf-8")
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as error:
        raise Pt2ExportError(f"{path} is not a readable PT2 archive ({error}); re-export it") from error
    if found.pop("archive_format").strip() != PACKAGE_FORMAT:
        raise Pt2ExportError(f"{path} is not a {PACKAGE_FORMAT!r} archive; re-export it with sentiment_export")
    return found


def shape_problem(shape: tuple[int, ...], accepts: Mapping[str, Any]) -> str | None:
    """Why an ``input_ids`` matrix of ``shape`` is outside what the package ``accepts`` (None when inside)."""
    names = list(signature.INPUTS[0].dims)
    if len(shape) != len(names):
        return f"input_ids must be a ({', '.join(names)}) matrix, got shape {list(shape)}"
    for name, size in zip(names, shape):
        low, high = accepts[name]
        if not low <= size <= high:
            return f"input_ids {name} {size} is outside the {low}..{high} model.pt2 accepts; split the batch"
    return None


def aoti_runner(path: str | os.PathLike[str]) -> Runner:
    """The package as Python loads it without eager PyTorch: ``torch._inductor.aoti_load_package``, CPU.

    The returned function takes a (batch, sequence) id matrix (made int64 and
    contiguous: the compiled code reads raw memory) and returns (batch,)
    float32 probabilities; a shape outside the package's bounds raises
    ``ValueError``. Raises :class:`Pt2ExportError` for a file that is not a
    package from :func:`export_pt2`.
    """
    import torch._inductor

    accepts = json.loads(read_embedded_files(path)["manifest.json"])["pt2"]["accepts"][signature.INPUTS[0].name]
    compiled = torch._inductor.aoti_load_package(os.fspath(path))

    def run(ids: np.ndarray) -> np.ndarray:
        problem = shape_problem(np.shape(ids), accepts)
        if problem:
            raise ValueError(problem)
        with torch.inference_mode():
            return compiled(torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))).numpy()

    return run
