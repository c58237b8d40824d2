"""PostgreSQL enforces DSM's roles too (dsm_core.db.roles): throwaway OS users, each connecting over the local
socket as itself by peer authentication, try with `psql`, with the installed `dsm` and through the services what
their role allows and what it does not.

The cluster is the session's (tests/pg.py: `local all all peer map=dsm`); every database is a copy of the
provisioned template. Each DSM user below is added by an admin, which creates its login in the same transaction.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from dsm_core.credentials.secret import Secret
from dsm_core.db import make_engine, migrate, roles
from dsm_core.services import credentials, servers, settings, users
from dsm_core.services.context import ServiceContext, actor_for
from dsm_core.services.errors import PermissionDenied, ValidationError
from tests.conftest import Templates, ctx_for, fresh_database
from tests.pgroles import PeerLogins, session_user

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def pg(templates: Templates, tmp_path: Path) -> Iterator[Engine]:
    """A provisioned database (a copy of the template) on the session's cluster, as the shared superuser."""
    engine = make_engine(fresh_database(templates, "postgresql", tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def logins(pg: Engine, peer_logins: PeerLogins) -> PeerLogins:
    """The OS users of each role made DSM users of this database (their logins created by users.add)."""
    admin = ctx_for(pg, "alice")
    for role in ("admin", "operator", "viewer"):
        users.add_user(admin, peer_logins.name(role), role)
    return peer_logins


def _db(engine: Engine) -> str:
    return str(engine.url.database)


def _tables() -> list[str]:
    import dsm_core.models  # noqa: F401

    return sorted(SQLModel.metadata.tables)


def _errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith(("ERROR", "psql:"))]


def _seed_secrets(pg: Engine) -> None:
    admin = ctx_for(pg, "alice")
    servers.add_server(admin, "127.0.10.1:8443", hostname="r750-01", username="root", password=Secret("calvin"))
    credentials.add_credential_set(admin, "lab", "root", Secret("calvin"), ranges=["127.0.10.0/24"])


def test_a_viewers_psql_writes_nothing_to_any_table_and_never_reads_a_sealed_blob(
        pg: Engine, logins: PeerLogins) -> None:
    _seed_secrets(pg)
    tables = _tables()
    script = []
    for table in tables:
        key = next(iter(SQLModel.metadata.tables[table].primary_key.columns)).name
        script += [f'INSERT INTO "{table}" DEFAULT VALUES;', f'UPDATE "{table}" SET "{key}" = "{key}";',
                   f'DELETE FROM "{table}";', f'TRUNCATE "{table}";']
    result = logins.psql(_db(pg), "viewer", "\n".join(script))
    refused = re.findall(r"ERROR:  permission denied for table (\w+)", result.stderr)
    # Every statement on every table refused for want of the privilege, not for any other reason.
    assert sorted(refused) == sorted(t for t in tables for _ in range(4)), _errors(result)[:10]
    with pg.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM servers")).scalar() == 1  # nothing was deleted

    sealed = [(t.name, c.name) for t in SQLModel.metadata.tables.values() for c in t.columns
              if c.name.endswith("_sealed")]
    assert len(sealed) >= 8
    result = logins.psql(_db(pg), "viewer", "\n".join(f'SELECT "{c}" FROM "{t}";' for t, c in sealed)
                         + "\nSELECT full_name FROM users;")
    assert len(re.findall(r"ERROR:  permission denied for table", result.stderr)) == len(sealed) + 1, result.stderr
    assert "calvin" not in result.stdout and "x25519" not in result.stdout.lower()
    # What a viewer may read it reads: the server, and whether its password is set (never the blob).
    result = logins.psql(_db(pg), "viewer", "SELECT hostname, ip_address FROM servers;\n"
                         "SELECT idrac_password_set FROM dsm_secrets_servers;\n"
                         "SELECT username, role FROM users WHERE username = session_user;")
    assert _errors(result) == []
    assert result.stdout.split() == ["r750-01|127.0.10.1", "t", f"{logins.name('viewer')}|viewer"]


def test_an_operator_is_refused_users_settings_and_credentials_but_writes_servers_and_jobs_in_its_own_name(
        pg: Engine, logins: PeerLogins, request: pytest.FixtureRequest) -> None:
    _seed_secrets(pg)
    refused = logins.psql(_db(pg), "operator", "\n".join([
        "INSERT INTO users (id, username, role, created_at, updated_at) "
        "VALUES (gen_random_uuid(), 'mallory', 'admin', now(), now());",
        "UPDATE users SET role = 'admin';",
        "UPDATE maintenance_settings SET four_eyes = false, operators_may_approve = true;",
        "UPDATE activity_settings SET log_retention_days = 1;",
        "UPDATE notification_settings SET smtp_host = 'evil';",
        "DELETE FROM credential_sets;",
        "UPDATE credential_sets SET username = 'x';",
        "INSERT INTO credential_ip_ranges (id, credential_set_id, ip_range, priority, created_at, updated_at) "
        "SELECT gen_random_uuid(), id, '0.0.0.0/0', 0, now(), now() FROM credential_sets;",
    ]))
    assert len(re.findall(r"ERROR:  permission denied for table", refused.stderr)) == 8, refused.stderr
    # A job in someone else's name is refused by the row-level policy, and so is a forged audit row.
    forged = logins.psql(_db(pg), "operator", "\n".join([
        "INSERT INTO jobs (id, job_type, status, created_by, created_at, updated_at, auto_select_latest, progress, "
        "attempts, cancel_requested) SELECT gen_random_uuid(), 'health_check', 'pending', id, now(), now(), false, 0, "
        "0, false FROM users WHERE username = 'alice';",
        "INSERT INTO audit_logs (id, username, action, timestamp, created_at) "
        "VALUES (gen_random_uuid(), 'alice', 'servers.remove', now(), now());",
    ]))
    assert "new row violates row-level security policy" in forged.stderr, forged.stderr
    assert "audit row names DSM user alice but the database login is " + logins.name("operator") in forged.stderr

    # The installed dsm, run by the operator's OS user with the default URL (no user, no password): it works,
    # and the audit rows name the database login.
    home = tempfile.mkdtemp(prefix="dsm-home-")  # not under pytest's private temporary directory
    request.addfinalizer(lambda: shutil.rmtree(home, ignore_errors=True))
    os.chown(home, logins.users["operator"].pw_uid, logins.users["operator"].pw_gid)
    added = logins.dsm(_db(pg), "operator", "servers", "add", "127.0.10.2:8443", "--hostname", "r750-02", "--json",
                       home=home)
    assert added.returncode == 0, added.stderr
    job = logins.dsm(_db(pg), "operator", "jobs", "create", "health_check", "--server", "r750-02", "--json",
                     home=home)
    assert job.returncode == 0, job.stderr
    assert json.loads(job.stdout)["status"] == "pending"
    with pg.connect() as conn:
        rows = conn.execute(sa.text("SELECT action, username, db_user FROM audit_logs "
                                    "WHERE action IN ('servers.add', 'jobs.create') ORDER BY timestamp DESC LIMIT 2"))
        assert sorted(rows.all()) == [("jobs.create", logins.name("operator"), logins.name("operator")),
                                      ("servers.add", logins.name("operator"), logins.name("operator"))]
    # ... and the same command for an admin-only use case is refused, by DSM before the database is asked.
    denied = logins.dsm(_db(pg), "operator", "users", "add", "mallory", "--role", "admin", home=home)
    assert denied.returncode == 3 and "needs the admin role" in denied.stderr


@pytest.mark.parametrize("role", ["admin", "worker"])
def test_the_audit_and_activity_logs_are_append_only_and_retention_deletes_only_old_rows(
        pg: Engine, logins: PeerLogins, role: str) -> None:
    now = datetime.now(UTC)
    with pg.begin() as conn:
        for age_days in (400, 100, 5):
            stamp = now - timedelta(days=age_days)
            conn.execute(sa.text("INSERT INTO audit_logs (id, username, action, timestamp, created_at) "
                                 "VALUES (gen_random_uuid(), 'alice', :a, :t, :t)"), {"a": f"old.{age_days}", "t": stamp})
            conn.execute(sa.text(
                "INSERT INTO idrac_commands (id, timestamp, command_type, endpoint, full_url, success, source, "
                "operation_type, created_at) VALUES (gen_random_uuid(), :t, 'GET', '/redfish/v1', "
                "'https://127.0.10.1/redfish/v1', true, 'worker', 'idrac_api', :t)"), {"t": stamp})
        conn.execute(sa.text("UPDATE activity_settings SET audit_retention_days = 30, log_retention_days = 30, "
                             "auto_cleanup_enabled = true"))
    before = _counts(pg)
    result = logins.psql(_db(pg), role, "\n".join([
        "UPDATE audit_logs SET username = 'nobody';", "DELETE FROM audit_logs;", "TRUNCATE audit_logs;",
        "UPDATE idrac_commands SET success = false;", "DELETE FROM idrac_commands;", "TRUNCATE idrac_commands;",
    ]))
    assert len(re.findall(r"ERROR:  permission denied for table (audit_logs|idrac_commands)", result.stderr)) == 6, \
        result.stderr
    assert _counts(pg) == before
    # Nor may either move the retention settings the function reads (the worker keeps only its cleanup times).
    if role == "worker":
        moved = logins.psql(_db(pg), role, "UPDATE activity_settings SET audit_retention_days = 1;\n"
                                           "UPDATE activity_settings SET log_retention_days = 1;\n"
                                           "UPDATE activity_settings SET last_cleanup_at = now();")
        assert len(re.findall(r"ERROR:  permission denied for table activity_settings", moved.stderr)) == 2, \
            moved.stderr
        assert moved.stderr.count("ERROR") == 2
    # Retention through the owner's function: only what the settings call old goes, whatever time is passed.
    result = logins.psql(_db(pg), role, "SELECT table_name, deleted FROM dsm_retention(now() + interval '50 years', "
                                        "500) ORDER BY 1;")
    assert _errors(result) == [], result.stderr
    assert result.stdout.split() == ["audit_logs|2", "idrac_commands|2"]
    with pg.connect() as conn:
        left = set(conn.execute(sa.text("SELECT action FROM audit_logs WHERE action LIKE 'old.%'")).scalars())
    assert left == {"old.5"}
    assert _counts(pg) == {"audit_logs": before["audit_logs"] - 2, "idrac_commands": before["idrac_commands"] - 2}
    # A viewer and an operator may not call it at all.
    for other in ("viewer", "operator"):
        refused = logins.psql(_db(pg), other, "SELECT * FROM dsm_retention(now(), 500);")
        assert "permission denied for function dsm_retention" in refused.stderr


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() or 0)
                for t in ("audit_logs", "idrac_commands")}


