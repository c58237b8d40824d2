"""The `dsm` command: the operator's CLI over dsm_core.services, and the entry to the other programs.

Identity is the OS user running the command (its effective uid), mapped through the `users` table.
Exit codes: 0 ok, 1 failure, 2 bad input (field named, nothing written), 3 role refused.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import pwd
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from dsm_cli.output import print_json, print_record, print_table, say
from dsm_core import __version__
from dsm_core.config import Config, ConfigError, load_config
from dsm_core.credentials.secret import Secret
from dsm_core.db import engine_from_config, migrate, roles
from dsm_core.db.holder import describe_holder
from dsm_core.filtering import FilterError, compile_filter
from dsm_core.jobtypes import JOB_TYPE_SPECS
from dsm_core.services import (
    audit,
    bootstrap,
    credentials,
    database,
    doctor,
    firmware,
    groups,
    history,
    jobs,
    servers,
    settings,
    users,
)
from dsm_core.services.context import Actor, ServiceContext, actor_for, client_address, database_refusal
from dsm_core.services.errors import Conflict, NotFound, PermissionDenied, ServiceError, Unsafe, ValidationError
from dsm_core.text import visible
from dsm_core.timeutil import humanize_age

log = logging.getLogger("dsm")


class CliError(Exception):
    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def os_username() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def read_password(prompt: str = "Password: ") -> Secret:
    """One line from standard input (a pipe or a no-echo prompt); the newline is not part of it."""
    if sys.stdin is None:
        raise CliError("--password-stdin needs standard input")
    if sys.stdin.isatty():
        return Secret(getpass.getpass(prompt))
    line = sys.stdin.readline()
    return Secret(line.rstrip("\r\n"))


class Runtime:
    """Config, engine and acting user, built once per command and only when the command needs them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        # `dsm init` writes the config file named by --config or $DSM_CONFIG: it need not exist yet.
        self.config: Config = load_config(args.config, missing_ok=getattr(args, "handler", None) is cmd_init)
        handler = getattr(args, "handler", None)
        if handler is cmd_worker or (handler in (cmd_init, cmd_doctor) and getattr(args, "worker", False)):
            self.config = self.config.for_worker()  # the worker's own login (worker.database_url), if it has one
        self._engine: Engine | None = None

    @property
    def open_engine(self) -> Engine | None:
        """The engine if the command got as far as opening it (for error messages that read beside it)."""
        return self._engine

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if self.config.is_sqlite and getattr(self.args, "handler", None) is not cmd_init:
                path = self.config.sqlite_path
                if path is not None and not path.exists():
                    # Opening it would create an empty database (and its directory): say what to do instead.
                    raise CliError(f"no DSM database at {path}; run `dsm init` first (or set DSM_HOME / "
                                   "--config to the installation you meant)", 1)
            self._engine = engine_from_config(self.config)
        return self._engine

    def ctx(self) -> ServiceContext:
        if not migrate.is_current(self.engine):
            current = migrate.current_revision(self.engine)
            raise CliError(f"database {self.config.redacted_database_url()} is at revision {current or 'none'}, "
                           f"not {migrate.head_revision()}; run `dsm init` (new) or `dsm db upgrade` (existing)", 1)
        return ServiceContext(self.engine, actor_for(self.engine, os_username(), client_address()))


def database_problem(exc: Exception, engine: Engine | None = None) -> str:
    """One line for a database that cannot be used right now: what happened and what to do."""
    text = (str(getattr(exc, "orig", exc) or exc).strip().splitlines() or ["?"])[0][:300]
    lowered = text.lower()
    if "database is locked" in lowered or "database is busy" in lowered:
        holder = describe_holder(engine)
        who = f"({holder})" if holder else "(the worker or another dsm command, writing)"
        return (f"the database stayed locked by another DSM process {who} past the busy timeout; nothing "
                "was changed: run the command again in a moment")
    if "readonly database" in lowered or "read-only" in lowered:
        return f"the database is read-only to you ({text}); run as a member of the DSM group or fix its permissions"
    if "unable to open database" in lowered:
        return f"the database file cannot be opened ({text}); check DSM_HOME and its permissions"
    if "role" in lowered and "does not exist" in lowered:
        return (f"PostgreSQL has no login for you ({text}): an admin adds DSM users with `dsm users add NAME --role "
                "ROLE`, which creates their login; the worker's service account connects through worker.database_url "
                "(`dsm worker`, `dsm init --worker`; docs/deployment.md)")
    return f"the database cannot be reached ({text}); check database_url and that the server is running"


def _emit(args: argparse.Namespace, data: Any, columns: Sequence[tuple[str, str]] | None = None) -> None:
    if getattr(args, "json", False):
        print_json(data)
    elif columns is not None and isinstance(data, list):
        print_table(data, columns)
    elif isinstance(data, dict):
        print_record(data)
    elif data is not None:
        say(str(data))


def short_id(value: Any) -> str:
    """The last 8 hex digits: the random part of a UUIDv7, as the console shows it (`dsm jobs show` takes it)."""
    return str(value).replace("-", "")[-8:] if value else "-"


def _ago(value: Any) -> str:
    from datetime import datetime

    if not value:
        return "-"
    return humanize_age(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


def _yes_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true",
                        help="do it without asking (required when no terminal is attached)")


