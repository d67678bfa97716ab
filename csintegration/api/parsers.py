"""The JSON parser of every API view (DRF's ``DEFAULT_PARSER_CLASSES``): bounded and strict.

- A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413, not a 500.
- A document nested deeper than ``MAX_DEPTH`` is a 400 (deep nesting costs recursion, then a 500).
- A string, or an object key, holding NUL (``\\u0000``) or a lone surrogate (``\\ud800``) is a 400 naming
  its dotted path: PostgreSQL's text and JSON types cannot hold either, so such a value would fail at the
  database, half-way through a request.
- ``NaN`` and ``Infinity`` are not JSON (RFC 8259) and are refused.
"""

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from .exceptions import PayloadTooLarge

MAX_DEPTH = 32


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _unstorable(text: str) -> str | None:
    """Why PostgreSQL could not store ``text``, or None."""
    if "\x00" in text:
        return "contains the NUL character (\\u0000), which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (\\ud800-\\udfff), which is not valid Unicode"
    return None


def _path(parts: tuple[str, ...]) -> str:
    return ".".join(parts) or "non_field_errors"


def check_document(document: Any) -> None:
    """Walk the parsed document once (iteratively: its depth is what is being bounded)."""
    stack: list[tuple[Any, tuple[str, ...], int]] = [(document, (), 1)]
    while stack:
        value, parts, depth = stack.pop()
        if isinstance(value, str):
            reason = _unstorable(value)
            if reason:
                raise ValidationError({_path(parts): [f"This string {reason}."]}, code="invalid_character")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise ParseError(f"The JSON document is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(value, dict):
            for key, item in value.items():
                reason = _unstorable(key)
                if reason:
                    field = json.dumps(key)[1:-1]  # the key as JSON writes it, its NUL escaped
                    raise ValidationError(
                        {_path(parts): [f"The key {field!r} {reason}."]}, code="invalid_character"
                    )
                stack.append((item, (*parts, key), depth + 1))
        else:
            stack.extend((item, (*parts, str(index)), depth + 1) for index, item in enumerate(value))


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(limit)
        try:
            document = json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(f"The JSON document is nested more than {MAX_DEPTH} levels deep.") from None
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise ParseError(f"JSON parse error - {exc}") from None
        check_document(document)
        return document
