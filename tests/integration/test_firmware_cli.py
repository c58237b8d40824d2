"""`dsm firmware` as an operator scripts it: repositories (the share password sealed, bad input named and
nothing written), the compliance JSON contract, and update jobs refused before they are queued.

The commands run in this process (``dsm_cli.main.main``, argv in, exit code and output out) as the admin
alice of the template database: the same parser and services as the installed `dsm`, without a process
start per command (the installed command is exercised by the worker and black-box tests)."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import dsm_cli.main as cli
from dsm_core.db import make_engine
from tests.conftest import Templates, fresh_database

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def dsm(templates: Templates, tmp_path: Path, worker_key_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[Run, Engine]]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "worker.key").write_bytes(worker_key_path.read_bytes())
    (home / "worker.key").chmod(0o600)
    for var in [v for v in os.environ if v.startswith(("DSM_", "IDRAC_"))]:
        monkeypatch.delenv(var)
    url = fresh_database(templates, "sqlite", tmp_path)
    monkeypatch.setenv("DSM_HOME", str(home))
    monkeypatch.setenv("DSM_DATABASE_URL", url)
    monkeypatch.setattr(cli, "os_username", lambda: "alice")

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(list(argv))
        sys.stdout.flush()
        out = capsys.readouterr()
        return code, out.out, out.err

    engine = make_engine(url)
    yield run, engine
    engine.dispose()


def _dump(engine: Engine) -> str:
    with engine.connect() as conn:
        return "\n".join(str(r) for t in ("firmware_repositories", "audit_logs", "jobs")
                         for r in conn.execute(sa.text(f"SELECT * FROM {t}")))


def ok(run: Run, *argv: str, stdin: str = "") -> str:
    code, out, err = run(*argv, stdin=stdin)
    assert code == 0, (argv, out, err)
    return out


def test_a_repository_is_added_with_its_share_password_sealed(dsm: tuple[Run, Engine]) -> None:
    run, engine = dsm
    # The worker reads the catalog where the share is mounted: only inside a directory an admin lets jobs name
    code, _, err = run("firmware", "repo", "add", "drm", "--url", "cifs://10.0.0.5/dell", "--mounted-at", "/mnt/dell")
    assert code == 2 and "local_path: no directory is configured" in err and "activity.package_dirs" in err, err
    ok(run, "settings", "set", "activity.package_dirs", "/mnt")
    view = json.loads(ok(run, "firmware", "repo", "add", "drm", "--url", "cifs://10.0.0.5/dell", "--mounted-at",
                         "/mnt/dell", "--catalog", "Catalog.xml.gz", "--username", "svc", "--password-stdin",
                         "--json", stdin="s3cret-share-pw\n"))
    assert (view["name"], view["share_type"], view["local_path"], view["catalog_file"], view["share_password_set"]) \
        == ("drm", "cifs", "/mnt/dell", "Catalog.xml.gz", True)
    assert "s3cret-share-pw" not in _dump(engine)
    listed = json.loads(ok(run, "firmware", "repo", "list", "--json"))
    assert [r["name"] for r in listed] == ["drm"] and "s3cret" not in json.dumps(listed)


BAD_REPOSITORIES = [
    (["--url", "ftp://10.0.0.5/repo"], "url: 'ftp://10.0.0.5/repo' is not an http(s)://, nfs:// or cifs:// URL"),
    (["--url", "http://user:pw@10.0.0.5/repo"], "url: holds a user name or password"),
    (["--url", "nfs://10.0.0.5/export"], "local_path: a nfs repository needs the path where the worker has it"),
    (["--url", "http://10.0.0.5/r", "--catalog", "../etc/passwd"], "catalog: '../etc/passwd' is not a file name"),
]


def test_a_bad_repository_is_refused_naming_the_field(dsm: tuple[Run, Engine]) -> None:
    run, engine = dsm
    for args, says in BAD_REPOSITORIES:
        code, _, err = run("firmware", "repo", "add", "drm", *args)
        assert code == 2 and says in err, err
    assert "pw@" not in _dump(engine) and json.loads(ok(run, "firmware", "repo", "list", "--json")) == []


def test_update_jobs_are_checked_before_they_are_queued(dsm: tuple[Run, Engine]) -> None:
    run, engine = dsm
    ok(run, "servers", "add", "127.0.10.1:8443")
    ok(run, "firmware", "repo", "add", "drm", "--url", "http://10.0.0.5/r")
    for args, says in (
        (["--repository", "drm", "--file", "/srv/BIOS.EXE"], "exactly one of --repository"),
        (["--repository", "nope"], "details.repository: firmware repository 'nope' does not exist"),
        (["--file", "/srv/notes.txt"], "must name a Dell Update Package"),
        (["--image-uri", "ftp://10.0.0.5/BIOS.EXE"], "details.image_uri: must be an http(s)://, nfs:// or cifs://"),
        (["--image-uri", "http://10.0.0.5/BIOS.EXE", "--component", "bios"], "--component and --compare-only go"),
        (["--repository", "drm", "--reboot", "at:tomorrow"], "--reboot: 'tomorrow' is not an ISO time"),
        (["--repository", "drm", "--reboot", "later"], "--reboot: 'later'; give none, now or at:ISO-TIME"),
        (["--repository", "drm", "--component", "bios", "--compare-only"], "compare_only asks the iDRAC"),
    ):
        code, _, err = run("firmware", "update", "127.0.10.1:8443", *args)
        assert code == 2 and says in err, (args, err)
    assert "firmware_update" not in _dump(engine)
    job = json.loads(ok(run, "firmware", "update", "127.0.10.1:8443", "--repository", "drm", "--reboot",
                        "at:2026-12-24T02:00+01:00", "--json"))
    assert job["details"]["reboot"] == "at" and job["details"]["reboot_at"].startswith("2026-12-24T02:00:00+01")
    # a relative DUP path is the operator's: made absolute where the command ran (the worker reads that path),
    # and it must lie where an admin lets jobs name files
    ok(run, "settings", "set", "activity.package_dirs", str(Path.cwd() / "dups"))
    rel = json.loads(ok(run, "firmware", "update", "127.0.10.1:8443", "--file", "dups/BIOS.EXE", "--json"))
    assert rel["details"]["file"].startswith("/") and rel["details"]["file"].endswith("/dups/BIOS.EXE")


def test_compliance_is_a_json_list_and_a_bad_state_is_named(dsm: tuple[Run, Engine]) -> None:
    run, _ = dsm
    assert json.loads(ok(run, "firmware", "compliance", "--json")) == []
    code, _, err = run("firmware", "compliance", "--state", "outdated")
    assert code == 2 and "state: 'outdated' is not a compliance state" in err
    code, _, err = run("jobs", "retry", "00000000", "--from-step", "install")
    assert code == 2 and "00000000" in err
