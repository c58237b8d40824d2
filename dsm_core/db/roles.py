"""PostgreSQL enforces DSM's roles too (DESIGN.md §3, "Who can bypass the app").

On a shared jump host anyone who can run ``psql`` as themselves must not be able to do more than their DSM role
allows. Operators connect over the local socket with peer authentication (the OS user is the database login);
each login is a member of exactly one group role, ``dsm_viewer``, ``dsm_operator`` or ``dsm_admin``; the worker
service has its own login, ``dsm_worker``; every object belongs to ``dsm_owner``, which nobody logs in as (a
superuser or a DBA login granted it runs ``dsm db upgrade``). The grants below mirror the service rules table by
table, row-level policies add what a grant cannot say (an operator's job or window is created in their own name),
triggers check what a policy cannot see (the audit row names the database login; an approval follows the
approval settings), and the audit log and the activity log are append-only for everyone but their owner:
retention goes through one ``SECURITY DEFINER`` function that deletes only rows older than the retention setting.

``sync`` is idempotent and runs after every ``dsm db upgrade`` (and from ``dsm db provision-roles``), so a new
table gets its grants and policies with the migration that creates it; a table this module does not classify is
an error, never a table left open or closed by accident.

SQLite has none of this: whoever can write the database file can do anything, so the file belongs to the DSM
service group and that mode trusts its members (README, Deployment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dsm_core.services.errors import Conflict, PermissionDenied

OWNER = "dsm_owner"
WORKER = "dsm_worker"
GROUPS: dict[str, str] = {"viewer": "dsm_viewer", "operator": "dsm_operator", "admin": "dsm_admin"}
HUMANS = tuple(GROUPS.values())
EVERYONE = (*HUMANS, WORKER)

DML = frozenset({"INSERT", "UPDATE", "DELETE"})
IU = frozenset({"INSERT", "UPDATE"})

# What an operator may write, table by table (the operator's use cases: servers, groups, jobs, windows, the BIOS
# baseline and SCP edits, firmware repositories, vCenter links). Removing servers, groups and repositories is
# admin work, so operators get no DELETE there.
OPERATOR_WRITES: dict[str, frozenset[str]] = {
    "servers": IU,
    "server_groups": IU,
    "server_group_members": DML,
    "jobs": IU,
    "job_tasks": IU,
    "maintenance_windows": IU,
    "workflow_executions": IU,
    "bios_configurations": DML,
    "scp_backups": IU,
    "firmware_repositories": IU,
    "vcenter_hosts": frozenset({"UPDATE"}),
    "notification_outbox": frozenset({"INSERT"}),
}
# Admin-only tables: users, settings, credentials, vCenter connections, scheduled checks.
ADMIN_TABLES = frozenset({
    "users", "credential_sets", "credential_ip_ranges", "activity_settings", "network_settings",
    "notification_settings", "openmanage_settings", "virtual_media_settings", "maintenance_settings", "vcenters",
    "scheduled_safety_checks",
})
# What the worker observes and keeps (inventory, health, checks, its own bookkeeping).
OBSERVED_TABLES = frozenset({
    "bios_registries", "cluster_safety_checks", "server_group_safety_checks", "firmware_compliance",
    "firmware_inventory", "firmware_packages", "server_event_logs", "server_health", "vcenter_clusters",
    "worker_heartbeats", "scheduler_state", "notification_logs", "activity_daily_stats", "virtual_media_sessions",
    "server_boot_config_history",
})
# Written once, never changed: only their owner (through dsm_retention) removes old rows.
APPEND_ONLY = frozenset({"audit_logs", "idrac_commands"})
# Admin tables whose bookkeeping columns the worker keeps current (cleanup times, last syncs and runs, a pinned
# certificate), and only those: a worker that could change activity_settings' retention days could have
# dsm_retention empty the audit log.
WORKER_UPDATES: dict[str, frozenset[str]] = {
    # sealing_public_key: `dsm init --worker` registers the worker's key under its own login; the trigger
    # dsm_worker_key_once lets nobody but the owner replace a registered one.
    "activity_settings": frozenset({"last_cleanup_at", "job_last_cleanup_at", "sealing_public_key", "updated_at"}),
    "vcenters": frozenset({"last_sync", "last_sync_status", "last_sync_error", "last_sync_stats",
                           "tls_fingerprint_sha256", "updated_at"}),
    "scheduled_safety_checks": frozenset({"last_status", "last_run_at", "updated_at"}),
    "openmanage_settings": frozenset({"last_sync", "tls_fingerprint_sha256", "updated_at"}),
}
# Columns a viewer may not read: sealed secrets' blobs and users' private fields. Whether a secret is set stays
# visible through the owner's dsm_secrets_<table> views.
PRIVATE_COLUMNS: dict[str, frozenset[str]] = {"users": frozenset({"full_name"})}

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RolesError(PermissionDenied):
    """The database login may not do this (provision, migrate): says who can."""


def ident(name: str) -> str:
    """Quote an identifier DSM made up (never an operator's text: logins go through dsm_grant_login)."""
    if not _IDENT.match(name):
        raise RolesError(f"{name!r} is not an identifier DSM creates")
    return f'"{name}"'


def hidden_columns(table: sa.Table) -> frozenset[str]:
    sealed = {c.name for c in table.columns if c.name.endswith("_sealed")}
    return frozenset(sealed | PRIVATE_COLUMNS.get(table.name, frozenset()))


@dataclass(frozen=True)
class TableAccess:
    """Who may do what to one table: privilege sets per role (SELECT included)."""

    table: str
    privileges: dict[str, frozenset[str]]
    hidden_from_viewer: frozenset[str]
    worker_update_columns: frozenset[str] | None = None
    """When set, the worker's UPDATE is granted on these columns only (a column-level grant)."""


def access(table: sa.Table) -> TableAccess:
    name = table.name
    read = frozenset({"SELECT"})
    if name in APPEND_ONLY:
        # Every mutation writes its audit row; only the worker reaches devices, so only it logs their calls.
        human = frozenset({"INSERT"}) if name == "audit_logs" else frozenset()
        writes = {"operator": human, "admin": human, "worker": frozenset({"INSERT"})}
    elif name in OPERATOR_WRITES:
        writes = {"operator": OPERATOR_WRITES[name], "admin": DML, "worker": DML}
    elif name in ADMIN_TABLES:
        writes = {"operator": frozenset(), "admin": DML,
                  "worker": frozenset({"UPDATE"}) if name in WORKER_UPDATES else frozenset()}
    elif name in OBSERVED_TABLES:
        writes = {"operator": frozenset(), "admin": DML, "worker": DML}
    else:
        raise RolesError(f"table {name} has no access rule in dsm_core/db/roles.py: classify it before migrating")
    privileges = {"viewer": read, **{role: read | w for role, w in writes.items()}}
    columns = WORKER_UPDATES.get(name)
    if columns is not None:
        missing = columns - {c.name for c in table.columns}
        if missing:
            raise RolesError(f"WORKER_UPDATES names columns {sorted(missing)} that {name} does not have")
    return TableAccess(name, privileges, hidden_columns(table), columns)


def role_name(role: str) -> str:
    return WORKER if role == "worker" else GROUPS[role]


def dsm_tables(conn: Connection) -> list[sa.Table]:
    """DSM's tables that exist in this database (a sync during an old migration sees fewer)."""
    from sqlmodel import SQLModel

    import dsm_core.models  # noqa: F401  (registers every table)

    present = set(sa.inspect(conn).get_table_names())
    return [t for name, t in sorted(SQLModel.metadata.tables.items()) if name in present]


def expected_grants(tables: list[sa.Table]) -> set[tuple[str, str, str]]:
    """(grantee, table, privilege) as information_schema.role_table_grants lists table-wide grants."""
    out: set[tuple[str, str, str]] = set()
    for table in tables:
        acc = access(table)
        for role, privileges in acc.privileges.items():
            for privilege in privileges:
                if role == "viewer" and privilege == "SELECT" and acc.hidden_from_viewer:
                    continue  # column-level: listed in column_privileges
                if role == "worker" and privilege == "UPDATE" and acc.worker_update_columns is not None:
                    continue  # column-level too
                out.add((role_name(role), table.name, privilege))
    return out


def expected_policies(tables: list[sa.Table]) -> set[tuple[str, str, str, str]]:
    """(table, policy, command, permissive) as pg_policies lists them."""
    out: set[tuple[str, str, str, str]] = set()
    for table in tables:
        acc = access(table)
        out.add((table.name, "dsm_read", "SELECT", "PERMISSIVE"))
        for command in ("INSERT", "UPDATE", "DELETE"):
            if any(command in p for p in acc.privileges.values()):
                out.add((table.name, f"dsm_{command.lower()}", command, "PERMISSIVE"))
        if table.name in OWN_ROWS:
            out.add((table.name, "dsm_own_rows", "INSERT", "RESTRICTIVE"))
    return out


# Rows an operator creates in their own name (the service sets created_by to the caller).
OWN_ROWS = {"jobs": "created_by", "maintenance_windows": "created_by"}


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def roles_exist(conn: Connection) -> bool:
    names = conn.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:names)"),
                         {"names": [OWNER, WORKER, *HUMANS]}).scalars().all()
    return len(names) == len(EVERYONE) + 1


