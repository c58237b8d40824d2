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
