"""Write DIR/requirements.txt for a wheelhouse: every wheel in DIR pinned to its version and its SHA-256, so the
air-gapped side installs exactly these files and nothing else:

    pip install --no-index --find-links DIR --require-hashes -r DIR/requirements.txt

`make wheelhouse` builds DIR (DSM's wheel and every dependency's, on a host with a package index) and runs this.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

# name-version(-build)?-python-abi-platform.whl (PEP 427); names are normalised as PEP 503 says.
WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")


def requirements(directory: Path) -> list[str]:
    pins: dict[tuple[str, str], list[str]] = {}
    for wheel in sorted(directory.glob("*.whl")):
        found = WHEEL.match(wheel.name)
        if found is None:
            raise SystemExit(f"{wheel.name} is not a wheel file name (PEP 427)")
        name = re.sub(r"[-_.]+", "-", found["name"]).lower()
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        pins.setdefault((name, found["version"]), []).append(digest)
    if not pins:
        raise SystemExit(f"no wheel in {directory}")
    names = [name for name, _ in pins]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SystemExit(f"two versions of {', '.join(twice)} in {directory}: keep one")
    return [f"{name}=={version} " + " ".join(f"--hash=sha256:{d}" for d in digests)
            for (name, version), digests in sorted(pins.items())]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python deploy/wheelhouse.py DIR", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    lines = requirements(directory)
    (directory / "requirements.txt").write_text("\n".join(lines) + "\n")
    print(f"{directory / 'requirements.txt'}: {len(lines)} pinned wheel(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
