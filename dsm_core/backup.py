"""Backups of the database and their restore: SQLite through its online backup API (a consistent copy while the
worker writes), PostgreSQL through ``pg_dump``/``pg_restore`` in custom format.

A backup is the database only. Sealed secrets in it open only with ``worker.key``, which is never in a backup:
lose the key and every stored password must be entered again — the commands say so every time.

Restore refuses to overwrite a database that holds data unless forced, refuses a backup from a newer DSM (a
revision this version does not know), refuses while a worker is beating (it would write into the database being
replaced), and migrates what it restored to this version's head.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from dsm_core.services.errors import Conflict, ServiceError, ValidationError

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
KEY_REMINDER = ("worker.key is NOT in this backup: back it up separately (mode 0600, somewhere safe); without it "
                "every sealed password in the database is lost")


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    backend: str
    revision: str | None
    size: int


def default_path(backup_dir: Path, backend: str, now: datetime) -> Path:
    suffix = "sqlite" if backend == "sqlite" else "pgdump"
    return backup_dir / f"dsm-{now:%Y%m%d-%H%M%S}.{suffix}"


def pg_tool(name: str) -> str:
    """``pg_dump``/``pg_restore``: the newest Debian server binaries first (they dump any older server), then
    PATH."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if candidates:
        return candidates[-1]
    found = shutil.which(name)
    if found is None:
        raise ServiceError(f"{name} is not installed; install the PostgreSQL client (apt-get install "
                           "postgresql-client) on this host")
    return found


def libpq(engine: Engine) -> tuple[list[str], dict[str, str]]:
    """The connection as libpq arguments, the password in the environment (never on a command line)."""
    url = engine.url
    args = ["--dbname", str(url.database or "")]
    env = dict(os.environ)
    host = url.query.get("host") or url.host
    if isinstance(host, tuple):
        host = host[0]
    if host:
        args += ["--host", str(host)]
    port = url.query.get("port") or url.port
    if isinstance(port, tuple):
        port = port[0]
    if port:
        args += ["--port", str(port)]
    if url.username:
        args += ["--username", url.username]
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def create(engine: Engine, target: Path) -> BackupInfo:
    from dsm_core.db import migrate

    if target.exists():
        raise Conflict(f"{target} exists; give another --to, or remove it first")
    target.parent.mkdir(parents=True, exist_ok=True)
    revision = migrate.current_revision(engine)
    partial = target.with_name(target.name + ".partial")
    old_umask = os.umask(0o077)  # a backup holds the audit log and sealed secrets: readable by its owner only
    try:
        if engine.dialect.name == "sqlite":
            source = make_url(str(engine.url)).database
            if not source or source == ":memory:":
                raise ValidationError("database", "is in memory", "back up a database file")
            _sqlite_copy(source, str(partial))  # page by page under SQLite's locks: consistent while the worker writes
        else:
            args, env = libpq(engine)
            done = subprocess.run([pg_tool("pg_dump"), "--format=custom", "--no-password", "--file", str(partial),
                                   *args], env=env, capture_output=True, text=True, check=False, timeout=3600)
            if done.returncode != 0:
                raise ServiceError(f"pg_dump failed: {_cause(done.stderr)}")
        partial.replace(target)  # a backup file is whole or absent
    finally:
        os.umask(old_umask)
        partial.unlink(missing_ok=True)
    return BackupInfo(target, engine.dialect.name, revision, target.stat().st_size)


def inspect_file(path: Path) -> tuple[str, str | None]:
    """(backend, schema revision) of a backup file; a file that is neither kind is refused by name."""
    if not path.is_file():
        raise ValidationError("path", f"{path} is not a file", "give a file `dsm backup create` wrote")
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(SQLITE_MAGIC):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ValidationError("path", f"{path} is not a DSM database ({exc})",
                                  "give a file `dsm backup create` wrote") from None
        finally:
            conn.close()
        return "sqlite", row[0] if row else None
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql", _pgdump_revision(path)
    raise ValidationError("path", f"{path} is neither a SQLite database nor a pg_dump custom-format file",
                          "give a file `dsm backup create` wrote")


