"""Dell firmware version ordering.

Dell versions are dotted, but not semantic: ``22.00.6`` (NIC), ``1.13.2`` (BIOS), ``4301A70`` (diagnostics),
``00.1D.9C`` and ``MA8F`` (drives). Compared the way Dell's own tools and buildio/idrac do it: split into
digit and letter runs, numbers numerically, letters case-insensitively, and a number before letters at the
same place. Keys are tuples, so the order is total: two versions are equal exactly when their keys are
(``1.0`` and ``1.00`` are the same firmware).
"""

from __future__ import annotations

import re
from functools import lru_cache

_TOKEN = re.compile(r"[0-9]+|[A-Za-z]+")

VersionKey = tuple[tuple[int, int, str], ...]


@lru_cache(maxsize=65_536)
def version_key(version: str) -> VersionKey:
    """The sort key of ``version``; separators (``.``, ``-``, ``_``, spaces) only split."""
    out: list[tuple[int, int, str]] = []
    for token in _TOKEN.findall(version):
        if token.isdigit():
            out.append((0, int(token), ""))
        else:
            out.append((1, 0, token.upper()))
    return tuple(out)


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, the same as, or newer than ``b``."""
    ka, kb = version_key(a), version_key(b)
    return (ka > kb) - (ka < kb)
