"""A manifest told in a few lines: what ``info`` prints and what ``export`` summarises."""

from __future__ import annotations

import json

from .manifest import Manifest
from .model_card import describe_network, describe_split


def export_summary(manifest: Manifest) -> str:
    """One line after an export: time, test accuracy and the parity figures."""
    test, backends = manifest.test_metrics, manifest.parity.backends if manifest.parity else {}
    parity = ", ".join(f"{name} {backend.max_abs_diff:.2g}" for name, backend in backends.items() if backend.precision == "fp32")
    int8 = backends.get("onnx_int8")
    return (
        f"exported {manifest.name} {manifest.version} in {manifest.export.get('seconds', 0):.1f} s: "
        f"test accuracy fp32 {test.fp32.accuracy:.2%}, int8 {test.int8.accuracy:.2%}; "
        f"max abs diff vs eager: {parity}"
        + (f"; int8 label agreement {int8.label_agreement:.2%}" if int8 else "")
    )


def describe_manifest(manifest: Manifest) -> str:
    """The manifest as readable lines (``info --json`` prints all of it)."""
    git = manifest.git
    software = ", ".join(f"{name} {version}" for name, version in manifest.software.items() if version)
    test, parity, spec = manifest.test_metrics, manifest.parity, manifest.preprocessing
    lines = [
        f"{manifest.name} {manifest.version}  (artifact format {manifest.format_version})",
        f"created:       {manifest.created_utc}"
        + (f" from git {git['commit'][:12]}{' (dirty)' if git['dirty'] else ''}" if git else ""),
        f"software:      {software}",
        "signature:     "
        + "; ".join(
            f"{kind} {tensor['name']} {tensor['dtype']} ({', '.join(map(str, tensor['dims']))})"
            for kind in ("inputs", "outputs")
            for tensor in manifest.signature[kind]
        ),
        f"model:         {describe_network(manifest.model.config)}, {manifest.model.parameters:,} parameters",
        f"               config {json.dumps(manifest.model.config)}",
        f"preprocessing: spec version {spec.spec_version}, {spec.tokenizer}, max_length {spec.max_length}",
        f"onnx:          opset {manifest.onnx['opset']}, {manifest.onnx.get('exporter', 'n/a')}",
        f"training:      preset {manifest.training.get('preset', 'n/a')}, "
        f"hyper-parameters {json.dumps(manifest.training.get('hyperparameters', {}))}",
    ]
    for split, entry in manifest.training.get("data", {}).items():
        if isinstance(entry, dict):
            lines.append(f"  {split + ':':<12} {describe_split(entry)}")
    lines.append(
        f"test metrics:  {test.file} ({test.examples} reviews): fp32 accuracy {test.fp32.accuracy:.2%} "
        f"loss {test.fp32.loss:.4f}; int8 accuracy {test.int8.accuracy:.2%} loss {test.int8.loss:.4f}; "
        f"int8 agrees with fp32 on {test.int8_label_agreement:.2%}"
    )
    if parity is not None:
        lines.append(
            f"parity:        passed at export on {parity.texts} texts, batch sizes {parity.batch_sizes}: "
            + ", ".join(
                f"{name} max abs diff {backend.max_abs_diff:.2g} / labels {backend.label_agreement:.2%}"
                for name, backend in parity.backends.items()
            )
        )
    lines.append("files:")
    for name, entry in manifest.files.items():
        lines.append(f"  {name:<22} {entry.size:>12,} bytes  {entry.role:<13} sha256 {entry.sha256[:16]}...")
    return "\n".join(lines)
