"""The artifact's manifest as one typed object: built once by :func:`build_manifest`, written as
``manifest.json``, and read back into the same type, checked against ``manifest.schema.json``.

Readers (the loader, ``info``, the model card, ``verify``, the benchmarks)
use the attributes of :class:`Manifest`; none of them walks the JSON by
hand. The JSON layout is the one format version 1 has always had, so
artifacts written before the type existed still load.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from ..errors import ArtifactError
from ..fileio import sha256_file

ARTIFACT_FORMAT_VERSION = 1
"""Bumped whenever a reader of the previous version would misread an artifact."""

SCHEMA_FILENAME = "manifest.schema.json"

# semver.org's recommended pattern (2.0.0), anchored.
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

WRITTEN_AFTER_MODEL_PT = (("files",), ("metrics", "parity"), ("export", "seconds"), ("export", "curves"), ("pt2",))
"""Manifest entries export writes only after model.pt exists (they describe model.pt itself, or come later),
so the copy embedded in model.pt lacks exactly these; every other entry is equal."""


def without_entries(manifest: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """A copy of the JSON object ``manifest`` without the entries at ``paths`` (absent ones are skipped)."""
    copy = json.loads(json.dumps(manifest))
    for keys in paths:
        parent = copy
        for key in keys[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(keys[-1], None)
    return copy


def validate_version(version: str) -> str:
    """``version`` if it is a semantic version (``MAJOR.MINOR.PATCH[-pre][+build]``), else ValueError."""
    if not isinstance(version, str) or not _SEMVER.match(version):
        raise ValueError(
            f"model version {version!r} is not a semantic version; expected MAJOR.MINOR.PATCH such as "
            "'1.0.0' or '1.2.0-rc.1' (see semver.org)"
        )
    return version


def validate_name(name: str) -> str:
    """``name`` if it is safe as a directory name (letters, digits, '.', '_', '-'; <= 64), else ValueError."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ValueError(
            f"artifact name {name!r} is not usable as a directory name; use 1-64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit, such as 'sentiment-seed'"
        )
    return name


@dataclass(frozen=True)
class FileEntry:
    """One file of the artifact: what it is for, and what its bytes must hash to."""

    role: str
    sha256: str
    size: int


def file_table(directory: Path, roles: dict[str, str]) -> dict[str, FileEntry]:
    """``{file name: FileEntry}`` for ``roles`` (role -> file name) in ``directory``, sorted by name."""
    table = {}
    for role, name in sorted(roles.items(), key=lambda item: item[1]):
        path = directory / name
        table[name] = FileEntry(role=role, sha256=sha256_file(path), size=path.stat().st_size)
    return table


@dataclass(frozen=True)
class ModelInfo:
    """The network: its config (``SentimentNetConfig.to_dict()``) and size."""

    config: dict[str, Any]
    parameters: int
    class_name: str = "SentimentNet"
    output: str = "P(positive) = sigmoid(logit); label positive iff >= 0.5"

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.class_name, "output": self.output, "config": self.config, "parameters": self.parameters}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        return cls(config=data["config"], parameters=data["parameters"], class_name=data["class"], output=data["output"])


@dataclass(frozen=True)
class PreprocessingInfo:
    """A summary of spec.json for readers of the manifest (spec.json itself is authoritative)."""

    spec_version: int
    tokenizer: str
    max_length: int
    padding_side: str
    truncation_side: str
    vocabulary_size: int


@dataclass(frozen=True)
class Scores:
    """Accuracy and log loss of one model file on the test reviews."""

    accuracy: float
    loss: float


@dataclass(frozen=True)
class TestMetrics:
    """fp32 and int8 on the test file, which is named by file name and sha256 (never by a local path)."""

    file: str
    sha256: str
    examples: int
    malformed: dict[str, Any]
    fp32: Scores
    int8: Scores
    int8_label_agreement: float
    int8_accuracy_delta: float

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestMetrics:
        return cls(**{**data, "fp32": Scores(**data["fp32"]), "int8": Scores(**data["int8"])})


@dataclass(frozen=True)
class BackendParity:
    """How one exported file compared with eager PyTorch at export time."""

    precision: str
    max_abs_diff: float
    label_agreement: float
    texts: int
    passed: bool
    decisive_label_agreement: float = 1.0
    worst: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParitySummary:
    """The parity gate's figures as recorded (an artifact exists only if the gate passed)."""

    fp32_atol: float
    int8_atol: float
    int8_min_label_agreement: float
    texts: int
    batch_sizes: list[int]
    batches: int
    sequence_lengths: dict[str, int]
    backends: dict[str, BackendParity]
    passed: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParitySummary:
        backends = {name: BackendParity(**entry) for name, entry in data["backends"].items()}
        return cls(**{**data, "backends": backends})


