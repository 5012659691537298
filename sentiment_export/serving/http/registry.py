"""The served models: each artifact loaded (checksums verified, warmed up), addressed by name and version.

Several artifacts may be served at once, two versions of one name included;
a name without a version means its highest semantic version (a release
outranks its pre-releases, as semver.org orders them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .batcher import MicroBatcher
from .errors import NotFound, ServeError

_NUMERIC = re.compile(r"^\d+$")


@dataclass
class ServedModel:
    """One artifact being served: its model, its identity and (once the server runs) its batcher."""

    name: str
    version: str
    model: object  # SentimentModel; typed loosely so this module loads without onnxruntime
    batcher: MicroBatcher | None = field(default=None, repr=False)

    @property
    def precision(self) -> str:
        return self.model.precision

    @property
    def device(self) -> str:
        return self.model.device


def version_key(version: str) -> tuple:
    """Sort key of a semantic version: numbers compare as numbers, a pre-release below its release."""
    core, _, prerelease = version.split("+", 1)[0].partition("-")
    numbers = tuple(int(part) for part in core.split("."))
    if not prerelease:
        return (numbers, 1, ())
    parts = tuple((0, int(part), "") if _NUMERIC.match(part) else (1, 0, part) for part in prerelease.split("."))
    return (numbers, 0, parts)


class ModelRegistry:
    """Served models by name and version; the first one given is the default of ``/predict``."""

    def __init__(self, models: Iterable[ServedModel]) -> None:
        self.models = list(models)
        if not self.models:
            raise ServeError("no artifact to serve; give at least one ARTIFACT path")
        self._by_name: dict[str, dict[str, ServedModel]] = {}
        for served in self.models:
            versions = self._by_name.setdefault(served.name, {})
            if served.version in versions:
                raise ServeError(
                    f"two artifacts are {served.name} {served.version}; serve each name and version once"
                )
            versions[served.version] = served

    @property
    def default(self) -> ServedModel:
        """The model ``/predict`` uses when the request names none: the first artifact's name, highest version."""
        return self.get(self.models[0].name)

    def names(self) -> list[str]:
        return list(self._by_name)

    def versions(self, name: str) -> list[str]:
        """Versions of ``name``, lowest first; :class:`NotFound` for an unknown name."""
        return sorted(self._versions(name), key=version_key)

    def get(self, name: str, version: str | None = None) -> ServedModel:
        """The model ``name`` at ``version`` (default: its highest); :class:`NotFound` naming what is served."""
        versions = self._versions(name)
        if version is None:
            return versions[max(versions, key=version_key)]
        if version not in versions:
            raise NotFound(
                f"model {name!r} has no version {version!r}; served versions: {', '.join(self.versions(name))}"
            )
        return versions[version]

    def _versions(self, name: str) -> dict[str, ServedModel]:
        if name not in self._by_name:
            raise NotFound(f"no model named {name!r}; served models: {', '.join(self._by_name)}")
        return self._by_name[name]


def load_models(
    paths: Iterable[str | os.PathLike[str]],
    *,
    device: str,
    precision: str,
    threads: int | None,
    public_key: str | os.PathLike[str] | None = None,
    trust_custom_rules: bool = False,
) -> ModelRegistry:
    """Load and verify every artifact (checksums, signature, warm-up inference); :class:`ServeError` on failure."""
    from ...errors import SentimentExportError
    from ..runtime import SentimentModel

    models = []
    for path in paths:
        try:
            model = SentimentModel.load(
                path, device=device, precision=precision, intra_op_threads=threads, public_key=public_key,
                trust_custom_rules=trust_custom_rules,
            )
        except (SentimentExportError, OSError, ValueError, TypeError) as error:
            raise ServeError(f"cannot serve {path}: {error}") from error
        model.predict(["warm-up: the encoder and a real batch run once before the server reports ready"])
        manifest = model.artifact.manifest
        models.append(ServedModel(name=manifest.name, version=manifest.version, model=model))
    return ModelRegistry(models)