def is_provisioned(conn: Connection) -> bool:
    """True when this database's objects belong to dsm_owner and its grants were set (provision-roles ran). A
    restore (``--no-owner``) leaves the functions but hands the tables to whoever restored: not provisioned until
    provision-roles runs again."""
    if not is_postgres(conn):
        return False
    return bool(conn.execute(sa.text(
        "SELECT to_regprocedure('public.dsm_grant_login(text,text)') IS NOT NULL AND coalesce((SELECT "
        "pg_get_userbyid(c.relowner) = :owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relname = 'alembic_version'), false)"), {"owner": OWNER}).scalar())


def may_own(conn: Connection) -> bool:
    """The session's login is a superuser or may act as dsm_owner (the DBA), so it may change the schema."""
    return bool(conn.execute(sa.text(
        "SELECT r.rolsuper OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :owner) "
        "AND pg_has_role(session_user, :owner, 'MEMBER')) FROM pg_roles r WHERE r.rolname = session_user"),
        {"owner": OWNER}).scalar())


def act_as_owner(conn: Connection) -> None:
    """Create and alter objects as dsm_owner for the rest of this transaction (migrations, sync)."""
    if not may_own(conn):
        login = conn.execute(sa.text("SELECT session_user")).scalar()
        raise RolesError(
            f"the schema belongs to {OWNER} and database login {login!r} may not act as it: run this as a "
            f"PostgreSQL superuser (sudo -u postgres dsm …) or from a login granted {OWNER} by one")
    conn.execute(sa.text(f"SET LOCAL ROLE {ident(OWNER)}"))