def _pgdump_revision(path: Path) -> str | None:
    """The alembic revision inside a custom-format dump: pg_restore writes the table's data as SQL."""
    done = subprocess.run([pg_tool("pg_restore"), "--data-only", "--table", "alembic_version", "--file", "-",
                           str(path)], capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise ValidationError("path", f"{path}: pg_restore cannot read it ({_last(done.stderr)})",
                              "give a file `dsm backup create` wrote")
    lines = done.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY public.alembic_version") and i + 1 < len(lines) and lines[i + 1] != "\\.":
            return lines[i + 1].strip()
    return None


def holds_data(engine: Engine) -> bool:
    """Any row in any DSM table (the schema alone, as `dsm init` leaves it without users, is empty)."""
    from sqlmodel import SQLModel

    import dsm_core.models  # noqa: F401

    present = set(sa.inspect(engine).get_table_names())
    with engine.connect() as conn:
        for name, table in SQLModel.metadata.tables.items():
            if name in present and conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                return True
    return False


def _sqlite_copy(source: str, target: str, *, read_only_source: bool = False) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro" if read_only_source else source, uri=read_only_source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def restore(engine: Engine, path: Path) -> tuple[str, str | None]:
    """Replace the database's contents by the backup's, all or nothing; returns (backend, revision restored). The
    caller checks emptiness, workers and revisions first and migrates after."""
    backend, revision = inspect_file(path)
    if backend != engine.dialect.name:
        raise ValidationError("path", f"{path} is a {backend} backup and this database is {engine.dialect.name}",
                              "restore it into a database of its kind (a SQLite backup is itself a database file)")
    foreign = foreign_objects(path, backend, revision)
    if foreign:
        raise ValidationError("path", f"{path} holds objects DSM does not create: {', '.join(foreign[:10])}"
                              + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
                              + "; a trigger, view or function there would act on every later write (an audit row "
                              "silently dropped)", "restore a backup `dsm backup create` wrote, untouched")
    if engine.dialect.name == "sqlite":
        target = make_url(str(engine.url)).database
        if not target or target == ":memory:":
            raise ValidationError("database", "is in memory", "restore into a database file")
        engine.dispose()  # no pooled connection may keep the old pages
        _sqlite_copy(str(path), target, read_only_source=True)  # one write transaction on the target
        return backend, revision
    args, env = libpq(engine)
    engine.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "restore.sql"
        with script.open("w") as out:
            # One transaction: the old schema is dropped and the backup's created together, or neither.
            out.write("DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n")
            out.flush()
            dumped = subprocess.run([pg_tool("pg_restore"), "--no-owner", "--no-acl", "--file", "-", str(path)],
                                    stdout=out, stderr=subprocess.PIPE, text=True, check=False, timeout=3600)
        if dumped.returncode != 0:
            raise ServiceError(f"pg_restore cannot read {path}: {_last(dumped.stderr)}")
        done = subprocess.run([pg_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction",
                               "--set", "ON_ERROR_STOP=1", "--no-password", "--file", str(script), *args],
                              env=env, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        raise ServiceError(f"the restore failed and was rolled back, nothing was changed: {_last(done.stderr)}")
    return backend, revision


def _sqlite_objects(path: Path) -> dict[tuple[str, str], str]:
    """(type, name) → normalised SQL of every schema object but SQLite's own."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master "
                            "WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").fetchall()
    finally:
        conn.close()
    return {(str(t), str(n)): " ".join(str(sql).split()).lower() for t, n, sql in rows}


def _expected_sqlite(revision: str | None) -> dict[tuple[str, str], str]:
    """The schema DSM's migrations make at ``revision``: built afresh in a scratch file."""
    from dsm_core.db import make_engine, migrate

    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "expected.db"
        engine = make_engine(f"sqlite:///{scratch}")
        try:
            migrate.upgrade(engine, revision or "base")
        finally:
            engine.dispose()
        return _sqlite_objects(scratch)


# pg_restore --list: "ID; OID OID TYPE SCHEMA NAME OWNER". The kinds that can hold code or data of their own;
# the rest (table data, sequences, indexes, constraints, defaults, policies) belong to the tables checked by name.
# Longest first, so "EVENT TRIGGER" is not read as "TRIGGER".
_PG_KINDS = ("MATERIALIZED VIEW", "EVENT TRIGGER", "TABLE DATA", "AGGREGATE", "EXTENSION", "PROCEDURE", "FUNCTION",
             "SEQUENCE", "TRIGGER", "DOMAIN", "SCHEMA", "TABLE", "RULE", "TYPE", "VIEW")


def _pg_foreign(path: Path) -> list[str]:
    from sqlmodel import SQLModel

    import dsm_core.models  # noqa: F401
    from dsm_core.db import roles

    listed = subprocess.run([pg_tool("pg_restore"), "--list", str(path)], capture_output=True, text=True,
                            check=False, timeout=600)
    if listed.returncode != 0:
        raise ValidationError("path", f"{path}: pg_restore cannot read it ({_last(listed.stderr)})",
                              "give a file `dsm backup create` wrote")
    ours = {
        "FUNCTION": {sig.split("(", 1)[0] for sig in roles.FUNCTION_SIGNATURES},
        "TRIGGER": {"dsm_audit_identity", "dsm_window_approval", "dsm_worker_key_once"},
        "TABLE": {*SQLModel.metadata.tables, "alembic_version"},
        "SCHEMA": {"public"},
    }
    out: list[str] = []
    for line in listed.stdout.splitlines():
        if line.startswith(";") or ";" not in line:
            continue
        entry = " ".join(line.split(";", 1)[1].split()[2:])  # past the two OIDs: TYPE SCHEMA NAME… OWNER
        kind = next((k for k in _PG_KINDS if entry.startswith(k + " ")), None)
        if kind is None or kind in ("TABLE DATA", "SEQUENCE"):
            continue
        rest = entry[len(kind) + 1:].split()
        schema, name = (rest[0], rest[1]) if len(rest) > 1 else ("-", rest[0] if rest else "")
        if kind == "TRIGGER" and len(rest) > 2:
            name = rest[2]  # TRIGGER public TABLE NAME OWNER
        bare = name.split("(", 1)[0]
        known = bare.startswith("dsm_secrets_") if kind == "VIEW" else bare in ours.get(kind, set())
        if not known or schema not in ("public", "-"):
            out.append(f"{kind.lower()} {name}" if schema == "-" else f"{kind.lower()} {schema}.{name}")
    return out


def foreign_objects(path: Path, backend: str, revision: str | None) -> list[str]:
    """What a backup holds beyond the schema DSM makes at its revision: a trigger that drops audit rows, a view, a
    function, a table. A restore brings back DSM's schema and nothing else."""
    if backend == "postgresql":
        return _pg_foreign(path)
    found, expected = _sqlite_objects(path), _expected_sqlite(revision)
    out = []
    for (kind, name), sql in sorted(found.items()):
        if (kind, name) not in expected:
            out.append(f"{kind} {name}")
        elif kind in ("trigger", "view") and sql != expected[(kind, name)]:
            out.append(f"{kind} {name} (changed)")
    return out


def _cause(text: str) -> str:
    """pg_dump's own error lines (the cause: "permission denied for table …") before its detail line (the query
    it was running), and what to do when the cause is a login that may not read everything."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if ": error:" in line or line.startswith(("ERROR", "FATAL"))]
    details = [line for line in lines if ": detail:" in line]
    found = "; ".join([*(errors or lines[-1:]), *details[:1]])[:600] or "?"
    if "permission denied" in found.lower() or "row-level security" in found.lower():
        found += (" — a backup must read every row and sealed column, which with DSM's roles only the database's "
                  "owner may: run it as the DBA (`sudo -u postgres /opt/dsm/bin/dsm backup create`, "
                  "docs/deployment.md)")
    return found


def _last(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "?")[:300]