def test_the_worker_scheduler_purges_the_activity_log_through_the_definer_function(
        pg: Engine, logins: PeerLogins) -> None:
    from dsm_worker.scheduler import Scheduler, TickReport

    now = datetime.now(UTC)
    with pg.begin() as conn:
        for age_days in (90, 1):
            conn.execute(sa.text(
                "INSERT INTO idrac_commands (id, timestamp, command_type, endpoint, full_url, success, source, "
                "operation_type, created_at) VALUES (gen_random_uuid(), :t, 'GET', '/redfish/v1', "
                "'https://127.0.10.1/redfish/v1', true, 'worker', 'idrac_api', :t)"), {"t": now - timedelta(days=age_days)})
    worker = logins.engine(_db(pg), "worker")
    assert session_user(worker) == roles.WORKER
    report = TickReport()
    Scheduler(worker)._retention(now, report)
    assert report.deleted.get("idrac_commands") == 1
    assert _counts(pg)["idrac_commands"] == 1


def test_the_dsm_user_and_the_database_login_must_agree(pg: Engine, logins: PeerLogins) -> None:
    as_operator = logins.engine(_db(pg), "operator")
    with pytest.raises(PermissionDenied, match="must agree"):
        actor_for(as_operator, "alice")
    # A forged context (the application lying about who acts) is refused by the audit trigger, and nothing stays.
    forged = ServiceContext(as_operator, actor_for(pg, "oscar"))
    with pytest.raises(PermissionDenied, match="must agree"):
        servers.add_server(forged, "127.0.10.3:8443", hostname="forged")
    with pg.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM servers WHERE hostname = 'forged'")).scalar() == 0
    # The worker's login writes audit rows only as the system.
    worker = logins.engine(_db(pg), "worker")
    with pytest.raises(PermissionDenied, match="worker, which acts as system"):
        servers.add_server(ServiceContext(worker, actor_for(pg, "alice")), "127.0.10.4:8443")


