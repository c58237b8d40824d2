"""The shell blocks of the README and the guides, with what the documentation says of each.

A block is a fenced ```sh (or ```bash) block. The line before it says whether a test runs it:

    <!-- doc-test: WALK[,WALK…] -->          run, in order with the other blocks of each WALK, verbatim
    <!-- doc-test: WALK[,WALK…] console -->  its one command opens the console: on a terminal, painted, then `q`
    <!-- not run: REASON -->           shown, not run (REASON says why: e.g. needs a package index)

tests/unit/test_docs.py requires every block to carry one of them, so a block cannot be added without deciding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(sh|bash)\s*$")
MARK = re.compile(r"^<!-- (?:doc-test: (?P<walk>[a-z-]+(?:,[a-z-]+)*)(?P<console> console)?|not run: (?P<reason>.+?)) -->$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    walks: tuple[str, ...]
    console: bool
    reason: str | None
    text: str

    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(pages: list[Path] | None = None) -> list[Block]:
    out: list[Block] = []
    for page in pages or PAGES:
        lines = page.read_text().splitlines()
        i = 0
        while i < len(lines):
            if FENCE.match(lines[i]):
                start = i
                body: list[str] = []
                i += 1
                while i < len(lines) and lines[i].strip() != "```":
                    body.append(lines[i])
                    i += 1
                before = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
                mark = MARK.match(before)
                out.append(Block(str(page.relative_to(REPO)), start + 1,
                                 tuple(mark["walk"].split(",")) if mark and mark["walk"] else (),
                                 bool(mark and mark["console"]),
                                 mark["reason"] if mark else None, "\n".join(body) + "\n"))
            i += 1
    return out


def walk(name: str) -> list[Block]:
    """The blocks of one walk, in page order (README first, then docs/ by name), as a reader meets them."""
    return [b for b in blocks() if name in b.walks]
