"""Exception classes: callers catch the kind of failure they can act on."""

from __future__ import annotations


class SentimentExportError(Exception):
    """Base class of every error this package raises on purpose."""


class SpecError(SentimentExportError, ValueError):
    """A preprocessing spec is malformed or of a version this code does not know."""


class UnicodeVersionWarning(UserWarning):
    """A spec was written under another Unicode version than this Python's: lower-casing and the
    character classes (\\w, \\d, \\s) may differ for characters that the two versions treat differently."""


class VocabularyError(SentimentExportError, ValueError):
    """A vocabulary file is malformed or disagrees with its spec."""


class CheckpointError(SentimentExportError, ValueError):
    """A checkpoint file is unreadable, incomplete or not a checkpoint."""


class ArtifactError(SentimentExportError, ValueError):
    """An artifact is missing, corrupted, tampered with or of an unknown format."""


class ParityError(SentimentExportError):
    """An exported model disagrees with eager PyTorch beyond the stated tolerance."""


class DataFormatError(SentimentExportError, ValueError):
    """An input data file has lines that are not in the expected format."""


class DeviceError(SentimentExportError, RuntimeError):
    """The requested device (e.g. CUDA) cannot be used; raised instead of a silent CPU fallback."""


class NativeEncoderError(SentimentExportError, RuntimeError):
    """The native (C++) encoder was asked for but cannot be loaded or cannot reproduce the spec."""


class SignatureError(ArtifactError):
    """An artifact checked against a public key is unsigned, signed by another key, or changed after signing."""


class SigningKeyError(SentimentExportError, ValueError):
    """A key file for signing or verifying is missing, unreadable or of an unsupported kind."""


class OptionalDependencyError(SentimentExportError, ImportError):
    """A feature needs an optional extra that is not installed; the message names the pip command."""