def test_users_add_set_role_and_remove_manage_the_login_in_the_same_transaction(
        pg: Engine, logins: PeerLogins) -> None:
    admin = ctx_for(logins.engine(_db(pg), "admin"), logins.name("admin"))
    name = logins.name("viewer")
    users.set_role(admin, name, "operator")
    assert _groups(pg, name) == ["dsm_operator"]
    users.remove_user(admin, name)
    assert _groups(pg, name) == []
    refused = logins.psql(_db(pg), "viewer", "SELECT count(*) FROM public.servers;")
    assert "permission denied for schema public" in refused.stderr, refused.stderr  # no group: not even the schema
    users.add_user(admin, name, "viewer")
    assert _groups(pg, name) == ["dsm_viewer"]
    # Never a login with powers of its own, and never a DSM role name.
    with pytest.raises(PermissionDenied, match="powers of its own"):
        users.add_user(admin, "dsm", "admin")  # the cluster's superuser here
    with pytest.raises(ValidationError, match="database role name"):
        users.add_user(admin, "dsm_owner", "admin")
    assert {u["username"] for u in users.list_users(admin)} >= {name}
    with pg.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users WHERE username IN ('dsm', 'dsm_owner')")).scalar() == 0


def _groups(engine: Engine, login: str) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.text(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :u AND g.rolname LIKE 'dsm%'"), {"u": login}).scalars())


def _grants_and_policies(engine: Engine) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str, str]]]:
    with engine.connect() as conn:
        grants = {(g, t, p) for g, t, p in conn.execute(sa.text(
            "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE table_schema = 'public' AND grantee LIKE 'dsm\\_%' AND table_name NOT LIKE 'dsm\\_secrets\\_%' "
            "AND table_name <> 'alembic_version' AND grantee <> 'dsm_owner'"))}
        policies = {(t, n, c, p) for t, n, c, p in conn.execute(sa.text(
            "SELECT tablename, policyname, cmd, permissive FROM pg_policies WHERE schemaname = 'public'"))}
    return grants, policies