def _confirm(rt: Runtime, action_id: str, what: str) -> None:
    """A destructive command asks first; without a terminal it needs --yes. The role is checked before the
    question, so a viewer is refused as a viewer (exit 3), not asked for a confirmation that cannot help."""
    from dsm_core.services.context import MUTATIONS

    rt.ctx().require(MUTATIONS[action_id].min_role, action_id)
    if getattr(rt.args, "yes", False):
        return
    if not (sys.stdin is not None and sys.stdin.isatty()):
        raise CliError(f"{what}: not done; there is no terminal to confirm on, add --yes to do it anyway")
    sys.stderr.write(f"{visible(what)}? [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise CliError("nothing was done", 1)


# --- command handlers ---------------------------------------------------------------------------------


def cmd_init(rt: Runtime) -> None:
    if rt.args.worker:
        if rt.args.admin:
            raise CliError("--admin: not with --worker (the worker's account makes no users); the first admin is "
                           "made by `dsm init --admin NAME` on the database first (docs/deployment.md)")
        report = bootstrap.initialize_worker(rt.config, rt.engine, os_username())
        print(f"database   {report.database} at revision {report.revision}")
        print(f"worker key {report.key_file} ({'created' if report.key_created else 'kept'}, id {report.key_id})")
        for note in report.notes:
            print(note)
        return
    report = bootstrap.initialize(rt.config, rt.engine, os_username(), rt.args.admin, client_address(),
                                  rt.args.config)
    print(f"config     {report.config_path}{' (created)' if report.config_created else ''}")
    print(f"database   {report.database} at revision {report.revision}")
    if report.key_id:
        print(f"worker key {report.key_file} ({'created' if report.key_created else 'kept'}, id {report.key_id})")
    for note in report.notes:
        print(note)


def _dsm_user_or_dba(rt: Runtime) -> Actor:
    """A DSM user acts as themselves (their role is checked as always); on PostgreSQL an OS user who is not a DSM
    user but whose login the database trusts with the schema (a superuser such as postgres, or a DBA granted
    dsm_owner) acts as an admin under that login's name: it could change anything anyway, and is audited."""
    return database.user_or_dba(rt.engine, os_username(), client_address())


def _schema_ctx(rt: Runtime, action: str) -> ServiceContext | None:
    """The admin allowed to change the schema; None while the database has no user to ask (empty). On PostgreSQL
    a login the database trusts with the schema (a superuser, dsm_owner's DBA) is that admin."""
    if not database.has_users(rt.engine):
        return None
    ctx = ServiceContext(rt.engine, _dsm_user_or_dba(rt))
    ctx.require("admin", action)
    return ctx


def cmd_db(rt: Runtime) -> None:
    a = rt.args
    if a.db_cmd == "upgrade":
        ctx = _schema_ctx(rt, "dsm db upgrade")
        before = migrate.current_revision(rt.engine)
        migrate.upgrade(rt.engine, a.revision)
        after = migrate.current_revision(rt.engine)
        if ctx is not None and after != before and database.audit_table_exists(rt.engine):
            database.record_upgrade(ctx, before, after)
    elif a.db_cmd == "provision-roles":
        ctx = ServiceContext(rt.engine, _dsm_user_or_dba(rt))
        ctx.require("admin", "dsm db provision-roles")
        if rt.engine.dialect.name != "postgresql":
            raise CliError("provision-roles is for PostgreSQL: SQLite has no roles, and trusts whoever can write its "
                           "file (the DSM group; README, Deployment)", code=2)
        done = database.provision_roles(ctx, a.worker_os_user)
        if a.json:
            print_json(done)
            return
        print(f"database {done['database']}: roles created: {', '.join(done['created_roles']) or 'none (present)'}; "
              f"{done['objects_moved']} object(s) handed to dsm_owner; logins: "
              + (", ".join(f"{x['login']} ({x['group']})" for x in done["logins"]) or "none yet"))
        print("Add these lines, then reload PostgreSQL (pg_ctl reload / systemctl reload postgresql):")
        for line in done["pg_hba"]:
            print(f"  {line}")
        return
    elif a.db_cmd == "downgrade":
        if not a.yes_destroy_data:
            raise CliError("--yes-destroy-data: a downgrade drops tables and the data in them (to base: every "
                           "table, the audit log included); add --yes-destroy-data to confirm, after a backup")
        ctx = _schema_ctx(rt, "dsm db downgrade")
        before = migrate.current_revision(rt.engine)
        if ctx is not None:
            database.record_downgrade(ctx, before, a.revision, "requested")
        log.warning("dsm db downgrade %s -> %s by %s", before, a.revision, os_username())
        migrate.downgrade(rt.engine, a.revision)
        if ctx is not None and database.audit_table_usable(rt.engine) and database.has_users(rt.engine):
            database.record_downgrade(ctx, before, a.revision, "done")
    print(f"{rt.config.redacted_database_url()}: {migrate.current_revision(rt.engine) or 'base (empty)'}"
          f" (head {migrate.head_revision()})")


def _doctor_output(args: argparse.Namespace, report: doctor.Report) -> int:
    if getattr(args, "json", False):
        print_json(report.as_json())
    else:
        shown = [f for f in report.findings if args.verbose or f.level != "ok"]
        for finding in shown:
            say(visible(finding.line()))
        errors = sum(f.level == "error" for f in report.findings)
        warnings = sum(f.level == "warning" for f in report.findings)
        say(f"{'healthy' if report.ok else 'NOT healthy'}: {errors} error(s), {warnings} warning(s), "
            f"{len(report.findings)} check(s)")
    return 0 if report.ok else 1


def cmd_doctor(rt: Runtime) -> None:
    """Every check, whatever the one before found; exit 1 when any is an error (for monitoring: --json)."""
    from dsm_core.timeutil import utcnow

    if rt.config.is_sqlite and rt.config.sqlite_path is not None and not rt.config.sqlite_path.exists():
        report = doctor.Report([*doctor.check_files(rt.config), doctor.Finding(
            "error", "database", f"no DSM database at {rt.config.sqlite_path}",
            "`dsm init` (a new install), or set DSM_HOME / --config to the installation you meant")])
    else:
        report = doctor.diagnose(rt.config, rt.engine, utcnow(), lambda exc: database_problem(exc, rt.engine),
                                 worker=rt.args.worker)
    report.findings[1:1] = _console_findings()
    code = _doctor_output(rt.args, report)
    if code:
        raise CliError("", code)


def _console_findings() -> list[doctor.Finding]:
    """The console's own files (its stylesheet) are installed and parse: a wheel built without them gave a `dsm`
    whose every command worked but whose console could not start."""
    from dsm_tui import assets

    found = assets.problems()
    if found:
        return [doctor.Finding("error", "console", line, assets.REINSTALL) for line in found]
    return [doctor.Finding("ok", "console", "its stylesheet is installed and parses")]


def cmd_completion(rt: Runtime) -> None:
    from dsm_cli import completion

    sys.stdout.write(completion.script(rt.args.shell))


def cmd_backup(rt: Runtime) -> None:
    """Create: admin (or the DBA), any schema revision (a backup before an upgrade is the point). Restore: into an
    empty database anyone who can reach it may (as `dsm init`); over data, an admin with --force."""
    from dsm_core import backup
    from dsm_core.timeutil import utcnow

    a = rt.args
    if a.backup_cmd == "create":
        maker = ServiceContext(rt.engine, _dsm_user_or_dba(rt))
        maker.require("admin", "dsm backup create")
        target = Path(a.to) if a.to else backup.default_path(rt.config.data_dir / "backups", rt.engine.dialect.name,
                                                              utcnow())
        revision = migrate.current_revision(rt.engine)
        if database.audit_table_usable(rt.engine):
            database.record_backup(maker, str(target), revision)
        info = backup.create(rt.engine, target)
        view = {"path": str(info.path), "backend": info.backend, "revision": info.revision, "bytes": info.size,
                "warning": backup.KEY_REMINDER, "worker_key": str(rt.config.worker_key_file)}
        if a.json:
            print_json(view)
        else:
            print(f"backup of {rt.config.redacted_database_url()} (revision {info.revision}) written to {info.path} "
                  f"({info.size} bytes)")
        say(f"dsm: WARNING: {backup.KEY_REMINDER} ({rt.config.worker_key_file})", sys.stderr)
        return
    path = Path(a.path)
    migrate_empty = bool(rt.config.is_sqlite and rt.config.sqlite_path is not None
                         and not rt.config.sqlite_path.exists())
    # Who may replace this database is asked before the file is read: a viewer learns nothing from a restore.
    ctx: ServiceContext | None = _schema_ctx(rt, "dsm backup restore") if not migrate_empty else None
    backend, revision = backup.inspect_file(path)
    known = migrate.known_revisions()
    if revision is not None and revision not in known:
        raise ValidationError("path", f"{path} comes from a newer DSM (schema revision {revision}; this one knows up "
                              f"to {migrate.head_revision()})", "restore it with that version of DSM, or a later one")
    if migrate_empty and rt.config.sqlite_path is not None:
        rt.config.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    engine = engine_from_config(rt.config) if migrate_empty else rt.engine
    if not migrate_empty and backup.holds_data(engine) and not a.force:
        raise Conflict(f"{rt.config.redacted_database_url()} holds data; --force replaces all of it with the backup "
                       "(take a backup of it first: `dsm backup create`)")
    if not migrate_empty and _workers_beating(engine):
        raise Conflict("a worker is running against this database; stop every worker first "
                       "(systemctl stop dsm-worker), then restore")
    backend, restored = backup.restore(engine, path)
    migrate.upgrade(engine)
    now_at = migrate.current_revision(engine)
    try:
        actor = ctx.actor if ctx is not None else _dsm_user_or_dba(rt)
    except PermissionDenied:
        say(f"dsm: NOTE: {os_username()} is not a user of the restored database: the restore is not in its audit "
            "log", sys.stderr)
    else:
        database.record_restore(ServiceContext(engine, actor), str(path), restored, now_at)
    view = {"path": str(path), "backend": backend, "restored_revision": restored, "revision": now_at,
            "warning": backup.KEY_REMINDER}
    if a.json:
        print_json(view)
    else:
        print(f"restored {path} (revision {restored}) into {rt.config.redacted_database_url()}, now at revision "
              f"{now_at}")
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT to_regprocedure('public.dsm_grant_login(text,text)') IS NOT NULL")
                            ).scalar() and not roles.is_provisioned(conn):
                say("dsm: NOTE: the backup came from a database with DSM's roles; run `dsm db provision-roles` "
                    "as a superuser to hand it to dsm_owner and set its grants again", sys.stderr)
    say(f"dsm: the worker needs the worker.key this database's secrets were sealed for ({rt.config.worker_key_file})",
        sys.stderr)


def _workers_beating(engine: Engine) -> bool:
    from datetime import timedelta

    from dsm_core.timeutil import utcnow

    if not sa.inspect(engine).has_table("worker_heartbeats"):
        return False
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT count(*) FROM worker_heartbeats WHERE status <> 'stopped' "
                                     "AND last_beat_at > :cut"), {"cut": utcnow() - timedelta(minutes=1)}).scalar()
    return bool(found)


def cmd_users(rt: Runtime) -> None:
    a, ctx = rt.args, rt.ctx()
    if a.users_cmd == "list":
        _emit(a, users.list_users(ctx), [("username", "user"), ("role", "role"), ("created_at", "since")])
    elif a.users_cmd == "add":
        _emit(a, users.add_user(ctx, a.name, a.role, a.full_name))
    elif a.users_cmd == "set-role":
        _emit(a, users.set_role(ctx, a.name, a.role))
    elif a.users_cmd == "remove":
        users.remove_user(ctx, a.name)
        print(f"removed user {a.name}")


def cmd_credentials(rt: Runtime) -> None:
    a, ctx = rt.args, rt.ctx()
    if a.cred_cmd == "list":
        rows = credentials.list_credential_sets(ctx)
        if a.json:
            print_json(rows)
        else:
            for r in rows:
                r["range_list"] = [x["ip_range"] for x in r["ranges"]]
            print_table(rows, [("name", "name"), ("username", "user"), ("priority", "priority"),
                               ("is_default", "default"), ("trust", "trust"), ("range_list", "ranges")])
            if any(r["trust"] == "first-use" for r in rows):
                say("first-use: the password may go to a server whose certificate was pinned on first sight (a lab's "
                    "convenience); `dsm credentials update NAME --trust verified` sends it only to CA-verified or "
                    "admin-pinned servers", sys.stderr)
    elif a.cred_cmd == "add":
        if not a.password_stdin:
            raise CliError("--password-stdin is required: the password is read from standard input, "
                           "never from the command line")
        view = credentials.add_credential_set(ctx, a.name, a.username, read_password(), ranges=a.range,
                                              priority=a.priority, is_default=a.default, description=a.description,
                                              trust=a.trust)
        _emit(a, view) if a.json else print(f"added credential set {view['name']} ({len(view['ranges'])} range(s))")
    elif a.cred_cmd == "set-password":
        credentials.set_credential_password(ctx, a.name, read_password())
        print(f"password of {a.name} changed")
    elif a.cred_cmd == "update":
        view = credentials.update_credential_set(ctx, a.name, username=a.username, priority=a.priority,
                                                 is_default=a.default, description=a.description, trust=a.trust)
        _emit(a, view) if a.json else print(f"updated credential set {view['name']}")
    elif a.cred_cmd == "remove":
        _confirm(rt, "credentials.remove", f"remove credential set {a.name}")
        credentials.remove_credential_set(ctx, a.name, force=a.force)
        print(f"removed credential set {a.name}")
    elif a.cred_cmd == "add-range":
        credentials.add_ip_range(ctx, a.name, a.cidr, a.priority)
        print(f"added {a.cidr} to {a.name}")
    elif a.cred_cmd == "remove-range":
        credentials.remove_ip_range(ctx, a.name, a.cidr)
        print(f"removed {a.cidr} from {a.name}")


