"""Run every benchmark in bench/ (files named bench_*.py, each with a main() that prints its figures).

Benchmarks print ratios against a baseline measured in the same run, never absolute timings alone.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    found = sorted(here.glob("bench_*.py"))
    if not found:
        print("no benchmarks yet: they arrive with the simulator, worker and TUI issues")
        return 0
    for path in found:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"== {path.stem}")
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
