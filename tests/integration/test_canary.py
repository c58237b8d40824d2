"""A password given to the CLI must appear nowhere but sealed: not in the database files or a dump,
not in logs (even at DEBUG with SQL echo on), not in any CLI output, not in exception text."""

from __future__ import annotations

import base64
import secrets
import subprocess
import traceback
from pathlib import Path

import pytest

from dsm_core.credentials.secret import Secret
from dsm_core.services import credentials, servers, settings
from dsm_core.services.context import ServiceContext
from dsm_core.services.errors import ServiceError
from tests.conftest import Templates, fresh_database
from tests.integration.cli import DsmHome


def _forms(canary: str) -> list[bytes]:
    raw = canary.encode()
    return [raw, raw.hex().encode(), base64.b64encode(raw), canary.encode("utf-16-le")]


def _assert_absent(canary: str, blob: bytes, where: str) -> None:
    for form in _forms(canary):
        assert form not in blob, f"password found in {where}"


def test_password_given_to_cli_appears_nowhere(templates: Templates, backend: str, tmp_path: Path) -> None:
    canary = "Canary-" + secrets.token_hex(8)
    smtp_canary = "Smtp-" + secrets.token_hex(8)
    url = None if backend == "sqlite" else fresh_database(templates, backend, tmp_path, empty=True)
    home = DsmHome(tmp_path / "home", url, {"DSM_LOGGING_LEVEL": "DEBUG", "DSM_DATABASE_ECHO": "true"})
    outputs: list[str] = []

    def run(*args: str, stdin: str | None = None, ok: bool = True) -> None:
        proc = home.run(*args, stdin=stdin)
        outputs.extend([proc.stdout, proc.stderr])
        assert (proc.returncode == 0) == ok, (args, proc.stderr[-2000:])

    run("init")
    run("credentials", "add", "lab", "--username", "root", "--password-stdin", "--range", "127.0.0.0/8",
        stdin=canary + "\n")
    # the same password in calls that fail: duplicate name, bad range, bad server
    run("credentials", "add", "lab", "--username", "root", "--password-stdin", stdin=canary + "\n", ok=False)
    run("credentials", "add", "lab2", "--username", "root", "--password-stdin", "--range", "300.0.0.0/8",
        stdin=canary + "\n", ok=False)
    run("servers", "add", "127.0.10.1:8443", "--username", "root", "--password-stdin", stdin=canary + "\n")
    run("servers", "add", "127.0.10.1:8443", "--username", "root", "--password-stdin", stdin=canary + "\n", ok=False)
    run("credentials", "set-password", "lab", "--password-stdin", stdin=canary + "\n")
    run("settings", "set", "notification.smtp_password", "-", stdin=smtp_canary + "\n")
    run("credentials", "list", "--json")
    run("servers", "list", "--json")
    run("servers", "show", "127.0.10.1:8443", "--json")
    run("settings", "show", "--json")

    joined = "\n".join(outputs)
    assert "sqlalchemy.engine" in joined or "INSERT" in joined, "SQL echo was meant to be on"
    for c in (canary, smtp_canary):
        _assert_absent(c, joined.encode(), "CLI output or logs")
        for path in home.home.rglob("*"):
            if path.is_file():
                _assert_absent(c, path.read_bytes(), str(path))
    if backend == "postgresql":
        assert templates.pg is not None and url is not None
        dbname = url.rsplit("/", 1)[1]
        dump = subprocess.run([templates.pg.tool("pg_dump"), "-h", "127.0.0.1", "-p", str(templates.pg.port),
                               "-U", "dsm", dbname], capture_output=True, check=True).stdout
        assert b"credential_sets" in dump and b"dsm-sealed:v1:" in dump
        for c in (canary, smtp_canary):
            _assert_absent(c, dump, "pg_dump")
        log = Path(templates.pg.root / "server.log").read_bytes()
        for c in (canary, smtp_canary):
            _assert_absent(c, log, "PostgreSQL server log")
    else:
        assert b"dsm-sealed:v1:" in (home.home / "dsm.db").read_bytes()


def test_exceptions_never_carry_the_password(admin: ServiceContext) -> None:
    canary = "Canary-" + secrets.token_hex(8)
    credentials.add_credential_set(admin, "lab", "root", Secret(canary))
    failing = [
        lambda: credentials.add_credential_set(admin, "lab", "root", Secret(canary)),
        lambda: credentials.add_credential_set(admin, "x", "root", Secret(canary), ranges=["nope"]),
        lambda: servers.add_server(admin, "bad address", username="root", password=Secret(canary)),
        lambda: servers.add_server(admin, "127.0.0.1", username="", password=Secret(canary)),
        lambda: settings.set_setting(admin, "notification.smtp_password", canary),
    ]
    for call in failing:
        with pytest.raises(ServiceError) as err:
            call()
        text = "".join(traceback.format_exception(err.value))
        assert canary not in text and canary not in repr(err.value.args)
