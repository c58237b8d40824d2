"""Names an operator types are identifiers, never shell: a group, a credential set or a repository named with
`$(…)`, backticks or another character a shell acts on is refused naming the field, and nothing is stored.
(What completion does with names that came from devices is tests/integration/test_completion.py.)"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.integration import test_firmware_cli
from tests.integration.test_firmware_cli import ok

dsm = test_firmware_cli.dsm  # the in-process `dsm` fixture, shared

HOSTILE = ["prod$(touch${IFS}/tmp/dsm-pwned)", "web`id`", "a;reboot", "x|y", "q'uote", "new\nline"]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_name_with_shell_characters_is_refused_everywhere(request: pytest.FixtureRequest, name: str) -> None:
    run, engine = request.getfixturevalue("dsm")
    for argv, stdin in (
        (["groups", "add", name], ""),
        (["credentials", "add", name, "--username", "root", "--password-stdin"], "pw\n"),
        (["firmware", "repo", "add", name, "--url", "http://127.0.10.250/repo"], ""),
    ):
        code, out, err = run(*argv, stdin=stdin)
        assert code == 2 and "name" in err and ("a shell acts on" in err or "control character" in err), \
            (argv, code, out, err)
    with engine.connect() as conn:
        for table in ("server_groups", "credential_sets", "firmware_repositories"):
            names = [r[0] for r in conn.execute(sa.text(f"SELECT name FROM {table}"))]
            assert name not in names, (table, names)


def test_ordinary_names_still_work(request: pytest.FixtureRequest) -> None:
    run, _ = request.getfixturevalue("dsm")
    ok(run, "groups", "add", "web servers/rack-4")
    ok(run, "credentials", "add", "dc1:lab@site=2", "--username", "root", "--password-stdin", stdin="pw\n")
