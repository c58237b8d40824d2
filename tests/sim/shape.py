"""Compare the keys of a simulated payload with the real capture's (used by test_shape)."""

from __future__ import annotations

from typing import Any


def missing_keys(capture: Any, sim: Any, where: str = "", opaque: frozenset[str] = frozenset()) -> list[str]:
    """Key paths present in ``capture`` but absent from ``sim`` (recursively; lists compared by first item)."""
    out: list[str] = []
    if isinstance(capture, dict):
        if not isinstance(sim, dict):
            return [f"{where} (not an object)"]
        for key, value in capture.items():
            path = f"{where}/{key}"
            if key not in sim:
                out.append(path)
            elif key not in opaque:
                out += missing_keys(value, sim[key], path, opaque)
    elif isinstance(capture, list) and capture and isinstance(capture[0], dict):
        if not isinstance(sim, list) or not sim:
            return [f"{where} (empty or not a list)"] if not isinstance(sim, list) else []
        out += missing_keys(capture[0], sim[0], f"{where}[0]", opaque)
    return out