def test_upgrade_on_a_populated_provisioned_database_keeps_the_grants_and_policies(
        templates: Templates, tmp_path: Path) -> None:
    """An install without roles is provisioned in place by `dsm db provision-roles`; a later `dsm db upgrade` from
    the previous head keeps (and completes) the grants and policies, listed against the expected matrix."""
    url = fresh_database(templates, "postgresql", tmp_path, empty=True)
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        system = ctx_for_system(engine)
        users.add_user(system, "alice", "admin")
        settings.set_setting(ctx_for(engine, "alice"), "activity.log_retention_days", "45")
        with engine.connect() as conn:
            assert not roles.is_provisioned(conn)
        env = {**os.environ, "DSM_DATABASE_URL": url, "DSM_HOME": str(tmp_path)}
        done = subprocess.run([sys.executable, "-m", "dsm_cli.main", "db", "provision-roles", "--json"], capture_output=True, text=True, env=env,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert {"login": "alice", "group": "dsm_admin"} in out["logins"]
        assert any("peer map=dsm" in line for line in out["pg_hba"])
        again = subprocess.run([sys.executable, "-m", "dsm_cli.main", "db", "provision-roles", "--json"],
                               capture_output=True, text=True, env=env, timeout=120, check=False)
        assert again.returncode == 0, again.stderr  # idempotent: nothing left to create or hand over
        assert json.loads(again.stdout)["created_roles"] == [] and json.loads(again.stdout)["objects_moved"] == 0

        migrate.downgrade(engine, "0009")  # the previous head, populated
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == 1
        upgraded = subprocess.run([sys.executable, "-m", "dsm_cli.main", "db", "upgrade"], capture_output=True, text=True, env=env, timeout=120,
                                  check=False)
        assert upgraded.returncode == 0, upgraded.stderr
        with engine.connect() as conn:
            tables = roles.dsm_tables(conn)
            assert roles.is_provisioned(conn)
        grants, policies = _grants_and_policies(engine)
        assert grants == roles.expected_grants(tables)
        assert policies == roles.expected_policies(tables)
        assert len(tables) == len(SQLModel.metadata.tables)
        with engine.connect() as conn:
            owners = set(conn.execute(sa.text(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")).scalars())
            rls = set(conn.execute(sa.text(
                "SELECT relrowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'alembic_version'")).scalars())
            value = conn.execute(sa.text("SELECT log_retention_days FROM activity_settings")).scalar()
        assert owners == {roles.OWNER} and rls == {True} and value == 45
    finally:
        engine.dispose()


def ctx_for_system(engine: Engine) -> ServiceContext:
    from dsm_core.services.context import SYSTEM

    return ServiceContext(engine, SYSTEM)


def test_every_table_has_an_access_rule() -> None:
    """A new table must be classified in dsm_core.db.roles before it can be migrated on a provisioned database."""
    import dsm_core.models  # noqa: F401

    for table in SQLModel.metadata.tables.values():
        acc = roles.access(table)
        assert acc.privileges["viewer"] == frozenset({"SELECT"})
        if table.name in roles.APPEND_ONLY:
            assert all(not ({"UPDATE", "DELETE"} & p) for p in acc.privileges.values()), table.name


def test_the_cli_works_unchanged_for_each_role(pg: Engine, logins: PeerLogins, request: pytest.FixtureRequest) -> None:
    _seed_secrets(pg)
    # (the operator's dsm runs in the test above; here the two ends: the viewer reads, the admin changes settings)
    for role in ("viewer", "admin"):
        home = tempfile.mkdtemp(prefix="dsm-home-")
        request.addfinalizer(lambda h=home: shutil.rmtree(h, ignore_errors=True))
        os.chown(home, logins.users[role].pw_uid, logins.users[role].pw_gid)
        listed = logins.dsm(_db(pg), role, "servers", "list", "--json", home=home)
        assert listed.returncode == 0, listed.stderr
        assert [s["hostname"] for s in json.loads(listed.stdout)] == ["r750-01"]
        shown = logins.dsm(_db(pg), role, "servers", "show", "r750-01", "--json", home=home)
        assert shown.returncode == 0, shown.stderr
        view = json.loads(shown.stdout)
        # whether a password is set, and where the credential comes from, even for a login that may not read it
        assert view["idrac_password_set"] is True and view["credential_source"].startswith("server"), view
        assert "calvin" not in shown.stdout and "sealed" not in json.dumps(view["credential_source"])
    set_by_admin = logins.dsm(_db(pg), "admin", "settings", "set", "activity.log_retention_days", "40", home=home)
    assert set_by_admin.returncode == 0, set_by_admin.stderr
    with pg.connect() as conn:
        row = conn.execute(sa.text("SELECT username, db_user FROM audit_logs WHERE action = 'settings.set'")).one()
    assert tuple(row) == (logins.name("admin"), logins.name("admin"))


def test_approvals_by_hand_follow_the_approval_settings_and_the_worker_starts_the_window(
        pg: Engine, logins: PeerLogins) -> None:
    from dsm_core.services import windows
    from dsm_worker.scheduler import Scheduler

    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    admin = ctx_for(pg, "alice")
    servers.add_server(admin, "127.0.10.1:8443", hostname="r750-01")
    operator = ctx_for(logins.engine(_db(pg), "operator"), logins.name("operator"))
    mine = windows.create_window(operator, "patch", maintenance_type="health_check", start=t0,
                                 end=t0 + timedelta(hours=1), servers=["r750-01"], requires_approval=True)
    theirs = windows.create_window(ctx_for(logins.engine(_db(pg), "admin"), logins.name("admin")), "bios",
                                   maintenance_type="health_check", start=t0, end=t0 + timedelta(hours=1),
                                   servers=["r750-01"], requires_approval=True)
    approve = "UPDATE maintenance_windows SET approved_by = dsm_user_id(), approved_at = now() WHERE id = '{}';"
    # psql straight at the table: the creator may not approve its own window (four-eyes) ...
    own = logins.psql(_db(pg), "operator", approve.format(mine["id"]))
    assert "four-eyes rule (maintenance.four_eyes)" in own.stderr, own.stderr
    # ... nor approve in another's name ...
    forged = logins.psql(_db(pg), "operator", "UPDATE maintenance_windows SET approved_by = created_by, "
                         f"approved_at = now() WHERE id = '{theirs['id']}';")
    assert "in the approver's own name" in forged.stderr, forged.stderr
    # ... nor approve at all when operators may not.
    settings.set_setting(admin, "maintenance.operators_may_approve", "false")
    refused = logins.psql(_db(pg), "operator", approve.format(theirs["id"]))
    assert "may not approve or reject windows" in refused.stderr, refused.stderr
    approved = logins.psql(_db(pg), "admin", approve.format(mine["id"]))
    assert _errors(approved) == [], approved.stderr
    # The worker's scheduler starts the approved window at its time, in the system's name, with its own login.
    worker = logins.engine(_db(pg), "worker")
    report = Scheduler(worker).tick(t0)
    assert report.errors == [] and sorted(report.started) == ["bios: skipped", "patch: in_progress"], report
    with pg.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM maintenance_windows WHERE id = :i"), {"i": mine["id"]})
        assert status.scalar() == "in_progress"
        started = conn.execute(sa.text("SELECT DISTINCT username, db_user FROM audit_logs "
                                       "WHERE action IN ('windows.start', 'windows.skip')"))
        assert [tuple(r) for r in started] == [("system", roles.WORKER)]


def test_a_database_from_before_the_roles_still_names_its_users(templates: Templates, tmp_path: Path) -> None:
    """`dsm db upgrade` on an install older than the roles first asks who is acting: that must not need them."""
    engine = make_engine(fresh_database(templates, "postgresql", tmp_path, empty=True))
    try:
        migrate.upgrade(engine, "0009")
        with engine.begin() as conn:  # a user of the old version (its code wrote the row)
            conn.execute(sa.text("INSERT INTO users (id, username, role, created_at, updated_at) "
                                 "VALUES (gen_random_uuid(), 'alice', 'admin', now(), now())"))
        assert actor_for(engine, "alice").role == "admin"
        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert not roles.is_provisioned(conn)  # nothing enforced until provision-roles runs
        users.add_user(ctx_for(engine, "alice"), "oscar", "operator")
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT username, db_user FROM audit_logs WHERE action = 'users.add' "
                                       "AND details->>'username' = 'oscar'")).one()
        assert tuple(row) == ("alice", "dsm")  # the trigger records the login before any role exists
    finally:
        engine.dispose()
