"""Time-ordered UUIDs (RFC 9562 version 7).

Every table uses UUID keys (portable across SQLite and PostgreSQL). Version 7 keys sort by creation
time, so the TUI can poll "rows newer than the last id it saw" and PostgreSQL's B-tree indexes stay
append-mostly instead of fragmenting as they would with random version 4 keys.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """Return a new version 7 UUID, strictly increasing within this process."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x07FF  # leave headroom to count up
        else:
            _counter += 1
            if _counter > 0x0FFF:  # counter exhausted inside one millisecond: borrow the next one
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand_b
    return uuid.UUID(int=value)