# --- functions and triggers -------------------------------------------------------------------------------------

BASE_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION public.dsm_trusted() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  -- Not provisioned (one login, as before this issue): the database enforces nothing of its own.
  SELECT to_regprocedure('public.dsm_grant_login(text,text)') IS NULL OR r.rolsuper
         OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dsm_owner')
             AND pg_has_role(session_user, 'dsm_owner', 'MEMBER'))
  FROM pg_roles r WHERE r.rolname = session_user
$$;

CREATE OR REPLACE FUNCTION public.dsm_member(grp text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grp) AND pg_has_role(session_user, grp, 'MEMBER')
$$;

CREATE OR REPLACE FUNCTION public.dsm_user_id() RETURNS uuid
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT id FROM public.users WHERE username = session_user
$$;

-- The audit row names who really did it: the database login, which the application cannot choose. A login of
-- a DSM group may only write audit rows in its own name (and user id); the worker's login only as "system".
-- Superusers and the owner's DBA logins (provisioning, upgrades, the test harness) are trusted and recorded.
CREATE OR REPLACE FUNCTION public.dsm_audit_identity() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  NEW.db_user := session_user;
  IF public.dsm_trusted() THEN
    RETURN NEW;
  END IF;
  IF public.dsm_member('dsm_worker') THEN
    IF NEW.username <> 'system' OR NEW.user_id IS NOT NULL THEN
      RAISE EXCEPTION 'audit row names % but database login % is the worker, which acts as system',
        NEW.username, session_user USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;
  IF NEW.username IS DISTINCT FROM session_user::text
     OR (NEW.user_id IS NOT NULL AND NEW.user_id IS DISTINCT FROM public.dsm_user_id()) THEN
    RAISE EXCEPTION 'audit row names DSM user % but the database login is %: the DSM user and the login must '
      'agree (connect as yourself over the local socket)', NEW.username, session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;

