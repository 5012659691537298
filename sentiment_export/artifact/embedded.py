"""The copies embedded in model.pt (spec.json, vocab.txt, manifest.json, which the C++ demo reads) must
equal the directory's: a file rewritten together with its sha256 in the manifest is caught unless model.pt
was rewritten to match too.

Read with :mod:`zipfile` only (a TorchScript file is a zip of records; the
copies are stored under ``<archive>/extra/``): nothing is unpickled and torch
is not imported. Cheap, so :func:`~sentiment_export.artifact.loader.load_artifact` runs it.
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
"""Name of each file embedded in model.pt -> the role of its directory counterpart."""

_WORST = 3


def _embedded_records(artifact: Artifact) -> dict[str, zipfile.ZipInfo]:
    """``{name: record}`` of model.pt's ``<archive>/extra/<name>`` records, as libtorch names them."""
    path = artifact.file("torchscript")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise ArtifactError(f"artifact {artifact.root}: model.pt is not a TorchScript zip archive ({error}); re-export") from error
    if not infos:
        raise ArtifactError(f"artifact {artifact.root}: model.pt is an empty zip archive; re-export")
    prefix = PurePosixPath(infos[0].filename).parts[0]  # the writer's archive name; every record lies below it
    records: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        parts = PurePosixPath(info.filename).parts
        if len(parts) == 3 and parts[:2] == (prefix, "extra"):
            if parts[2] in records:
                raise ArtifactError(f"artifact {artifact.root}: model.pt holds the embedded file {parts[2]} twice; re-export")
            records[parts[2]] = info
    return records


def embedded_copy_problems(artifact: Artifact) -> list[str]:
    """One line per embedded copy that is missing or differs from the directory's file; empty when all agree.

    spec.json and vocab.txt must be byte for byte equal; the manifest is
    compared as JSON, without the entries of :data:`WRITTEN_AFTER_MODEL_PT`;
    every record of model.pt (and model.pt2) must match the record table the
    C++ demo checks (``torchscript.records``, ``pt2.records``, :mod:`.records`). An embedded copy is read only
    when its size allows equality (so at most the size of the checked
    directory file is read); the record check reads model.pt once.
    """
    records = _embedded_records(artifact)
    problems = []
    with zipfile.ZipFile(artifact.file("torchscript")) as archive:
        for name, role in EMBEDDED_COPIES.items():
            info = records.get(name)
            if info is None:
                problems.append(f"model.pt has no embedded {name}")
                continue
            ours = artifact.file(role).read_bytes()
            if info.file_size > len(ours) or (name != MANIFEST_FILENAME and info.file_size != len(ours)):
                problems.append(f"model.pt's embedded {name} has {info.file_size} bytes, the directory's {len(ours)}")
                continue
            theirs = archive.read(info)
            if name != MANIFEST_FILENAME:
                if theirs != ours:
                    problems.append(f"model.pt's embedded {name} differs from the directory's {name}")
                continue
            try:
                embedded = json.loads(theirs)
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                problems.append(f"model.pt's embedded {name} is not JSON ({error})")
                continue
            expected = without_entries(artifact.manifest.to_dict(), WRITTEN_AFTER_MODEL_PT)
            differing = sorted(key for key in set(embedded) | set(expected) if embedded.get(key) != expected.get(key))
            if differing:
                problems.append(f"model.pt's embedded {name} differs from the directory's in {differing}")
    return problems + _record_table_problems(artifact)


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
    """Raise :class:`ArtifactError` naming each copy in model.pt that disagrees with the directory's file.

    Catches a file rewritten together with its sha256 in the manifest (the
    swapped-vocabulary attack) unless model.pt was rewritten to match too.
    """
    problems = embedded_copy_problems(artifact)
    if problems:
        raise ArtifactError(
            f"artifact {artifact.root}: {'; '.join(problems)}. The copies that the C++ demo reads no longer match "
            "what Python reads: a file was changed after export (together with its sha256 in manifest.json); "
            "do not use this artifact: copy the original again, or re-export"
        )


