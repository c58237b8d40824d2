"""The README says, in one short section, where DSM departs from the specification on purpose."""

from __future__ import annotations

from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_readme_names_the_deliberate_departures() -> None:
    start = README.index("## Where DSM departs from the specification")
    section = README[start:README.index("\n## ", start + 1)]
    assert "API tokens" in section and "--json" in section and "over SSH" in section
    assert "Windows service" in section
    assert len(section.splitlines()) < 15, "one short section"
