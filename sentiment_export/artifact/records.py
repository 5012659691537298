"""The sha256 of each record of a PyTorch zip archive (model.pt, model.pt2), listed in its embedded manifest.

libtorch reads these archives without checking the zip CRCs, and the C++ demo
is given the model file alone, without the artifact's file table. So the
exporter lists the sha256 of every record in the embedded manifest, under
``<section>.records`` (section ``torchscript`` for model.pt, ``pt2`` for
model.pt2), and the demo checks each record's CRC-32 and sha256 before it
loads anything. Every record is listed (weights, constants, code, spec,
vocabulary) except :data:`UNHASHED_RECORDS`: the manifest itself, which
cannot hold its own hash, and libtorch's random per-save id; their CRC-32s
are still checked.

Record names are libtorch's: below the archive's top folder (``data/0``,
``constants.pkl``, ``extra/spec.json``). Read with :mod:`zipfile` only (no torch).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import PurePosixPath

from ..errors import ArtifactError

RECORDS_KEY = "records"
"""The key of the record table inside the embedded manifest's section of the model file."""

UNHASHED_RECORDS = ("extra/manifest.json", ".data/serialization_id")
"""The records the table does not cover: the manifest that holds the table, and the random id
libtorch writes anew on every save (it decides nothing)."""


def record_hashes(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{record name: sha256 hex}`` of every record of the archive at ``path`` but :data:`UNHASHED_RECORDS`.

    Reading a record through :mod:`zipfile` checks its CRC-32 too. Raises
    :class:`ArtifactError` for a file that is not a zip archive, a record
    outside the archive's top folder, a record listed twice or a bad CRC.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if not infos:
                raise ArtifactError(f"{path} is an empty zip archive, not a PyTorch model file; re-export it")
            prefix = PurePosixPath(infos[0].filename).parts[0]
            hashes: dict[str, str] = {}
            seen: set[str] = set()
            for info in infos:
                parts = PurePosixPath(info.filename).parts
                if len(parts) < 2 or parts[0] != prefix:
                    raise ArtifactError(f"{path}: record {info.filename!r} lies outside the archive folder {prefix!r}; re-export it")
                name = "/".join(parts[1:])
                if name in seen:
                    raise ArtifactError(f"{path} holds the record {name!r} twice; re-export it")
                seen.add(name)
                if name not in UNHASHED_RECORDS:
                    hashes[name] = hashlib.sha256(archive.read(info)).hexdigest()
    except (zipfile.BadZipFile, OSError) as error:
        raise ArtifactError(f"{path} is not a readable PyTorch zip archive ({error}); re-export it") from error
    return hashes