SERVER_COLUMNS = [("ip_address", "ip"), ("port", "port"), ("hostname", "hostname"), ("service_tag", "tag"),
                  ("model", "model"), ("overall_health", "health"), ("power_state", "power"),
                  ("connection_status", "conn"), ("groups", "groups")]

# The console's filter fields (dsm_tui/screens/servers.py FILTER_FIELDS), over the service's server views.
SERVER_FILTER_FIELDS: dict[str, Callable[[Any], str]] = {
    "name": lambda r: r["hostname"] or "",
    "host": lambda r: r["hostname"] or "",
    "ip": lambda r: r["ip_address"] if r["port"] == 443 else f"{r['ip_address']}:{r['port']}",
    "tag": lambda r: r["service_tag"] or "",
    "model": lambda r: r["model"] or "",
    "health": lambda r: r["overall_health"] or "",
    "power": lambda r: r["power_state"] or "",
    "conn": lambda r: r["connection_status"] or "",
    "fw": lambda r: r["idrac_firmware"] or "",
    "bios": lambda r: r["bios_version"] or "",
    "group": lambda r: ",".join(r["groups"]),
    "cluster": lambda r: r.get("cluster") or "",
    "job": lambda r: r.get("job") or "",
    "drift": lambda r: str(r.get("bios_drift_count") or 0),
}


class _FilterRow(dict[str, Any]):
    """A server view the filter can read: the fields by name and every column as one lower-cased text."""

    @property
    def haystack(self) -> str:
        return "\x1f".join(getter(self) for getter in SERVER_FILTER_FIELDS.values()).lower()


def _filtered_servers(rows: list[dict[str, Any]], text: str | None) -> list[dict[str, Any]]:
    if not text:
        return rows
    wrapped = [_FilterRow(row) for row in rows]
    try:
        keep = compile_filter(text, SERVER_FILTER_FIELDS)
    except FilterError as exc:
        raise CliError(f"--filter: {str(exc).removeprefix('filter: ')}") from None
    return [dict(r) for r in wrapped if keep is None or keep(r)]


EVENT_COLUMNS = [("when", "when"), ("severity", "severity"), ("log_type", "log"), ("event_id", "id"),
                 ("message_id", "message id"), ("message", "message")]
HEALTH_COLUMNS = [("when", "when"), ("overall_health", "health"), ("power_state", "power"), ("cpu_health", "cpu"),
                  ("memory_health", "memory"), ("storage_health", "storage"), ("fan_health", "fans"),
                  ("psu_health", "psu"), ("temperature_celsius", "inlet C")]


def _with_when(rows: list[dict[str, Any]], key: str = "timestamp") -> list[dict[str, Any]]:
    for row in rows:
        row["when"] = _ago(row.get(key))
    return rows


def cmd_servers(rt: Runtime) -> None:
    a = rt.args
    if a.servers_cmd in ("refresh", "fetch-logs", "test-credentials", "diagnose") or (
            a.servers_cmd == "health" and not a.history):
        cmd_servers_job(rt)
        return
    ctx = rt.ctx()
    if a.servers_cmd == "list":
        _emit(a, _filtered_servers(servers.list_servers(ctx), a.filter), SERVER_COLUMNS)
    elif a.servers_cmd == "show":
        _emit(a, servers.show_server(ctx, a.ref))
    elif a.servers_cmd == "health":
        if len(a.refs) != 1:
            raise CliError("--history: give exactly one server")
        rows = history.health_history(ctx, a.refs[0], since=a.since, limit=a.limit)
        _emit(a, rows if a.json else _with_when(rows), HEALTH_COLUMNS)
    elif a.servers_cmd == "logs":
        rows = history.event_logs(ctx, a.ref, severity=a.severity, since=a.since, category=a.category,
                                  log_type=a.log, limit=a.limit)
        _emit(a, rows if a.json else _with_when(rows), EVENT_COLUMNS)
    elif a.servers_cmd == "add":
        password = read_password() if a.password_stdin else None
        if a.username and password is None:
            raise CliError("username: given without a password; add --password-stdin and pipe the password")
        view = servers.add_server(ctx, a.address, hostname=a.hostname, credential_set=a.credential_set,
                                  username=a.username, password=password, service_tag=a.service_tag,
                                  model=a.model, notes=a.notes, tls_verify_mode=a.tls_verify,
                                  fingerprint=a.fingerprint)
        _emit(a, view) if a.json else print(f"added server {view['ip_address']}:{view['port']} ({view['id']})")
    elif a.servers_cmd == "import":
        path = Path(a.file)
        try:
            text = sys.stdin.read() if a.file == "-" else path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CliError(f"file: cannot read {a.file} ({exc.strerror}); give a readable CSV file") from None
        except UnicodeDecodeError:
            raise CliError(f"file: {a.file} is not UTF-8 text (binary data?); export the inventory as a CSV "
                           "text file") from None
        result = servers.import_servers_csv(ctx, text, source=a.file if a.file != "-" else "stdin",
                                            skip_bad=a.skip_bad)
        if a.json:
            print_json(result)
        else:
            print(f"imported {result['imported']} server(s)")
            for err in result["skipped"]:
                say(f"skipped  {err}", sys.stderr)
    elif a.servers_cmd == "update":
        changes = {k: getattr(a, k) for k in ("hostname", "service_tag", "model", "notes", "credential_set")
                   if getattr(a, k) is not None}
        if a.address is not None:
            changes["address"] = a.address
        if a.tls_verify is not None:
            changes["tls_verify_mode"] = a.tls_verify
        password = read_password() if a.password_stdin else None
        if a.forget_certificate and a.fingerprint:
            raise CliError("--forget-certificate and --fingerprint: give one of them")
        if a.forget_certificate or a.fingerprint:
            changes["tls_fingerprint_sha256"] = a.fingerprint
        _emit(a, servers.update_server(ctx, a.ref, username=a.username, password=password,
                                       clear_credentials=a.clear_credentials, **changes))
    elif a.servers_cmd == "remove":
        _confirm(rt, "servers.remove", f"remove server {a.ref} (its health, logs and history go with it)")
        servers.remove_server(ctx, a.ref)
        print(f"removed server {a.ref}")


def cmd_groups(rt: Runtime) -> None:
    a, ctx = rt.args, rt.ctx()
    if a.groups_cmd == "list":
        _emit(a, groups.list_groups(ctx), [("name", "name"), ("group_type", "type"),
                                           ("min_healthy_servers", "min healthy"),
                                           ("member_count", "members"), ("color", "colour")])
    elif a.groups_cmd == "show":
        _emit(a, groups.show_group(ctx, a.name))
    elif a.groups_cmd == "add":
        _emit(a, groups.add_group(ctx, a.name, group_type=a.type, color=a.color,
                                  min_healthy_servers=a.min_healthy, description=a.description))
    elif a.groups_cmd == "add-member":
        groups.add_member(ctx, a.name, a.ref, priority=a.priority, role=a.role)
        print(f"added {a.ref} to {a.name}")
    elif a.groups_cmd == "remove-member":
        groups.remove_member(ctx, a.name, a.ref)
        print(f"removed {a.ref} from {a.name}")
    elif a.groups_cmd == "remove":
        _confirm(rt, "groups.remove", f"remove group {a.name}")
        groups.remove_group(ctx, a.name)
        print(f"removed group {a.name}")


def cmd_settings(rt: Runtime) -> None:
    a, ctx = rt.args, rt.ctx()
    if a.settings_cmd == "show":
        data = settings.show_settings(ctx, a.section)
        if a.json:
            print_json(data)
        else:
            notes = settings.pending_notes()
            for name, values in data.items():
                print(f"[{name}]")
                shown = {k: ("yes" if v else "no") if isinstance(v, bool) else v for k, v in values.items()}
                print_record({k: (f"{'-' if v is None else v}  ({notes[f'{name}.{k}']})" if f"{name}.{k}" in notes
                                  else v) for k, v in shown.items()})
    else:
        value: str | Secret = a.value
        if settings.is_secret_setting(a.key):
            if a.value != "-":
                raise CliError(f"{a.key}: a secret (password, webhook URL) may not be given on the command line; "
                               "give the value - and type it on standard input")
            value = read_password(f"{a.key}: ")
        _emit(a, settings.set_setting(ctx, a.key, value))


