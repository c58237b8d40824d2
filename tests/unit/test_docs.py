"""The README is the front door and the guides are behind it: every relative link in them leads to a file that
exists (the screenshots included), every `dsm …` command they tell an operator to run exists, and the guides are
installed with the package."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from dsm_cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
COMMAND = re.compile(r"`dsm ([a-z][a-z-]*(?: [a-z][a-z-]*)?)")


def _commands() -> dict[str, bool]:
    """Every command path, and whether it has subcommands of its own."""
    import argparse

    out: dict[str, bool] = {}

    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        out[" ".join(prefix)] = bool(subs)
        for action in subs:
            for name, child in action.choices.items():
                walk(child, (*prefix, name))

    walk(build_parser(), ())
    return out


def test_the_guides_exist_and_every_relative_link_resolves() -> None:
    names = {p.name for p in PAGES}
    assert {"operator-guide.md", "deployment.md", "security.md", "troubleshooting.md"} <= names
    readme = (REPO / "README.md").read_text()
    for guide in ("operator-guide", "deployment", "security", "troubleshooting"):
        assert f"(docs/{guide}.md)" in readme, f"the README links docs/{guide}.md"
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} → {target}")
    assert broken == []


def test_every_dsm_command_the_guides_name_exists() -> None:
    commands = _commands()
    unknown = set()
    for page in PAGES:
        for found in COMMAND.findall(page.read_text()):
            words = shlex.split(found)
            if words[0] in ("sim", "demo"):
                continue  # their own argument parsers
            has_children = commands.get(words[0])
            # `dsm servers show`: the two words are a command; `dsm power GracefulShutdown`: one, and an argument
            ok = " ".join(words) in commands if has_children and len(words) > 1 else words[0] in commands
            if not ok:
                unknown.add(f"{page.name}: dsm {found}")
    assert unknown == set()


def test_the_guides_and_units_are_installed_with_the_package() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    assert "docs/*.md" in data["share/doc/dsm/docs"]
    assert "docs/screenshots/*.svg" in data["share/doc/dsm/docs/screenshots"]
    assert {"deploy/dsm-worker.service", "deploy/dsm-backup.service", "deploy/dsm-backup.timer"} <= set(
        data["share/doc/dsm"])


def test_every_shell_block_says_whether_a_test_runs_it() -> None:
    """A runnable-looking block is either run by a test (`<!-- doc-test: WALK -->`) or says why not: a block
    cannot be added to the README or a guide without that decision (tests/docblocks.py)."""
    from tests.docblocks import blocks

    found = blocks()
    assert found, "the README and guides have shell blocks"
    undecided = [b.where() for b in found if not b.walks and not b.reason]
    assert undecided == []
    walks = {w for b in found for w in b.walks}
    # Each walk is run by a test: test_doc_walks.py (sqlite, postgresql) and test_installed.py (try-cli).
    assert walks == {"sqlite", "postgresql", "try-cli"}


def test_no_page_promises_what_is_already_there() -> None:
    stale = []
    for page in PAGES:
        text = page.read_text().lower()
        for phrase in ("later issue", "a later step", "come with later", "comes with a later"):
            if phrase in text:
                stale.append(f"{page.name}: {phrase}")
    assert stale == []


def test_the_documented_postgresql_urls_name_no_user_but_the_workers() -> None:
    """Operators connect as themselves (no user in database.url); only worker.database_url names dsm_worker."""
    for page in [*PAGES, REPO / "config.example.toml"]:
        for url in re.findall(r"postgresql\+psycopg://[^\s\"`)]*", page.read_text()):
            user = url.split("://", 1)[1].split("@", 1)[0] if "@" in url else ""
            assert user in ("", "dsm_worker"), f"{page.name}: {url}"
