"""The console unchanged for each role on PostgreSQL with DSM's roles: each OS user's own peer-authenticated
login (tests/pgroles.py) reads what its role may read — a viewer's servers, their details and credential source
without the sealed blobs its login may not select — and an operator's refresh is a job in its own name, audited
with its database login."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dsm_core.credentials.secret import Secret
from dsm_core.db import make_engine
from dsm_core.services import servers, users
from tests.conftest import Templates, ctx_for, fresh_database
from tests.pgroles import PeerLogins
from tests.tui.conftest import make_app, notices, screen_text, wait_for
from tests.tui.seed import seed

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def pg(templates: Templates, tmp_path: Path, peer_logins: PeerLogins) -> Iterator[Engine]:
    engine = make_engine(fresh_database(templates, "postgresql", tmp_path))
    seed(engine, 12, activity=50)
    admin = ctx_for(engine, "alice")
    servers.update_server(admin, "esx-00001", username="root", password=Secret("calvin"))
    for role in ("admin", "operator", "viewer"):
        users.add_user(admin, peer_logins.name(role), role)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
async def test_each_role_uses_the_console_with_its_own_login(pg: Engine, peer_logins: PeerLogins, role: str) -> None:
    own = peer_logins.engine(str(pg.url.database), role)
    app = make_app(own, peer_logins.name(role), start_view="servers", database_label="postgresql (peer)")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.current_view == "servers" and len(app.screen.table.rows) == 12,
                       what="the servers to load")
        await pilot.press("down")  # esx-00001, which has its own sealed password
        await pilot.press("enter")
        text = await wait_for(pilot, lambda: "credentials" in (t := screen_text(app)) and "esx-00001" in t and t,
                              what="the detail pane")
        assert "server's own (root)" in text  # resolved without reading the blob a viewer's login may not select
        await pilot.press("escape")
        for view in ("jobs", "activity", "credentials", "settings", "calendar"):
            app.goto(view)
            await wait_for(pilot, lambda v=view: app.current_view == v, what=view)
            await pilot.pause(0.4)
        assert not [n for n in notices(app) if "refused" in n or "denied" in n or "rror" in n], notices(app)
        if role == "admin":  # the audit view names the database login that wrote each entry
            app.goto("audit")
            text = await wait_for(pilot, lambda: "users.add" in (t := screen_text(app)) and "DB LOGIN" in t and t,
                                  what="the audit view")
            # every entry so far was written by the seeding superuser's login, as PostgreSQL recorded it
            assert {row.login for row in app.screen.table.rows} == {"dsm"}
            assert any(line.rstrip().endswith(" dsm") for line in text.splitlines() if "users.add" in line)
        if role == "operator":
            app.goto("servers")
            await wait_for(pilot, lambda: app.current_view == "servers" and len(app.screen.table.rows) == 12,
                           what="the servers again")
            await pilot.press("down", "r")
            with pg.connect() as conn:
                found = await wait_for(pilot, lambda: conn.execute(sa.text(
                    "SELECT a.username, a.db_user, u.username FROM audit_logs a JOIN jobs j ON j.id::text = "
                    "a.target_id JOIN users u ON u.id = j.created_by WHERE a.action = 'jobs.create'")).first(),
                    what="the refresh job")
            assert tuple(found) == (peer_logins.name(role),) * 3