def parse_detail_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that reads as JSON (numbers, true, lists) is taken as such (the same rule as
    the console's detail fields: dsm_core.services.windows.parse_detail_words)."""
    from dsm_core.services.windows import parse_detail_words

    try:
        return parse_detail_words(list(pairs))
    except ValidationError as exc:
        raise CliError(f"--detail: {exc.problem}; write KEY=VALUE, e.g. --detail action=On") from None


JOB_COLUMNS = [("short_id", "id"), ("job_type", "type"), ("status", "status"), ("progress", "%"),
               ("created", "created"), ("note", "error")]


def cmd_jobs(rt: Runtime) -> None:
    if rt.args.jobs_cmd == "wait":
        cmd_jobs_wait(rt)
        return
    a, ctx = rt.args, rt.ctx()
    if a.jobs_cmd == "list":
        rows = jobs.list_jobs(ctx, status=a.status, job_type=a.type, limit=a.limit)
        if not a.json:
            for row in rows:
                row["short_id"], row["created"] = short_id(row["id"]), _ago(row["created_at"])
                row["note"] = row["error"] or row.get("waiting")
        _emit(a, rows, JOB_COLUMNS)
    elif a.jobs_cmd == "show":
        _emit(a, jobs.show_job(ctx, a.id))
    elif a.jobs_cmd == "create":
        details: dict[str, Any] = {}
        if a.details_json:
            try:
                loaded = json.loads(a.details_json)
            except json.JSONDecodeError as exc:
                raise CliError(f"--details-json: not JSON ({exc.msg} at column {exc.colno}); "
                               "give an object such as '{\"action\": \"On\"}'") from None
            if not isinstance(loaded, dict):
                raise CliError("--details-json: must be a JSON object such as '{\"action\": \"On\"}'")
            details.update(loaded)
        details.update(parse_detail_pairs(a.detail))
        schedule_at = None
        if a.at:
            from datetime import datetime

            try:
                schedule_at = datetime.fromisoformat(a.at.replace("Z", "+00:00"))
            except ValueError:
                raise CliError(f"--at: {a.at!r} is not an ISO time; give e.g. 2026-12-01T02:00+00:00") from None
        view = jobs.create_job(ctx, a.job_type, servers=a.server, groups=a.group, clusters=a.cluster,
                               details=details, schedule_at=schedule_at, disruption_override=a.disruption_override)
        _report_created(rt, ctx, view)
    elif a.jobs_cmd == "retry":
        view = jobs.retry_job(ctx, a.id, from_step=a.from_step)
        if str(view["id"]) != jobs.find_job_id(ctx, a.id) or a.json or getattr(a, "wait", False):
            _report_created(rt, ctx, view)
        else:
            print(f"job {short_id(view['id'])}: resumed from "
                  f"{'step ' + a.from_step if a.from_step else 'its failed step'}; "
                  f"`dsm jobs wait {short_id(view['id'])}` follows it")
    elif a.jobs_cmd == "cancel":
        view = jobs.cancel_job(ctx, a.id)
        print(f"job {short_id(view['id'])}: " + ("cancelled" if view["status"] == "cancelled"
                                       else "cancellation requested; the worker stops it at its next safe point"))


REPO_COLUMNS = (("name", "name"), ("url", "url"), ("catalog_file", "catalog"), ("catalog_version", "version"),
                ("package_count", "packages"), ("last_status", "status"), ("synced", "synced"), ("last_error", "error"))
COMPLIANCE_COLUMNS = (("ip_address", "server"), ("service_tag", "tag"), ("component", "component"),
                      ("installed", "installed"), ("available", "available"), ("state", "state"),
                      ("criticality", "criticality"), ("repository", "repository"))


def parse_reboot(text: str) -> tuple[str, str | None]:
    """``none``, ``now`` or ``at:ISO`` (an ISO time with an offset)."""
    if text in ("none", "now"):
        return text, None
    if text.startswith("at:") and len(text) > 3:
        from datetime import datetime

        when = text[3:]
        try:
            parsed = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise CliError(f"--reboot: {when!r} is not an ISO time with an offset; give e.g. "
                           "at:2026-12-01T02:00+00:00")
        return "at", parsed.isoformat()
    raise CliError(f"--reboot: {text!r}; give none, now or at:ISO-TIME")


def cmd_firmware(rt: Runtime) -> None:
    a = rt.args
    if a.firmware_cmd == "repo":
        if a.repo_cmd == "add":
            password = read_password("Share password: ") if a.password_stdin else None
            view = firmware.add_repository(rt.ctx(), a.name, a.url, catalog_file=a.catalog, local_path=a.mounted_at,
                                           username=a.username, password=password, verify_tls=not a.insecure)
            if a.json:
                print_json(view)
            else:
                say(f"repository {view['name']} added ({view['url']}); `dsm firmware repo sync {view['name']} "
                    "--wait` reads its catalog")
        elif a.repo_cmd == "list":
            rows = firmware.list_repositories(rt.ctx())
            if not a.json:
                for row in rows:
                    row["synced"] = _ago(row["last_checked_at"]) if row["last_checked_at"] else "never"
            _emit(a, rows, REPO_COLUMNS)
        elif a.repo_cmd == "sync":
            ctx = rt.ctx()  # the worker reads the share; the job's details name the repository (checked now)
            _report_created(rt, ctx, jobs.create_job(ctx, "firmware_catalog_sync", details={"repository": a.name}))
        elif a.repo_cmd == "remove":
            _confirm(rt, "firmware.repo.remove", f"remove firmware repository {a.name} and its catalog")
            firmware.remove_repository(rt.ctx(), a.name)
            say(f"repository {a.name} removed")
    elif a.firmware_cmd == "compliance":
        rows = firmware.compliance_rows(rt.ctx(), servers=a.server, group=a.group, states=a.state,
                                        component=a.component, repository=a.repository)
        _emit(a, rows, COMPLIANCE_COLUMNS)
    elif a.firmware_cmd == "update":
        details: dict[str, Any] = {}
        sources = [x for x in (a.repository, a.image_uri, a.file) if x]
        if len(sources) != 1:
            raise CliError("give exactly one of --repository NAME, --image-uri URI or --file PATH")
        if a.repository:
            details["repository"] = a.repository
            if a.component:
                details["components"] = a.component
            if a.compare_only:
                details["compare_only"] = True
        elif a.component or a.compare_only:
            raise CliError("--component and --compare-only go with --repository")
        if a.image_uri:
            details["image_uri"] = a.image_uri
        if a.file:
            # Absolute, but as named: the worker's rule must see a symlink, not what it points at.
            details["file"] = os.path.abspath(os.path.expanduser(a.file))
        details["reboot"], reboot_at = parse_reboot(a.reboot)
        if reboot_at:
            details["reboot_at"] = reboot_at
        if a.job_timeout is not None:
            details["job_timeout_seconds"] = a.job_timeout
        _create_and_maybe_wait(rt, "firmware_update", a.refs, details)


def _refuse_humans_below_admin(rt: Runtime, action: str) -> None:
    """The worker acts as the system. Its service account is not a DSM user; an OS user who *is* one, with
    less than admin, may not become the system by starting a worker (with a copied key)."""
    from sqlmodel import select

    from dsm_core.db import read_scope
    from dsm_core.models import User

    if not migrate.is_current(rt.engine):
        return  # the worker itself says what to do about the schema
    with read_scope(rt.engine) as session:
        user = session.exec(select(User).where(User.username == os_username())).first()
    if user is not None and user.role != "admin":
        raise PermissionDenied(f"{action} acts as the system and needs the admin role (or the service account); "
                               f"{user.username} is {user.role}")


def cmd_worker(rt: Runtime) -> None:
    from dsm_worker.main import WorkerOptions, run_worker

    a = rt.args
    _refuse_humans_below_admin(rt, "dsm worker")
    if a.concurrency is not None and not 1 <= a.concurrency <= 256:
        raise CliError("--concurrency: give 1 to 256 jobs at once")
    if not 5 <= a.lease <= 3600:
        raise CliError("--lease: give 5 to 3600 seconds")
    if not 0.2 <= a.dell_job_poll <= 120:
        raise CliError("--dell-job-poll: give 0.2 to 120 seconds")
    if not 1 <= a.scheduled_settle <= 3600:
        raise CliError("--scheduled-settle: give 1 to 3600 seconds")
    if not 0.2 <= a.scheduler_poll <= 600:
        raise CliError("--scheduler-poll: give 0.2 to 600 seconds")
    code = run_worker(rt.config, WorkerOptions(max_jobs=a.concurrency or 4, exit_when_idle=a.exit_when_idle,
                                               grace_seconds=a.grace, lease_seconds=a.lease,
                                               spool_dir=rt.config.data_dir / "spool",
                                               dell_job_poll_seconds=a.dell_job_poll,
                                               scheduled_settle_seconds=a.scheduled_settle,
                                               scheduler=not (a.no_scheduler or a.exit_when_idle),
                                               scheduler_poll_seconds=a.scheduler_poll))
    if code:
        raise CliError("", code)  # run_worker has said why, in one line


TERMINAL = ("completed", "failed", "cancelled")


def target_outcomes(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target's end: status, error, and what the worker last said about it (a health check on a Critical
    server says "health Critical: ..."; a discovery probe says what answered at that address)."""
    out = []
    for task in job.get("tasks", []):
        lines = [line for line in (task.get("log") or "").splitlines() if line.strip()]
        out.append({"target": task.get("target"), "server_id": task.get("server_id"), "status": task["status"],
                    "error": task.get("error"), "outcome": lines[-1] if lines else None})
    return out


class Progress:
    """One line updated in place on a terminal; plain lines (only when they change) in a log or a pipe."""

    def __init__(self, out: Any, quiet: bool) -> None:
        self.out, self.quiet = out, quiet
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.last: str | None = None

    def show(self, line: str) -> None:
        if line == self.last or (self.quiet and not self.tty):
            return
        self.last = line
        if self.tty:
            self.out.write("\r\x1b[K" + line)
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def end(self) -> None:
        if self.tty and self.last is not None:
            self.out.write("\n")
            self.out.flush()


def wait_for_job(ctx: ServiceContext, job_id: str, timeout: float | None, as_json: bool = False) -> int:
    """Follow a job until it ends; exit code 0 only when it completed. With ``as_json`` the one document
    printed is the final job with every target's outcome (progress goes to a terminal's stderr, or nowhere)."""
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    progress = Progress(sys.stderr if as_json else sys.stdout, quiet=as_json)
    while True:
        job = jobs.show_job(ctx, job_id)
        done = sum(t["status"] in TERMINAL for t in job["tasks"])
        waiting = f"  ({job['waiting']})" if job.get("waiting") else ""
        progress.show(f"{job['status']:<9} {job['progress']:>3}%  {done}/{len(job['tasks'])} targets{waiting}")
        ended = job["status"] in TERMINAL
        timed_out = not ended and deadline is not None and time.monotonic() >= deadline
        if ended or timed_out:
            progress.end()
            job["targets"] = target_outcomes(job)
            if as_json:
                job["timed_out"] = timed_out
                print_json(job)
            else:
                for t in job["targets"]:
                    say(f"  {t['target']}: {t['status']}: {t['error'] or t['outcome'] or ''}")
                if timed_out:
                    print(f"job {short_id(job['id'])} still {job['status']} after {timeout:.0f} s", file=sys.stderr)
                elif job["error"]:
                    say(f"job {short_id(job['id'])} {job['status']}: {job['error']}", sys.stderr)
                else:
                    print(f"job {short_id(job['id'])} {job['status']}")
            return 0 if job["status"] == "completed" else 1
        time.sleep(0.5)


def cmd_jobs_wait(rt: Runtime) -> None:
    code = wait_for_job(rt.ctx(), rt.args.id, rt.args.timeout, rt.args.json)
    if code:
        raise CliError("", code)


def _report_created(rt: Runtime, ctx: ServiceContext, view: dict[str, Any]) -> None:
    """What every job-creating command prints: the job (or, with --wait, how it ended)."""
    a = rt.args
    if getattr(a, "wait", False):
        if not a.json:
            print(f"created job {short_id(view['id'])} ({view['job_type']})", flush=True)
        code = wait_for_job(ctx, view["id"], a.timeout, a.json)
        if code:
            raise CliError("", code)
    elif a.json:
        print_json(view)
    else:
        print(f"created job {short_id(view['id'])} ({view['job_type']}, pending); "
              f"`dsm jobs wait {short_id(view['id'])}` follows it")


def disruption_flag(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--disruption-override", metavar="REASON",
                    help="admin: take servers down although the disruption rule refuses it (an ESXi host not in "
                         "maintenance mode, a group at its minimum); the reason is recorded with the job and audited")


def _create_and_maybe_wait(rt: Runtime, job_type: str, servers: list[str], details: dict[str, Any]) -> None:
    ctx = rt.ctx()
    view = jobs.create_job(ctx, job_type, servers=servers, details=details,
                           disruption_override=getattr(rt.args, "disruption_override", None))
    _report_created(rt, ctx, view)


def cmd_openmanage(rt: Runtime) -> None:
    from dsm_core.services import openmanage

    a = rt.args
    if a.ome_cmd == "configure":
        if not a.password_stdin:
            raise CliError("--password-stdin is required: the password is read from standard input, never from the "
                           "command line")
        view = openmanage.configure(rt.ctx(), a.host, username=a.username, password=read_password(), port=a.port,
                                    tls_verify_mode=a.tls_verify, fingerprint=a.fingerprint,
                                    sync_enabled=not a.no_sync)
        _emit(a, view) if a.json else print(f"OpenManage Enterprise {view['host']}:{view['port']} configured "
                                            f"(user {view['username']}, TLS {view['tls_verify_mode']})")
    elif a.ome_cmd == "show":
        _emit(a, openmanage.show_settings(rt.ctx()))
    elif a.ome_cmd == "sync":
        _create_and_maybe_wait(rt, "openmanage_sync", [], {})


def cmd_discover(rt: Runtime) -> None:
    a = rt.args
    details: dict[str, Any] = {"ranges": a.ranges, "exclude": a.exclude, "port": a.port}
    if a.credential_set:
        details["credential_sets"] = a.credential_set
    _create_and_maybe_wait(rt, "discovery_scan", [], details)


def cmd_servers_job(rt: Runtime) -> None:
    job_type = {"refresh": "refresh_server_info", "health": "health_check", "fetch-logs": "fetch_event_logs",
                "test-credentials": "test_credentials", "diagnose": "network_diagnostics"}[rt.args.servers_cmd]
    details: dict[str, Any] = {}
    if rt.args.servers_cmd == "test-credentials" and rt.args.credential_set:
        details["credential_set"] = rt.args.credential_set
    _create_and_maybe_wait(rt, job_type, rt.args.refs, details)


POWER_ACTIONS = ("On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "PowerCycle")
DESTRUCTIVE_POWER = ("ForceOff", "ForceRestart", "PowerCycle")


def power_action_name(text: str) -> str:
    """`dsm power on`, `forceoff`, `force-off`, `PowerCycle`: any case, with or without a dash."""
    wanted = text.replace("-", "").replace("_", "").lower()
    for name in POWER_ACTIONS:
        if name.lower() == wanted:
            return name
    raise argparse.ArgumentTypeError(f"{text!r} is not a power action; use one of " + ", ".join(POWER_ACTIONS))


def cmd_power(rt: Runtime) -> None:
    a = rt.args
    details: dict[str, Any] = {"action": a.action, "force_after_timeout": a.force_after_timeout}
    if a.power_timeout:
        details["timeout_seconds"] = a.power_timeout
    if a.action in DESTRUCTIVE_POWER:
        _confirm(rt, "jobs.create", f"{a.action} {len(a.refs)} server(s): {', '.join(a.refs)} (no OS shutdown)")
    _create_and_maybe_wait(rt, "power_action", a.refs, details)


# "login": the database login PostgreSQL recorded (dsm_core.db.roles); empty on SQLite.
AUDIT_COLUMNS = [("when", "when"), ("username", "user"), ("db_user", "login"), ("action", "action"),
                 ("target_type", "target"), ("summary", "what")]
ACTIVITY_COLUMNS = [("when", "when"), ("command_type", "method"), ("status_code", "status"),
                    ("response_time_ms", "ms"), ("endpoint", "endpoint"), ("error_message", "error")]


def cmd_audit(rt: Runtime) -> None:
    a = rt.args
    rows = audit.list_audit(rt.ctx(), user=a.user, action=a.action, since=a.since, limit=a.limit)
    if not a.json:
        for row in _with_when(rows):
            row["summary"] = json.dumps(row["details"], sort_keys=True, ensure_ascii=True) if row["details"] else ""
    _emit(a, rows, AUDIT_COLUMNS)


STATS_COLUMNS = [("day", "day"), ("server", "server"), ("api", "api"), ("calls", "calls"),
                 ("failures", "failed"), ("slow", "slow"), ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"),
                 ("p99_ms", "p99 ms"), ("max_ms", "max ms")]


def cmd_activity(rt: Runtime) -> None:
    a = rt.args
    if a.activity_cmd == "stats":
        _emit(a, history.activity_stats(rt.ctx(), server=a.server, days=a.days), STATS_COLUMNS)
        return
    rows = history.activity(rt.ctx(), server=a.server, job=a.job, errors=a.errors, slow=a.slow, since=a.since,
                            limit=a.limit)
    _emit(a, rows if a.json else _with_when(rows), ACTIVITY_COLUMNS)


def cmd_console(rt: Runtime) -> None:
    """`dsm` alone: the console, as the OS user, on the configured database."""
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise CliError("the console needs a terminal; `dsm --help` lists the commands for scripts")
    from dsm_tui import assets

    missing = assets.problems(parse=False)
    if missing:  # before the terminal is taken: one line, and a non-zero exit (Textual's own error exits 0)
        raise CliError(f"cannot start the console: {missing[0]}; {assets.REINSTALL}", code=1)
    from dsm_tui.actions import KeymapError, parse_keymap
    from dsm_tui.app import DsmApp

    a, ctx = rt.args, rt.ctx()
    try:
        keymap = parse_keymap(rt.config.tui_keys)
    except KeymapError as exc:
        raise CliError(str(exc)) from None
    app = DsmApp(
        rt.engine, ctx.actor, readonly=a.readonly, database_label=rt.config.redacted_database_url(),
        start_view=a.view, keymap=keymap, ansi=a.ansi or rt.config.tui_theme == "ansi",
    )
    mouse = (rt.config.tui_mouse or a.mouse) and not a.no_mouse
    # A log line written to the terminal would land on top of the screen: while the console runs,
    # logging goes to Textual's handler (the devtools console, when one is attached) instead.
    from textual.logging import TextualHandler

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(TextualHandler())
    app.run(mouse=mouse)
    if app.return_code:  # Textual printed what went wrong; the exit status must say so too
        raise CliError("the console stopped on an error (above)", code=app.return_code)


# --- parser -------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dsm", description="Dell Server Manager: iDRAC fleets and their VMware clusters.",
        epilog="Scripts: every command takes --json for one JSON document on stdout; exit codes 0 ok, 1 failed, "
               "2 bad input (the field is named), 3 refused by your role.")
    p.add_argument("--config", help="configuration file (default: $DSM_CONFIG, $DSM_HOME/config.toml, "
                                    "the user config dir, /etc/dsm/config.toml)")
    p.add_argument("--version", action="version", version=f"dsm {__version__}")
    console = p.add_argument_group("console (dsm with no command)")
    console.add_argument("--readonly", action="store_true", help="offer no action that changes anything")
    console.add_argument("--no-mouse", action="store_true", help="keyboard only (the default unless tui.mouse)")
    console.add_argument("--mouse", action="store_true", help="let the console take the mouse")
    from dsm_tui.actions import VIEWS

    console.add_argument("--view", choices=VIEWS,
                         default="pulse", help="the view to open first")
    console.add_argument("--ansi", action="store_true", help="the terminal's own 16 colours (theme ansi)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("sim", help="run a simulated Dell iDRAC fleet on loopback (see `dsm sim --help`)", add_help=False)
    sub.add_parser("demo", help="a throwaway DSM: simulated fleet, worker and console (what `make demo` runs)",
                   add_help=False)

    def json_flag(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        return sp

    def since_flag(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--since", metavar="T", help="only newer than T: an age (90m, 2h, 7d) or an ISO time")

    def limit_flag(sp: argparse.ArgumentParser, default: int) -> None:
        sp.add_argument("--limit", type=int, default=default, help=f"at most this many rows (default {default})")

    sp = sub.add_parser("init", help="create config, database, worker key and the first admin")
    sp.add_argument("--admin", help="OS user to make admin (default: you)")
    sp.add_argument("--worker", action="store_true",
                    help="as the worker's service account, on a database a DBA already made: create (or check) "
                         "worker.key and register its public half, over worker.database_url; nothing else")
    sp.set_defaults(handler=cmd_init)

    sp = sub.add_parser("db", help="schema migrations")
    dsub = sp.add_subparsers(dest="db_cmd", required=True)
    x = dsub.add_parser("upgrade", help="migrate the schema forward (admin once users exist)")
    x.add_argument("revision", nargs="?", default="head")
    x = dsub.add_parser("downgrade", help="admin only; drops data: needs --yes-destroy-data")
    x.add_argument("revision", help="target revision, or base for an empty database")
    x.add_argument("--yes-destroy-data", action="store_true",
                   help="confirm that the tables this downgrade drops, and their rows, are lost")
    dsub.add_parser("current", help="the schema revision of the database")
    x = json_flag(dsub.add_parser(
        "provision-roles", help="PostgreSQL: create DSM's roles, grants and policies (run once as a superuser)"))
    x.add_argument("--worker-os-user", default="dsm",
                   help="the OS account the worker service runs as, mapped to dsm_worker (default dsm)")
    sp.set_defaults(handler=cmd_db)

    sp = sub.add_parser("openmanage", help="OpenManage Enterprise: the appliance, and importing its servers")
    osub = sp.add_subparsers(dest="ome_cmd", required=True)
    x = json_flag(osub.add_parser("configure", help="admin: the appliance DSM imports servers from"))
    x.add_argument("--host", required=True, help="the appliance's address or DNS name")
    x.add_argument("--port", type=int, default=443)
    x.add_argument("--username", required=True)
    x.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    x.add_argument("--tls-verify", choices=("pin", "ca", "off"), default="pin",
                   help="pin (trust on first use, the default), ca (the system's trust store) or off")
    x.add_argument("--fingerprint", help="pin this SHA-256 certificate fingerprint instead of the first one seen")
    x.add_argument("--no-sync", action="store_true", help="configured, but left out of scheduled syncs")
    json_flag(osub.add_parser("show", help="the configured appliance and its last sync (never the password)"))
    x = json_flag(osub.add_parser("sync", help="import every server the appliance knows (an openmanage_sync job)"))
    _wait_flags(x)
    sp.set_defaults(handler=cmd_openmanage)

    sp = sub.add_parser("completion", help="print the shell completion script: eval \"$(dsm completion bash)\"")
    sp.add_argument("shell", choices=("bash", "zsh"))
    sp.set_defaults(handler=cmd_completion)

    sp = sub.add_parser("backup", help="back up the database, or restore a backup (worker.key is never in one)")
    bsub = sp.add_subparsers(dest="backup_cmd", required=True)
    x = json_flag(bsub.add_parser("create", help="SQLite: online backup; PostgreSQL: pg_dump custom format"))
    x.add_argument("--to", metavar="PATH", help="the file to write (default: DATA_DIR/backups/dsm-TIME.sqlite|pgdump)")
    x = json_flag(bsub.add_parser("restore", help="replace the database by a backup, then migrate it to this version"))
    x.add_argument("path", metavar="PATH")
    x.add_argument("--force", action="store_true", help="replace a database that holds data (back it up first)")
    sp.set_defaults(handler=cmd_backup)

    sp = json_flag(sub.add_parser("doctor", help="is this installation healthy? one line per problem with its fix"))
    sp.add_argument("--verbose", "-v", action="store_true", help="also list the checks that passed")
    sp.add_argument("--worker", action="store_true",
                    help="as the worker's service account: over worker.database_url, and its key file must be here")
    sp.set_defaults(handler=cmd_doctor)

    sp = sub.add_parser("users", help="operators and their roles")
    usub = sp.add_subparsers(dest="users_cmd", required=True)
    json_flag(usub.add_parser("list", help="DSM users (OS user names) and their roles"))
    x = json_flag(usub.add_parser("add", help="map an OS user to a role"))
    x.add_argument("name")
    x.add_argument("--role", required=True, choices=("admin", "operator", "viewer"))
    x.add_argument("--full-name")
    x = json_flag(usub.add_parser("set-role", help="change a user's role"))
    x.add_argument("name")
    x.add_argument("role", choices=("admin", "operator", "viewer"))
    x = usub.add_parser("remove", help="remove a user (their audit entries keep the name)")
    x.add_argument("name")
    sp.set_defaults(handler=cmd_users)

    sp = sub.add_parser("credentials", help="shared iDRAC credential sets and their IP ranges")
    csub = sp.add_subparsers(dest="cred_cmd", required=True)
    json_flag(csub.add_parser("list", help="the sets, their users, priorities and ranges (never passwords)"))
    x = json_flag(csub.add_parser("add", help="a new set; the password is sealed for the worker at once"))
    x.add_argument("name")
    x.add_argument("--username", required=True)
    x.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    x.add_argument("--range", action="append", default=[], metavar="CIDR")
    x.add_argument("--priority", type=int, default=100)
    x.add_argument("--default", action="store_true", help="prefer this set where no range picks one (it is still "
                   "sent only to its ranges and to servers an admin linked to it)")
    x.add_argument("--description")
    x.add_argument("--trust", choices=("first-use", "verified"), default="first-use",
                   help="first-use (default; a lab's convenience): the password may go to a server pinned on first "
                   "sight; verified: only to a CA-verified server or one whose fingerprint an admin pinned")
    x = csub.add_parser("set-password", help="replace a set's password (read from standard input)")
    x.add_argument("name")
    x.add_argument("--password-stdin", action="store_true", required=True)
    x = json_flag(csub.add_parser("update", help="change a set's user name, priority, default flag or description"))
    x.add_argument("name")
    x.add_argument("--username")
    x.add_argument("--priority", type=int)
    x.add_argument("--default", action=argparse.BooleanOptionalAction, default=None,
                   help="make it (or, with --no-default, stop it being) the set used when nothing else matches")
    x.add_argument("--description")
    x.add_argument("--trust", choices=("first-use", "verified"))
    x = csub.add_parser("remove", help="delete a set (refused while servers are linked to it, unless --force)")
    x.add_argument("name")
    x.add_argument("--force", action="store_true", help="unlink the servers that use it and delete it anyway")
    _yes_flag(x)
    for verb, text in (("add-range", "an IP range the set applies to"), ("remove-range", "remove one IP range")):
        x = csub.add_parser(verb, help=text)
        x.add_argument("name")
        x.add_argument("cidr")
        if verb == "add-range":
            x.add_argument("--priority", type=int, default=100)
    sp.set_defaults(handler=cmd_credentials)

    sp = sub.add_parser("servers", help="the server inventory")
    ssub = sp.add_subparsers(dest="servers_cmd", required=True)
    x = json_flag(ssub.add_parser("list", help="servers in address order"))
    x.add_argument("--filter", metavar="TERMS",
                   help="the console's / language: words and field:value terms, e.g. 'health:critical model:R750', "
                        "'ip:10.1.0.0/22', '!power:on'")
    x = json_flag(ssub.add_parser("show", help="one server, with its credential source"))
    x.add_argument("ref", help="id, IP, IP:PORT, hostname or service tag")
    for verb in ("add", "update"):
        x = json_flag(ssub.add_parser(verb, help="add a server by address" if verb == "add"
                                      else "change a server's names, notes, credentials or TLS mode"))
        x.add_argument("address" if verb == "add" else "ref",
                       help="IP[:PORT] (IPv6 as [addr]:port)" if verb == "add" else "id, IP, IP:PORT, hostname or tag")
        x.add_argument("--hostname")
        x.add_argument("--credential-set", help="link this set (its credentials are used first); '' unlinks")
        x.add_argument("--username", help="the server's own iDRAC user (with --password-stdin)")
        x.add_argument("--password-stdin", action="store_true")
        x.add_argument("--service-tag")
        x.add_argument("--model")
        x.add_argument("--notes")
        x.add_argument("--tls-verify", choices=("pin", "ca", "off"), default="pin" if verb == "add" else None)
        x.add_argument("--fingerprint", metavar="SHA256", help="admin: pin this certificate fingerprint (vets the "
                       "server for verified credential sets) instead of the first one seen")
        if verb == "update":
            x.add_argument("--address", metavar="IP[:PORT]", help="admin: the server's iDRAC moved (drops its pin)")
            x.add_argument("--clear-credentials", action="store_true")
            x.add_argument("--forget-certificate", action="store_true",
                           help="drop the pinned TLS fingerprint; the next contact pins the new certificate")
    x = json_flag(ssub.add_parser("import", help="add servers from a CSV file (all rows, or none)"))
    x.add_argument("file", help="CSV with a header row (ip_address required); - for standard input")
    x.add_argument("--skip-bad", action="store_true", help="import the good rows, report the bad ones")
    x = ssub.add_parser("remove", help="admin: remove a server and everything recorded about it")
    x.add_argument("ref")
    _yes_flag(x)
    x = json_flag(ssub.add_parser("logs", help="the server's stored SEL and Lifecycle log entries, newest first "
                                               "(fetch-logs reads new ones from the iDRAC)"))
    x.add_argument("ref", metavar="REF")
    x.add_argument("--severity", help="OK, Warning or Critical")
    x.add_argument("--category", help="part of the category, e.g. Audit, Configuration")
    x.add_argument("--log", choices=("sel", "lclog"), help="one log only")
    since_flag(x)
    limit_flag(x, 500)
    for verb, text in (("refresh", "read identity, firmware and capabilities"),
                       ("health", "run a health check; with --history, show one server's past checks"),
                       ("fetch-logs", "fetch new SEL and Lifecycle log entries from the iDRAC"),
                       ("test-credentials", "check the credentials that apply (or the set named)"),
                       ("diagnose", "TCP, TLS and Redfish reachability")):
        x = json_flag(ssub.add_parser(verb, help=text))
        x.add_argument("refs", nargs="+", metavar="REF")
        _wait_flags(x)
        if verb == "health":
            x.add_argument("--history", action="store_true", help="show the stored checks instead of running one")
            since_flag(x)
            limit_flag(x, 1000)
        if verb == "test-credentials":
            x.add_argument("--credential-set", metavar="NAME",
                           help="test this set, not the one the server's jobs would use")
    sp.set_defaults(handler=cmd_servers)

    sp = sub.add_parser("groups", help="server groups")
    gsub = sp.add_subparsers(dest="groups_cmd", required=True)
    json_flag(gsub.add_parser("list", help="groups with their member counts"))
    x = json_flag(gsub.add_parser("show", help="one group and its members"))
    x.add_argument("name")
    x = json_flag(gsub.add_parser("add", help="a new group"))
    x.add_argument("name")
    x.add_argument("--type", default="application", choices=groups.MANUAL_TYPES)
    x.add_argument("--min-healthy", type=int, default=1)
    x.add_argument("--color", default="#3b82f6")
    x.add_argument("--description")
    x = gsub.add_parser("add-member", help="put a server in a group")
    x.add_argument("name")
    x.add_argument("ref")
    x.add_argument("--priority", type=int, default=100, help="update order: lower first")
    x.add_argument("--role")
    x = gsub.add_parser("remove-member", help="take a server out of a group")
    x.add_argument("name")
    x.add_argument("ref")
    x = gsub.add_parser("remove", help="admin: delete a group (its servers stay)")
    x.add_argument("name")
    _yes_flag(x)
    sp.set_defaults(handler=cmd_groups)

    sp = sub.add_parser("settings", help="global settings")
    tsub = sp.add_subparsers(dest="settings_cmd", required=True)
    x = json_flag(tsub.add_parser("show", help="every setting (secrets only as set/not set)"))
    x.add_argument("section", nargs="?", choices=tuple(settings.SECTIONS))
    x = json_flag(tsub.add_parser("set", help="admin: change one setting"))
    x.add_argument("key", help="SECTION.KEY, e.g. activity.log_level")
    x.add_argument("value", help="the new value; - reads a secret (password, webhook URL) from standard input")
    sp.set_defaults(handler=cmd_settings)

    sp = sub.add_parser("jobs", help="the job queue")
    jsub = sp.add_subparsers(dest="jobs_cmd", required=True)
    x = json_flag(jsub.add_parser("list", help="newest first; a pending job no worker will run says why"))
    x.add_argument("--status")
    x.add_argument("--type")
    x.add_argument("--limit", type=int, default=100)
    x = json_flag(jsub.add_parser("show", help="a job with its tasks and child jobs (id, or its last 8 digits)"))
    x.add_argument("id")
    x = json_flag(jsub.add_parser("create", help="any job type with its details (checked before it is queued)"))
    disruption_flag(x)
    x.add_argument("job_type", metavar="TYPE", help="one of: " + ", ".join(sorted(JOB_TYPE_SPECS)))
    x.add_argument("--server", action="append", default=[], metavar="REF")
    x.add_argument("--group", action="append", default=[], metavar="NAME")
    x.add_argument("--cluster", action="append", default=[], metavar="NAME")
    x.add_argument("--detail", action="append", default=[], metavar="KEY=VALUE")
    x.add_argument("--details-json", metavar="JSON")
    x.add_argument("--at", metavar="TIME", help="run no earlier than this ISO time (with an offset)")
    _wait_flags(x)
    x = json_flag(jsub.add_parser("retry", help="run an ended job again: a workflow job (firmware_update) resumes "
                                                 "as the same job from its failed step; others run as a new job"))
    x.add_argument("id")
    x.add_argument("--from-step", metavar="NAME", help="workflow jobs: run this step and every later one again")
    _wait_flags(x)
    x = jsub.add_parser("cancel", help="cancel a pending job, or ask a running one to stop")
    x.add_argument("id")
    x = json_flag(jsub.add_parser("wait", help="follow a job; exit 0 only when it completed"))
    x.add_argument("id")
    x.add_argument("--timeout", type=float, metavar="S")
    sp.set_defaults(handler=cmd_jobs)

    sp = sub.add_parser("firmware", help="local firmware repositories, fleet compliance, updates")
    fsub = sp.add_subparsers(dest="firmware_cmd", required=True)
    rp = fsub.add_parser("repo", help="local Dell Repository Manager shares (catalog and DUPs)")
    rsub = rp.add_subparsers(dest="repo_cmd", required=True)
    x = json_flag(rsub.add_parser("add", help="add a repository (HTTP/HTTPS share, or NFS/CIFS mounted here)"))
    x.add_argument("name")
    x.add_argument("--url", required=True, help="http(s)://host/path, nfs://host/export or cifs://host/share")
    x.add_argument("--catalog", default="Catalog.xml", metavar="FILE",
                   help="catalog file name in the repository (Catalog.xml, Catalog.xml.gz)")
    x.add_argument("--mounted-at", metavar="PATH", help="nfs/cifs: where the worker host has the share mounted")
    x.add_argument("--username", help="share user (the iDRAC and the worker use it)")
    x.add_argument("--password-stdin", action="store_true", help="read the share password from standard input")
    x.add_argument("--insecure", action="store_true", help="https: do not verify the share's certificate")
    json_flag(rsub.add_parser("list", help="repositories and their catalogs"))
    x = json_flag(rsub.add_parser("sync", help="read the repository's catalog (a firmware_catalog_sync job)"))
    x.add_argument("name")
    _wait_flags(x)
    x = rsub.add_parser("remove", help="admin: remove a repository and its catalog")
    x.add_argument("name")
    x.add_argument("--yes", action="store_true", help="do it without asking")
    x = json_flag(fsub.add_parser("compliance", help="installed firmware against the synced catalogs, per "
                                                     "server and component"))
    x.add_argument("--server", action="append", default=[], metavar="REF")
    x.add_argument("--group", metavar="NAME")
    x.add_argument("--state", action="append", default=[],
                   help="compliant, upgrade, downgrade or not_in_catalog (repeatable)")
    x.add_argument("--component", metavar="TEXT", help="components whose name, id or FQDD contains TEXT")
    x.add_argument("--repository", metavar="NAME", help="only this repository's catalog")
    x = json_flag(fsub.add_parser("update", help="update firmware (a firmware_update job, one workflow per server)"))
    disruption_flag(x)
    x.add_argument("refs", nargs="+", metavar="REF")
    x.add_argument("--repository", metavar="NAME",
                   help="install from this repository's catalog (the iDRAC decides; with --component, DSM "
                        "picks the upgrades from its compliance and the iDRAC pulls each)")
    x.add_argument("--component", action="append", default=[], metavar="TEXT",
                   help="with --repository: only components whose name, id or FQDD contains TEXT")
    x.add_argument("--image-uri", metavar="URI", help="a DUP the iDRAC pulls (http(s), nfs, cifs)")
    x.add_argument("--file", metavar="PATH", help="a DUP on the worker host that DSM pushes to the iDRAC")
    x.add_argument("--reboot", default="now", metavar="none|now|at:ISO",
                   help="when staged updates are applied: none (next reboot), now (default), at:TIME")
    x.add_argument("--compare-only", action="store_true",
                   help="with --repository: only ask the iDRAC what it would update")
    x.add_argument("--job-timeout", type=int, metavar="S", help="seconds each Dell job may take (default 7200)")
    _wait_flags(x)
    sp.set_defaults(handler=cmd_firmware)

    sp = sub.add_parser("audit", help="admin: who changed what (`dsm audit list`)")
    asub = sp.add_subparsers(dest="audit_cmd", required=True)
    x = json_flag(asub.add_parser("list", help="audit entries, newest first"))
    x.add_argument("--user", help="one OS user")
    x.add_argument("--action", help="an action id (servers.remove) or a prefix (servers.)")
    since_flag(x)
    limit_flag(x, 200)
    sp.set_defaults(handler=cmd_audit)

    sp = sub.add_parser("activity", help="the calls the worker made to iDRACs (`dsm activity list`)")
    vsub = sp.add_subparsers(dest="activity_cmd", required=True)
    x = json_flag(vsub.add_parser("list", help="calls, newest first (bodies redacted)"))
    x.add_argument("--server", metavar="REF")
    x.add_argument("--job", metavar="ID")
    x.add_argument("--errors", action="store_true", help="failed calls only")
    x.add_argument("--slow", action="store_true", help="calls at or over activity.slow_command_threshold_ms")
    since_flag(x)
    limit_flag(x, 200)
    x = json_flag(vsub.add_parser("stats", help="calls per server and day: failures, slow calls, latency "
                                                "percentiles (kept when activity.keep_statistics is on)"))
    x.add_argument("--server", metavar="REF")
    x.add_argument("--days", type=int, default=7, metavar="N", help="the last N days (default 7)")
    sp.set_defaults(handler=cmd_activity)

    sp = sub.add_parser("worker", help="run the worker (the only part that talks to iDRACs)")
    sp.add_argument("--exit-when-idle", action="store_true", help="stop once no job is left to run")
    sp.add_argument("--concurrency", type=int, help="jobs at once (default 4)")
    sp.add_argument("--grace", type=float, default=30.0, help="seconds to finish running jobs on SIGTERM")
    sp.add_argument("--lease", type=float, default=60.0,
                    help="seconds a claimed job stays ours without renewal; after a crash, another worker "
                         "resumes it this long after the last renewal")
    sp.add_argument("--dell-job-poll", type=float, default=5.0, metavar="SECONDS",
                    help="how often a running Dell job (firmware, configuration) is read (default 5)")
    sp.add_argument("--scheduled-settle", type=float, default=60.0, metavar="SECONDS",
                    help="how long an update started Immediate may stay Scheduled before DSM takes it as "
                         "waiting for a host reboot (default 60)")
    sp.add_argument("--no-scheduler", action="store_true",
                    help="run jobs only; leave windows, scheduled checks, notifications and retention to another "
                         "worker (with --exit-when-idle the scheduler never runs)")
    sp.add_argument("--scheduler-poll", type=float, default=10.0, metavar="SECONDS",
                    help="how often the scheduler ticks and a standby worker tries to take it over (default 10)")
    sp.set_defaults(handler=cmd_worker)

    sp = json_flag(sub.add_parser("discover", help="find iDRACs in address ranges (a discovery_scan job)"))
    sp.add_argument("ranges", nargs="+", metavar="CIDR", help="CIDR, address or first-last range")
    sp.add_argument("--exclude", action="append", default=[], metavar="CIDR")
    sp.add_argument("--port", type=int, default=443)
    sp.add_argument("--credential-set", action="append", default=[], metavar="NAME",
                    help="only these sets, in this order (default: resolution order); the servers found are "
                         "linked to the set that logged in")
    _wait_flags(sp)
    sp.set_defaults(handler=cmd_discover)

    sp = json_flag(sub.add_parser("power", help="power action on servers (a power_action job)"))
    sp.add_argument("action", type=power_action_name, metavar="ACTION",
                    help="any case: " + ", ".join(POWER_ACTIONS) + " (ForceOff, ForceRestart and PowerCycle ask "
                         "first, or need --yes)")
    sp.add_argument("refs", nargs="+", metavar="REF")
    sp.add_argument("--force-after-timeout", action="store_true",
                    help="GracefulShutdown: force off if the OS has not shut down in time")
    sp.add_argument("--power-timeout", type=int, metavar="S", help="seconds to wait for the power state")
    disruption_flag(sp)
    _yes_flag(sp)
    _wait_flags(sp)
    sp.set_defaults(handler=cmd_power)

    from dsm_cli import configuration, vcenter, windows

    configuration.add_parsers(sub, json_flag, _wait_flags)
    vcenter.add_parsers(sub, json_flag, _wait_flags)
    windows.add_parsers(sub, json_flag)
    return p


def _wait_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true", help="follow the job; exit 0 only when it completed")
    parser.add_argument("--timeout", type=float, metavar="S", help="with --wait: give up after S seconds")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["__complete"]:  # the shell asks for words (dsm_cli/completion.py): never an error, never a config
        from dsm_cli import completion

        return completion.main(argv[1:])
    if argv[:1] in (["sim"], ["demo"]):  # the simulator needs no config or database
        try:
            import h11  # noqa: F401  (the simulator's HTTP server)
        except ImportError:
            print("dsm: error: the simulator is not installed; install the sim extra: pip install 'dsm[sim]'",
                  file=sys.stderr)
            return 2
        if argv[0] == "sim":
            from dsm_sim.cli import main as sim_main

            return sim_main(argv[1:])
        from dsm_cli.demo import main as demo_main

        return demo_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[Runtime], None] | None = getattr(args, "handler", None)
    if handler is None:
        if args.command is not None:
            parser.print_help()
            return 2
        handler = cmd_console
    # Nothing DSM creates (config, database, its WAL and SHM files, logs) is readable by "other": group access is
    # how the SQLite mode shares the database with the DSM group (see README, "Permissions"; `dsm init` makes the
    # database itself group-writable, and its WAL and SHM files take its mode).
    os.umask(os.umask(0) | 0o007)
    rt: Runtime | None = None
    try:
        rt = Runtime(args)
        logging.basicConfig(level=rt.config.log_level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
        handler(rt)
        sys.stdout.flush()  # inside the try: a reader that went away (`| head`) is a broken pipe, handled below
    except BrokenPipeError:
        # `dsm jobs list --json | head -1`: the reader has what it wanted. No traceback, and no second error
        # from the interpreter flushing stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except ConfigError as exc:
        if handler is cmd_doctor:  # the first thing the doctor checks: one finding, in its own format
            return _doctor_output(args, doctor.Report([doctor.Finding(
                "error", "config", str(exc), "correct it (config.example.toml lists every key) or unset the "
                "DSM_* variable that overrides it")]))
        say(f"dsm: config: {exc}", sys.stderr)
        return 2
    except Unsafe as exc:
        say(f"dsm: unsafe: {exc}", sys.stderr)
        return 4
    except (ValidationError, NotFound, Conflict) as exc:
        say(f"dsm: error: {exc}", sys.stderr)
        return 2
    except PermissionDenied as exc:
        say(f"dsm: refused: {exc}", sys.stderr)
        return 3
    except CliError as exc:
        if str(exc):
            say(f"dsm: error: {exc}", sys.stderr)
        return exc.code
    except ServiceError as exc:
        say(f"dsm: error: {exc}", sys.stderr)
        return 1
    except sa_exc.OperationalError as exc:
        say(f"dsm: error: {database_problem(exc, rt.open_engine if rt else None)}", sys.stderr)
        return 1
    except sa_exc.DBAPIError as exc:
        refusal = database_refusal(exc)
        if refusal is None:
            raise
        say(f"dsm: refused: {refusal}", sys.stderr)
        return 3
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        say(f"dsm: error: cannot use{where}: {exc.strerror or exc}; check that the path exists, is a directory "
            "where one is expected, and that you (or your DSM group) may open it and every directory above it: "
            "read for what DSM reads, write where it writes", sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
