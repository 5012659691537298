"""Export a checkpoint to TorchScript, ONNX and int8 ONNX, gate it on parity, and write the artifact.

``export_artifact`` is the one code path (the CLI's ``export`` and the end of
``python -m training`` call it). Everything is built in a hidden temporary
directory next to the target; only when the parity gate has passed and the
finished directory loads through :func:`load_artifact` is it renamed into
place, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import save_file

from ..artifact import signature
from ..artifact.archive import PACK_FORMATS, pack_artifact
from ..artifact.layout import DIRECTORY_MODE, FILE_MODE, ROLE_FILENAMES
from ..artifact.loader import Artifact, load_artifact
from ..artifact.manifest import (
    ARTIFACT_FORMAT_VERSION,
    ModelInfo,
    ParitySummary,
    PreprocessingInfo,
    TestMetrics,
    build_manifest,
    file_table,
    validate_name,
    validate_version,
)
from ..artifact.model_card import render_model_card
from ..artifact.records import RECORDS_KEY, record_hashes
from ..artifact.provenance import git_state, software_versions, utc_now
from ..data.labelled import DataFormat, LabelledFile, read_labelled_file
from ..errors import ArtifactError
from ..fileio import atomic_write_bytes, atomic_write_text
from ..modeling.checkpoint import Checkpoint, load_checkpoint
from ..modeling.net import SentimentNet
from ..text.encoder import TextEncoder
from .curves import RUN_HISTORY_FILENAME, RUN_PLOT_FILENAME, render_curves
from .evaluation import evaluate_onnx_files
from .exporters import ONNX_OPSET, _probability_model, _trace_example, export_onnx, export_torchscript, quantize_onnx, trace_example_shape
from .parity import check_parity, select_verification_texts, verification_record
from .pt2 import export_pt2

logger = logging.getLogger(__name__)



def _default_name(checkpoint: Checkpoint) -> str:
    preset = checkpoint.metadata.get("preset")
    return f"sentiment-{preset}" if isinstance(preset, str) and preset else "sentiment"


def _test_data(checkpoint: Checkpoint, test_file: str | os.PathLike[str] | None, checkpoint_path: Path) -> LabelledFile:
    """The test reviews, read the way training read them (the checkpoint records each file's format)."""
    metadata = checkpoint.metadata
    if test_file is None:
        test_file = (metadata.get("local_paths") or {}).get("test")
        if test_file is None:
            raise ArtifactError(
                f"checkpoint {checkpoint_path} records no test file on this machine (metadata['local_paths']['test']); "
                "pass test_file= / --test-file to evaluate the export on"
            )
    path = Path(test_file)
    if not path.is_file():
        raise ArtifactError(
            f"test file {path} (to evaluate the export on) does not exist; pass test_file= / --test-file "
            "with a labelled reviews file"
        )
    recorded = ((metadata.get("data") or {}).get("test") or {}).get("format")
    data_format = DataFormat.from_dict(recorded) if recorded else DataFormat.for_path(path)
    return read_labelled_file(path, data_format=data_format)


def _install(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``; an existing ``target`` (force) is moved aside first, then deleted."""
    # Temp dirs and files are created private (0700/0600); an artifact is meant to be shared and read.
    staging.chmod(DIRECTORY_MODE)
    for child in staging.iterdir():
        child.chmod(FILE_MODE)
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
    pt2: bool = True,
) -> Artifact:
    """Export a checkpoint into the verified artifact ``out_dir/<name>-<version>/``; returns it, loaded.

    Builds TorchScript, ONNX and int8 ONNX, evaluates fp32 and int8 on
    ``test_file`` (default: the test file training read, ``metadata["local_paths"]["test"]``,
    read in its recorded format),
    runs the parity gate, and writes the directory atomically. ``name``
    defaults to ``sentiment-<preset>``; ``version`` must be a semantic
    version. ``pack`` (``"tar.gz"`` or ``"zip"``) also writes
    ``<name>-<version>.<pack>`` beside the directory. ``pt2=False`` skips
    ``model.pt2`` (torch.export + AOTInductor, which needs a C++ compiler
    and adds a compile of 20-30 s on 2 quiet cores, minutes on busy ones).

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
                f"{existing} already exists; an artifact version is never overwritten: pass a new --artifact-version, "
                "or --overwrite-artifact (force=True) to replace it"
            )
    test_data = _test_data(checkpoint, test_file, checkpoint_path)

    model, encoder = checkpoint.build_model(), checkpoint.build_encoder()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=out_dir))
    try:
        _build(staging, checkpoint, checkpoint_path, model, encoder, name, version, test_data, started, pt2=pt2)
        load_artifact(staging)  # what ships is what the loader accepts
        _install(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if pack:
        pack_artifact(target, pack)
    logger.info("exported %s in %.1f s", target, time.perf_counter() - started)
    return load_artifact(target)


def _test_metrics(onnx_path: Path, int8_path: Path, encoder: TextEncoder, test_data: LabelledFile) -> TestMetrics:
    rows = encoder.encode_ids_batch([review.text for review in test_data.reviews])
    labels = np.array([review.label for review in test_data.reviews], dtype=np.float64)
    return TestMetrics(
        file=test_data.path.name,
        sha256=test_data.sha256,
        examples=len(test_data.reviews),
        malformed=test_data.malformed.to_dict(),
        **evaluate_onnx_files(onnx_path, int8_path, encoder, rows, labels),
    )


def _training_record(metadata: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's training record for the manifest: no history (curves.json has it) and no local
    paths of the data files (their names and sha256 identify them without exposing the trainer's disk)."""
    record = {key: value for key, value in metadata.items() if key not in ("history", "local_paths")}
    data = record.get("data")
    if isinstance(data, dict):
        record["data"] = {
            split: {k: v for k, v in entry.items() if k != "path"} if isinstance(entry, dict) else entry
            for split, entry in data.items()
        }
    return record


def _write_curves(checkpoint_path: Path, history: list[dict[str, Any]], staging: Path) -> str:
    """curves.json + curves.png: copied from the training run directory if it has them, else rendered."""
    run_history, run_plot = checkpoint_path.parent / RUN_HISTORY_FILENAME, checkpoint_path.parent / RUN_PLOT_FILENAME
    if run_history.is_file() and run_plot.is_file():
        shutil.copyfile(run_history, staging / ROLE_FILENAMES["curves_data"])
        shutil.copyfile(run_plot, staging / ROLE_FILENAMES["curves_plot"])
        return "copied from the training run directory"
    atomic_write_text(staging / ROLE_FILENAMES["curves_data"], json.dumps(history, indent=2) + "\n")
    atomic_write_bytes(staging / ROLE_FILENAMES["curves_plot"], render_curves(history))
    return "rendered at export from the checkpoint's history"


def _build(
    staging: Path,
    checkpoint: Checkpoint,
    checkpoint_path: Path,
    model: SentimentNet,
    encoder: TextEncoder,
    name: str,
    version: str,
    test_data: LabelledFile,
    started: float,
    *,
    pt2: bool,
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
    spec = encoder.spec
    manifest = build_manifest(
        name=name,
        version=version,
        created_utc=utc_now(),
        git=git_state(),
        software=software_versions(),
        signature=signature.as_manifest(),
        model=ModelInfo(config=model.config.to_dict(), parameters=sum(p.numel() for p in model.parameters())),
        preprocessing=PreprocessingInfo(
            spec_version=spec.spec_version,
            tokenizer=spec.tokenizer_name,
            max_length=spec.max_length,
            padding_side=spec.padding_side,
            truncation_side=spec.truncation_side,
            vocabulary_size=len(encoder.vocabulary),
        ),
        onnx={
            "opset": ONNX_OPSET,
            "exporter": "torch.onnx.export(dynamo=False)",
            "int8": "onnxruntime.quantization.quantize_dynamic(weight_type=QInt8, reduce_range=True)",
            "metadata_props": onnx_metadata,
        },
        torchscript={
            "method": "torch.jit.trace (eval mode, CPU)",
            "trace_example_shape": trace_example_shape(),
            "extra_files": list(signature.TORCHSCRIPT_EXTRA_FILES),
            "embedded_manifest": "this manifest without 'files', 'metrics.parity' and 'export.seconds', "
            "which describe model.pt itself and are only known after it is written",
        },
        training=_training_record(checkpoint.metadata),
        test_metrics=_test_metrics(files["onnx"], files["onnx_int8"], encoder, test_data),
        checkpoint_name=checkpoint_path.name,
    )
    embedded = {"spec.json": spec.to_json(), "vocab.txt": encoder.vocabulary.to_text(), "manifest.json": manifest.embedded_json()}
    export_torchscript(model, files["torchscript"], extra_files=embedded)
    # The record table export_torchscript embedded, read back: the directory's manifest must equal the embedded one.
    manifest = dataclasses.replace(manifest, torchscript={**manifest.torchscript, RECORDS_KEY: record_hashes(files["torchscript"])})
    if pt2:
        embedded = {**embedded, "manifest.json": manifest.embedded_json()}
        entry = export_pt2(_probability_model(model), files["pt2"], example=_trace_example(model.config.vocab_size), embedded_files=embedded)
        manifest = dataclasses.replace(manifest, pt2=entry)

    texts = select_verification_texts([review.text for review in test_data.reviews], encoder)
    report = check_parity(
        model, encoder, texts, torchscript=files["torchscript"], onnx=files["onnx"], onnx_int8=files["onnx_int8"],
        pt2=files["pt2"] if pt2 else None,
    )
    logger.info("%s", report.describe())
    report.raise_for_failures()

    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, str(files["weights"]))
    encoder.save(staging)
    atomic_write_text(files["verification"], verification_record(texts, model, encoder))
    curves = _write_curves(checkpoint_path, checkpoint.metadata.get("history", []), staging)
    manifest = dataclasses.replace(
        manifest,
        parity=ParitySummary.from_dict(report.to_dict()),
        export={**manifest.export, "curves": curves, "seconds": round(time.perf_counter() - started, 2)},
    )
    atomic_write_text(files["model_card"], render_model_card(manifest))
    manifest = dataclasses.replace(
        manifest,
        files=file_table(staging, {role: name for role, name in ROLE_FILENAMES.items() if role != "manifest" and (pt2 or role != "pt2")}),
    )
    atomic_write_text(files["manifest"], manifest.to_json())