-- An approval or a rejection follows the approval settings (maintenance.operators_may_approve, four_eyes), is
-- made in the approver's own name, and only by a login of a role that may approve.
CREATE OR REPLACE FUNCTION public.dsm_window_approval() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  may_operators boolean;
  four_eyes boolean;
  who uuid;
BEGIN
  IF public.dsm_trusted() OR public.dsm_member('dsm_worker') THEN
    RETURN NEW;
  END IF;
  IF NEW.approved_by IS NOT DISTINCT FROM OLD.approved_by AND NEW.rejected_by IS NOT DISTINCT FROM OLD.rejected_by
     AND NEW.approved_at IS NOT DISTINCT FROM OLD.approved_at THEN
    RETURN NEW;
  END IF;
  SELECT s.operators_may_approve, s.four_eyes INTO may_operators, four_eyes FROM public.maintenance_settings s LIMIT 1;
  may_operators := coalesce(may_operators, true);
  four_eyes := coalesce(four_eyes, true);
  who := public.dsm_user_id();
  IF NOT public.dsm_member('dsm_admin') AND NOT (may_operators AND public.dsm_member('dsm_operator')) THEN
    RAISE EXCEPTION 'login % may not approve or reject windows (maintenance.operators_may_approve)', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.approved_by IS NOT NULL AND NEW.approved_by IS DISTINCT FROM OLD.approved_by THEN
    IF NEW.approved_by IS DISTINCT FROM who THEN
      RAISE EXCEPTION 'an approval is made in the approver''s own name (login %)', session_user
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF four_eyes AND NEW.approved_by IS NOT DISTINCT FROM OLD.created_by THEN
      RAISE EXCEPTION 'four-eyes rule (maintenance.four_eyes): % created this window and may not approve it',
        session_user USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
  IF NEW.rejected_by IS NOT NULL AND NEW.rejected_by IS DISTINCT FROM OLD.rejected_by
     AND NEW.rejected_by IS DISTINCT FROM who THEN
    RAISE EXCEPTION 'a rejection is made in the rejecter''s own name (login %)', session_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;


-- The worker's public key is registered once: replacing it would seal every new password for another key (and
-- make the old ones unreadable). Only the owner (a DBA restoring a known key) may change a registered one.
CREATE OR REPLACE FUNCTION public.dsm_worker_key_once() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF OLD.sealing_public_key IS NOT NULL AND NEW.sealing_public_key IS DISTINCT FROM OLD.sealing_public_key
     AND NOT public.dsm_trusted() THEN
    RAISE EXCEPTION 'the worker key is registered already (login %); replacing it would make every sealed password '
      'unreadable', session_user USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