@dataclass(frozen=True)
class Manifest:
    """Everything manifest.json says: identity, provenance, signature, model, metrics and files.

    ``training`` is the checkpoint's training record (preset, hyper-parameters,
    data files by name and sha256, the data format); ``onnx``,
    ``torchscript``, ``pt2`` (None without ``model.pt2``) and ``export``
    describe how each file was made.
    """

    name: str
    version: str
    created_utc: str
    git: dict[str, Any] | None
    software: dict[str, str | None]
    signature: dict[str, Any]
    model: ModelInfo
    preprocessing: PreprocessingInfo
    onnx: dict[str, Any]
    torchscript: dict[str, Any]
    training: dict[str, Any]
    test_metrics: TestMetrics
    training_metrics: dict[str, Any]
    export: dict[str, Any]
    parity: ParitySummary | None = None
    files: dict[str, FileEntry] = field(default_factory=dict)
    pt2: dict[str, Any] | None = None
    format_version: int = ARTIFACT_FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of manifest.json (key order as written)."""
        metrics: dict[str, Any] = {"test": dataclasses.asdict(self.test_metrics), "training": self.training_metrics}
        if self.parity is not None:
            metrics["parity"] = dataclasses.asdict(self.parity)
        data: dict[str, Any] = {
            "format_version": self.format_version,
            "name": self.name,
            "version": self.version,
            "created_utc": self.created_utc,
            "git": self.git,
            "software": self.software,
            "signature": self.signature,
            "model": self.model.to_dict(),
            "preprocessing": dataclasses.asdict(self.preprocessing),
            "onnx": self.onnx,
            "torchscript": self.torchscript,
            **({"pt2": self.pt2} if self.pt2 is not None else {}),
            "training": self.training,
            "metrics": metrics,
            "export": self.export,
        }
        if self.files:
            data["files"] = {name: dataclasses.asdict(entry) for name, entry in self.files.items()}
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def embedded_json(self) -> str:
        """The copy embedded in model.pt: this manifest without :data:`WRITTEN_AFTER_MODEL_PT`."""
        return json.dumps(without_entries(self.to_dict(), WRITTEN_AFTER_MODEL_PT), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "manifest.json") -> Manifest:
        """Check ``data`` against the schema and build the typed manifest; ArtifactError names the bad key."""
        check_format_version(data, source=source)
        validate_manifest_dict(data, source=source)
        metrics = data["metrics"]
        return cls(
            name=data["name"],
            version=data["version"],
            created_utc=data["created_utc"],
            git=data.get("git"),
            software=data["software"],
            signature=data["signature"],
            model=ModelInfo.from_dict(data["model"]),
            preprocessing=PreprocessingInfo(**data["preprocessing"]),
            onnx=data["onnx"],
            torchscript=data["torchscript"],
            training=data["training"],
            test_metrics=TestMetrics.from_dict(metrics["test"]),
            training_metrics=metrics.get("training", {}),
            export=data["export"],
            parity=ParitySummary.from_dict(metrics["parity"]) if "parity" in metrics else None,
            files={name: FileEntry(**entry) for name, entry in data.get("files", {}).items()},
            pt2=data.get("pt2"),
            format_version=data["format_version"],
        )

    @classmethod
    def from_json(cls, text: str, *, source: str = "manifest.json") -> Manifest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ArtifactError(f"{source} is not valid JSON ({error}); the file is corrupted, re-export") from error
        return cls.from_dict(data, source=source)


def build_manifest(
    *,
    name: str,
    version: str,
    created_utc: str,
    git: dict[str, Any] | None,
    software: dict[str, str | None],
    signature: dict[str, Any],
    model: ModelInfo,
    preprocessing: PreprocessingInfo,
    onnx: dict[str, Any],
    torchscript: dict[str, Any],
    training: dict[str, Any],
    test_metrics: TestMetrics,
    checkpoint_name: str,
) -> Manifest:
    """The manifest of a new export, before its files and parity figures exist (a pure function).

    ``training`` is the checkpoint's record without its history; its
    ``metrics`` become the manifest's training metrics.
    """
    return Manifest(
        name=validate_name(name),
        version=validate_version(version),
        created_utc=created_utc,
        git=git,
        software=software,
        signature=signature,
        model=model,
        preprocessing=preprocessing,
        onnx=onnx,
        torchscript=torchscript,
        training=training,
        test_metrics=test_metrics,
        training_metrics=training.get("metrics", {}),
        export={"checkpoint": checkpoint_name},
    )


@functools.cache
def manifest_schema() -> dict[str, Any]:
    """The JSON Schema of manifest.json (shipped in the package; the C++ demo checks ``format_version``)."""
    return json.loads(resources.files(__package__).joinpath(SCHEMA_FILENAME).read_text(encoding="utf-8"))


def check_format_version(data: Any, *, source: str) -> None:
    """ArtifactError unless ``data`` says it is format :data:`ARTIFACT_FORMAT_VERSION` (checked before the schema,
    so that a newer or older artifact gets advice on what to do rather than a list of unknown keys)."""
    found = data.get("format_version") if isinstance(data, dict) else None
    if type(found) is int and found == ARTIFACT_FORMAT_VERSION:  # not True, not 1.0: JSON's 1 only
        return
    if not isinstance(data, dict):
        raise ArtifactError(f"{source} must hold a JSON object, not {type(data).__name__}; re-export the artifact")
    if type(found) is int and found > ARTIFACT_FORMAT_VERSION:
        raise ArtifactError(
            f"{source} has format version {found}, newer than the version this sentiment_export "
            f"reads ({ARTIFACT_FORMAT_VERSION}); upgrade sentiment_export to load it"
        )
    raise ArtifactError(
        f"{source} has format version {found!r}; this sentiment_export reads format version "
        f"{ARTIFACT_FORMAT_VERSION} only (re-export the artifact with this sentiment_export)"
    )


def _is_integer(_checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_StrictValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)
"""Draft 2020-12 with one change: an "integer" is a JSON integer, never ``1.0`` (which the draft counts
as one); a byte count or a version written as a float was edited, and compares wrongly later."""


def validate_manifest_dict(data: Any, *, source: str) -> None:
    """ArtifactError naming the first key of ``data`` that breaks the schema, with what was expected."""
    validator = _StrictValidator(manifest_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ArtifactError(f"{source}: {where}: {error.message}; the manifest is damaged or was edited, re-export the artifact")
