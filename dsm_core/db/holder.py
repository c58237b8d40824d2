"""Who is holding the SQLite write lock, for the operator whose command had to give up.

SQLite does not say who holds its lock. A long write (an import of many servers) leaves a small note
beside the database file while it runs: its pid, what it is doing, since when. A command that times out
on the lock reads the note and can say "locked by pid 4242: import of 100000 servers by alice, 12 s so far"
instead of a bare "database is locked". PostgreSQL has no file and needs no note (row locks, no file lock).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import Engine, make_url


def note_path(engine: Engine) -> Path | None:
    url = make_url(str(engine.url))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(f"{url.database}.holder")


@contextlib.contextmanager
def holding(engine: Engine, work: str) -> Iterator[None]:
    path = note_path(engine)
    if path is not None:
        with contextlib.suppress(OSError):
            path.write_text(json.dumps({"pid": os.getpid(), "work": work, "since": time.time()}))
    try:
        yield
    finally:
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()


def describe_holder(engine: Engine | None) -> str | None:
    """``pid N: <work>, S s so far`` while a live process has left a note; None otherwise."""
    path = note_path(engine) if engine is not None else None
    if path is None:
        return None
    try:
        note = json.loads(path.read_text())
        pid, work, since = int(note["pid"]), str(note["work"])[:200], float(note["since"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # a note left by a process that died: nobody holds anything
    except PermissionError:
        pass  # alive, another user's
    return f"pid {pid}: {work}, {time.time() - since:.0f} s so far"
