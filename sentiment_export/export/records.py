"""Embedding the record table (:mod:`sentiment_export.artifact.records`) in a model file's own manifest.

The hashes of a model file's records are known only once it is written, and
the manifest that lists them is one of its records. So the file is written
twice: once to learn the hashes of its records, then again with the table in
the embedded manifest. Only ``extra/manifest.json`` may differ between the two
writes; that is checked, so a writer that is not reproducible fails the export
instead of producing a file the C++ demo refuses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping

from ..artifact.records import RECORDS_KEY, record_hashes
from ..errors import ArtifactError

MANIFEST_RECORD = "manifest.json"
"""The embedded file (an ``extra/`` record) that carries the table."""


def with_record_table(manifest_json: str, section: str, hashes: Mapping[str, str]) -> str:
    """The embedded manifest text with ``hashes`` as ``<section>.records`` (key order kept).

    Raises ``ValueError`` when ``manifest_json`` is not a JSON object.
    """
    manifest = json.loads(manifest_json)
    if not isinstance(manifest, dict):
        raise ValueError(f"the embedded manifest.json must be a JSON object, got {type(manifest).__name__}")
    manifest[section] = {**manifest.get(section, {}), RECORDS_KEY: dict(hashes)}
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def save_with_record_table(
    save: Callable[[Mapping[str, str]], None],
    path: str | os.PathLike[str],
    extra_files: Mapping[str, str],
    *,
    section: str,
) -> dict[str, str]:
    """Write the model file with ``save(extra_files)`` twice, the second time with its record table embedded.

    ``save`` writes the archive at ``path`` with the given extra files;
    ``extra_files["manifest.json"]`` must be a JSON object (its ``section``
    object gets the table, and is created when absent). Returns the table.
    Raises ``ValueError`` for a manifest that is not a JSON object and
    :class:`ArtifactError` when a record other than the manifest and
    libtorch's per-save id changed between the two writes.
    """
    save(extra_files)
    hashes = record_hashes(path)
    save({**extra_files, MANIFEST_RECORD: with_record_table(extra_files[MANIFEST_RECORD], section, hashes)})
    again = record_hashes(path)
    if again != hashes:
        changed = sorted(name for name in set(hashes) | set(again) if hashes.get(name) != again.get(name))
        raise ArtifactError(
            f"{path}: writing the model file twice changed the records {changed}, so their hashes cannot be "
            "embedded; the torch serializer is not reproducible here (report it with the torch version)"
        )
    return hashes
