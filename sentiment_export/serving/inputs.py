"""Input validation for the runtime: what a caller may pass as texts, and why not otherwise.

Accepted: one ``str``, or an ordered iterable (list, tuple, generator, NumPy
array of strings, ...) whose items are ``str``. ``bytes``/``bytearray`` (alone
or as items) are decoded as strict UTF-8 — the only encoding the artifact's
spec is defined on — and bytes that are not valid UTF-8 are an error, never
guessed at or decoded with replacement characters. Everything else is
rejected naming the offending index: a wrong type is a ``TypeError``, a wrong
value (undecodable bytes) a ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Union

TextLike = Union[str, bytes, bytearray]
Texts = Union[TextLike, Iterable[TextLike]]

_MAX_REPORTED = 5


def _decode(value: bytes | bytearray, where: str) -> str:
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{where} is bytes that are not valid UTF-8 ({error.reason} at byte {error.start}); "
            "pass str, or bytes in UTF-8 (decode other encodings yourself first)"
        ) from error


def _describe(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return f"a nested {type(value).__name__} (pass a flat sequence of strings)"
    return f"{type(value).__name__} {value!r:.40}"


def as_text_list(texts: Texts) -> list[str]:
    """``texts`` as a list of ``str`` in input order, or a clear error.

    Raises ``TypeError`` when ``texts`` or an item has a wrong type (``None``,
    a number, a nested list, ...), naming up to five offending indices and
    what they are; ``ValueError`` when an item is bytes that are not UTF-8.
    """
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, (bytes, bytearray)):
        return [_decode(texts, "texts")]
    if texts is None or isinstance(texts, (Mapping, Set)) or not isinstance(texts, Iterable):
        kind = "None" if texts is None else type(texts).__name__
        raise TypeError(
            f"texts must be a str or an ordered sequence of str, got {kind}; "
            "wrap a single text in a list, and use a list rather than a set or dict"
        )
    result: list[str] = []
    wrong: list[str] = []
    wrong_count = 0
    for index, item in enumerate(texts):
        if isinstance(item, str):
            result.append(item)
        elif isinstance(item, (bytes, bytearray)):
            result.append(_decode(item, f"texts[{index}]"))
        else:
            wrong_count += 1
            if len(wrong) < _MAX_REPORTED:
                wrong.append(f"texts[{index}] is {_describe(item)}")
    if wrong:
        more = f" (and {wrong_count - len(wrong)} more)" if wrong_count > len(wrong) else ""
        raise TypeError(
            f"every text must be a str (or UTF-8 bytes): {'; '.join(wrong)}{more}; "
            f"{wrong_count} of {len(result) + wrong_count} items are not text"
        )
    return result
