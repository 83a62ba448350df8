"""Images given inline: base64 text, plain or as a `data:` URI.

PESTO clients send small images as the base64 of the file (standard or URL-safe alphabet, line
breaks allowed, padding optional), sometimes as `data:image/tiff;base64,...`. The request path
only checks the alphabet (fast, no copy); the worker decodes.
"""

from __future__ import annotations

import binascii
import re

from pesto_factory.runtime.errors import BadRequest

__all__ = ["check_base64", "decode_base64", "is_data_uri"]

_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=_\-\s]*")
_WHITESPACE = re.compile(r"\s")
_URLSAFE = str.maketrans("-_", "+/")
_HINT = "give file:///path, http(s)://, s3://, gs:// or the base64 of an image file"


def is_data_uri(value: str) -> bool:
    """True for a `data:` URI: an image carried inside a URI, e.g. an ImageRef's href."""
    return value.lstrip()[:5].lower() == "data:"


def check_base64(value: str, *, field: str = "image") -> None:
    """Refuse text that cannot be base64 (BadRequest), without decoding it."""
    if not _BASE64_TEXT.fullmatch(_base64_text(value, field)):
        raise BadRequest(
            f"input {field!r} is neither a URI, an absolute path nor base64 "
            "(it has characters outside the base64 alphabet)", hint=_HINT)


def decode_base64(value: str, *, field: str = "image") -> bytes:
    """The bytes of a base64 value (plain or data: URI); BadRequest when it is not base64."""
    text = _base64_text(value, field)
    try:  # the common case, clean padded standard base64, at full speed (no scan, no copy)
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    if _WHITESPACE.search(text):
        text = "".join(text.split())
    if "-" in text or "_" in text:
        text = text.translate(_URLSAFE)
    text += "=" * (-len(text) % 4)
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(
            f"input {field!r} is neither a URI, an absolute path nor valid base64 ({exc})",
            hint=_HINT) from None


def _base64_text(value: str, field: str) -> str:
    """The base64 part of a value: all of it, or what follows the comma of a data: URI."""
    text = value.strip()
    if not is_data_uri(text):
        return text
    header, comma, text = text.partition(",")
    if not comma or not header.lower().endswith(";base64"):
        raise BadRequest(
            f"input {field!r}: a data: URI image must be base64-encoded",
            hint="data:image/tiff;base64,<base64 of the file>")
    return text
