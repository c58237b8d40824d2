"""No credentials in URLs: every place DSM takes one refuses a user or password in it, in every URL form, and
nothing of the password is stored, audited or shown; what a row written past DSM holds is hidden when shown.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.services.jobs import audit_details
from dsm_core.urls import has_credentials, redact_credentials
from tests.integration import test_firmware_cli
from tests.integration.test_firmware_cli import ok

dsm = test_firmware_cli.dsm  # the in-process `dsm` fixture, shared

SECRET = "Pw-in-url-91c2"
SERVER = "127.0.10.1:8443"
FORMS = [
    f"http://admin:{SECRET}@127.0.10.250/esxi.iso",
    f"https://admin:{SECRET}@127.0.10.250/esxi.iso",
    f"//admin:{SECRET}@127.0.10.250/share/esxi.iso",
    f"cifs://DOM;admin:{SECRET}@127.0.10.250/share/esxi.iso",
    f"admin:{SECRET}@127.0.10.250:/export/esxi.iso",
    f"nfs://admin:{SECRET}@127.0.10.250/export/esxi.iso",
]


def _everything(engine: Engine) -> str:
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return "\n".join(str(r) for t in names for r in conn.execute(sa.text(f'SELECT * FROM "{t}"')))


@pytest.mark.parametrize("url", FORMS)
def test_a_url_with_a_password_is_refused_everywhere_and_never_stored(request: pytest.FixtureRequest,
                                                                      url: str) -> None:
    run, engine = request.getfixturevalue("dsm")
    ok(run, "servers", "add", SERVER)
    firmware_url = url.replace("esxi.iso", "BIOS_X.EXE")
    attempts = [
        (["media", "mount", SERVER, "--image", url], "image_url"),
        (["jobs", "create", "virtual_media_mount", "--server", SERVER, "--details-json",
          json.dumps({"image_url": url})], "image_url"),
    ]
    if url.startswith(("http", "cifs", "nfs")):
        attempts += [
            (["firmware", "update", SERVER, "--image-uri", firmware_url], "image_uri"),
            (["jobs", "create", "firmware_update", "--server", SERVER, "--detail", f"image_uri={firmware_url}"],
             "image_uri"),
            (["windows", "create", "--title", "fw", "--server", SERVER, "--type", "firmware_update", "--start",
              "2030-01-06T02:00", "--end", "2030-01-06T03:00", "--detail", f"image_uri={firmware_url}"], "image_uri"),
        ]
    for argv, field in attempts:
        code, out, err = run(*argv)
        assert code == 2, (argv, code, out, err)
        assert f"{field}: holds a user name or password" in err, err
        assert SECRET not in out + err, err  # the refusal does not repeat it either
    assert SECRET not in _everything(engine)


def test_every_url_form_is_hidden_when_shown() -> None:
    for url in FORMS:
        assert has_credentials(url)
        shown = redact_credentials(f"image {url} failed")
        assert SECRET not in shown and "[REDACTED]@" in shown, shown
        assert SECRET not in json.dumps(audit_details({"image_url": url, "nested": [{"u": url}]}))
    for clean in ("http://127.0.10.250/a@b.iso", "//127.0.10.250/share/x.iso", "127.0.10.250:/export/x.iso",
                  "https://127.0.10.250/x.iso?user=a@b"):
        assert not has_credentials(clean) and redact_credentials(clean) == clean
