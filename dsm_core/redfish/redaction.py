"""Secrets out of everything the activity log keeps: passwords, tokens, Authorization headers, share passwords.

Also bounds the size of logged bodies (max_request_body_kb / max_response_body_kb).
"""

from __future__ import annotations

import json
from typing import Any

REDACTED = "***"
_SECRET_KEYS = ("password", "passwd", "authorization", "x-auth-token", "token", "secret", "passphrase")


def _secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(s in lowered for s in _SECRET_KEYS)


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret-looking field replaced (recursively)."""
    if isinstance(value, dict):
        return {k: (REDACTED if _secret_key(str(k)) and v not in (None, "") else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def truncate(value: Any, max_kb: int) -> Any:
    """``value`` if its JSON is within ``max_kb``; otherwise a marker with the start of it."""
    if value is None:
        return None
    if max_kb <= 0:
        return {"omitted": True}
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    limit = max_kb * 1024
    if len(text) <= limit:
        return value
    return {"truncated": True, "size": len(text), "head": text[:limit]}


# --- stored form ----------------------------------------------------------------------------------------------------

MAX_UNPACKED = 32 * 1024 * 1024
"""A stored activity row never expands past this (a corrupted or crafted blob is not a decompression bomb)."""


def pack(headers: Any, request: Any, response: Any) -> bytes | None:
    """Headers and bodies (already redacted and capped) as one zlib-compressed JSON document, or None when there
    is nothing to keep. Redfish JSON compresses five- to tenfold; one blob per row, not three JSON columns."""
    import zlib

    doc = {k: v for k, v in (("headers", headers), ("request", request), ("response", response)) if v is not None}
    if not doc:
        return None
    return zlib.compress(json.dumps(doc, separators=(",", ":"), default=str).encode("utf-8"), 6)


def unpack(blob: bytes | None) -> dict[str, Any]:
    """What ``pack`` stored: ``{"headers", "request", "response"}`` (absent keys None); a blob that is not ours
    (or would expand past MAX_UNPACKED) reads as a marker, never as an exception or a memory spike."""
    import zlib

    empty: dict[str, Any] = {"headers": None, "request": None, "response": None}
    if not blob:
        return empty
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(blob, MAX_UNPACKED)
        if inflater.unconsumed_tail:
            return {**empty, "response": {"unreadable": f"stored body larger than {MAX_UNPACKED} bytes"}}
        doc = json.loads(text)
    except (zlib.error, ValueError):
        return {**empty, "response": {"unreadable": "stored body is not a DSM activity record"}}
    if not isinstance(doc, dict):
        return empty
    return {**empty, **{k: doc.get(k) for k in empty}}


def keep_head(value: Any, max_kb: int) -> Any:
    """The first ``max_kb`` of a successful read's response (its whole JSON when that is smaller)."""
    if value is None or max_kb <= 0:
        return None
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    limit = max_kb * 1024
    if len(text) <= limit:
        return value
    return {"head": text[:limit], "size": len(text), "kept": "the head of a successful read "
            "(activity.max_read_body_kb); changes and failures keep their full bodies"}


def stored_bodies(row: Any) -> dict[str, Any]:
    """An activity row's headers and bodies, from ``bodies`` (0009 on) or the older JSON columns."""
    if getattr(row, "bodies", None):
        return unpack(row.bodies)
    return {"headers": getattr(row, "request_headers", None), "request": getattr(row, "request_body", None),
            "response": getattr(row, "response_body", None)}