"""

# SECURITY DEFINER functions: created only by ``sync``, as dsm_owner, with EXECUTE granted to the roles that need
# them (a definer function created by whoever ran a migration would lend that login's powers to everyone).
DEFINER_FUNCTIONS = r"""
-- Retention of the append-only logs: the only way anyone but their owner removes rows. It reads the retention
-- settings itself and never deletes a row younger than they say, whatever time the caller passes (a caller's
-- clock may only move the cut earlier).
CREATE OR REPLACE FUNCTION public.dsm_retention(at timestamptz, batch integer)
RETURNS TABLE (table_name text, deleted bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s record;
  cut timestamptz;
  n bigint;
BEGIN
  SELECT a.auto_cleanup_enabled, a.log_retention_days, a.audit_retention_days INTO s
    FROM public.activity_settings a LIMIT 1;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  batch := greatest(1, least(coalesce(batch, 500), 10000));
  IF s.auto_cleanup_enabled AND s.log_retention_days > 0 THEN
    cut := least(at, now()) - make_interval(days => s.log_retention_days);
    DELETE FROM public.idrac_commands WHERE id IN (
      SELECT id FROM public.idrac_commands WHERE "timestamp" < cut LIMIT batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    table_name := 'idrac_commands'; deleted := n; RETURN NEXT;
  END IF;
  IF s.audit_retention_days > 0 THEN
    cut := least(at, now()) - make_interval(days => s.audit_retention_days);
    DELETE FROM public.audit_logs WHERE id IN (
      SELECT id FROM public.audit_logs WHERE "timestamp" < cut LIMIT batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    table_name := 'audit_logs'; deleted := n; RETURN NEXT;
  END IF;
END
$$;

-- Logins for DSM users, created, moved between groups and revoked by `dsm users add|set-role|remove` in the
-- same transaction as the users row. Only DSM's groups are ever granted, and a login that is more than a DSM
-- user (a superuser, a role that may create roles, the owner's or the worker's) is never touched.
CREATE OR REPLACE FUNCTION public.dsm_grant_login(login text, dsm_role text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  target text;
  r record;
BEGIN
  IF dsm_role NOT IN ('admin', 'operator', 'viewer') THEN
    RAISE EXCEPTION 'role %: use admin, operator or viewer', dsm_role USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF login IS NULL OR login !~ '^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,62}$' OR login LIKE 'dsm\_%' OR login LIKE 'pg\_%' THEN
    RAISE EXCEPTION 'login %: not an OS user name DSM may map', login USING ERRCODE = 'invalid_parameter_value';
  END IF;
  target := 'dsm_' || dsm_role;
  SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication INTO r FROM pg_roles WHERE rolname = login;
  IF NOT FOUND THEN
    EXECUTE format('CREATE ROLE %I LOGIN', login);
  ELSE
    IF r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolbypassrls OR r.rolreplication
       OR pg_has_role(login, 'dsm_owner', 'MEMBER') OR pg_has_role(login, 'dsm_worker', 'MEMBER') THEN
      RAISE EXCEPTION 'login % has powers of its own (superuser, role creation, the owner''s or the worker''s): '
        'DSM does not manage it; a DBA must', login USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('ALTER ROLE %I LOGIN', login);
  END IF;
  FOR r IN SELECT unnest(ARRAY['dsm_viewer', 'dsm_operator', 'dsm_admin']) AS g LOOP
    IF r.g <> target AND pg_has_role(login, r.g, 'MEMBER') THEN
      EXECUTE format('REVOKE %I FROM %I', r.g, login);
    END IF;
  END LOOP;
  IF NOT pg_has_role(login, target, 'MEMBER') THEN
    EXECUTE format('GRANT %I TO %I', target, login);
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION public.dsm_revoke_login(login text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  g text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = login) THEN
    RETURN;
  END IF;
  FOREACH g IN ARRAY ARRAY['dsm_viewer', 'dsm_operator', 'dsm_admin'] LOOP
    IF pg_has_role(login, g, 'MEMBER') THEN
      EXECUTE format('REVOKE %I FROM %I', g, login);
    END IF;
  END LOOP;
END
$$;
"""

TRIGGERS = """
DROP TRIGGER IF EXISTS dsm_audit_identity ON public.audit_logs;
CREATE TRIGGER dsm_audit_identity BEFORE INSERT ON public.audit_logs
  FOR EACH ROW EXECUTE FUNCTION public.dsm_audit_identity();
DROP TRIGGER IF EXISTS dsm_window_approval ON public.maintenance_windows;
CREATE TRIGGER dsm_window_approval BEFORE UPDATE ON public.maintenance_windows
  FOR EACH ROW EXECUTE FUNCTION public.dsm_window_approval();
DROP TRIGGER IF EXISTS dsm_worker_key_once ON public.activity_settings;
CREATE TRIGGER dsm_worker_key_once BEFORE UPDATE ON public.activity_settings
  FOR EACH ROW EXECUTE FUNCTION public.dsm_worker_key_once();
"""

FUNCTION_SIGNATURES = ("dsm_trusted()", "dsm_member(text)", "dsm_user_id()", "dsm_audit_identity()",
                       "dsm_window_approval()", "dsm_worker_key_once()",
                       "dsm_retention(timestamp with time zone,integer)",
                       "dsm_grant_login(text,text)", "dsm_revoke_login(text)")


def run_script(conn: Connection, script: str) -> None:
    """Several statements with ``%`` in them, as written: the driver's simple query protocol (no parameters)."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        cursor.execute(script)
    finally:
        cursor.close()


def install_functions(conn: Connection) -> None:
    """The invoker's functions and the triggers (PostgreSQL only; they work with or without the roles: until
    ``provision`` runs, every login is trusted and the audit row still records it)."""
    run_script(conn, BASE_FUNCTIONS)
    run_script(conn, TRIGGERS)


def _secrets_view(table: sa.Table) -> str | None:
    sealed = sorted(c.name for c in table.columns if c.name.endswith("_sealed"))
    if not sealed:
        return None
    flags = ", ".join(f"({ident(c)} IS NOT NULL) AS {ident(c.removesuffix('_sealed') + '_set')}" for c in sealed)
    return f"CREATE OR REPLACE VIEW public.{ident('dsm_secrets_' + table.name)} AS SELECT id, {flags} " \
           f"FROM public.{ident(table.name)}"


def create_singletons(conn: Connection) -> None:
    """Every settings table's one row, with its defaults: a service creates it on first use, but only admins may
    insert settings rows, and an operator's or the worker's first use must not need to."""
    from sqlmodel import Session

    from dsm_core.models import (
        SINGLETON_ID,
        ActivitySettings,
        MaintenanceSettings,
        NetworkSettings,
        NotificationSettings,
        OpenmanageSettings,
        VirtualMediaSettings,
    )

    session = Session(bind=conn)
    for model in (ActivitySettings, NetworkSettings, NotificationSettings, VirtualMediaSettings, OpenmanageSettings,
                  MaintenanceSettings):
        if session.get(model, SINGLETON_ID) is None:
            session.add(model(id=SINGLETON_ID))
    session.flush()
    session.close()


def sync(conn: Connection) -> None:
    """Grants, policies, functions and triggers as this module says, on every DSM table present, and the settings
    rows. Idempotent; run as dsm_owner (``act_as_owner``) at the head revision."""
    tables = dsm_tables(conn)
    create_singletons(conn)
    install_functions(conn)
    run_script(conn, DEFINER_FUNCTIONS)
    everyone = ", ".join(ident(r) for r in EVERYONE)
    owns_schema = conn.execute(sa.text(
        "SELECT pg_has_role(current_user, nspowner, 'USAGE') FROM pg_namespace WHERE nspname = 'public'")).scalar()
    if owns_schema:  # provision made dsm_owner the database's owner, so the schema's; a copy keeps the schema's ACL
        run_script(conn, f"REVOKE ALL ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO {everyone}")
    for table in tables:
        acc = access(table)
        name = f"public.{ident(table.name)}"
        conn.exec_driver_sql(f"REVOKE ALL ON {name} FROM PUBLIC, {everyone}")
        for role, privileges in acc.privileges.items():
            grantee = ident(role_name(role))
            if role == "viewer" and acc.hidden_from_viewer:
                visible = ", ".join(ident(c.name) for c in table.columns if c.name not in acc.hidden_from_viewer)
                conn.exec_driver_sql(f"GRANT SELECT ({visible}) ON {name} TO {grantee}")
                continue
            if role == "worker" and acc.worker_update_columns is not None:
                columns = ", ".join(ident(c) for c in sorted(acc.worker_update_columns))
                conn.exec_driver_sql(f"GRANT UPDATE ({columns}) ON {name} TO {grantee}")
                privileges = privileges - {"UPDATE"}
            conn.exec_driver_sql(f"GRANT {', '.join(sorted(privileges))} ON {name} TO {grantee}")
        conn.exec_driver_sql(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
        for (policy,) in conn.execute(sa.text(
                "SELECT policyname FROM pg_policies WHERE schemaname = 'public' AND tablename = :t "
                "AND policyname LIKE 'dsm\\_%'"), {"t": table.name}):
            conn.exec_driver_sql(f"DROP POLICY {ident(policy)} ON {name}")
        conn.exec_driver_sql(f"CREATE POLICY dsm_read ON {name} FOR SELECT TO {everyone} USING (true)")
        for command in ("INSERT", "UPDATE", "DELETE"):
            roles = [ident(role_name(r)) for r, p in acc.privileges.items() if command in p]
            if not roles:
                continue
            rule = {"INSERT": "WITH CHECK (true)", "UPDATE": "USING (true) WITH CHECK (true)",
                    "DELETE": "USING (true)"}[command]
            conn.exec_driver_sql(f"CREATE POLICY dsm_{command.lower()} ON {name} FOR {command} "
                                 f"TO {', '.join(roles)} {rule}")
        if table.name in OWN_ROWS:
            column = ident(OWN_ROWS[table.name])
            conn.exec_driver_sql(
                f"CREATE POLICY dsm_own_rows ON {name} AS RESTRICTIVE FOR INSERT TO {ident(GROUPS['operator'])} "
                f"WITH CHECK ({column} = public.dsm_user_id())")
        view = _secrets_view(table)
        if view:
            conn.exec_driver_sql(view)
            run_script(conn, f"REVOKE ALL ON public.{ident('dsm_secrets_' + table.name)} FROM PUBLIC; "
                                 f"GRANT SELECT ON public.{ident('dsm_secrets_' + table.name)} TO {everyone}")
    run_script(conn, f"REVOKE ALL ON public.alembic_version FROM PUBLIC, {everyone}; "
                         f"GRANT SELECT ON public.alembic_version TO {everyone}")
    for signature in FUNCTION_SIGNATURES:
        conn.exec_driver_sql(f"REVOKE ALL ON FUNCTION public.{signature} FROM PUBLIC")
    for signature in ("dsm_trusted()", "dsm_member(text)", "dsm_user_id()", "dsm_audit_identity()",
                      "dsm_window_approval()", "dsm_worker_key_once()"):
        conn.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION public.{signature} TO {everyone}")
    conn.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION public.dsm_retention(timestamp with time zone,integer) "
                         f"TO {ident(WORKER)}, {ident(GROUPS['admin'])}")
    for signature in ("dsm_grant_login(text,text)", "dsm_revoke_login(text)"):
        conn.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION public.{signature} TO {ident(GROUPS['admin'])}")
    conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {everyone}")


def create_roles(conn: Connection) -> list[str]:
    """The group roles, the owner and the worker's login, where missing (cluster-wide); returns those created."""
    created = []
    existing = set(conn.execute(sa.text("SELECT rolname FROM pg_roles")).scalars())
    for role, options in ((OWNER, "NOLOGIN CREATEROLE"), *((g, "NOLOGIN") for g in HUMANS), (WORKER, "LOGIN")):
        if role not in existing:
            conn.exec_driver_sql(f"CREATE ROLE {ident(role)} {options}")
            created.append(role)
    # The owner creates DSM users' logins (dsm_grant_login) and grants them DSM's groups, nothing else.
    conn.exec_driver_sql(f"ALTER ROLE {ident(OWNER)} NOLOGIN CREATEROLE")
    for group in HUMANS:
        conn.exec_driver_sql(f"GRANT {ident(group)} TO {ident(OWNER)} WITH ADMIN OPTION")
    return created


def transfer_ownership(conn: Connection) -> int:
    """Every table, sequence, view, function and type of the public schema now belongs to dsm_owner."""
    moved = 0
    kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
    # Tables first: a table's own sequences (serial, identity) follow it and may not be moved on their own.
    for wanted in (("r", "p", "v", "m"), ("S",)):
        rows = conn.execute(sa.text(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = ANY(:kinds) AND pg_get_userbyid(c.relowner) <> :owner"),
            {"owner": OWNER, "kinds": list(wanted)}).all()
        for relname, relkind in rows:
            conn.exec_driver_sql(f'ALTER {kinds[relkind]} public.{ident_any(relname)} OWNER TO {ident(OWNER)}')
            moved += 1
    for (signature,) in conn.execute(sa.text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> :owner"), {"owner": OWNER}):
        conn.exec_driver_sql(f"ALTER FUNCTION {signature} OWNER TO {ident(OWNER)}")
        moved += 1
    for (typname,) in conn.execute(sa.text(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd') AND pg_get_userbyid(t.typowner) <> :owner"),
            {"owner": OWNER}):
        conn.exec_driver_sql(f'ALTER TYPE public.{ident_any(typname)} OWNER TO {ident(OWNER)}')
        moved += 1
    return moved


@dataclass
class Provisioned:
    database: str
    created_roles: list[str]
    objects_moved: int
    logins: list[tuple[str, str]]


def provision(conn: Connection) -> Provisioned:
    """Create the roles, hand every object to dsm_owner, set the grants and policies, and give every DSM user its
    login. Run by a superuser (or a member of dsm_owner once the roles exist); idempotent."""
    if not is_postgres(conn):
        raise Conflict("roles are a PostgreSQL feature; SQLite trusts whoever can write the database file (the DSM "
                       "group; README, Deployment)")
    login = conn.execute(sa.text("SELECT session_user")).scalar()
    superuser = bool(conn.execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = session_user")).scalar())
    if not superuser and not (roles_exist(conn) and may_own(conn)):
        raise RolesError(f"database login {login!r} is neither a superuser nor a member of {OWNER}: run "
                         "`sudo -u postgres dsm db provision-roles` (or as the database's owner) once")
    database = str(conn.execute(sa.text("SELECT current_database()")).scalar())
    created = create_roles(conn) if superuser else []
    if superuser:
        moved = transfer_ownership(conn)
        db = ident_any(database)
        conn.exec_driver_sql(f"ALTER DATABASE {db} OWNER TO {ident(OWNER)}")
        conn.exec_driver_sql(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC")
        conn.exec_driver_sql(f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO "
                             + ", ".join(ident(r) for r in EVERYONE))
    else:
        moved = 0
    conn.execute(sa.text(f"SET LOCAL ROLE {ident(OWNER)}"))
    sync(conn)
    logins: list[tuple[str, str]] = []
    if sa.inspect(conn).has_table("users"):
        for username, role in conn.execute(sa.text("SELECT username, role FROM public.users ORDER BY username")):
            conn.execute(sa.text("SELECT public.dsm_grant_login(:u, :r)"), {"u": username, "r": role})
            logins.append((username, role))
    conn.execute(sa.text("RESET ROLE"))
    return Provisioned(database, created, moved, logins)


def ident_any(name: str) -> str:
    """Quote a database name an administrator chose (double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def hba_lines(database: str, worker_os_user: str = "dsm") -> list[str]:
    """What an administrator adds to pg_hba.conf and pg_ident.conf: peer authentication over the local socket,
    each OS user its own login, the worker service's OS user mapped to dsm_worker."""
    return [
        "# pg_hba.conf (before any broader 'local' line):",
        f"local   {database}   all   peer map=dsm",
        "# pg_ident.conf:",
        "# MAPNAME  SYSTEM-USERNAME  PG-USERNAME",
        f"dsm       {worker_os_user:<15}  {WORKER}",
        r"dsm       /^(.*)$          \1",
    ]
