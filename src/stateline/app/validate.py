"""Pure checks of client input, shared by the services.

Each function takes raw input (a query string value, a decoded JSON value, a
path segment) and returns a clean Python value or raises
:class:`~stateline.app.errors.ApiError` with a 4xx status. Keeping them free of
I/O lets the unit tests drive every bad input directly.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any
from urllib.parse import parse_qsl

from stateline.app.errors import ApiError

#: Identifiers that become part of a Redis key (user ids, skus, player ids).
_IDENT = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")
_INT = re.compile(r"-?[0-9]{1,12}")
#: A number as the docs define it: ASCII digits, optional sign, fraction and exponent.
#: Python's own float()/int() are far looser (``1_000``, `` 1``, ``１``, ``١``, ``nan``),
#: so input is matched against this before either sees it.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
#: Longest query parameter we parse as a number: longer ones are refused, not parsed.
MAX_NUMBER_CHARS = 64

#: The same rules as JSON Schema, for the OpenAPI document (``spec.py``): one source.
IDENT_SCHEMA: dict[str, Any] = {"type": "string", "pattern": f"^{_IDENT.pattern}$"}
NUMBER_SCHEMA: dict[str, Any] = {"type": "string", "pattern": f"^{_NUMBER.pattern}$",
                                 "maxLength": MAX_NUMBER_CHARS,
                                 "description": "a decimal or scientific number"}


def query_params(raw: bytes) -> dict[str, str]:
    """The parameters of a raw query string (``scope["query_string"]``); the last of a name wins.

    The same parse as Starlette's ``request.query_params`` -- the standard library's
    ``parse_qsl`` of the latin-1 text, blank values kept, ``.get`` answering the last
    value -- without the multi-dict Starlette builds around it, which cost more than
    the parse itself: 2.7 of the 5.1 µs it took for three parameters, a third of the
    calculator's handler (docs/performance.md, round 6).
    """
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


def int_schema(low: int, high: int) -> dict[str, Any]:
    """The schema of :func:`query_int` and :func:`json_int` with these bounds."""
    return {"type": "integer", "minimum": low, "maximum": high}


def text_schema(max_len: int) -> dict[str, Any]:
    """The schema of :func:`json_text`: non-blank, at most ``max_len``, no control characters."""
    return {"type": "string", "minLength": 1, "maxLength": max_len,
            "pattern": r"^[^\u0000-\u001f\u007f-\u009f]*\S[^\u0000-\u001f\u007f-\u009f]*$"}


def identifier(value: str, name: str) -> str:
    """A path identifier: 1..64 chars of letters, digits and ``_.:@-``."""
    if not _IDENT.fullmatch(value):
        raise ApiError(
            422, "invalid_field",
            f"{name} must be 1..64 characters of letters, digits and _.:@-",
        )
    return value


def query_number(raw: str | None, name: str) -> int | float:
    """A finite number from a query string: an ``int`` when written as one, else a ``float``.

    Only ASCII decimal or scientific notation (``12``, ``-1.5``, ``2e10``) is a
    number; no spaces, digit separators, other scripts' digits, NaN or infinity.
    """
    if raw is None or raw == "":
        raise ApiError(400, "missing_parameter", f"query parameter {name!r} is required")
    if len(raw) > MAX_NUMBER_CHARS:
        raise ApiError(400, "invalid_number", f"{name} is over {MAX_NUMBER_CHARS} characters")
    if not _NUMBER.fullmatch(raw):
        raise ApiError(400, "invalid_number",
                       f"{name} is not a number (ASCII digits, optional sign, '.', exponent)")
    if _INTEGER.fullmatch(raw):
        return int(raw)
    value = float(raw)
    if not math.isfinite(value):
        raise ApiError(400, "invalid_number", f"{name} must be a finite number")
    return value


def query_int(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter in ``low..high`` (``default`` when absent)."""
    if raw is None or raw == "":
        return default
    if not _INT.fullmatch(raw):
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer")
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be between {low} and {high}")
    return value


def json_number(data: dict[str, Any], name: str) -> float:
    """A finite number from a JSON body (booleans are not numbers here)."""
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(422, "invalid_field", f"{name} must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise ApiError(422, "invalid_number", f"{name} is too large") from None
    if not math.isfinite(number):
        raise ApiError(422, "invalid_number", f"{name} must be a finite number")
    return number


def json_int(data: dict[str, Any], name: str, low: int, high: int) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(422, "invalid_field", f"{name} must be an integer in {low}..{high}")
    return value


def has_control_characters(value: str) -> bool:
    """Whether ``value`` holds a C0 or C1 control character or DEL (Unicode category Cc).

    They have no place in a name, and an ANSI escape sequence (ESC ``[`` ...)
    in stored text would repaint the terminal of whoever reads a log or a
    ``psql`` listing later.
    """
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def json_text(data: dict[str, Any], name: str, max_len: int) -> str:
    """A non-empty string field, trimmed, at most ``max_len`` characters, no control characters."""
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "invalid_field", f"{name} must be a non-empty string")
    value = value.strip()
    if len(value) > max_len:
        raise ApiError(422, "invalid_field", f"{name} must be at most {max_len} characters")
    if has_control_characters(value):
        raise ApiError(422, "invalid_field", f"{name} must not contain control characters")
    return value
