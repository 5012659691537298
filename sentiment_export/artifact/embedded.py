"""The copies embedded in model.pt and model.pt2 (spec.json, vocab.txt, manifest.json; the C++ demo reads
model.pt's) must equal the directory's: a file rewritten together with its sha256 in the manifest is caught
unless both model files were rewritten to match too, and a model.pt2 swapped for another export's (with its
manifest entries updated) is caught by its copies.

Read with :mod:`zipfile` only (both files are zips of records; the copies
are stored under ``<archive>/extra/``): nothing is unpickled and torch is
not imported. Cheap, so :func:`~sentiment_export.artifact.loader.load_artifact` runs it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError
from .layout import MANIFEST_FILENAME
from .manifest import WRITTEN_AFTER_MODEL_PT, without_entries
from .records import RECORDS_KEY, record_hashes

if TYPE_CHECKING:
    from .loader import Artifact

EMBEDDED_COPIES = {"spec.json": "spec", "vocab.txt": "vocab", MANIFEST_FILENAME: "manifest"}
"""Name of each file embedded in model.pt and model.pt2 -> the role of its directory counterpart."""

PT2_WRITTEN_AFTER_PACKAGE = (("seconds",),)
"""Entries of the manifest's ``pt2`` section written after the package (the export and compile times), so
the section in the package's embedded manifest lacks exactly these (its record table is embedded too)."""


def _embedded_records(artifact: Artifact, filename: str, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """``{name: record}`` of the ``<archive>/extra/<name>`` records of the model file ``filename``, open as ``archive``."""
    infos = archive.infolist()
    if not infos:
        raise ArtifactError(f"artifact {artifact.root}: {filename} is an empty zip archive; re-export")
    prefix = PurePosixPath(infos[0].filename).parts[0]  # the writer's archive name; every record lies below it
    records: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        parts = PurePosixPath(info.filename).parts
        if len(parts) == 3 and parts[:2] == (prefix, "extra"):
            if parts[2] in records:
                raise ArtifactError(f"artifact {artifact.root}: {filename} holds the embedded file {parts[2]} twice; re-export")
            records[parts[2]] = info
    return records


def _expected_manifest(artifact: Artifact, role: str) -> dict[str, Any]:
    """The manifest as the model file of ``role`` embeds it: model.pt without :data:`WRITTEN_AFTER_MODEL_PT`;
    model.pt2 the same plus its ``pt2`` section without :data:`PT2_WRITTEN_AFTER_PACKAGE`."""
    manifest = artifact.manifest
    expected = without_entries(manifest.to_dict(), WRITTEN_AFTER_MODEL_PT)
    if role == "pt2":
        expected["pt2"] = without_entries(manifest.pt2 or {}, PT2_WRITTEN_AFTER_PACKAGE)
    return expected


def _copy_problems(artifact: Artifact, role: str) -> list[str]:
    """The embedded copies of the model file of ``role`` that are missing or differ from the directory's."""
    path = artifact.file(role)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ArtifactError(f"artifact {artifact.root}: {path.name} is not a zip archive ({error}); re-export") from error
    filename = path.name
    problems = []
    with archive:
        records = _embedded_records(artifact, filename, archive)
        for name, counterpart in EMBEDDED_COPIES.items():
            info = records.get(name)
            if info is None:
                problems.append(f"{filename} has no embedded {name}")
                continue
            ours = artifact.file(counterpart).read_bytes()
            if info.file_size > len(ours) or (name != MANIFEST_FILENAME and info.file_size != len(ours)):
                problems.append(f"{filename}'s embedded {name} has {info.file_size} bytes, the directory's {len(ours)}")
                continue
            theirs = archive.read(info)
            if name != MANIFEST_FILENAME:
                if theirs != ours:
                    problems.append(f"{filename}'s embedded {name} differs from the directory's {name}")
                continue
            try:
                embedded = json.loads(theirs)
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                problems.append(f"{filename}'s embedded {name} is not JSON ({error})")
                continue
            expected = _expected_manifest(artifact, role)
            differing = sorted(key for key in set(embedded) | set(expected) if embedded.get(key) != expected.get(key))
            if differing:
                problems.append(f"{filename}'s embedded {name} differs from the directory's in {differing}")
    return problems


def embedded_copy_problems(artifact: Artifact) -> list[str]:
    """One line per embedded copy that is missing or differs from the directory's file; empty when all agree.

    spec.json and vocab.txt must be byte for byte equal; the manifest is
    compared as JSON, without the entries written after the model file
    (:func:`_expected_manifest`); every record of model.pt (and model.pt2)
    must match the record table the C++ demo checks (``torchscript.records``,
    ``pt2.records``, :mod:`.records`). An embedded copy is read only when its
    size allows equality (so at most the size of the checked directory file
    is read); the record check reads each model file once more.
    """
    roles = ["torchscript", *(["pt2"] if artifact.manifest.pt2 is not None else [])]
    return [problem for role in roles for problem in _copy_problems(artifact, role)] + _record_table_problems(artifact)


def _record_table_problems(artifact: Artifact) -> list[str]:
    """The records of model.pt (and model.pt2) whose sha256 differs from their record table
    (``torchscript.records``, ``pt2.records``): what the C++ demo checks.

    An artifact exported before the tables existed has none; its model files are still covered by the file table.
    """
    problems = []
    for role, section in (("torchscript", artifact.manifest.torchscript), ("pt2", artifact.manifest.pt2 or {})):
        table = section.get(RECORDS_KEY)
        if table is None:
            continue
        path = artifact.file(role)
        actual = record_hashes(path)
        differing = sorted(name for name in set(table) | set(actual) if table.get(name) != actual.get(name))
        if differing:
            problems.append(f"{path.name}'s records {differing} differ from its record table ({role}.records)")
    return problems


def check_embedded_copies(artifact: Artifact) -> None:
    """Raise :class:`ArtifactError` naming each copy in model.pt or model.pt2 that disagrees with the directory's file.

    Catches a file rewritten together with its sha256 in the manifest (the
    swapped-vocabulary attack) unless the model files were rewritten to match too.
    """
    problems = embedded_copy_problems(artifact)
    if problems:
        raise ArtifactError(
            f"artifact {artifact.root}: {'; '.join(problems)}. The copies embedded in the model files (which the C++ demo "
            "and model.pt2 read) no longer match the directory's files: a file was changed after export (together with its sha256 in manifest.json); "
            "do not use this artifact: copy the original again, or re-export"
        )


