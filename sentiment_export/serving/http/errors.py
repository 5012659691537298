"""Request errors that carry their HTTP status, so every refusal is one clear JSON ``{"error": ...}``."""

from __future__ import annotations

from ...errors import SentimentExportError


class ServeError(SentimentExportError, RuntimeError):
    """The server cannot start (the port is taken, an option is out of range, an artifact does not load)."""


class RequestError(SentimentExportError, ValueError):
    """A request the server refuses; ``status`` is the HTTP status code it is answered with."""

    status = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = headers or {}


class BadRequest(RequestError):
    """Malformed body, wrong datatype or shape, bad text, empty input (400)."""

    status = 400


class NotFound(RequestError):
    """Unknown model, version or output name in the path (404)."""

    status = 404


class PayloadTooLarge(RequestError):
    """The body is over ``--body-limit`` bytes (413)."""

    status = 413


class Overloaded(RequestError):
    """The batch queue is full (503, with ``Retry-After``)."""

    status = 503


class NotReady(RequestError):
    """The server or model is not ready to score, e.g. while it drains on SIGTERM (503)."""

    status = 503


class InternalError(RequestError):
    """Scoring failed for a reason that is not the request's (500); the server logs the cause and stays up."""

    status = 500


class DeadlineExceeded(RequestError):
    """The request was not scored within ``--timeout`` seconds (504)."""

    status = 504
